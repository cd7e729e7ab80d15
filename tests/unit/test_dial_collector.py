"""The collector's contract with dial families: rounds in lockstep, each metric fetched once."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from vigil.dials.base import CycleContext, FamilyResult, FamilyRun, MetricKey, Stage, Window
from vigil.dials.collect import collect
from vigil.dials.resources import MetricQuery
from vigil.rules.document import RulesConfig

NOW = datetime(2026, 11, 2, 10, 7, tzinfo=UTC)
SHARED = MetricKey(namespace="AWS/Test", metric="Shared", dimensions=(("Name", "a"),))
OWN = MetricKey(namespace="AWS/Test", metric="Own", dimensions=())


@dataclass
class RecordingMetrics:
    """Answers every query with one datapoint a minute of value 1; records each call."""

    calls: list[tuple[datetime, datetime, list[MetricKey]]] = field(default_factory=list)

    def series(
        self,
        queries: Sequence[MetricQuery],
        *,
        start: datetime,
        end: datetime,
        period: int = 60,
    ) -> dict[str, dict[datetime, float]]:
        keys = [MetricKey(q.namespace, q.metric, q.dimensions, q.stat) for q in queries]
        self.calls.append((start, end, keys))
        minutes = int((end - start).total_seconds() // 60)
        points = {start + timedelta(minutes=m): 1.0 for m in range(minutes)}
        return {q.id: dict(points) for q in queries}


@dataclass
class TwoRoundFamily:
    """Asks ``first`` on the fast path, then SHARED over ``span`` minutes; reports the totals."""

    name: str
    first: MetricKey
    span: int
    kinds: tuple[str, ...] = ("test.kind",)
    seen: list[float] = field(default_factory=list)

    def run(self, ctx: CycleContext) -> FamilyRun:
        answers = yield [ctx.ask(self.first, Stage.FAST)]
        self.seen.append(answers.total(self.first, ctx.window))
        wide = Window(start=ctx.window.end - timedelta(minutes=self.span), end=ctx.window.end)
        answers = yield [ctx.ask(SHARED, Stage.SWEEP if self.span > 5 else Stage.DRILL, wide)]
        self.seen.append(answers.total(SHARED, wide))
        return FamilyResult(signals=[], resources=1)


def test_two_families_asking_one_metric_get_it_from_one_fetch_over_the_wider_span() -> None:
    metrics = RecordingMetrics()
    narrow = TwoRoundFamily("narrow", first=SHARED, span=5)
    wide = TwoRoundFamily("wide", first=OWN, span=60)

    cycle = collect(
        families=[narrow, wide],
        metrics=metrics,
        rules=RulesConfig(),
        now=NOW,
        account="123456789012",
        region="us-east-1",
    )

    # Round 1: SHARED and OWN over the window, in one call. Round 2: SHARED over the hour
    # (the window was not enough for the wide family); the narrow family reads its 5 minutes
    # from it.
    assert [(end - start, keys) for start, end, keys in metrics.calls] == [
        (timedelta(minutes=5), [SHARED, OWN]),
        (timedelta(minutes=60), [SHARED]),
    ]
    assert narrow.seen == [5.0, 5.0]
    assert wide.seen == [5.0, 60.0]
    assert cycle.metrics_by_stage == {"fast": 2, "drill": 0, "sweep": 1}
    assert cycle.batch.covered_kinds == ["test.kind"]


def test_a_metric_already_fetched_over_the_span_is_not_fetched_again() -> None:
    metrics = RecordingMetrics()
    family = TwoRoundFamily("only", first=SHARED, span=5)

    collect(
        families=[family],
        metrics=metrics,
        rules=RulesConfig(),
        now=NOW,
        account="123456789012",
        region="us-east-1",
    )

    assert len(metrics.calls) == 1
    assert family.seen == [5.0, 5.0]
