"""API keys and feedback in the store (both backends), and the server's key checks."""

from __future__ import annotations

import pytest

from modelyard.errors import InvalidInput, NotFound, Unauthorized
from modelyard.serve._auth import KeyRing, key_from_headers
from modelyard.store import Store


def test_keys_are_stored_hashed_and_verified(store: Store) -> None:
    record, key = store.keys.create("predict", name="checkout")
    assert key.startswith(f"my_{record.id}_") and record.role == "predict"
    secret = key.split("_", 2)[2]
    assert secret not in record.key_hash and len(record.key_hash) == 64
    assert store.keys.verify(key) == record
    assert store.keys.verify(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert store.keys.verify("my_nope_x") is None and store.keys.verify("garbage") is None
    assert store.keys.count_active() == 1
    revoked = store.keys.revoke(record.id)
    assert revoked.revoked_at is not None and store.keys.verify(key) is None
    assert store.keys.list() == [] and len(store.keys.list(include_revoked=True)) == 1
    with pytest.raises(NotFound):
        store.keys.revoke("missing")
    with pytest.raises(InvalidInput):
        store.keys.create("root")


def test_feedback_is_stored_and_read_back(store: Store) -> None:
    assert store.feedback.add("fraud", [("r1", 0, 1), ("r1", 1, {"label": "x"})]) == 2
    assert store.feedback.add("churn", [("r9", 0, 0.5)]) == 1
    rows = store.feedback.list("fraud")
    assert [(f.request_id, f.row, f.label) for f in rows] == [("r1", 0, 1),
                                                              ("r1", 1, {"label": "x"})]
    assert store.feedback.list("fraud", since=rows[0].at + 3600) == []
    for bad in [("", 0, 1), ("r", -1, 1), ("r", 0, object())]:
        with pytest.raises(InvalidInput):
            store.feedback.add("fraud", [bad])


def test_the_key_ring_checks_roles(store: Store) -> None:
    predict, predict_key = store.keys.create("predict")
    _, admin_key = store.keys.create("admin")
    ring = KeyRing()
    assert ring.check(None, "admin") is None  # no keys: open
    ring.replace(store.keys.list())
    assert ring.enabled
    assert ring.check(predict_key, "predict") == predict
    assert ring.check(admin_key, "predict") is not None
    assert ring.check(admin_key, "admin") is not None
    for key, role in [(None, "predict"), ("", "predict"), ("my_x_y", "predict"),
                      (predict_key + "x", "predict"), (predict_key, "admin"),
                      ("not-a-key", "admin")]:
        with pytest.raises(Unauthorized):
            ring.check(key, role)
    store.keys.revoke(predict.id)
    ring.replace(store.keys.list(include_revoked=True))
    with pytest.raises(Unauthorized):
        ring.check(predict_key, "predict")


def test_keys_come_in_either_header() -> None:
    assert key_from_headers({"authorization": "Bearer abc"}) == "abc"
    assert key_from_headers({"authorization": "Basic abc"}) is None
    assert key_from_headers({"x-api-key": "k"}) == "k"
    assert key_from_headers({}) is None
