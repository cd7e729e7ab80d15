"""S3 buckets: 5xx rate and request latency against each bucket's own baseline, where the bucket
has request metrics, and a hint where a busy bucket has none (docs/architecture.md, ADR 25).

S3 publishes request metrics (``AllRequests``, ``5xxErrors``, ``FirstByteLatency``...) only for
a bucket with a request-metrics configuration, one series per configuration (``FilterId``),
at one-minute granularity and at the custom-metric price. There is no account aggregate, so the
family asks three metrics per configured bucket every cycle: the window's and, in the same
request (billing counts metrics, not datapoints), the ``baseline_minutes`` before it, cut into
windows of the cycle's length; the median and median absolute deviation of those earlier windows
are the bucket's baseline.

Discovery (every ``discovery_minutes``): ``ListBuckets`` of the region, one
``ListBucketMetricsConfigurations`` per bucket, and, for the buckets with none, their
``NumberOfObjects`` (the free daily storage metric, one metric each): a bucket at or above
``busy_objects`` gets an info hint every cycle until a configuration is added, since a hot
prefix's 503 SlowDown, 5xx and latency are invisible without request metrics.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from statistics import median
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from vigil.core.model import Signal
from vigil.dials.base import (
    Answers,
    CycleContext,
    FamilyResult,
    FamilyRun,
    MetricAsk,
    MetricKey,
    Stage,
    Window,
)
from vigil.dials.inventory import InventoryStore, TagScope, remember, stored
from vigil.dials.resources import MetricsFilter

ERRORS_KIND = "s3.5xx_rate"
LATENCY_KIND = "s3.latency"
HINT_KIND = "s3.request_metrics_missing"
_NAMESPACE = "AWS/S3"
# The storage metrics are daily; two days always hold the latest datapoint.
_STORAGE_SPAN = timedelta(days=2)
_DAY = 86_400
# A normal distribution's standard deviation is 1.4826 x its median absolute deviation.
_MAD_SCALE = 1.4826


class BucketsPort(Protocol):
    def names(self) -> list[str]: ...

    def metrics_filters(self, bucket: str) -> list[MetricsFilter]: ...


class BucketRecord(BaseModel):
    """A bucket as discovery found it: the request-metrics filter watched (none: the bucket has
    no configuration) and, without one, its object count (none: no storage datapoint)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    filter_id: str | None = None
    objects: float | None = None


def request_metric(bucket: BucketRecord, metric: str, stat: str = "Sum") -> MetricKey:
    return MetricKey(
        namespace=_NAMESPACE,
        metric=metric,
        dimensions=(("BucketName", bucket.name), ("FilterId", bucket.filter_id or "")),
        stat=stat,
    )


def objects_metric(bucket: str) -> MetricKey:
    return MetricKey(
        namespace=_NAMESPACE,
        metric="NumberOfObjects",
        dimensions=(("BucketName", bucket), ("StorageType", "AllStorageTypes")),
        stat="Average",
    )


class S3Family:
    """The S3 dials; ``scope`` applies the tag filters at discovery."""

    name: str = "s3"
    kinds: tuple[str, ...] = (ERRORS_KIND, LATENCY_KIND, HINT_KIND)

    def __init__(self, buckets: BucketsPort, state: InventoryStore, scope: TagScope) -> None:
        self._buckets = buckets
        self._state = state
        self._scope = scope

    def run(self, ctx: CycleContext) -> FamilyRun:
        rule = ctx.rules.s3
        if not rule.enabled:
            return FamilyResult(signals=[])
        records = None if ctx.discovery else stored(self._state, self.name, BucketRecord)
        discovered = records is None
        if records is None:
            watched, unconfigured = self._configured()
            span = Window(start=ctx.window.end - _STORAGE_SPAN, end=ctx.window.end)
            answers = yield [
                MetricAsk(
                    key=objects_metric(name),
                    start=span.start,
                    end=span.end,
                    stage=Stage.SWEEP,
                    period=_DAY,
                )
                for name in unconfigured
            ]
            records = watched + [
                BucketRecord(name=name, objects=_latest(answers, objects_metric(name), span))
                for name in unconfigured
            ]
            remember(self._state, self.name, list(records), ctx)
        watched_buckets = [bucket for bucket in records if bucket.filter_id is not None]
        baseline = Window(
            start=ctx.window.end - timedelta(minutes=rule.baseline_minutes), end=ctx.window.end
        )
        metrics = ("AllRequests", "5xxErrors")
        asks = [
            ctx.ask(request_metric(bucket, metric), Stage.FAST, baseline)
            for bucket in watched_buckets
            for metric in metrics
        ]
        asks += [
            ctx.ask(request_metric(bucket, rule.latency_metric, "Average"), Stage.FAST, baseline)
            for bucket in watched_buckets
        ]
        answers = yield asks
        signals: list[Signal] = []
        for bucket in watched_buckets:
            signals += _bucket_signals(ctx, answers, bucket, baseline)
        signals += [
            ctx.signal(
                HINT_KIND,
                bucket.name,
                value=bucket.objects,
                unit="objects",
                samples={"objects": bucket.objects, "busy_objects": float(rule.busy_objects)},
            )
            for bucket in records
            if bucket.filter_id is None
            and bucket.objects is not None
            and rule.hint
            and bucket.objects >= rule.busy_objects
        ]
        return FamilyResult(
            signals=signals,
            resources=len(records),
            discovered=discovered,
            extra={"request_metrics_buckets": len(watched_buckets)},
        )

    def _configured(self) -> tuple[list[BucketRecord], list[str]]:
        """The allowed buckets with a request-metrics configuration (the whole-bucket one if
        there is one, else the first), and those without."""
        watched: list[BucketRecord] = []
        unconfigured: list[str] = []
        for name in self._buckets.names():
            if not self._scope.allows(f"arn:aws:s3:::{name}"):
                continue
            filters = self._buckets.metrics_filters(name)
            if not filters:
                unconfigured.append(name)
                continue
            chosen = next((f for f in filters if f.whole_bucket), filters[0])
            watched.append(BucketRecord(name=name, filter_id=chosen.id))
        return watched, unconfigured


