"""A backtest over CloudWatch history, each past window collected by the Lambda dial family.

The family collects every window of the span as the CollectMetrics function would have, and the
replay (``vigil.evaluation.backtest``) evaluates each cycle's batch.

Covered kinds: ``lambda.errors`` and ``lambda.throttles`` (``AWS/Lambda`` Errors, Invocations
and Throttles by ``FunctionName``, and the account aggregates without dimensions). Every metric
the family may read over the span is fetched first, once, and the cycles are then run against
that history, so the family's fast path, drill-down, watch list and hourly sweep decide which
functions are judged and on what evidence, exactly as they would have.

The fetch is planned and priced before it runs (:func:`plan_history`): GetMetricData is billed
per metric requested, and a request returns up to 100,800 datapoints, so each request names as
many metrics as fit whole (a span CloudWatch still keeps is at most 21,600 datapoints at 60 s,
18,144 at 300 s) and every metric is requested once. The command refuses a plan above its cap.
"""

import math
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from vigil.core.clock import iso
from vigil.core.errors import VigilError
from vigil.dials.base import MetricKey
from vigil.dials.collect import MetricsPort, collect
from vigil.dials.lambda_functions import (
    ERRORS_KIND,
    THROTTLES_KIND,
    LambdaFamily,
    account_metric,
    function_metric,
)
from vigil.dials.resources import AccountLimits, Coverage, FunctionInfo, MetricQuery
from vigil.evaluation.backtest import Replay, Report, report
from vigil.rules.document import RulesConfig

COVERED_KINDS = (ERRORS_KIND, THROTTLES_KIND)
"""The kinds a backtest over CloudWatch history replays."""

# GetMetricData: $0.01 per 1,000 metrics requested (us-east-1; other regions differ), per
# https://aws.amazon.com/cloudwatch/pricing/ ("API requests": GetMetricData).
PRICE_PER_METRIC = Decimal("0.01") / 1000
MAX_METRICS_PER_CALL = 500
MAX_DATAPOINTS_PER_CALL = 100_800
# CloudWatch keeps 60 s datapoints for 15 days and 5-minute ones for 63 days.
RETENTION = {60: timedelta(days=15), 300: timedelta(days=63)}
DEFAULT_MAX_METRICS = 10_000


class HistoryRefused(VigilError):
    """A span or plan the backtest will not fetch; the message says why and what to change."""


