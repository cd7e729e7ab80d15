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

The same fast-path request carries the account dials (ADR 21): the peak account concurrency
(``ClaimedAccountConcurrency`` and ``ConcurrentExecutions``, Maximum), judged against the limit
``GetAccountSettings`` reports (cached for an hour), and the asynchronous delivery failures
(``AsyncEventsDropped``, ``DeadLetterErrors``, ``DestinationDeliveryFailures``), read per
function only when their account sum is not zero. A sum is exact, so that drill-down has no
blind spot and needs no sweep.

SQS dead-letter queues (ADR 23) are found by a discovery every ``discovery_minutes`` (chosen
from the window's end, like the sweep) and stored in the state table; every cycle asks SQS for
the stored queues' depth (``GetQueueAttributes``, no metric), and only for a queue with
messages adds its ``ApproximateAgeOfOldestMessage`` to the fast-path request.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Protocol

from vigil.adapters.cloudwatch import MetricQuery
from vigil.adapters.collector_state import Coverage
from vigil.adapters.lambda_account import AccountLimits
from vigil.adapters.lambda_inventory import FunctionInfo
from vigil.adapters.sqs_queues import QueueDepth
from vigil.clock import floor_minute
from vigil.model import Labels, Signal, SignalBatch
from vigil.rules import RulesConfig, judge

LAMBDA_KINDS = ("lambda.errors", "lambda.throttles")
CONCURRENCY_KIND = "lambda.account_concurrency"
ASYNC_KIND = "lambda.async_failures"
DLQ_KIND = "sqs.dlq_messages"
COLLECTED_KINDS = (*LAMBDA_KINDS, CONCURRENCY_KIND, ASYNC_KIND, DLQ_KIND)
_NAMESPACE = "AWS/Lambda"
_VOLUME_METRICS = ("Invocations", "Errors", "Throttles")
# Account-level peaks (Maximum) and the sample each becomes.
_CONCURRENCY_METRICS = {
    "ClaimedAccountConcurrency": "claimed",
    "ConcurrentExecutions": "concurrent",
}
_ASYNC_METRICS = {
    "AsyncEventsDropped": "dropped",
    "DeadLetterErrors": "dead_letter_errors",
    "DestinationDeliveryFailures": "destination_failures",
}
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


class AccountSettingsPort(Protocol):
    def limits(self, now: datetime) -> AccountLimits: ...


class CollectorStatePort(Protocol):
    def watched(self, kinds: Iterable[str]) -> set[str]: ...

    def record(self, coverage: Coverage, *, expires: datetime) -> None: ...

    def coverage(self, start: datetime, end: datetime) -> list[Coverage]: ...

    def dead_letter_queues(self) -> list[str] | None: ...

    def remember_dead_letter_queues(self, urls: list[str], *, at: datetime) -> None: ...


class DeadLetterPort(Protocol):
    def discover(self, lambda_targets: Iterable[str]) -> list[str]: ...

    def depths(self, urls: Iterable[str]) -> list[QueueDepth]: ...


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
    dead_letter_queues: int
    discovered: bool


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
    return _crosses(window, rules.collection.sweep_minutes)


def discovery_due(window: Window, rules: RulesConfig) -> bool:
    """Whether ``window`` crosses a multiple of ``discovery_minutes`` (see :func:`sweep_due`)."""
    return _crosses(window, rules.collection.discovery_minutes)


def _crosses(window: Window, period: int) -> bool:
    end = int(window.end.timestamp()) // 60
    start = int(window.start.timestamp()) // 60
    return end // period != start // period


def collect_lambda(
    *,
    inventory: InventoryPort,
    metrics: MetricsPort,
    state: CollectorStatePort,
    account_settings: AccountSettingsPort,
    dead_letters: DeadLetterPort,
    rules: RulesConfig,
    now: datetime,
    account: str,
    region: str,
) -> Cycle:
    """Judge the last window: fast path, drill-down where it says so, and the sweep when due."""
    window = window_for(now, rules)
    enabled = [kind for kind in LAMBDA_KINDS if kind in rules.enabled_kinds]
    label = _Labeller(account=account, region=region)
    list_functions = cache(inventory.functions)
    depths, discovered = _dead_letter_depths(
        dead_letters, state, list_functions, window=window, rules=rules, now=now
    )
    queues = [depth for depth in depths if depth.visible > 0]
    fast = _fast_path(metrics, enabled, window, rules, queues)
    drilled = _drill_kinds(fast, enabled, window, rules, label)
    if rules.lambda_async.enabled and any(fast.sums.get(m) for m in _ASYNC_METRICS):
        drilled.add(ASYNC_KIND)
    watched = state.watched(LAMBDA_KINDS)
    swept = "lambda.errors" in enabled and sweep_due(window, rules)
    names = [fn.name for fn in list_functions()] if drilled or swept else []
    targets = {kind: set(names) if kind in drilled else watched for kind in enabled}
    signals = _read_window(metrics, targets, window, label)
    signals += _concurrency(fast, account_settings, window, now, label)
    if ASYNC_KIND in drilled:
        signals += _async_failures(metrics, names, window, label)
    signals += _dead_letter_signals(queues, fast, window, label)
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
        covered_kinds=sorted(COLLECTED_KINDS),
        signals=signals,
    )
    return Cycle(
        batch=batch,
        drilled=sorted(drilled),
        watched=sorted(watched),
        swept=swept,
        dead_letter_queues=len(depths),
        discovered=discovered,
    )


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


