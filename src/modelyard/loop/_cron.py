"""Cron schedules of the loop's triggers, read as cron reads them, in UTC.

Five fields (``minute hour day-of-month month day-of-week``) with names (``mon-fri``,
``jan``), ranges, lists and steps, or a shortcut (``@hourly``, ``@daily``, ``@weekly``,
``@monthly``, ``@yearly``). When both day fields are restricted, a day matching either one
matches, as in Vixie cron. Parsing and matching are croniter's: a schedule means here what
it means in a crontab.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..errors import InvalidInput

__all__ = ["Cron", "parse_cron"]

_SHORTCUTS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


@dataclass(frozen=True)
class Cron:
    """A checked cron expression.

    Example:
        >>> parse_cron("@daily").due(0, 86_400)
        True
    """

    text: str

    def matches(self, when: dt.datetime) -> bool:
        """Whether the minute of ``when`` (UTC when naive) is scheduled."""
        from croniter import croniter

        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return bool(croniter.match(self.text, when.astimezone(dt.UTC).replace(second=0,
                                                                               microsecond=0)))

    def due(self, since: float, now: float) -> bool:
        """Whether a scheduled minute started in ``(since, now]`` (epoch seconds)."""
        from croniter import croniter

        start = dt.datetime.fromtimestamp(since, dt.UTC)
        following = croniter(self.text, start).get_next(float)
        return bool(following <= now)


def parse_cron(text: str, *, where: str = "schedule") -> Cron:
    """Check a cron expression: 5 fields or a shortcut such as ``@daily``.

    Raises:
        InvalidInput: not 5 fields or a shortcut, or a field cron would refuse, naming it.

    Example:
        >>> parse_cron("*/15 9-17 * * mon-fri").text
        '*/15 9-17 * * mon-fri'
    """
    from croniter import croniter

    cleaned = " ".join(str(text).split())
    if cleaned.lower() in _SHORTCUTS:
        return Cron(cleaned.lower())
    if len(cleaned.split()) != 5:
        raise InvalidInput(f"{where}: {text!r} must have 5 fields (minute hour day-of-month "
                           "month day-of-week), e.g. '0 3 * * *', or be one of "
                           f"{', '.join(_SHORTCUTS)}")
    if not croniter.is_valid(cleaned):
        raise InvalidInput(f"{where}: {text!r} is not a valid cron expression; each field "
                           "takes *, a number, a name (mon, jan), a range 1-5, a list 1,3 or "
                           "a step */15, e.g. '30 3 * * mon-fri'")
    return Cron(cleaned)
