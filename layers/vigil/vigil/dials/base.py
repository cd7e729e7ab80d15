"""What a dial family is, and what the collector gives it.

A **dial family** watches one kind of resource (Lambda functions, dead-letter queues, DynamoDB
tables...). In a cycle it runs as a generator: it yields the metrics it needs next, as
:class:`MetricAsk` lists, receives :class:`Answers`, and returns a :class:`FamilyResult` (its
signals and what it did). A family typically yields up to three times: the fast path (account
aggregates and cheap signals), the drill-down the fast path asked for together with the sweep
when one is due, and a last round for volumes of the resources that had bad events. Families
may call cheaper non-metric APIs themselves (queue attributes, ``DescribeTable``) between
rounds.

The collector (``vigil.dials.collect``) runs every family's rounds in lockstep, so the asks of all
families in a round share GetMetricData calls: it de-duplicates them, fetches each metric once
per cycle over the union of the spans asked at the finest period asked, batches to the
500-metric limit, and answers later asks from what it already has.
"""

from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from vigil.core.clock import floor_minute
from vigil.core.model import Labels, Signal
from vigil.rules.document import RulesConfig


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


def window_for(now: datetime, rules: RulesConfig) -> Window:
    """The last complete window: minute-aligned, ``lag_minutes`` behind ``now``.

    CloudWatch publishes metrics about a minute late; the lag keeps a cycle from reading a
    minute that is still filling. Consecutive cycles tile time without gaps when the schedule
    rate equals the window.
    """
    end = floor_minute(now) - timedelta(minutes=rules.collection.lag_minutes)
    return Window(start=end - timedelta(minutes=rules.collection.window_minutes), end=end)


def sweep_due(window: Window, rules: RulesConfig) -> bool:
    """Whether ``window`` is the one that crosses a sweep boundary (one per sweep period).

    Boundaries are multiples of ``sweep_minutes`` since the epoch, so the decision depends on
    the scheduled time only, whatever minute the schedule started on.
    """
    return _crosses(window, rules.collection.sweep_minutes)


def function_sweep_due(window: Window, minutes: int) -> bool:
    """Whether ``window`` crosses a multiple of ``minutes``, the function sweep's period."""
    return _crosses(window, minutes)


def discovery_due(window: Window, rules: RulesConfig, *, offset: int = 0) -> bool:
    """Whether ``window`` crosses a multiple of ``discovery_minutes`` (see :func:`sweep_due`),
    ``offset`` minutes later: the targets of the collect workflow each discover at their own
    minute of the period (ADR 51), so that an Organization's discoveries spread over it."""
    return _crosses(window, rules.collection.discovery_minutes, offset)


def _crosses(window: Window, period: int, offset: int = 0) -> bool:
    end = int(window.end.timestamp()) // 60 + offset
    start = int(window.start.timestamp()) // 60 + offset
    return end // period != start // period


class Stage(StrEnum):
    """Why a metric is asked: what the cost of a healthy cycle is made of."""

    FAST = "fast"
    DRILL = "drill"
    SWEEP = "sweep"


@dataclass(frozen=True)
class MetricKey:
    """One CloudWatch metric and statistic: the unit GetMetricData bills."""

    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str = "Sum"


@dataclass(frozen=True)
class MetricAsk:
    """A family's need: ``key`` over [start, end) at ``period`` seconds."""

    key: MetricKey
    start: datetime
    end: datetime
    stage: Stage
    period: int = 60


@dataclass(frozen=True)
class _Fetched:
    start: datetime
    end: datetime
    period: int
    points: dict[datetime, float]


