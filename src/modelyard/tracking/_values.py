"""Checks and conversions of what a run logs: keys, numbers, steps, text, paths, failures.

Shared by :mod:`._active` (logging to a run) and :mod:`._runs` (starting one); every
check raises :class:`~modelyard.errors.InvalidInput` with the value that was refused.
"""

from __future__ import annotations

import operator
import os
import traceback
from pathlib import PurePosixPath
from typing import Any

from ..errors import InvalidInput

__all__ = [
    "MAX_FAILURE",
    "MAX_KEY",
    "artifact_path",
    "as_text",
    "check_key",
    "check_number",
    "check_step",
    "describe_failure",
]

#: The longest param, metric or tag key.
MAX_KEY = 250
#: The longest failure text stored with a run.
MAX_FAILURE = 20_000


def check_key(key: object, what: str) -> str:
    """``key`` if it can name a ``what`` (param, metric, tag).

    Raises:
        InvalidInput: not a string, blank, or longer than :data:`MAX_KEY`.
    """
    if not isinstance(key, str) or not key.strip():
        raise InvalidInput(f"{what} key {key!r} is not allowed: use a non-empty string")
    if len(key) > MAX_KEY:
        raise InvalidInput(f"{what} key {key[:40]!r}... is {len(key)} characters long; "
                           f"the limit is {MAX_KEY}")
    return key


def check_number(key: str, value: object) -> float:
    """The metric ``value`` as a float (NaN and inf allowed).

    Raises:
        InvalidInput: text, ``None``, or anything ``float()`` refuses.
    """
    if isinstance(value, str | bytes) or value is None:
        raise InvalidInput(
            f"metric {key!r} got {value!r}, which is not a number; log numbers as "
            "metrics and text as params or tags"
        )
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"metric {key!r} got {value!r} of type {type(value).__name__}, which is not "
            "a number; log numbers as metrics and text as params or tags"
        ) from exc


def check_step(step: object) -> int:
    """The metric ``step`` as an int.

    Raises:
        InvalidInput: a bool or anything that is not an integer.
    """
    if isinstance(step, bool) or not hasattr(step, "__index__"):
        raise InvalidInput(f"step {step!r} is not an integer; pass e.g. step=3")
    return operator.index(step)


def as_text(value: Any) -> str:
    """A param or tag value as the text stored."""
    return value if isinstance(value, str) else str(value)


def artifact_path(name: str) -> str:
    """``name`` as a POSIX path inside the run's folder.

    Raises:
        InvalidInput: empty, absolute, or leaving the folder with ``..``.
    """
    posix = PurePosixPath(name.replace(os.sep, "/"))
    if not name or posix.is_absolute() or ".." in posix.parts or str(posix) in {"", "."}:
        raise InvalidInput(
            f"artifact name {name!r} is not a relative path inside the run; use e.g. "
            "'model.skops' or 'plots/roc.png'"
        )
    return str(posix)


def describe_failure(exc: BaseException) -> str:
    """What a run that ``exc`` ended records as its failure: summary, then traceback."""
    summary = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return f"{summary}\n\n{trace}"[:MAX_FAILURE]
