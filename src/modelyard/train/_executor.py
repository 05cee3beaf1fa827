"""Where tuning trials run: the executor that training is handed.

Training owns the tuner; an executor only decides where one trial's work runs. The
in-process executor runs each trial at once, one after another. A distributed executor (the
Ray one in :mod:`modelyard.distributed`) runs several at a time on a cluster's workers;
training never imports it, it is handed one that satisfies :class:`Executor`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol, runtime_checkable

__all__ = ["EXECUTORS", "Executor", "InProcessExecutor"]

#: the executor names a spec (``executor = "..."``) and the CLI (``--executor``) accept
EXECUTORS = ("local", "ray")


@runtime_checkable
class Executor(Protocol):
    """Runs functions for training, possibly elsewhere and several at once.

    Attributes:
        name: ``local`` or ``ray``: recorded on the run as the ``executor`` tag.
        slots: how many submitted functions run at the same time (the tuner keeps this
            many trials in flight).

    Example:
        >>> ex = InProcessExecutor()
        >>> ex.submit(pow, 2, 10).result()
        1024
    """

    name: str

    @property
    def slots(self) -> int:
        """How many submitted functions run at once."""

    def share(self, value: Any) -> Any:
        """A handle to ``value`` that :meth:`submit` passes to every function as the value
        itself, sent once (the training data) instead of once per call."""

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        """Run ``fn(*args)`` (a module-level function, so that it pickles), with any shared
        handle among ``args`` replaced by its value; the future holds its result or error."""


class InProcessExecutor:
    """Run each function at once, in this process: sequential tuning, as without an executor.

    Example:
        >>> InProcessExecutor().submit(sum, [1, 2]).result()
        3
    """

    name = "local"

    @property
    def slots(self) -> int:
        """One: the next trial starts when the last one ends."""
        return 1

    def share(self, value: Any) -> Any:
        """``value`` itself: nothing to send."""
        return value

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        """Run ``fn(*args)`` now and return its settled future."""
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:  # the tuner decides what a failed trial means
            future.set_exception(exc)
        return future

    def __repr__(self) -> str:
        return "InProcessExecutor()"
