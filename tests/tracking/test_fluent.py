"""Fluent helpers log to the run active in the current thread."""

from __future__ import annotations

import threading

import pytest

import modelyard
from modelyard import tracking
from modelyard.errors import InvalidInput


def test_fluent_calls_reach_the_active_run(yard: modelyard.Yard) -> None:
    with yard.run() as run:
        tracking.log_param("C", 1)
        tracking.log_params({"k": "v"})
        tracking.log_metric("loss", 0.5)
        tracking.log_metrics({"acc": 0.9}, step=3)
        tracking.set_tag("stage", "dev")
    got = yard.runs.get(run.id)
    assert got.params == {"C": "1", "k": "v"} and got.tags == {"stage": "dev"}
    assert got.metrics == {"acc": 0.9, "loss": 0.5}


def test_fluent_calls_without_a_run_say_what_to_do() -> None:
    with pytest.raises(InvalidInput, match=r"with yard\.run"):
        tracking.log_metric("loss", 0.5)


def test_another_thread_does_not_see_the_run(yard: modelyard.Yard) -> None:
    seen: list[object] = []
    with yard.run():
        thread = threading.Thread(target=lambda: seen.append(tracking.active_run()))
        thread.start()
        thread.join()
    assert seen == [None]
