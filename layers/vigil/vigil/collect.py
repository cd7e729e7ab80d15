"""One metrics collection cycle, at a cost that does not grow with healthy functions.

GetMetricData is billed per metric requested, so asking for every function's metrics every
cycle makes the watch cost grow with the account. A cycle instead has three stages
(docs/architecture.md, ADR 20):

1. **Fast path**, every cycle: the account-level ``AWS/Lambda`` aggregates (no dimensions;
   Lambda publishes Invocations, Errors and Throttles summed over every function) for the
   window. Three metrics, whatever the number of functions.
2. **Drill-down**, where something says to look: every function's Errors when the aggregate
   itself breaches the errors rule, every function's Throttles when the account throttled at
   all, and the functions on the watch list (an alert of theirs is pending or firing) always,
   so their alerts fire, repeat and resolve on per-function evidence. Invocations are then
   read only for the functions that had errors or throttles.
3. **Sweep**, once per ``sweep_minutes`` (chosen from the window's end, so a replay sweeps at
   the same cycles): every function's Errors over the whole sweep period, minus the minutes a
   cycle already judged for that function (the coverage records). A small function failing
   inside a healthy aggregate is found within one sweep period.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from vigil.adapters.cloudwatch import MetricQuery
from vigil.adapters.collector_state import Coverage
from vigil.adapters.lambda_inventory import FunctionInfo
from vigil.clock import floor_minute
from vigil.model import Labels, Signal, SignalBatch
from vigil.rules import RulesConfig, judge

LAMBDA_KINDS = ("lambda.errors", "lambda.throttles")
_NAMESPACE = "AWS/Lambda"
_EVENT_METRIC = {"lambda.errors": "Errors", "lambda.throttles": "Throttles"}
# Coverage records outlive a sweep period, so the next sweep always finds its cycles.
_COVERAGE_KEEP_PERIODS = 2


class MetricsPort(Protocol):
    def sums(
        self,
        queries: Sequence[MetricQuery],
        *,
        start: datetime,
        end: datetime,
        period: int = 60,
    ) -> dict[str, float]: ...

    def series(
        self,
        queries: Sequence[MetricQuery],
        *,
        start: datetime,
        end: datetime,
        period: int = 60,
    ) -> dict[str, dict[datetime, float]]: ...


class InventoryPort(Protocol):
    def functions(self) -> list[FunctionInfo]: ...


class CollectorStatePort(Protocol):
    def watched(self, kinds: Iterable[str]) -> set[str]: ...

    def record(self, coverage: Coverage, *, expires: datetime) -> None: ...

    def coverage(self, start: datetime, end: datetime) -> list[Coverage]: ...


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


@dataclass(frozen=True)
class Cycle:
    """The batch a cycle hands to the Evaluate workflow, and how it was gathered."""

    batch: SignalBatch
    drilled: list[str]
    watched: list[str]
    swept: bool


def window_for(now: datetime, rules: RulesConfig) -> Window:
    """The last complete window: minute-aligned, ``lag_minutes`` behind ``now``.

    CloudWatch publishes Lambda metrics about a minute late; the lag keeps a cycle from
    reading a minute that is still filling. Consecutive cycles tile time without gaps
    when the schedule rate equals the window.
    """
    end = floor_minute(now) - timedelta(minutes=rules.collection.lag_minutes)
    return Window(start=end - timedelta(minutes=rules.collection.window_minutes), end=end)


def sweep_due(window: Window, rules: RulesConfig) -> bool:
    """Whether ``window`` is the one that crosses a sweep boundary (one per sweep period).

    Boundaries are multiples of ``sweep_minutes`` since the epoch, so the decision depends on
    the scheduled time only, whatever minute the schedule started on.
    """
    period = rules.collection.sweep_minutes
    end = int(window.end.timestamp()) // 60
    start = int(window.start.timestamp()) // 60
    return end // period != start // period


def collect_lambda(
    *,
    inventory: InventoryPort,
    metrics: MetricsPort,
    state: CollectorStatePort,
    rules: RulesConfig,
    now: datetime,
    account: str,
    region: str,
) -> Cycle:
    """Judge the last window: fast path, drill-down where it says so, and the sweep when due."""
    window = window_for(now, rules)
    enabled = [kind for kind in LAMBDA_KINDS if kind in rules.enabled_kinds]
    label = _Labeller(account=account, region=region)
    drilled = _drill_kinds(metrics, enabled, window, rules, label)
    watched = state.watched(LAMBDA_KINDS)
    swept = "lambda.errors" in enabled and sweep_due(window, rules)
    names = [fn.name for fn in inventory.functions()] if drilled or swept else []
    targets = {kind: set(names) if kind in drilled else watched for kind in enabled}
    signals = _read_window(metrics, targets, window, label)
    current = Coverage(
        start=window.start,
        end=window.end,
        drilled=frozenset(drilled),
        watched=frozenset(watched),
    )
    if swept:
        already = {s.labels.resource for s in signals if s.labels.kind == "lambda.errors"}
        signals += _sweep(
            metrics=metrics,
            state=state,
            names=names,
            current=current,
            window=window,
            rules=rules,
            label=label,
            skip=already,
        )
    sweep_period = timedelta(minutes=rules.collection.sweep_minutes)
    state.record(current, expires=window.end + _COVERAGE_KEEP_PERIODS * sweep_period)
    # The batch speaks for every kind this collector reads, enabled or not, so that the
    # active alerts of a rule that was just disabled resolve instead of freezing.
    batch = SignalBatch(
        batch_id=f"metrics-{account}-{region}-{now:%Y%m%dT%H%M}Z",
        source="metrics",
        collected_at=now,
        covered_kinds=sorted(LAMBDA_KINDS),
        signals=signals,
    )
    return Cycle(batch=batch, drilled=sorted(drilled), watched=sorted(watched), swept=swept)


@dataclass(frozen=True)
class _Labeller:
    account: str
    region: str

    def signal(self, kind: str, resource: str, window: Window, samples: dict[str, float]) -> Signal:
        event, volume = ("errors", "invocations")
        if kind == "lambda.throttles":
            event, volume = "throttles", "requests"
        events, requests = samples[event], samples[volume]
        return Signal(
            source="metrics",
            labels=Labels(kind=kind, resource=resource, account=self.account, region=self.region),
            value=round((events / requests if requests else 1.0) * 100, 4),
            unit="Percent",
            window_seconds=window.seconds,
            observed_at=window.end,
            samples=samples,
        )


def _drill_kinds(
    metrics: MetricsPort,
    enabled: list[str],
    window: Window,
    rules: RulesConfig,
    label: _Labeller,
) -> set[str]:
    """The fast path: the kinds whose account aggregate says to look at every function.

    Errors: when the aggregate itself breaches the errors rule (a low-volume account with
    any error, or an account-wide rate above the warning rate). Throttles: when the account
    throttled at all, since a healthy account throttles nothing.
    """
    if not enabled:
        return set()
    queries = [
        MetricQuery(
            id=f"account_{metric.lower()}", namespace=_NAMESPACE, metric=metric, dimensions=()
        )
        for metric in ("Invocations", "Errors", "Throttles")
    ]
    sums = metrics.sums(queries, start=window.start, end=window.end)
    invocations = sums.get("account_invocations", 0.0)
    errors = sums.get("account_errors", 0.0)
    throttles = sums.get("account_throttles", 0.0)
    kinds: set[str] = set()
    if "lambda.errors" in enabled and errors > 0:
        aggregate = label.signal(
            "lambda.errors", "account", window, {"errors": errors, "invocations": invocations}
        )
        if judge(aggregate, rules) is not None:
            kinds.add("lambda.errors")
    if "lambda.throttles" in enabled and throttles > 0:
        kinds.add("lambda.throttles")
    return kinds


def _per_function(
    pairs: Iterable[tuple[str, str]],
) -> tuple[list[MetricQuery], list[tuple[str, str]]]:
    ordered = sorted(set(pairs))
    queries = [
        MetricQuery(
            id=f"q{index}",
            namespace=_NAMESPACE,
            metric=metric,
            dimensions=(("FunctionName", name),),
        )
        for index, (name, metric) in enumerate(ordered)
    ]
    return queries, ordered


def _read_window(
    metrics: MetricsPort,
    targets: dict[str, set[str]],
    window: Window,
    label: _Labeller,
) -> list[Signal]:
    """Drill-down: the event counts of the targets, then invocations where there were any."""
    queries, keys = _per_function(
        (name, _EVENT_METRIC[kind]) for kind, names in targets.items() for name in names
    )
    if not queries:
        return []
    sums = metrics.sums(queries, start=window.start, end=window.end)
    events = {keys[int(qid[1:])]: value for qid, value in sums.items() if value > 0}
    queries, keys = _per_function((name, "Invocations") for name, _ in events)
    sums = metrics.sums(queries, start=window.start, end=window.end) if queries else {}
    invocations = {keys[int(qid[1:])][0]: value for qid, value in sums.items()}
    signals: list[Signal] = []
    for (name, metric), count in sorted(events.items()):
        calls = invocations.get(name, 0.0)
        if metric == "Errors":
            samples = {"errors": count, "invocations": calls}
            signals.append(label.signal("lambda.errors", name, window, samples))
        else:
            samples = {"throttles": count, "requests": calls + count, "invocations": calls}
            signals.append(label.signal("lambda.throttles", name, window, samples))
    return signals


def _sweep(
    *,
    metrics: MetricsPort,
    state: CollectorStatePort,
    names: list[str],
    current: Coverage,
    window: Window,
    rules: RulesConfig,
    label: _Labeller,
    skip: set[str],
) -> list[Signal]:
    """Every function's errors over the sweep period, minus minutes a cycle already judged."""
    period = Window(
        start=window.end - timedelta(minutes=rules.collection.sweep_minutes), end=window.end
    )
    records = [*state.coverage(period.start, window.start), current]
    drilled = [(c.start, c.end) for c in records if "lambda.errors" in c.drilled]

    def unjudged(name: str, points: dict[datetime, float]) -> float:
        watched = [(c.start, c.end) for c in records if name in c.watched]
        return sum(
            value
            for at, value in points.items()
            if value and not any(start <= at < end for start, end in (*drilled, *watched))
        )

    queries, keys = _per_function((name, "Errors") for name in names if name not in skip)
    series = metrics.series(queries, start=period.start, end=period.end)
    errors = {
        keys[int(qid[1:])][0]: count
        for qid, points in series.items()
        if (count := unjudged(keys[int(qid[1:])][0], points)) > 0
    }
    queries, keys = _per_function((name, "Invocations") for name in errors)
    series = metrics.series(queries, start=period.start, end=period.end) if queries else {}
    invocations = {
        keys[int(qid[1:])][0]: unjudged(keys[int(qid[1:])][0], p) for qid, p in series.items()
    }
    return [
        label.signal(
            "lambda.errors",
            name,
            period,
            {"errors": count, "invocations": invocations.get(name, 0.0)},
        )
        for name, count in sorted(errors.items())
    ]
