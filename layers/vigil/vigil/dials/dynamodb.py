"""DynamoDB tables and global secondary indexes: capacity, throttles, system errors.

DynamoDB publishes no account-wide sum of throttles or consumed capacity that would say which
table to look at (its account-level metrics measure provisioned units against the account's
quotas), and ``ReadThrottleEvents``, ``WriteThrottleEvents`` and ``SystemErrors`` are counts
DynamoDB publishes only for minutes that have some. So (docs/architecture.md, ADR 24):

* **fast path**, every cycle: ``ListMetrics`` with ``RecentlyActive=PT3H`` for those three
  metric names (3 requests, billed per request, whatever the number of tables) names the tables
  and indexes with events in about the last three hours; only their counts are read for the
  window;
* **drill-down**: the consumed read and write units of the provisioned tables and indexes that
  throttled, or whose capacity alert is active (the watch list);
* **sweep**, once per ``sweep_minutes``: the consumed units of every provisioned table and
  index over the sweep period; the peak minute is judged against the capacity the table can
  have: the auto scaling maximum when Application Auto Scaling scales it, else the provisioned
  units (auto scaling below its maximum follows the load by itself).

Tables are discovered every ``discovery_minutes`` and stored in the state table
(``DISCOVERY#dynamodb``), with their GSIs, billing mode, capacity, auto scaling and tags.
"""

from collections import defaultdict
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
from vigil.dials.inventory import InventoryStatePort, load_inventory
from vigil.dials.resources import Capacity, TableInfo

CAPACITY_KIND = "dynamodb.capacity"
THROTTLES_KIND = "dynamodb.throttles"
SYSTEM_ERRORS_KIND = "dynamodb.system_errors"
NAMESPACE = "AWS/DynamoDB"
# Counts published only when not zero, and the sample each becomes.
THROTTLE_METRICS = {
    "ReadThrottleEvents": "read_throttle_events",
    "WriteThrottleEvents": "write_throttle_events",
}
SYSTEM_ERRORS_METRIC = "SystemErrors"
_CONSUMED = {"read": "ConsumedReadCapacityUnits", "write": "ConsumedWriteCapacityUnits"}


class TablesPort(Protocol):
    def discover(self) -> list[TableInfo]: ...


class RecentlyActivePort(Protocol):
    def recently_active(self, namespace: str, metric: str) -> list[tuple[tuple[str, str], ...]]: ...


@dataclass(frozen=True)
class _Provisioned:
    """A provisioned table or index: ``orders`` or ``orders/index/by-customer``."""

    resource: str
    table: str
    index: str | None
    capacity: Capacity

    def consumed(self, direction: str) -> MetricKey:
        dimensions = [("TableName", self.table)]
        if self.index is not None:
            dimensions.insert(0, ("GlobalSecondaryIndexName", self.index))
        return MetricKey(NAMESPACE, _CONSUMED[direction], tuple(dimensions))


def provisioned(tables: list[TableInfo]) -> list[_Provisioned]:
    """Every provisioned table and GSI; on-demand ones have no capacity to run out of."""
    found: list[_Provisioned] = []
    for table in tables:
        if table.capacity is not None:
            found.append(_Provisioned(table.name, table.name, None, table.capacity))
        found += [
            _Provisioned(f"{table.name}/index/{index}", table.name, index, capacity)
            for index, capacity in sorted(table.indexes.items())
            if capacity is not None
        ]
    return found


