"""Lambda functions reading streams: ``IteratorAge`` against the stream's retention.

A function that reads a Kinesis or DynamoDB stream through an event source mapping falls
behind when it is slower than the stream, and records older than the retention are deleted
unread. Lambda publishes ``IteratorAge`` (the age of the last record of each batch) per
function. A consumer falls behind by at most one second a second, and the rule warns at a
quarter of the retention (6 hours for 24), so the hourly sweep is early enough
(docs/architecture.md, ADR 24):

* **sweep**, once per ``sweep_minutes``: every mapped function's ``IteratorAge`` Maximum over
  the sweep period: one metric per stream-reading function an hour;
* **watch list**: every cycle, the functions whose iterator-age alert is active, so it fires,
  escalates and resolves on the window's own evidence.

The mappings are discovered every ``discovery_minutes`` (``DISCOVERY#event-sources``).
"""

from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol

from vigil.dials.base import CycleContext, FamilyResult, FamilyRun, MetricKey, Stage
from vigil.dials.inventory import InventoryStatePort, load_inventory
from vigil.dials.resources import StreamMapping

ITERATOR_AGE_KIND = "lambda.iterator_age"


class MappingsPort(Protocol):
    def discover(self) -> list[StreamMapping]: ...


def iterator_age(function: str) -> MetricKey:
    return MetricKey("AWS/Lambda", "IteratorAge", (("FunctionName", function),), "Maximum")


@dataclass
class EventSourceFamily:
    mappings: MappingsPort
    state: InventoryStatePort
    name: str = "event-sources"
    kinds: tuple[str, ...] = (ITERATOR_AGE_KIND,)

    def run(self, ctx: CycleContext) -> FamilyRun:
        if not ctx.rules.lambda_iterator_age.enabled:
            return FamilyResult(signals=[])
        mappings, discovered = load_inventory(
            ctx,
            self.state,
            self.name,
            discover=self.mappings.discover,
            parse=StreamMapping.from_record,
        )
        # A function reading several streams is judged against the shortest retention.
        retention: dict[str, float] = defaultdict(lambda: float("inf"))
        for mapping in mappings:
            retention[mapping.function] = min(
                retention[mapping.function], mapping.retention_hours * 3600.0
            )
        watched = self.state.watched(self.kinds) & set(retention)
        period = ctx.sweep_period
        asks = [ctx.ask(iterator_age(name), Stage.DRILL) for name in sorted(watched)]
        if ctx.sweep:
            asks += [ctx.ask(iterator_age(name), Stage.SWEEP, period) for name in sorted(retention)]
        answers = yield asks
        signals = []
        for name in sorted(retention if ctx.sweep else watched):
            span = ctx.window if name in watched else period
            age = answers.peak(iterator_age(name), span) / 1000
            if age:
                signals.append(
                    ctx.signal(
                        ITERATOR_AGE_KIND,
                        name,
                        value=round(age / retention[name] * 100, 4),
                        unit="Percent",
                        samples={
                            "age_seconds": round(age, 1),
                            "retention_seconds": retention[name],
                        },
                        span=span,
                    )
                )
        return FamilyResult(
            signals=signals,
            resources=len(mappings),
            watched=frozenset(watched),
            swept=ctx.sweep,
            discovered=discovered,
        )
