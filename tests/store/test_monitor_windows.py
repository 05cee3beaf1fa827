"""Stored monitoring windows: one row per window, even when monitor passes race."""

from __future__ import annotations

import threading

from modelyard.config import Settings
from modelyard.store import open_store


def test_racing_passes_leave_one_row_per_window(settings: Settings) -> None:
    stores = [open_store(settings) for _ in range(4)]  # separate connections, as processes
    try:
        start = threading.Barrier(len(stores))
        errors: list[BaseException] = []

        def save(i: int) -> None:
            try:
                start.wait()
                for repeat in range(10):
                    stores[i].monitoring.save_window(
                        "fraud", 1, 3600.0, 7200.0, 100 + i, repeat,
                        {"writer": i, "repeat": repeat})
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=save, args=(i,)) for i in range(len(stores))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        windows = stores[0].monitoring.windows("fraud")
        assert len(windows) == 1
        (window,) = windows
        assert window.result["repeat"] == 9 and window.n_labelled == 9
        assert window.n_predictions == 100 + window.result["writer"]
        again = stores[1].monitoring.save_window("fraud", 2, 3600.0, 7200.0, 7, 3, {"late": 1})
        assert again.id == window.id and again.version == 2 and again.result == {"late": 1}
    finally:
        for store in stores:
            store.close()