@dataclass
class DynamoDbFamily:
    tables: TablesPort
    state: InventoryStatePort
    active: RecentlyActivePort
    name: str = "dynamodb"
    kinds: tuple[str, ...] = (CAPACITY_KIND, THROTTLES_KIND, SYSTEM_ERRORS_KIND)

    def _recent_throttles(self) -> dict[str, list[tuple[str, MetricKey]]]:
        """The throttle-event metrics published in about 3 hours, by table, with their sample."""
        throttled: dict[str, list[tuple[str, MetricKey]]] = defaultdict(list)
        for metric, sample in THROTTLE_METRICS.items():
            for dimensions in self.active.recently_active(NAMESPACE, metric):
                if table := dict(dimensions).get("TableName"):
                    throttled[table].append((sample, MetricKey(NAMESPACE, metric, dimensions)))
        return throttled

    def _recent_errors(self) -> dict[str, list[MetricKey]]:
        """The system-error metrics (one per operation) published in about 3 hours, by table."""
        failing: dict[str, list[MetricKey]] = defaultdict(list)
        for dimensions in self.active.recently_active(NAMESPACE, SYSTEM_ERRORS_METRIC):
            if table := dict(dimensions).get("TableName"):
                failing[table].append(MetricKey(NAMESPACE, SYSTEM_ERRORS_METRIC, dimensions))
        return failing

    def run(self, ctx: CycleContext) -> FamilyRun:
        rules = ctx.rules
        capacity_on = rules.dynamodb_capacity.enabled
        throttles_on = rules.dynamodb_throttles.enabled
        errors_on = rules.dynamodb_system_errors.enabled
        if not (capacity_on or throttles_on or errors_on):
            return FamilyResult(signals=[])
        tables, discovered = load_inventory(
            ctx, self.state, self.name, discover=self.tables.discover, parse=TableInfo.from_record
        )
        # Fast path: the metrics with events in about 3 hours, by table.
        throttled = self._recent_throttles() if throttles_on or capacity_on else {}
        failing = self._recent_errors() if errors_on else {}
        watched = self.state.watched([CAPACITY_KIND]) if capacity_on else set()
        entities = provisioned(tables) if capacity_on else []
        drill = [e for e in entities if e.table in throttled or e.resource in watched]
        swept = capacity_on and ctx.sweep
        period = ctx.sweep_period
        asks: list[MetricAsk] = [
            ctx.ask(key, Stage.DRILL) for keys in throttled.values() for _, key in keys
        ]
        asks += [ctx.ask(key, Stage.DRILL) for keys in failing.values() for key in keys]
        asks += [ctx.ask(e.consumed(d), Stage.DRILL) for e in drill for d in _CONSUMED]
        if swept:
            asks += [
                ctx.ask(e.consumed(d), Stage.SWEEP, period) for e in entities for d in _CONSUMED
            ]
        answers = yield asks

        signals: list[Signal] = []
        if throttles_on:
            signals += _throttle_signals(ctx, answers, throttled)
        if errors_on:
            signals += _error_signals(ctx, answers, failing)
        drilled = {e.resource for e in drill}
        signals += _capacity_signals(ctx, answers, entities, drilled, watched, swept=swept)
        return FamilyResult(
            signals=signals,
            resources=len(tables),
            drilled=frozenset({THROTTLES_KIND} if throttled else set()),
            watched=frozenset(watched),
            swept=swept,
            discovered=discovered,
        )


def _capacity_signals(
    ctx: CycleContext,
    answers: Answers,
    entities: list[_Provisioned],
    drilled: set[str],
    watched: set[str],
    *,
    swept: bool,
) -> list[Signal]:
    """The drilled entities' capacity, and at a sweep every entity's.

    A watched resource is judged on the window, to resolve on current evidence; at a sweep every
    other one on the sweep period, which includes the window.
    """
    signals: list[Signal] = []
    for entity in entities:
        if entity.resource in drilled or swept:
            judged_now = entity.resource in watched or not swept
            span = ctx.window if judged_now else ctx.sweep_period
            if signal := _capacity(ctx, answers, entity, span):
                signals.append(signal)
    return signals


def _throttle_signals(
    ctx: CycleContext, answers: Answers, throttled: dict[str, list[tuple[str, MetricKey]]]
) -> list[Signal]:
    """One signal per table with throttle events in the window, its GSIs' events included."""
    signals: list[Signal] = []
    for table, keys in sorted(throttled.items()):
        samples = dict.fromkeys(THROTTLE_METRICS.values(), 0.0)
        for sample, key in keys:
            samples[sample] += answers.total(key, ctx.window)
        if total := sum(samples.values()):
            signals.append(
                ctx.signal(THROTTLES_KIND, table, value=total, unit="Count", samples=samples)
            )
    return signals


def _error_signals(
    ctx: CycleContext, answers: Answers, failing: dict[str, list[MetricKey]]
) -> list[Signal]:
    """One signal per table with system errors (HTTP 500s) in the window, all operations."""
    signals: list[Signal] = []
    for table, keys in sorted(failing.items()):
        if total := sum(answers.total(key, ctx.window) for key in keys):
            signals.append(
                ctx.signal(
                    SYSTEM_ERRORS_KIND,
                    table,
                    value=total,
                    unit="Count",
                    samples={"system_errors": total},
                )
            )
    return signals


def _capacity(
    ctx: CycleContext, answers: Answers, entity: _Provisioned, span: Window
) -> Signal | None:
    """The peak minute's consumed units per second against the units the table can have."""
    capacity = entity.capacity
    read = answers.peak(entity.consumed("read"), span) / 60
    write = answers.peak(entity.consumed("write"), span) / 60
    if not read and not write:
        return None
    ratios = [
        used / limit
        for used, limit in ((read, capacity.read_max), (write, capacity.write_max))
        if limit
    ]
    return ctx.signal(
        CAPACITY_KIND,
        entity.resource,
        value=round(max(ratios, default=1.0) * 100, 4),
        unit="Percent",
        samples={
            "read_per_second": round(read, 3),
            "read_capacity": float(capacity.read_max),
            "read_provisioned": float(capacity.read),
            "write_per_second": round(write, 3),
            "write_capacity": float(capacity.write_max),
            "write_provisioned": float(capacity.write),
        },
        span=span,
    )
