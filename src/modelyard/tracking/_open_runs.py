"""The runs started in this process and not yet ended, and ending them at exit.

:mod:`._active` adds a run when it starts and drops it when it ends; :mod:`._runs` reads
the list to write their buffered metrics before a query, and to end them on close. At
interpreter exit every run still open is ended (``failed`` after a crash), and a forked
child forgets its parent's runs.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass

from ._values import describe_failure
from ._writer import RunBuffer, writer

__all__ = ["OpenRun", "add_open", "drop_open", "open_runs"]


@dataclass(frozen=True, eq=False)
class OpenRun:
    """A run in progress, as the process-wide list knows it.

    Attributes:
        id: the run id.
        owner: the ``Runs`` object that started it.
        buffer: its metric values not yet written.
        end: ends it, ``end(status, failure)``.
    """

    id: str
    owner: object
    buffer: RunBuffer
    end: Callable[[str, str], None]


_lock = threading.Lock()
_open: dict[str, OpenRun] = {}


def add_open(run: OpenRun) -> None:
    """Record that ``run`` started (and make sure it ends at interpreter exit)."""
    with _lock:
        _open[run.id] = run
    _install_exit_hook()


def drop_open(run_id: str) -> None:
    """Record that the run ended (nothing happens if it was not open)."""
    with _lock:
        _open.pop(run_id, None)


def open_runs() -> list[OpenRun]:
    """Every run started in this process and not yet ended, oldest first."""
    with _lock:
        return list(_open.values())


_hook_lock = threading.Lock()
_hook_installed = False


def _install_exit_hook() -> None:
    global _hook_installed
    with _hook_lock:
        if not _hook_installed:
            atexit.register(_end_open_runs_at_exit)
            _hook_installed = True


def _end_open_runs_at_exit() -> None:
    """End runs still open at interpreter exit: finished, or failed after a crash."""
    crash = getattr(sys, "last_value", None) if not hasattr(sys, "ps1") else None
    for run in reversed(open_runs()):
        try:
            if crash is not None:
                run.end("failed", describe_failure(crash))
            else:
                run.end("finished", "")
        except Exception as exc:  # the interpreter is going down: report, do not raise
            print(f"modelyard: could not end run {run.id}: {exc}", file=sys.stderr)
    writer().stop()


def _forget_parent_runs() -> None:
    # A forked child must not end (at its exit) the runs its parent is still logging to.
    global _lock
    _lock = threading.Lock()
    _open.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_parent_runs)
