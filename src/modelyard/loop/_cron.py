"""A small 5-field cron: ``minute hour day-of-month month day-of-week``, in UTC.

Each field takes ``*``, numbers, ranges ``a-b``, lists ``a,b`` and steps ``*/n``, ``a-b/n``.
As in Vixie cron, when both day fields are restricted a day matching either one matches.
Written here rather than depending on ``croniter``: the loop needs only "was a scheduled
minute passed since the last look".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..errors import InvalidInput

__all__ = ["Cron", "parse_cron"]

_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_NAMES = ("minute", "hour", "day of month", "month", "day of week")
_MAX_SCAN_MIN = 60 * 24 * 8  # look back at most 8 days for a due minute


@dataclass(frozen=True)
class Cron:
    """A parsed cron expression."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_any: bool
    weekdays_any: bool

    def matches(self, when: dt.datetime) -> bool:
        """Whether the minute of ``when`` (UTC) is scheduled."""
        if when.minute not in self.minutes or when.hour not in self.hours or \
                when.month not in self.months:
            return False
        day_ok = when.day in self.days
        weekday_ok = (when.isoweekday() % 7) in self.weekdays
        if self.days_any or self.weekdays_any:
            return day_ok and weekday_ok
        return day_ok or weekday_ok

    def due(self, since: float, now: float) -> bool:
        """Whether a scheduled minute started in ``(since, now]`` (epoch seconds)."""
        first = max(int(since // 60) + 1, int(now // 60) - _MAX_SCAN_MIN)
        for minute in range(int(now // 60), first - 1, -1):
            if self.matches(dt.datetime.fromtimestamp(minute * 60, dt.UTC)):
                return True
        return False


def _field(text: str, index: int, where: str) -> tuple[frozenset[int], bool]:
    low, high = _BOUNDS[index]
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if body == "*":
                start, end = low, high
            elif "-" in body:
                a, b = body.split("-", 1)
                start, end = int(a), int(b)
            else:
                start = end = int(body)
                if step_text:
                    end = high
        except ValueError:
            raise InvalidInput(f"{where}: {_NAMES[index]} field {text!r} is not a cron field "
                               "(use *, 5, 1-5, 1,3 or */15)") from None
        if step < 1 or not low <= start <= end <= high:
            raise InvalidInput(f"{where}: {_NAMES[index]} field {text!r} is out of range "
                               f"{low}-{high}")
        values.update(range(start, end + 1, step))
    if index == 4 and 7 in values:
        values = (values - {7}) | {0}
    return frozenset(values), text == "*"


def parse_cron(text: str, *, where: str = "schedule") -> Cron:
    """Parse a 5-field cron expression.

    Raises:
        InvalidInput: not 5 fields, or a field out of range, naming it.

    Example:
        >>> parse_cron("*/15 * * * *").due(0, 900)
        True
    """
    parts = text.split()
    if len(parts) != 5:
        raise InvalidInput(f"{where}: {text!r} must have 5 fields (minute hour day-of-month "
                           "month day-of-week), e.g. '0 3 * * *'")
    fields = [_field(p, i, where) for i, p in enumerate(parts)]
    return Cron(text, fields[0][0], fields[1][0], fields[2][0], fields[3][0], fields[4][0],
                days_any=fields[2][1], weekdays_any=fields[4][1])