def _latest(answers: Answers, key: MetricKey, span: Window) -> float | None:
    points = answers.series(key, span.start, span.end)
    return points[max(points)] if points else None


def _bucket_signals(
    ctx: CycleContext, answers: Answers, bucket: BucketRecord, baseline: Window
) -> list[Signal]:
    """The window's 5xx rate and request-weighted latency, each with its baseline."""
    rule = ctx.rules.s3
    step = timedelta(seconds=ctx.window.seconds)
    windows: list[Window] = []
    end = ctx.window.end
    while end - step >= baseline.start:
        windows.append(Window(start=end - step, end=end))
        end -= step
    requests = answers.series(request_metric(bucket, "AllRequests"), baseline.start, baseline.end)
    errors = answers.series(request_metric(bucket, "5xxErrors"), baseline.start, baseline.end)
    latency = answers.series(
        request_metric(bucket, rule.latency_metric, "Average"), baseline.start, baseline.end
    )
    stats = [_window_stats(w, requests, errors, latency) for w in windows]
    current, history = stats[0], [s for s in stats[1:] if s[0] >= rule.min_requests]
    count, bad, slow = current
    if count <= 0:
        return []
    signals: list[Signal] = []
    rates = [b / c for c, b, _ in history]
    rate_median, rate_scale = _robust(rates)
    if bad > 0:
        signals.append(
            ctx.signal(
                ERRORS_KIND,
                bucket.name,
                value=round(bad / count * 100, 4),
                unit="Percent",
                samples={
                    "errors": bad,
                    "requests": count,
                    "baseline_rate": rate_median,
                    "baseline_scale": rate_scale,
                    "baseline_windows": float(len(history)),
                },
                context={"filter_id": bucket.filter_id or ""},
            )
        )
    latencies = [s for _, _, s in history if s is not None]
    if slow is not None:
        ms_median, ms_scale = _robust(latencies)
        signals.append(
            ctx.signal(
                LATENCY_KIND,
                bucket.name,
                value=round(slow, 1),
                unit="ms",
                samples={
                    "latency_ms": slow,
                    "requests": count,
                    "baseline_ms": ms_median,
                    "baseline_scale": ms_scale,
                    "baseline_windows": float(len(latencies)),
                },
                context={"filter_id": bucket.filter_id or "", "metric": rule.latency_metric},
            )
        )
    return signals


def _window_stats(
    window: Window,
    requests: dict[datetime, float],
    errors: dict[datetime, float],
    latency: dict[datetime, float],
) -> tuple[float, float, float | None]:
    """Requests, 5xx errors and the request-weighted mean latency of one window."""
    minutes = [at for at in requests if window.start <= at < window.end]
    count = sum(requests[at] for at in minutes)
    bad = sum(value for at, value in errors.items() if at in minutes)
    weighted = [(latency[at], requests[at]) for at in minutes if at in latency and requests[at]]
    weight = sum(w for _, w in weighted)
    mean = sum(v * w for v, w in weighted) / weight if weight else None
    return count, bad, mean


def _robust(values: Iterable[float]) -> tuple[float, float]:
    """Median and scaled median absolute deviation; (0, 0) without values."""
    ordered = list(values)
    if not ordered:
        return 0.0, 0.0
    middle = median(ordered)
    return middle, _MAD_SCALE * median(abs(v - middle) for v in ordered)
