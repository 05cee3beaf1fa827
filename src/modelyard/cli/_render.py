"""Output in one place: the console, styles, tables and JSON. Rich is imported lazily.

Text that comes from data (names, params, descriptions) is never read as rich markup: table
cells are plain text, and a message that mixes styles with data escapes the data with
:func:`esc`.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

ERROR_STYLE = "bold red"
HEADER_STYLE = "bold cyan"
STATUS_STYLES = {"finished": "green", "failed": "red", "killed": "yellow", "running": "cyan"}


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


def esc(value: object) -> str:
    """``value`` as text that rich prints as it is (``[loop.x]`` is not taken for a style).

    Example:
        >>> esc("[loop.cancer]")
        '\\\\[loop.cancer]'
    """
    from rich.markup import escape

    return escape(str(value))


def styled(value: object, style: str) -> Text:
    """A table cell or message part in ``style``, its text taken literally."""
    from rich.text import Text

    return Text(str(value), style=style)


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print a table; cells are plain text (a :func:`styled` cell keeps its style)."""
    from rich.table import Table
    from rich.text import Text

    cells = [[v if isinstance(v, Text) else Text("" if v is None else str(v)) for v in row]
             for row in rows]
    t = Table(title=esc(title), header_style=HEADER_STYLE, title_justify="left")
    for i, col in enumerate(columns):
        # the first column names the row (an id to copy, a name): never folded
        widest = max((len(row[0].plain) for row in cells), default=0) if i == 0 else None
        t.add_column(esc(col), overflow="fold", no_wrap=i == 0,
                     min_width=min(widest, 40) if widest else None)
    for row in cells:
        t.add_row(*row)
    console().print(t)


def emit_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout: no colour, no markup, one document.

    Datetimes, dataclasses and NumPy values are converted; NaN becomes null; anything else
    unknown is written as its ``str``.
    """
    import orjson

    opts = orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
    sys.stdout.write(orjson.dumps(data, default=_json_default, option=opts).decode() + "\n")
    sys.stdout.flush()


def _json_default(value: Any) -> Any:
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    item = getattr(value, "item", None)  # a NumPy scalar orjson does not know
    if callable(item):
        return item()
    return str(value)


def iso(ts: float | None) -> str | None:
    """A timestamp as ISO 8601 in UTC, for JSON (None stays None).

    Example:
        >>> iso(0.0)
        '1970-01-01T00:00:00+00:00'
    """
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat()


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
