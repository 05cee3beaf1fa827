"""Narration for recipes: numbered steps, lines and tables on a rich console, or silence."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["Narrator", "fmt", "step_heading"]


def step_heading(console: Console, n: int, text: str) -> None:
    """Print the heading of numbered step ``n``: the one look of every narrated step (the
    demo, the recipes and the loop's showcase)."""
    console.rule(f"[bold cyan]{n}. {text}", align="left")


def fmt(value: Any) -> str:
    """A metric value printed compactly."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class Narrator:
    """Prints a recipe's story; prints nothing when ``quiet``.

    Example:
        >>> say = Narrator(quiet=True)
        >>> say.step("Ingest")
    """

    def __init__(self, *, quiet: bool = False) -> None:
        self.console: Console | None = None
        if not quiet:
            from rich.console import Console

            self.console = Console()
        self.n = 0

    def step(self, text: str) -> None:
        """Start the next numbered step."""
        self.n += 1
        if self.console is not None:
            step_heading(self.console, self.n, text)

    def __call__(self, text: str) -> None:
        """Print one line (rich markup allowed)."""
        if self.console is not None:
            self.console.print(text)

    def table(self, title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Print a table of values."""
        if self.console is None:
            return
        from rich.table import Table

        out = Table(title=title)
        for column in columns:
            out.add_column(column)
        for row in rows:
            out.add_row(*(fmt(v) for v in row))
        self.console.print(out)
