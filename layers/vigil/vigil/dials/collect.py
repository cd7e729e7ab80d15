"""One metrics collection cycle over every dial family, at a cost that does not grow with
healthy resources.

GetMetricData is billed per metric requested, so asking for every resource's metrics every
cycle makes the watch cost grow with the account. Each dial family (``vigil.dials``) instead
asks in rounds (docs/architecture.md, ADR 20 and 24): a fast path of account aggregates and
cheap signals, a drill-down only where the fast path says to look, and a sweep of every
resource once per ``sweep_minutes``.

The collector runs the families' rounds in lockstep. In each round it gathers every family's
asks, de-duplicates them by metric, skips the metrics an earlier round already fetched over the
span asked, fetches the rest once over the union of the spans asked at the finest period
asked, batched to GetMetricData's 500 metrics a call, and hands every family the answers.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from vigil.core.model import SignalBatch
from vigil.dials.base import (
    Answers,
    CycleContext,
    DialFamily,
    FamilyResult,
    FamilyRun,
    MetricAsk,
    MetricKey,
    Stage,
    discovery_due,
    function_sweep_due,
    sweep_due,
    window_for,
)
from vigil.dials.resources import MetricQuery
from vigil.rules.document import RulesConfig


class MetricsPort(Protocol):
    def series(
        self,
        queries: Sequence[MetricQuery],
        *,
        start: datetime,
        end: datetime,
        period: int = 60,
    ) -> dict[str, dict[datetime, float]]: ...


@dataclass(frozen=True)
class Cycle:
    """The batch a cycle hands to the Evaluate workflow, and how each family gathered it."""

    batch: SignalBatch
    families: dict[str, FamilyResult]
    metrics_by_stage: dict[str, int]

    @property
    def drilled(self) -> list[str]:
        return sorted({kind for result in self.families.values() for kind in result.drilled})

    @property
    def watched(self) -> list[str]:
        return sorted({name for result in self.families.values() for name in result.watched})

    @property
    def swept(self) -> bool:
        return any(result.swept for result in self.families.values())

    @property
    def discovered(self) -> bool:
        return any(result.discovered for result in self.families.values())

    def resources(self, family: str) -> int:
        """How many resources ``family`` knows of this cycle (0 for a family not run)."""
        result = self.families.get(family)
        return result.resources if result else 0


def collect(
    *,
    families: Sequence[DialFamily],
    metrics: MetricsPort,
    rules: RulesConfig,
    now: datetime,
    account: str,
    region: str,
    error_stream: bool = False,
    discovery_offset: int = 0,
) -> Cycle:
    """Judge the last window: every family's fast path, drill-down and, when due, sweep.

    With ``error_stream`` on, the functions' error lines reach Vigil as they are written, and
    every function's errors are swept less often (``CollectionConfig.function_sweep``).
    ``discovery_offset`` moves the discovery ``discovery_offset`` minutes into its period.
    """
    window = window_for(now, rules)
    function_sweep = rules.collection.function_sweep(error_stream=error_stream)
    ctx = CycleContext(
        window=window,
        now=now,
        rules=rules,
        account=account,
        region=region,
        sweep=sweep_due(window, rules),
        discovery=discovery_due(window, rules, offset=discovery_offset),
        function_sweep_every=function_sweep,
        function_sweep_now=function_sweep_due(window, function_sweep),
    )
    answers = Answers()
    by_stage = dict.fromkeys(Stage, 0)
    results: dict[str, FamilyResult] = {}
    runs: dict[str, FamilyRun] = {family.name: family.run(ctx) for family in families}
    pending: dict[str, list[MetricAsk]] = {}
    for name, run in runs.items():
        _advance(name, run, None, pending, results)
    while pending:
        for stage, count in _fetch(metrics, answers, pending.values()).items():
            by_stage[stage] += count
        asked, pending = pending, {}
        for name in asked:
            _advance(name, runs[name], answers, pending, results)
    # The batch speaks for every kind the families read, enabled or not, so that the active
    # alerts of a rule that was just disabled resolve instead of freezing.
    batch = SignalBatch(
        batch_id=f"metrics-{account}-{region}-{now:%Y%m%dT%H%M}Z",
        source="metrics",
        collected_at=now,
        covered_kinds=sorted({kind for family in families for kind in family.kinds}),
        signals=[signal for family in families for signal in results[family.name].signals],
    )
    return Cycle(
        batch=batch,
        families=results,
        metrics_by_stage={str(stage): count for stage, count in by_stage.items()},
    )


def _advance(
    name: str,
    run: FamilyRun,
    answers: Answers | None,
    pending: dict[str, list[MetricAsk]],
    results: dict[str, FamilyResult],
) -> None:
    """Send a family its answers (start it when ``None``); keep its next asks or its result."""
    try:
        pending[name] = next(run) if answers is None else run.send(answers)
    except StopIteration as stop:
        results[name] = stop.value


def _fetch(
    metrics: MetricsPort, answers: Answers, rounds: Iterable[list[MetricAsk]]
) -> dict[Stage, int]:
    """Fetch what this round's asks need and ``answers`` lacks; the metrics requested by stage.

    A metric asked twice is fetched once, over the union of the spans at the finest period;
    the stage it is counted under is the first in fast, drill, sweep order.
    """
    merged: dict[MetricKey, tuple[datetime, datetime, int, Stage]] = {}
    for asks in rounds:
        for ask in asks:
            if answers.covers(ask.key, ask.start, ask.end, ask.period):
                continue
            start, end, period, stage = merged.get(
                ask.key, (ask.start, ask.end, ask.period, ask.stage)
            )
            merged[ask.key] = (
                min(start, ask.start),
                max(end, ask.end),
                min(period, ask.period),
                min(stage, ask.stage, key=_STAGE_ORDER.index),
            )
    groups: dict[tuple[datetime, datetime, int], list[MetricKey]] = {}
    for key, (start, end, period, _stage) in merged.items():
        groups.setdefault((start, end, period), []).append(key)
    for (start, end, period), keys in sorted(groups.items()):
        queries = [
            MetricQuery(
                id=f"m{index}",
                namespace=key.namespace,
                metric=key.metric,
                dimensions=key.dimensions,
                stat=key.stat,
            )
            for index, key in enumerate(keys)
        ]
        series = metrics.series(queries, start=start, end=end, period=period)
        for query, key in zip(queries, keys, strict=True):
            points = series.get(query.id, {})
            answers.store(key, start=start, end=end, period=period, points=points)
    counts = dict.fromkeys(Stage, 0)
    for _start, _end, _period, stage in merged.values():
        counts[stage] += 1
    return counts


_STAGE_ORDER = list(Stage)
