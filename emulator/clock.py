"""Simulated time and the schedules it fires.

moto stores EventBridge Scheduler schedules (and EventBridge rules) but never fires them. The
:class:`Clock` does, on simulated time: :meth:`Clock.advance_to` walks forward to ``t``, and for
every schedule occurrence in ``(now, t]``, in time order (ties by schedule name), it first lets
the emulator catch up on everything that depends on time (writing the metrics of the minutes
before the occurrence), then sets ``now`` to the occurrence and fires it.

Supported expressions: ``rate(N minute[s]|hour[s]|day[s])``, ``at(yyyy-mm-ddThh:mm:ss)`` and a
minimal ``cron(minutes hours day-of-month month day-of-week year)`` with ``*``, ``?``, numbers,
names (``JAN``, ``MON``), lists, ranges and ``/`` steps; ``L``, ``W`` and ``#`` are rejected
with a clear error. A rate schedule fires at ``anchor + k * rate`` (k >= 1), where the anchor is
its ``StartDate`` or else the clock's start; ``ScheduleExpressionTimezone`` applies to cron and
at expressions.

Scheduler input placeholders are replaced like EventBridge Scheduler does:
``<aws.scheduler.scheduled-time>`` (``YYYY-MM-DDTHH:MM:SSZ``), ``<aws.scheduler.execution-id>``,
``<aws.scheduler.schedule-arn>`` and ``<aws.scheduler.attempt-number>``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from emulator._aws import ACCOUNT_ID, REGION, client
from emulator.errors import EmulatorError, ScenarioError


class ScheduleExpressionError(EmulatorError):
    """A schedule expression the emulator cannot fire."""


def iso_z(at: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def require_utc(at: datetime, what: str = "time") -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got {at!r}")
    return at.astimezone(UTC)


class Expression(Protocol):
    def occurrences(self, after: datetime, until: datetime, anchor: datetime) -> list[datetime]:
        """Occurrences in ``(after, until]`` (UTC)."""
        ...


@dataclass(frozen=True)
class Rate:
    period: timedelta

    def occurrences(self, after: datetime, until: datetime, anchor: datetime) -> list[datetime]:
        if until <= after:
            return []
        k = max(1, int((after - anchor) / self.period) + 1) if after >= anchor else 1
        out: list[datetime] = []
        moment = anchor + k * self.period
        while moment <= until:
            if moment > after:
                out.append(moment)
            k += 1
            moment = anchor + k * self.period
        return out


@dataclass(frozen=True)
class At:
    moment: datetime

    def occurrences(self, after: datetime, until: datetime, anchor: datetime) -> list[datetime]:
        return [self.moment] if after < self.moment <= until else []


_MONTHS = {
    m: i
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1
    )
}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}


def _cron_field(text: str, low: int, high: int, names: dict[str, int], label: str) -> set[int]:
    values: set[int] = set()
    for item in text.split(","):
        step = 1
        part = item
        if "/" in item:
            part, step_text = item.split("/", 1)
            step = int(step_text)
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _cron_value(a, names, label), _cron_value(b, names, label)
        else:
            start = _cron_value(part, names, label)
            end = high if step != 1 else start
        if not (low <= start <= high and low <= end <= high):
            raise ScheduleExpressionError(f"cron {label} {text!r}: outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return values


def _cron_value(text: str, names: dict[str, int], label: str) -> int:
    upper = text.upper()
    if upper in names:
        return names[upper]
    try:
        return int(text)
    except ValueError:
        if any(ch in upper for ch in "LW#"):
            raise ScheduleExpressionError(
                f"cron {label} {text!r}: L, W and # are not supported by the emulator"
            ) from None
        raise ScheduleExpressionError(f"cron {label}: cannot read {text!r}") from None


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None
    months: frozenset[int]
    weekdays: frozenset[int] | None
    years: frozenset[int] | None
    zone: ZoneInfo | None

    def matches(self, at: datetime) -> bool:
        local = at.astimezone(self.zone) if self.zone else at
        weekday = (local.isoweekday() % 7) + 1  # SUN=1 ... SAT=7
        return (
            local.minute in self.minutes
            and local.hour in self.hours
            and local.month in self.months
            and (self.days is None or local.day in self.days)
            and (self.weekdays is None or weekday in self.weekdays)
            and (self.years is None or local.year in self.years)
        )

    def occurrences(self, after: datetime, until: datetime, anchor: datetime) -> list[datetime]:
        moment = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
        out: list[datetime] = []
        while moment <= until:
            if self.matches(moment):
                out.append(moment)
            moment += timedelta(minutes=1)
        return out


def parse_expression(expression: str, timezone: str | None = None) -> Expression:
    """Parse a Scheduler/EventBridge schedule expression (see the module docstring)."""
    text = expression.strip()
    zone = ZoneInfo(timezone) if timezone and timezone != "UTC" else None
    rate = re.fullmatch(r"rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)", text)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if value < 1:
            raise ScheduleExpressionError(f"{expression}: the rate must be at least 1")
        seconds = {"minute": 60, "hour": 3600, "day": 86400}[unit.rstrip("s")]
        return Rate(timedelta(seconds=value * seconds))
    at = re.fullmatch(r"at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)", text)
    if at:
        moment = datetime.fromisoformat(at.group(1)).replace(tzinfo=zone or UTC)
        return At(moment.astimezone(UTC))
    cron = re.fullmatch(r"cron\((.+)\)", text)
    if cron:
        fields = cron.group(1).split()
        if len(fields) != 6:
            raise ScheduleExpressionError(
                f"{expression}: cron needs 6 fields (minutes hours day-of-month month"
                " day-of-week year)"
            )
        minute, hour, dom, month, dow, year = fields
        if (dom == "?") == (dow == "?"):
            raise ScheduleExpressionError(
                f"{expression}: exactly one of day-of-month and day-of-week must be '?'"
            )
        return Cron(
            minutes=frozenset(_cron_field(minute, 0, 59, {}, "minutes")),
            hours=frozenset(_cron_field(hour, 0, 23, {}, "hours")),
            days=None if dom in ("?", "*") else frozenset(_cron_field(dom, 1, 31, {}, "day")),
            months=frozenset(_cron_field(month, 1, 12, _MONTHS, "month")),
            weekdays=None
            if dow in ("?", "*")
            else frozenset(_cron_field(dow, 1, 7, _DAYS, "day-of-week")),
            years=None
            if year in ("*", "?")
            else frozenset(_cron_field(year, 1970, 2199, {}, "year")),
            zone=zone,
        )
    raise ScheduleExpressionError(f"{expression!r}: expected rate(...), cron(...) or at(...)")


@dataclass(frozen=True)
class Schedule:
    """A schedule as deployed in moto (Scheduler schedule or EventBridge rule target)."""

    name: str
    arn: str
    expression: str
    target_arn: str
    input: str | None
    kind: str
    """``scheduler`` or ``events-rule``."""
    group: str = "default"
    timezone: str | None = None
    state: str = "ENABLED"
    start_date: datetime | None = None
    end_date: datetime | None = None
    dead_letter_arn: str | None = None
    max_retries: int = 185

    def parsed(self) -> Expression:
        try:
            return parse_expression(self.expression, self.timezone)
        except ScheduleExpressionError as exc:
            raise ScheduleExpressionError(f"schedule {self.name}: {exc}") from exc

    def render_input(self, at: datetime, attempt: int = 1) -> str:
        """The payload delivered to the target for the occurrence at ``at``."""
        if self.kind == "events-rule" and self.input is None:
            return json.dumps(
                {
                    "version": "0",
                    "id": str(uuid.uuid4()),
                    "detail-type": "Scheduled Event",
                    "source": "aws.events",
                    "account": ACCOUNT_ID,
                    "time": iso_z(at),
                    "region": REGION,
                    "resources": [self.arn],
                    "detail": {},
                }
            )
        text = self.input if self.input is not None else "{}"
        return (
            text.replace("<aws.scheduler.scheduled-time>", iso_z(at))
            .replace("<aws.scheduler.execution-id>", str(uuid.uuid4()))
            .replace("<aws.scheduler.schedule-arn>", self.arn)
            .replace("<aws.scheduler.attempt-number>", str(attempt))
        )


def _as_utc(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def discover_schedules(region: str = REGION) -> list[Schedule]:
    """Every schedule in moto: EventBridge Scheduler schedules, and EventBridge rules with a
    ``ScheduleExpression`` (one entry per target)."""
    schedules: list[Schedule] = []
    scheduler = client("scheduler", region)
    for item in scheduler.list_schedules().get("Schedules", []):
        detail = scheduler.get_schedule(Name=item["Name"], GroupName=item.get("GroupName"))
        target = detail["Target"]
        schedules.append(
            Schedule(
                name=detail["Name"],
                arn=detail["Arn"],
                expression=detail["ScheduleExpression"],
                target_arn=target["Arn"],
                input=target.get("Input"),
                kind="scheduler",
                group=detail.get("GroupName") or "default",
                timezone=detail.get("ScheduleExpressionTimezone"),
                state=detail.get("State") or "ENABLED",
                start_date=_as_utc(detail.get("StartDate")),
                end_date=_as_utc(detail.get("EndDate")),
                dead_letter_arn=(target.get("DeadLetterConfig") or {}).get("Arn"),
                max_retries=int((target.get("RetryPolicy") or {}).get("MaximumRetryAttempts", 185)),
            )
        )
    events = client("events", region)
    for rule in events.list_rules().get("Rules", []):
        if not rule.get("ScheduleExpression"):
            continue
        for target in events.list_targets_by_rule(Rule=rule["Name"]).get("Targets", []):
            schedules.append(
                Schedule(
                    name=f"{rule['Name']}/{target['Id']}",
                    arn=rule["Arn"],
                    expression=rule["ScheduleExpression"],
                    target_arn=target["Arn"],
                    input=target.get("Input"),
                    kind="events-rule",
                    state=rule.get("State") or "ENABLED",
                    dead_letter_arn=(target.get("DeadLetterConfig") or {}).get("Arn"),
                    max_retries=int(
                        (target.get("RetryPolicy") or {}).get("MaximumRetryAttempts", 185)
                    ),
                )
            )
    return schedules


@dataclass(frozen=True)
class Occurrence:
    schedule: Schedule
    at: datetime


class Clock:
    """Simulated UTC time; see the module docstring."""

    def __init__(
        self,
        start: datetime,
        *,
        schedules: list[Schedule] | None = None,
        fire: Callable[[Occurrence], None] | None = None,
        catch_up: Callable[[datetime], None] | None = None,
    ) -> None:
        self._start = require_utc(start, "clock start")
        self._now = self._start
        self.schedules: list[Schedule] = list(schedules or [])
        self._fire = fire
        self._catch_up = catch_up
        self.fired: list[Occurrence] = []
        for schedule in self.schedules:
            schedule.parsed()  # fail early on an expression the clock cannot fire

    @property
    def now(self) -> datetime:
        return self._now

    @property
    def start(self) -> datetime:
        return self._start

    def due(self, until: datetime) -> list[Occurrence]:
        """Occurrences in ``(now, until]``, in firing order."""
        until = require_utc(until, "until")
        found: list[Occurrence] = []
        for schedule in self.schedules:
            if schedule.state != "ENABLED":
                continue
            anchor = schedule.start_date or self._start
            for at in schedule.parsed().occurrences(self._now, until, anchor):
                if schedule.start_date and at < schedule.start_date:
                    continue
                if schedule.end_date and at > schedule.end_date:
                    continue
                found.append(Occurrence(schedule, at))
        return sorted(found, key=lambda o: (o.at, o.schedule.name))

    def advance_to(self, until: datetime) -> list[Occurrence]:
        """Fire every due occurrence up to ``until`` (inclusive) and end at ``until``."""
        until = require_utc(until, "until")
        if until < self._now:
            raise ValueError(f"the clock cannot go back from {iso_z(self._now)} to {iso_z(until)}")
        fired: list[Occurrence] = []
        for occurrence in self.due(until):
            if self._catch_up is not None:
                self._catch_up(occurrence.at)
            self._now = occurrence.at
            if self._fire is not None:
                self._fire(occurrence)
            self.fired.append(occurrence)
            fired.append(occurrence)
        if self._catch_up is not None:
            self._catch_up(until)
        self._now = until
        return fired

    def advance(self, delta: timedelta) -> list[Occurrence]:
        return self.advance_to(self._now + delta)

    def fire_now(self, schedule_name: str) -> Occurrence:
        """Fire one schedule at the current time, whatever its expression says."""
        for schedule in self.schedules:
            if schedule.name == schedule_name:
                occurrence = Occurrence(schedule, self._now)
                if self._catch_up is not None:
                    self._catch_up(self._now)
                if self._fire is not None:
                    self._fire(occurrence)
                self.fired.append(occurrence)
                return occurrence
        names = ", ".join(s.name for s in self.schedules) or "none"
        raise KeyError(f"no schedule {schedule_name!r}; schedules: {names}")


def parse_duration(value: object, where: str) -> timedelta:
    """A scenario's duration: minutes as a number, or ``20m``, ``1h30m``, ``2h``."""
    if isinstance(value, bool):
        raise ScenarioError(f"{where}: expected a duration such as 20m or 1h30m, got {value!r}")
    if isinstance(value, int):
        minutes = value
    elif isinstance(value, str):
        match = re.fullmatch(r"\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m?)?\s*", value)
        if not match or not any(match.groups()):
            raise ScenarioError(f"{where}: expected a duration such as 20m or 1h30m, got {value!r}")
        minutes = int(match.group(1) or 0) * 60 + int(match.group(2) or 0)
    else:
        raise ScenarioError(f"{where}: expected a duration such as 20m or 1h30m, got {value!r}")
    if minutes < 0:
        raise ScenarioError(f"{where}: must not be negative")
    return timedelta(minutes=minutes)