@dataclass(frozen=True)
class HistoryPlan:
    """What a backtest will ask GetMetricData for, before it asks."""

    keys: tuple[MetricKey, ...]
    since: datetime
    until: datetime
    period: int
    functions: int

    @property
    def points(self) -> int:
        """Datapoints per metric over the span: at most 100,800, given the retention."""
        return math.ceil((self.until - self.since).total_seconds() / self.period)

    @property
    def per_call(self) -> int:
        """Metrics one request names: as many whole spans as fit its datapoints, up to 500."""
        return max(1, min(MAX_METRICS_PER_CALL, MAX_DATAPOINTS_PER_CALL // self.points))

    @property
    def calls(self) -> int:
        return math.ceil(len(self.keys) / self.per_call)

    @property
    def metrics_requested(self) -> int:
        """What GetMetricData bills: each metric once, in the one request that names it."""
        return len(self.keys)

    @property
    def price(self) -> Decimal:
        return self.metrics_requested * PRICE_PER_METRIC

    def check(self, cap: int) -> None:
        """Refuse the plan when it requests more than ``cap`` metrics."""
        if self.metrics_requested > cap:
            raise HistoryRefused(
                f"the plan requests {self.metrics_requested:,} metrics, above the cap of {cap:,}"
                " (raise it with --max-metrics, or narrow the span or the functions)"
            )

    def describe(self) -> str:
        return (
            f"Plan: {self.functions} functions x their Errors, Invocations and Throttles, and"
            f" the account's, from {iso(self.since)} to {iso(self.until)} at {self.period} s:"
            f" {self.metrics_requested:,} GetMetricData metrics requested in {self.calls:,}"
            f" call(s), about ${self.price:.5f} at $0.01 per 1,000 metrics (us-east-1)."
        )


def plan_history(
    functions: Sequence[str],
    rules: RulesConfig,
    *,
    since: datetime,
    until: datetime,
    now: datetime,
    period: int = 60,
) -> HistoryPlan:
    """Every metric the Lambda family may read for ``functions`` over [since, until)."""
    if period not in RETENTION:
        raise HistoryRefused(f"period {period} s: use 60 or 300")
    window = rules.collection.window_minutes * 60
    if window % period:
        raise HistoryRefused(
            f"period {period} s does not divide collection.window_minutes ({window // 60} min)"
        )
    # Whole periods, aligned as CloudWatch aligns them, so every window holds whole datapoints.
    since, until = _floor(since, period), _floor(until, period)
    if until <= since:
        raise HistoryRefused(f"the span ends ({iso(until)}) before it starts ({iso(since)})")
    if until > now:
        raise HistoryRefused(f"the span ends ({iso(until)}) after now ({iso(now)})")
    if since < now - RETENTION[period]:
        days = RETENTION[period].days
        raise HistoryRefused(
            f"CloudWatch keeps {period} s datapoints for {days} days: start after"
            f" {iso(now - RETENTION[period])}" + (" or use a 300 s period" if period == 60 else "")
        )
    enabled = [kind for kind in COVERED_KINDS if kind in rules.enabled_kinds]
    per_function: set[str] = set()
    if ERRORS_KIND in enabled:
        per_function |= {"Errors", "Invocations"}
    if THROTTLES_KIND in enabled:
        per_function |= {"Throttles", "Invocations"}
    keys = [account_metric(m) for m in ("Invocations", "Errors", "Throttles") if enabled]
    keys += [function_metric(n, m) for n in sorted(set(functions)) for m in sorted(per_function)]
    return HistoryPlan(tuple(keys), since, until, period, len(set(functions)))


def _floor(moment: datetime, seconds: int) -> datetime:
    return datetime.fromtimestamp(moment.timestamp() // seconds * seconds, UTC)


def fetch_history(
    metrics: MetricsPort, plan: HistoryPlan, *, cap: int = DEFAULT_MAX_METRICS
) -> "History":
    """Fetch the plan, request by request; refuses a plan above ``cap`` before any."""
    plan.check(cap)
    points: dict[MetricKey, dict[datetime, float]] = {}
    for index in range(0, len(plan.keys), plan.per_call):
        chunk = plan.keys[index : index + plan.per_call]
        queries = [_query(f"m{n}", key) for n, key in enumerate(chunk)]
        series = metrics.series(queries, start=plan.since, end=plan.until, period=plan.period)
        for query, key in zip(queries, chunk, strict=True):
            points[key] = series.get(query.id, {})
    return History(points)


def _query(query_id: str, key: MetricKey) -> MetricQuery:
    return MetricQuery(query_id, key.namespace, key.metric, key.dimensions, key.stat)


class History:
    """Fetched datapoints, answering the collector as CloudWatch would have (a MetricsPort).

    A metric outside the plan is an error, not an empty answer: the plan must be everything
    the cycles read, or its price would not be the backtest's.
    """

    def __init__(self, points: dict[MetricKey, dict[datetime, float]]) -> None:
        self._series = {
            key: (sorted(found), [found[at] for at in sorted(found)])
            for key, found in points.items()
        }

    def series(
        self,
        queries: Sequence[MetricQuery],
        *,
        start: datetime,
        end: datetime,
        period: int = 60,
    ) -> dict[str, dict[datetime, float]]:
        found: dict[str, dict[datetime, float]] = {}
        for query in queries:
            key = MetricKey(query.namespace, query.metric, query.dimensions, query.stat)
            if key not in self._series:
                raise HistoryRefused(f"the backtest asked for a metric it did not plan: {key}")
            times, values = self._series[key]
            low, high = bisect_left(times, start), bisect_left(times, end)
            if high > low:
                found[query.id] = dict(zip(times[low:high], values[low:high], strict=True))
        return found


class _ReplayCoverage:
    """The collector state of a backtest: its watch list is the replay's active alerts."""

    def __init__(self, replay: Replay) -> None:
        self._replay = replay
        self._records: list[Coverage] = []

    def watched(self, kinds: Iterable[str]) -> set[str]:
        return {alert.labels.resource for kind in kinds for alert in self._replay.active(kind)}

    def record(self, coverage: Coverage, *, expires: datetime) -> None:
        self._records.append(coverage)

    def coverage(self, start: datetime, end: datetime) -> list[Coverage]:
        return [c for c in self._records if c.end > start and c.start < end]


class _NoAccountSettings:
    """The backtest reads no account concurrency (``lambda.account_concurrency`` is not
    covered), so the family never asks for the limit."""

    def limits(self, now: datetime) -> AccountLimits:
        raise HistoryRefused("a backtest does not read the account's concurrency limit")


def replay_history(
    history: MetricsPort,
    plan: HistoryPlan,
    functions: Sequence[str],
    rules: RulesConfig,
    *,
    account: str,
    region: str,
) -> Report:
    """Run a collection cycle for every window of the span, windows tiling it from
    ``plan.since``, each evaluated ``collection.lag_minutes`` after it ends, and replay
    each cycle's batch."""
    replay = Replay(rules)
    family = LambdaFamily(
        functions=lambda: [
            FunctionInfo(name, f"arn:aws:lambda:{region}:{account}:function:{name}")
            for name in sorted(set(functions))
        ],
        state=_ReplayCoverage(replay),
        account_settings=_NoAccountSettings(),
        # Metrics do not say which functions keep their failed async events: every function's
        # errors are judged as lambda.errors (and lambda_async is off below anyway).
        async_protected=set,
    )
    # Only what the covered kinds need: the family then asks for nothing outside the plan.
    collecting = rules.model_copy(
        update={
            "lambda_concurrency": rules.lambda_concurrency.model_copy(update={"enabled": False}),
            "lambda_async": rules.lambda_async.model_copy(update={"enabled": False}),
        }
    )
    window = timedelta(minutes=rules.collection.window_minutes)
    lag = timedelta(minutes=rules.collection.lag_minutes)
    end = plan.since + window
    while end <= plan.until:
        cycle = collect(
            families=[family],
            metrics=history,
            rules=collecting,
            now=end + lag,
            account=account,
            region=region,
        )
        replay.apply(cycle.batch.model_copy(update={"covered_kinds": list(COVERED_KINDS)}))
        end += window
    return report(replay, since=plan.since, until=plan.until, kinds=COVERED_KINDS)