class Answers:
    """Every series fetched so far in the cycle, by metric; a family reads its spans from it."""

    def __init__(self) -> None:
        self._fetched: dict[MetricKey, _Fetched] = {}

    def covers(self, key: MetricKey, start: datetime, end: datetime, period: int) -> bool:
        got = self._fetched.get(key)
        return got is not None and got.start <= start and end <= got.end and got.period <= period

    def store(
        self,
        key: MetricKey,
        *,
        start: datetime,
        end: datetime,
        period: int,
        points: dict[datetime, float],
    ) -> None:
        self._fetched[key] = _Fetched(start=start, end=end, period=period, points=points)

    def series(self, key: MetricKey, start: datetime, end: datetime) -> dict[datetime, float]:
        """The datapoints of ``key`` in [start, end); empty when it has none (or was not asked)."""
        got = self._fetched.get(key)
        if got is None:
            return {}
        return {at: value for at, value in got.points.items() if start <= at < end}

    def total(self, key: MetricKey, window: Window) -> float:
        return sum(self.series(key, window.start, window.end).values())

    def peak(self, key: MetricKey, window: Window) -> float:
        return max(self.series(key, window.start, window.end).values(), default=0.0)

    def latest(self, key: MetricKey, window: Window) -> float | None:
        points = self.series(key, window.start, window.end)
        return points[max(points)] if points else None


@dataclass(frozen=True)
class CycleContext:
    """What every family knows about the cycle: its window, time, rules and where it runs."""

    window: Window
    now: datetime
    rules: RulesConfig
    account: str
    region: str
    sweep: bool
    discovery: bool
    function_sweep_every: int | None = None
    """How often every function's errors are swept (``CollectionConfig.function_sweep``);
    ``None``: with the other dials, every ``sweep_minutes``."""
    function_sweep_now: bool | None = None
    """Whether this cycle sweeps every function's errors; ``None``: when it sweeps the rest."""

    @property
    def function_sweep_minutes(self) -> int:
        every = self.function_sweep_every
        return self.rules.collection.sweep_minutes if every is None else every

    @property
    def function_sweep(self) -> bool:
        return self.sweep if self.function_sweep_now is None else self.function_sweep_now

    @property
    def sweep_period(self) -> Window:
        """The ``sweep_minutes`` that end with the window: what a sweep reads."""
        minutes = self.rules.collection.sweep_minutes
        return Window(start=self.window.end - timedelta(minutes=minutes), end=self.window.end)

    @property
    def function_sweep_period(self) -> Window:
        """The ``function_sweep_minutes`` that end with the window: what a function sweep
        reads."""
        minutes = self.function_sweep_minutes
        return Window(start=self.window.end - timedelta(minutes=minutes), end=self.window.end)

    def ask(self, key: MetricKey, stage: Stage, span: Window | None = None) -> MetricAsk:
        """``key`` over ``span`` (the cycle's window unless given)."""
        span = span or self.window
        return MetricAsk(key=key, start=span.start, end=span.end, stage=stage)

    def signal(
        self,
        kind: str,
        resource: str,
        *,
        value: float,
        unit: str,
        samples: dict[str, float],
        span: Window | None = None,
        context: dict[str, str] | None = None,
    ) -> Signal:
        """A metrics signal of this account and region, observed at the end of ``span``."""
        span = span or self.window
        return Signal(
            source="metrics",
            labels=Labels(kind=kind, resource=resource, account=self.account, region=self.region),
            value=value,
            unit=unit,
            window_seconds=span.seconds,
            observed_at=span.end,
            samples=samples,
            context=context or {},
        )


@dataclass(frozen=True)
class FamilyResult:
    """What a family found in a cycle, and how: for the batch, the log line and the benchmark.

    ``drilled`` are the kinds it read for every resource, ``watched`` the resources it read
    because an alert of theirs is active, ``resources`` how many resources it knows of.
    """

    signals: list[Signal]
    resources: int = 0
    drilled: frozenset[str] = frozenset()
    watched: frozenset[str] = frozenset()
    swept: bool = False
    discovered: bool = False
    extra: dict[str, int] = field(default_factory=dict)


# A family's run: yields asks, is sent the answers, returns its result.
FamilyRun = Generator[list[MetricAsk], Answers, FamilyResult]


class DialFamily(Protocol):
    """One family of dials. ``kinds`` are every kind it speaks for, enabled or not."""

    name: str
    kinds: tuple[str, ...]

    def run(self, ctx: CycleContext) -> FamilyRun: ...