@dataclass(frozen=True)
class _Account:
    """The fast path's answer: account-level sums and peaks over the window, by metric name,
    and the latest age of the oldest message of each non-empty dead-letter queue, by name."""

    sums: dict[str, float]
    peaks: dict[str, float]
    oldest: dict[str, float]


def _fast_path(
    metrics: MetricsPort,
    enabled: list[str],
    window: Window,
    rules: RulesConfig,
    queues: list[QueueDepth],
) -> _Account:
    """Every account-level aggregate the enabled rules need, and the ages of the oldest message
    of the dead-letter queues that have messages, in one request."""
    wanted = [(metric, "Sum") for metric in _VOLUME_METRICS if enabled]
    if rules.lambda_concurrency.enabled:
        wanted += [(metric, "Maximum") for metric in _CONCURRENCY_METRICS]
    if rules.lambda_async.enabled:
        wanted += [(metric, "Sum") for metric in _ASYNC_METRICS]
    ages = [
        MetricQuery(
            id=f"dlq{index}",
            namespace="AWS/SQS",
            metric="ApproximateAgeOfOldestMessage",
            dimensions=(("QueueName", queue.name),),
            stat="Maximum",
        )
        for index, queue in enumerate(queues)
    ]
    if not wanted and not ages:
        return _Account(sums={}, peaks={}, oldest={})
    queries = [
        MetricQuery(
            id=f"account_{metric.lower()}",
            namespace=_NAMESPACE,
            metric=metric,
            dimensions=(),
            stat=stat,
        )
        for metric, stat in wanted
    ]
    series = metrics.series([*queries, *ages], start=window.start, end=window.end)
    sums: dict[str, float] = {}
    peaks: dict[str, float] = {}
    for metric, stat in wanted:
        points = series.get(f"account_{metric.lower()}", {})
        if stat == "Maximum":
            peaks[metric] = max(points.values(), default=0.0)
        else:
            sums[metric] = sum(points.values())
    oldest = {
        queue.name: latest[max(latest)]
        for query, queue in zip(ages, queues, strict=True)
        if (latest := series.get(query.id))
    }
    return _Account(sums=sums, peaks=peaks, oldest=oldest)


def _drill_kinds(
    fast: _Account,
    enabled: list[str],
    window: Window,
    rules: RulesConfig,
    label: _Labeller,
) -> set[str]:
    """The kinds whose account aggregate says to look at every function.

    Errors: when the aggregate itself breaches the errors rule (a low-volume account with
    any error, or an account-wide rate above the warning rate). Throttles: when the account
    throttled at all, since a healthy account throttles nothing.
    """
    invocations = fast.sums.get("Invocations", 0.0)
    errors = fast.sums.get("Errors", 0.0)
    throttles = fast.sums.get("Throttles", 0.0)
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


