"""Error rates from a server's counters: only 5xx count as errors, and a reading is never
compared with another server process's (counters restart at 0 with every process)."""

from __future__ import annotations

import pytest

from modelyard.monitor import ServerCounts
from modelyard.monitor._health import HealthCounts


def test_client_errors_are_their_own_measure() -> None:
    server = ServerCounts(requests=200, errors=50, server_errors=2, client_errors=48,
                          started=1000.0)
    health = HealthCounts().result(60.0, server=server)
    assert health.error_rate == pytest.approx(0.01)
    assert health.client_error_rate == pytest.approx(0.24)


def test_a_restarted_server_is_counted_from_its_start_not_against_the_old_baseline() -> None:
    old = ServerCounts(requests=100, errors=10, server_errors=0, client_errors=10,
                       started=1000.0).to_dict()
    # the new process has answered more requests than the old baseline held: a naive
    # difference would mix two processes' counters (the 216% "error_rate" after fuzzing)
    new = ServerCounts(requests=150, errors=140, server_errors=1, client_errors=139,
                       started=2000.0)
    health = HealthCounts().result(60.0, server=new, previous=old)
    assert health.error_rate == pytest.approx(1 / 150)
    assert health.client_error_rate == pytest.approx(139 / 150)
    same = ServerCounts(requests=300, errors=145, server_errors=3, client_errors=142,
                        started=2000.0)
    later = HealthCounts().result(60.0, server=same, previous=new.to_dict())
    assert later.error_rate == pytest.approx(2 / 150)
    assert later.client_error_rate == pytest.approx(3 / 150)
    assert 0 <= later.error_rate <= 1


def test_a_reading_stored_before_start_times_counts_from_the_start() -> None:
    stored = {"requests": 10.0, "errors": 5.0, "server_errors": 5.0}  # an older result
    now = ServerCounts(requests=40, errors=4, server_errors=4, client_errors=0,
                       started=5.0)
    assert HealthCounts().result(1.0, server=now, previous=stored).error_rate == \
        pytest.approx(0.1)
