"""The dashboard's keys fail closed, as the prediction service's do."""

from __future__ import annotations

import pytest

import modelyard
from modelyard.errors import Unauthorized
from modelyard.ui._auth import UiAuth


def test_the_dashboard_is_open_until_a_key_exists_and_closed_once_all_are_revoked(
        yard: modelyard.Yard) -> None:
    auth = UiAuth(yard.store.keys, refresh_s=0.0)
    assert not auth.enabled and auth.verify(None, "read") is None  # a laptop: open
    record, key = yard.store.keys.create("read", name="viewer")
    assert auth.enabled and auth.verify(key, "read") is not None
    with pytest.raises(Unauthorized, match="needs a read key"):
        auth.verify(None, "read")
    yard.store.keys.revoke(record.id)
    assert auth.enabled  # revoking the last key does not open the dashboard again
    with pytest.raises(Unauthorized, match="revoked"):
        auth.verify(None, "read")
