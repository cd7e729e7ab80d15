"""Recurring time windows, Alertmanager's ``time_intervals``: when a route is muted (or active).

A named interval is a list of entries; it covers a moment when any entry does. An entry covers
a moment when every field it gives does (a field left out covers all time), all read in the
entry's ``location`` (an IANA time zone, UTC by default):

- ``times``: ``[{"start_time": "22:00", "end_time": "24:00"}]``, start included, end excluded;
- ``weekdays``: ``["monday:friday", "sunday"]``, by name only; a range runs within a week that
  starts on Sunday, as Alertmanager reads it (``saturday:sunday`` is two entries);
- ``days_of_month``: ``["1:7", "-1"]``, negative days count from the month's end (-1 the last);
  a range that ends before it starts in every month (``30:-5``), or runs from a negative day to
  a positive one, is refused, as Alertmanager refuses it;
- ``months``: ``["december", "1:3"]``, by name or number;
- ``years``: ``["2026:2027"]``.

Routes name intervals in ``mute_time_intervals`` (no notification while one covers the moment)
and ``active_time_intervals`` (notifications only while one does). The moment is the
evaluation's clock, so a replayed batch decides the same.
"""

import calendar
import re
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

# Alertmanager's week: Sunday is 0, so a range never crosses from Saturday to Sunday.
_WEEKDAYS = {name.lower(): (index + 1) % 7 for index, name in enumerate(calendar.day_name)}
_MONTHS = {name.lower(): index for index, name in enumerate(calendar.month_name) if name}
_CLOCK = re.compile(r"^(\d{2}):(\d{2})$")


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not an IANA time zone like Europe/Berlin") from exc
    return value


TimeZoneName = Annotated[str, AfterValidator(_known_zone)]
"""An IANA time zone name (``Europe/Berlin``) that this Python's zoneinfo knows."""


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _minutes(value: str, *, end: bool) -> int:
    match = _CLOCK.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not a time like 09:00 (HH:MM, 24-hour)")
    hours, minutes = int(match[1]), int(match[2])
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not end)):
        raise ValueError(f"{value!r} is not a time of day (00:00 to 23:59; 24:00 as an end)")
    return hours * 60 + minutes


class TimeRange(_Config):
    start_time: str
    end_time: str

    @model_validator(mode="after")
    def _ordered(self) -> "TimeRange":
        if self.start_minute >= self.end_minute:
            raise ValueError(
                f"start_time {self.start_time} must be before end_time {self.end_time}"
            )
        return self

    @property
    def start_minute(self) -> int:
        return _minutes(self.start_time, end=False)

    @property
    def end_minute(self) -> int:
        return _minutes(self.end_time, end=True)


def _number(
    token: str, names: dict[str, int], *, what: str, low: int, high: int, by_name: bool = False
) -> int:
    value = names.get(token.lower()) if names else None
    if value is None and by_name:
        raise ValueError(f"{token!r} is not a {what}: write its name (monday), not a number")
    if value is None:
        try:
            value = int(token)
        except ValueError:
            raise ValueError(f"{token!r} is not a {what}") from None
    if not low <= value <= high:
        raise ValueError(f"{token!r} is not a {what} ({low} to {high})")
    return value


def _ranges(
    items: list[str],
    names: dict[str, int],
    *,
    what: str,
    low: int,
    high: int,
    by_name: bool = False,
) -> list[tuple[int, int]]:
    """``["monday:friday", "sunday"]`` as inclusive (start, end) pairs."""
    found = []
    for item in items:
        first, _, last = item.partition(":")
        if last.count(":"):
            raise ValueError(f"{item!r} is not a range like a:b")
        start = _number(first.strip(), names, what=what, low=low, high=high, by_name=by_name)
        end = (
            _number(last.strip(), names, what=what, low=low, high=high, by_name=by_name)
            if last
            else start
        )
        if (start < 0) == (end < 0) and start > end:
            raise ValueError(f"{item!r}: the range ends before it starts")
        found.append((start, end))
    return found


Item = Annotated[str, Field(min_length=1)]


class TimeIntervalEntry(_Config):
    times: list[TimeRange] = Field(default_factory=list)
    weekdays: list[Item] = Field(default_factory=list)
    days_of_month: list[Item] = Field(default_factory=list)
    months: list[Item] = Field(default_factory=list)
    years: list[Item] = Field(default_factory=list)
    location: TimeZoneName = "UTC"

    @model_validator(mode="after")
    def _parses(self) -> "TimeIntervalEntry":
        # each raises ValueError naming the bad item
        _ = (self._weekdays, self._days, self._months, self._years)
        return self

    @property
    def _weekdays(self) -> list[tuple[int, int]]:
        try:
            return _ranges(self.weekdays, _WEEKDAYS, what="weekday", low=0, high=6, by_name=True)
        except ValueError as exc:
            if "ends before it starts" not in str(exc):
                raise
            raise ValueError(
                f"{exc}: a week runs from sunday to saturday (as in Alertmanager); write a"
                " range that crosses it as two entries"
            ) from None

    @property
    def _days(self) -> list[tuple[int, int]]:
        pairs = _ranges(self.days_of_month, {}, what="day of month", low=-31, high=31)
        if any(0 in pair for pair in pairs):
            raise ValueError("days_of_month: 0 is no day (1 is the first, -1 the last)")
        for item, (start, end) in zip(self.days_of_month, pairs, strict=True):
            if start < 0 < end:
                raise ValueError(f"{item!r}: a range from a negative day ends on a negative day")
            # Checked against the shortest month (28 days), as Alertmanager does.
            if (28 + start if start < 0 else start) > (28 + end if end < 0 else end):
                raise ValueError(f"{item!r}: the range ends before it starts in every month")
        return pairs

    @property
    def _months(self) -> list[tuple[int, int]]:
        return _ranges(self.months, _MONTHS, what="month", low=1, high=12)

    @property
    def _years(self) -> list[tuple[int, int]]:
        return _ranges(self.years, {}, what="year", low=1970, high=9999)

    def covers(self, moment: datetime) -> bool:
        local = moment.astimezone(ZoneInfo(self.location))
        minute = local.hour * 60 + local.minute
        last_day = calendar.monthrange(local.year, local.month)[1]

        def day_of_month(value: int) -> int:
            return value if value > 0 else last_day + 1 + value

        checks = [
            not self.times or any(r.start_minute <= minute < r.end_minute for r in self.times),
            not self._weekdays
            or any(a <= (local.weekday() + 1) % 7 <= b for a, b in self._weekdays),
            not self._days
            or any(day_of_month(a) <= local.day <= day_of_month(b) for a, b in self._days),
            not self._months or any(a <= local.month <= b for a, b in self._months),
            not self._years or any(a <= local.year <= b for a, b in self._years),
        ]
        return all(checks)


class TimeInterval(_Config):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")]
    time_intervals: Annotated[list[TimeIntervalEntry], Field(min_length=1)]

    def covers(self, moment: datetime) -> bool:
        return any(entry.covers(moment) for entry in self.time_intervals)