def _concurrency(
    fast: _Account,
    settings: AccountSettingsPort,
    window: Window,
    now: datetime,
    label: _Labeller,
) -> list[Signal]:
    """The account's peak concurrency against its limit; the limit is asked only for a peak."""
    samples = {
        sample: fast.peaks.get(metric, 0.0) for metric, sample in _CONCURRENCY_METRICS.items()
    }
    if not any(samples.values()):
        return []
    limits = settings.limits(now)
    samples |= {
        "limit": float(limits.concurrent_executions),
        "unreserved_limit": float(limits.unreserved_concurrent_executions),
    }
    peak = max(samples["claimed"], samples["concurrent"])
    limit = samples["limit"]
    return [
        Signal(
            source="metrics",
            labels=Labels(
                kind=CONCURRENCY_KIND,
                resource="account",
                account=label.account,
                region=label.region,
            ),
            value=round(peak / limit * 100 if limit else 100.0, 4),
            unit="Percent",
            window_seconds=window.seconds,
            observed_at=window.end,
            samples=samples,
        )
    ]


def _dead_letter_depths(
    dead_letters: DeadLetterPort,
    state: CollectorStatePort,
    list_functions: Callable[[], list[FunctionInfo]],
    *,
    window: Window,
    rules: RulesConfig,
    now: datetime,
) -> tuple[list[QueueDepth], bool]:
    """The depth of every known dead-letter queue, and whether this cycle discovered them.

    The stored set is used until the window crosses a discovery boundary, or when there is none.
    """
    if not rules.sqs_dlq.enabled:
        return [], False
    known = state.dead_letter_queues()
    if known is not None and not discovery_due(window, rules):
        return dead_letters.depths(known), False
    targets = [fn.dead_letter_target for fn in list_functions() if fn.dead_letter_target]
    found = dead_letters.discover(targets)
    state.remember_dead_letter_queues(found, at=now)
    return dead_letters.depths(found), True


def _dead_letter_signals(
    queues: list[QueueDepth], fast: _Account, window: Window, label: _Labeller
) -> list[Signal]:
    """One signal per dead-letter queue with visible messages; an empty queue says nothing."""
    return [
        Signal(
            source="metrics",
            labels=Labels(
                kind=DLQ_KIND, resource=queue.name, account=label.account, region=label.region
            ),
            value=float(queue.visible),
            unit="Count",
            window_seconds=window.seconds,
            observed_at=window.end,
            samples={
                "visible": float(queue.visible),
                "oldest_age_seconds": fast.oldest.get(queue.name, 0.0),
                "retention_seconds": float(queue.retention_seconds),
            },
        )
        for queue in queues
    ]


def _async_failures(
    metrics: MetricsPort, names: list[str], window: Window, label: _Labeller
) -> list[Signal]:
    """Drill-down: each function's async delivery failures, once the account had any."""
    queries, keys = _per_function((name, metric) for name in names for metric in _ASYNC_METRICS)
    sums = metrics.sums(queries, start=window.start, end=window.end) if queries else {}
    found: dict[str, dict[str, float]] = {}
    for qid, value in sums.items():
        name, metric = keys[int(qid[1:])]
        if value > 0:
            found.setdefault(name, dict.fromkeys(_ASYNC_METRICS.values(), 0.0))[
                _ASYNC_METRICS[metric]
            ] = value
    return [
        Signal(
            source="metrics",
            labels=Labels(
                kind=ASYNC_KIND, resource=name, account=label.account, region=label.region
            ),
            value=sum(samples.values()),
            unit="Count",
            window_seconds=window.seconds,
            observed_at=window.end,
            samples=samples,
        )
        for name, samples in sorted(found.items())
    ]


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
