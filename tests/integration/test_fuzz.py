"""Fuzzing from the OpenAPI document (schemathesis): every operation of a real server on
127.0.0.1, without a key and with keys of each role, a bounded number of examples each;
no answer may be a 5xx or break the document (status, content type, body schema)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

import modelyard
from _serving import Server, make_project

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]

EXAMPLES = 12  # per operation and key: ~600 requests, about 30 s on 2 cores
# ignored_auth is left out: its probes resend the key given here (4.32), so every keyed call
# reads as "accepts requests without authentication"; test_auth.py checks every route
# against the role matrix instead, and the keyless run below sees the 401s.
# positive_data_acceptance is left out: a body the signature admits can still be one the
# model cannot predict (a scaler overflowing on 1e308), which is a 422 naming the cause
EXCLUDED = [ignored_auth, positive_data_acceptance]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    project = make_project(tmp_path_factory.mktemp("fuzz"))
    with modelyard.open(project) as yard:
        keys = {role: yard.store.keys.create(role)[1] for role in ("predict", "read", "admin")}
    with Server(project, ["cancer@champion", "cancer/versions/2"]) as server:
        yield server.url, keys


def fuzz(url: str, headers: dict[str, str]) -> dict[str, Any]:
    """Run every operation's examples; returns counts of statuses seen."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    seen: dict[int, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @hypothesis.settings(max_examples=EXAMPLES, deadline=None, database=None,
                             suppress_health_check=list(HealthCheck), derandomize=True,
                             phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate])
        def run(case: Any) -> None:
            response = case.call_and_validate(base_url=url, headers=headers,
                                              excluded_checks=EXCLUDED)
            seen[response.status_code] = seen.get(response.status_code, 0) + 1

        run()
    assert not any(status >= 500 for status in seen), seen
    return seen


@pytest.mark.parametrize("role", [None, "predict", "read", "admin"])
def test_no_operation_fails_or_breaks_the_document(
        served: tuple[str, dict[str, str]], role: str | None) -> None:
    url, keys = served
    headers = {"Authorization": f"Bearer {keys[role]}"} if role else {}
    seen = fuzz(url, headers)
    assert sum(seen.values()) > 50
    if role is None:  # without a key, only the service routes answer
        assert set(seen) <= {200, 401, 404, 405, 422}, seen
    else:
        assert 200 in seen, seen
