"""Rich output in one place: the console, styles, tables. Rich is imported lazily."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

ERROR_STYLE = "bold red"
HEADER_STYLE = "bold cyan"


@cache
def console() -> Console:
    """The console for results (stdout)."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


@cache
def err_console() -> Console:
    """The console for errors (stderr)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def fail(message: str) -> None:
    """Print one red error line to stderr."""
    # soft_wrap: a long message stays one line (the terminal wraps it, a log keeps it whole)
    err_console().print(f"error: {message}", style=ERROR_STYLE, markup=False, soft_wrap=True)


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print a table."""
    from rich.table import Table

    t = Table(title=title, header_style=HEADER_STYLE, title_justify="left")
    for col in columns:
        t.add_column(col, overflow="fold")
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    console().print(t)


def when(ts: float | None) -> str:
    """A timestamp as local date and time, to the second."""
    if ts is None:
        return ""
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def number(value: Any) -> str:
    """A metric value printed compactly."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
