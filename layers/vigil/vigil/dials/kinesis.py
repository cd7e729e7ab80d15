"""Kinesis data streams: write throttles, shard capacity, iterator age against retention.

Kinesis publishes its stream metrics per stream only, with no account-wide sum, and CloudWatch
Metrics Insights bills every metric a query analyses, so there is no flat-cost aggregate to
watch (docs/architecture.md, ADR 24). Instead:

* **fast path**, every cycle: ``ListMetrics`` with ``RecentlyActive=PT3H`` for
  ``WriteProvisionedThroughputExceeded`` (one request a page of 500, billed per request) names
  the streams that published the metric in about 3 hours;
* **drill-down**: those streams' refused records, incoming bytes and records (a provisioned
  stream's capacity) for the window, and every cycle the streams on the watch list;
* **sweep**, once per ``sweep_minutes``: every provisioned stream's incoming bytes and records
  and every stream's ``GetRecords.IteratorAgeMilliseconds`` over the sweep period. Capacity is
  judged on the peak minute against the open shards' write limit (1 MiB/s and 1,000 records/s
  each), the iterator age on its maximum against the stream's retention.

An on-demand stream scales its own shards: its capacity is not judged, its refused writes are.
"""

from dataclasses import dataclass
from typing import Protocol

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
from vigil.dials.dynamodb import RecentlyActivePort
from vigil.dials.inventory import InventoryStatePort, load_inventory
from vigil.dials.resources import StreamInfo

WRITE_THROTTLES_KIND = "kinesis.write_throttles"
SHARD_CAPACITY_KIND = "kinesis.shard_capacity"
ITERATOR_AGE_KIND = "kinesis.iterator_age"
NAMESPACE = "AWS/Kinesis"
THROTTLE_METRIC = "WriteProvisionedThroughputExceeded"
AGE_METRIC = "GetRecords.IteratorAgeMilliseconds"
# The write limit of one shard (Kinesis Data Streams quotas).
SHARD_BYTES_PER_SECOND = 1_048_576
SHARD_RECORDS_PER_SECOND = 1_000


class StreamsPort(Protocol):
    def discover(self) -> list[StreamInfo]: ...


def stream_metric(stream: str, metric: str, stat: str = "Sum") -> MetricKey:
    return MetricKey(NAMESPACE, metric, (("StreamName", stream),), stat)


@dataclass
class KinesisFamily:
    streams: StreamsPort
    state: InventoryStatePort
    active: RecentlyActivePort
    name: str = "kinesis"
    kinds: tuple[str, ...] = (WRITE_THROTTLES_KIND, SHARD_CAPACITY_KIND, ITERATOR_AGE_KIND)

    def run(self, ctx: CycleContext) -> FamilyRun:
        rules = ctx.rules
        throttles_on = rules.kinesis_write_throttles.enabled
        capacity_on = rules.kinesis_shard_capacity.enabled
        age_on = rules.kinesis_iterator_age.enabled
        if not (throttles_on or capacity_on or age_on):
            return FamilyResult(signals=[])
        streams, discovered = load_inventory(
            ctx, self.state, self.name, discover=self.streams.discover, parse=StreamInfo.from_record
        )
        known = {stream.name: stream for stream in streams}
        listed = {
            name
            for dimensions in self.active.recently_active(NAMESPACE, THROTTLE_METRIC)
            if (name := dict(dimensions).get("StreamName"))
        }
        watched = self.state.watched(self.kinds)
        throttled = sorted(listed | watched) if throttles_on else []
        provisioned = [s for s in streams if s.provisioned] if capacity_on else []
        loaded = [s for s in provisioned if s.name in listed or s.name in watched]
        lagging = [s for s in streams if s.name in watched] if age_on else []
        swept = ctx.sweep and (capacity_on or age_on)
        period = ctx.sweep_period
        asks: list[MetricAsk] = [
            ctx.ask(stream_metric(name, THROTTLE_METRIC), Stage.DRILL) for name in throttled
        ]
        asks += [ctx.ask(key, Stage.DRILL) for s in loaded for key in _incoming(s)]
        asks += [ctx.ask(_age(s), Stage.DRILL) for s in lagging]
        if swept:
            asks += [ctx.ask(key, Stage.SWEEP, period) for s in provisioned for key in _incoming(s)]
            if age_on:
                asks += [ctx.ask(_age(s), Stage.SWEEP, period) for s in streams]
        answers = yield asks

        signals: list[Signal] = []
        for name in throttled:
            refused = answers.total(stream_metric(name, THROTTLE_METRIC), ctx.window)
            if refused:
                signals.append(
                    ctx.signal(
                        WRITE_THROTTLES_KIND,
                        name,
                        value=refused,
                        unit="Count",
                        samples={"throttled_records": refused},
                    )
                )
        # A watched stream is judged on the window, to resolve on current evidence; at a sweep
        # every other one on the sweep period, which includes the window.
        for stream in provisioned if swept else loaded:
            span = ctx.window if stream.name in watched or not swept else period
            if signal := _capacity(ctx, answers, stream, span):
                signals.append(signal)
        aged = {s.name for s in lagging}
        for stream in streams if swept and age_on else lagging:
            span = ctx.window if stream.name in aged else period
            if signal := _iterator_age(ctx, answers, stream, span):
                signals.append(signal)
        return FamilyResult(
            signals=signals,
            resources=len(known),
            drilled=frozenset({WRITE_THROTTLES_KIND} if listed else set()),
            watched=frozenset(watched),
            swept=swept,
            discovered=discovered,
        )


def _incoming(stream: StreamInfo) -> tuple[MetricKey, MetricKey]:
    return stream_metric(stream.name, "IncomingBytes"), stream_metric(
        stream.name, "IncomingRecords"
    )


def _age(stream: StreamInfo) -> MetricKey:
    return stream_metric(stream.name, AGE_METRIC, "Maximum")


def _capacity(
    ctx: CycleContext, answers: Answers, stream: StreamInfo, span: Window
) -> Signal | None:
    """The peak minute's incoming bytes and records per second against the shards' limit."""
    size, count = _incoming(stream)
    per_second = answers.peak(size, span) / 60
    records = answers.peak(count, span) / 60
    if (not per_second and not records) or stream.shards <= 0:
        return None
    bytes_capacity = stream.shards * SHARD_BYTES_PER_SECOND
    records_capacity = stream.shards * SHARD_RECORDS_PER_SECOND
    ratio = max(per_second / bytes_capacity, records / records_capacity)
    return ctx.signal(
        SHARD_CAPACITY_KIND,
        stream.name,
        value=round(ratio * 100, 4),
        unit="Percent",
        samples={
            "bytes_per_second": round(per_second, 1),
            "bytes_capacity": float(bytes_capacity),
            "records_per_second": round(records, 1),
            "records_capacity": float(records_capacity),
            "shards": float(stream.shards),
        },
        span=span,
    )


def _iterator_age(
    ctx: CycleContext, answers: Answers, stream: StreamInfo, span: Window
) -> Signal | None:
    age = answers.peak(_age(stream), span) / 1000
    if not age:
        return None
    retention = stream.retention_hours * 3600.0
    return ctx.signal(
        ITERATOR_AGE_KIND,
        stream.name,
        value=round(age / retention * 100, 4),
        unit="Percent",
        samples={"age_seconds": round(age, 1), "retention_seconds": retention},
        span=span,
    )
