"""One cost collection run: refresh the stored history, assess yesterday, build signals.

Cost Explorer charges $0.01 per request (each page too), so a run asks only for the days the
table does not have yet plus the restatement window (Cost Explorer revises recent days);
asks for usage types only of a service that spikes; asks for the forecast and for the
anomalies at most once a day (their answers are kept for the rest of the day); and stops
asking once the daily request cap is reached, working from what is stored.
"""

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from vigil.core.errors import VigilError
from vigil.core.model import Labels, Signal, SignalBatch
from vigil.cost.detection import Assessment, BaselineKind, History, detect
from vigil.rules.cost import TOTAL, CostRule

logger = Logger(child=True)

COST_SIGNAL_KINDS = (
    "cost.budget_actual",
    "cost.budget_forecast",
    "cost.daily_drop",
    "cost.daily_spike",
    "cost.new_service",
)
_BUDGET_KINDS = ("cost.budget_actual", "cost.budget_forecast")
MAX_USAGE_QUERIES = 3
_BASELINE_WORDS = {
    BaselineKind.WEEKDAY: "the same weekday of the last {n} weeks",
    BaselineKind.SPARSE: "its last {n} days with spend",
    BaselineKind.RECENT: "the last {n} days",
    BaselineKind.MONTH_START: "the last {n} month starts",
}


@dataclass(frozen=True)
class Anomaly:
    """One finding of AWS Cost Anomaly Detection, reduced to what Vigil merges on."""

    anomaly_id: str
    service: str
    start: str
    impact_usd: float


class CostExplorerPort(Protocol):
    def daily_costs(
        self, start: date, end: date, dimension: str
    ) -> dict[date, dict[str, float]]: ...

    def usage_types(self, service: str, day: date) -> dict[str, float]: ...

    def month_forecast(self, today: date) -> float | None: ...

    def anomalies(self, start: date, end: date) -> list[Anomaly]: ...


class CostHistoryPort(Protocol):
    def load(self, dimension: str, since: date) -> dict[date, dict[str, float]]: ...

    def save(
        self, dimension: str, days: dict[date, dict[str, float]], *, fetched_at: datetime
    ) -> None: ...

    def fact(self, name: str, day: date) -> str | None: ...

    def remember(self, name: str, day: date, value: str) -> None: ...


class RequestCapReached(VigilError):
    """The day's Cost Explorer request cap is spent; the run goes on with stored data."""


_CAPPED = object()


@dataclass(frozen=True)
class CostRun:
    batch: SignalBatch
    refreshed_days: int
    capped: bool


class CostCollector:
    def __init__(
        self,
        *,
        explorer: CostExplorerPort,
        history: CostHistoryPort,
        rule: CostRule,
        account: str,
        region: str,
        monthly_budget_usd: float,
    ) -> None:
        self._explorer = explorer
        self._history = history
        self._rule = rule
        self._account = account
        self._region = region
        self._monthly_budget = monthly_budget_usd
        self._capped = False
        self._usage_queries = 0
        self._services: set[str] = set()

    def run(self, now: datetime) -> CostRun:
        self._capped = False
        self._usage_queries = 0
        today = now.date()
        day = today - timedelta(days=1)
        if not self._rule.enabled:
            return CostRun(self._batch(now, [], COST_SIGNAL_KINDS), 0, capped=False)
        stored, refreshed = self._refresh("SERVICE", today, now)
        assessments = detect(stored, day, self._rule)
        self._services = {a.service for a in assessments} - {TOTAL}
        for dimension in self._rule.dimensions[1:]:
            # Accounts and tags are other cuts of the same bill: no second total.
            series, _ = self._refresh(dimension, today, now)
            assessments += detect(series, day, self._rule, with_total=False)
        anomalies = {a.service: a for a in self._anomalies(today, day)}
        signals = [
            signal
            for assessment in assessments
            if (signal := self._assessment_signal(assessment, today, anomalies)) is not None
        ]
        signals += [self._drop_signal(a) for a in assessments if a.drop(self._rule) is not None]
        assessed = {a.service for a in assessments}
        signals += [
            self._anomaly_signal(anomaly, day)
            for service, anomaly in anomalies.items()
            if service not in assessed
        ]
        if self._monthly_budget > 0:
            signals += self._budget_signals(stored, today)
        if self._capped:
            logger.warning(
                "Cost Explorer request cap reached; working from stored data",
                extra={"cap": self._rule.max_requests_per_day, "day": today.isoformat()},
            )
        # Without yesterday's figures (a capped or failed refresh) the run cannot speak for
        # spikes: leave those alerts as they are rather than resolve them.
        covered = COST_SIGNAL_KINDS if day in stored else _BUDGET_KINDS
        batch = self._batch(now, signals, covered)
        return CostRun(batch, refreshed, capped=self._capped)

    def _batch(self, now: datetime, signals: list[Signal], covered: tuple[str, ...]) -> SignalBatch:
        return SignalBatch(
            batch_id=f"cost-{self._account}-{now:%Y%m%dT%H%M}Z",
            source="cost",
            collected_at=now,
            covered_kinds=list(covered),
            signals=signals,
        )

    # ---------------------------------------------------------------- Cost Explorer
    def _call(self, fetch: Callable[[], Any]) -> Any:
        """Ask Cost Explorer; ``_CAPPED`` when the day's request cap is spent."""
        try:
            return fetch()
        except RequestCapReached:
            self._capped = True
            return _CAPPED

    def _refresh(self, dimension: str, today: date, now: datetime) -> tuple[History, int]:
        oldest = today - timedelta(days=self._rule.history_days)
        stored = self._history.load(dimension, since=oldest)
        missing = [
            oldest + timedelta(days=n)
            for n in range(self._rule.history_days)
            if oldest + timedelta(days=n) not in stored
        ]
        start = min([*missing[:1], today - timedelta(days=self._rule.restatement_days)])
        if start >= today:
            return stored, 0
        fresh = self._call(lambda: self._explorer.daily_costs(start, today, dimension))
        if fresh is _CAPPED:
            return stored, 0
        self._history.save(dimension, fresh, fetched_at=now)
        return {**stored, **fresh}, len(fresh)

    def _once_a_day(self, name: str, today: date, fetch: Callable[[], Any]) -> Any:
        """A Cost Explorer answer kept for the rest of the day in the table."""
        kept = self._history.fact(name, today)
        if kept is not None:
            return json.loads(kept)
        value = self._call(fetch)
        if value is _CAPPED:
            return None
        self._history.remember(name, today, json.dumps(value))
        return value

    def _anomalies(self, today: date, day: date) -> list[Anomaly]:
        found = self._once_a_day(
            "anomalies",
            today,
            lambda: [asdict(a) for a in self._explorer.anomalies(day - timedelta(days=1), today)],
        )
        return [Anomaly(**item) for item in found or []]

    # ---------------------------------------------------------------- signals
    def _assessment_signal(
        self, assessment: Assessment, today: date, anomalies: dict[str, Anomaly]
    ) -> Signal | None:
        rule, context = self._rule, {"day": assessment.day.isoformat()}
        anomaly = anomalies.get(assessment.service)
        if anomaly is not None:
            context["anomaly"] = (
                f"AWS Cost Anomaly Detection agrees (impact ${anomaly.impact_usd:,.2f})"
            )
        if assessment.first_spend or assessment.first_material:
            if assessment.first_material:
                context["first"] = (
                    f"the first day at ${rule.new_service_min_usd:,.2f} or more of a series"
                    " that began spending less than"
                    f" {rule.recent_days} days ago"
                )
            return self._signal(
                "cost.new_service",
                assessment.service,
                assessment.spend,
                day=assessment.day,
                samples={},
                context=context,
            )
        if not assessment.rises or (assessment.baseline is None and assessment.drift is None):
            return None
        rising = assessment.rise(rule) is not None
        if not rising and assessment.spend < rule.min_increase_usd and anomaly is None:
            return None  # too small to ever alert: not worth a signal
        if rising and assessment.service in self._services:
            context.update(self._top_usage(assessment.service, assessment.day, today))
        context |= _described(assessment)
        return self._signal(
            "cost.daily_spike",
            assessment.service,
            assessment.spend,
            day=assessment.day,
            samples=assessment.samples,
            context=context,
        )

    def _drop_signal(self, assessment: Assessment) -> Signal:
        return self._signal(
            "cost.daily_drop",
            assessment.service,
            assessment.spend,
            day=assessment.day,
            samples=assessment.samples,
            context={"day": assessment.day.isoformat(), **_described(assessment)},
        )

    def _top_usage(self, service: str, day: date, today: date) -> dict[str, str]:
        if not self._rule.top_usage_types or self._usage_queries >= MAX_USAGE_QUERIES:
            return {}
        self._usage_queries += 1
        usage = self._once_a_day(
            f"usage:{service}", today, lambda: self._explorer.usage_types(service, day)
        )
        if not usage:
            return {}
        top = sorted(usage.items(), key=lambda item: -item[1])[: self._rule.top_usage_types]
        return {"top_usage": "top usage types: " + ", ".join(f"{k} ${v:,.2f}" for k, v in top)}

    def _anomaly_signal(self, anomaly: Anomaly, day: date) -> Signal:
        context = {
            "day": day.isoformat(),
            "baseline": "AWS Cost Anomaly Detection",
            "anomaly": f"flagged by AWS Cost Anomaly Detection (impact ${anomaly.impact_usd:,.2f})",
        }
        samples = {"baseline": 0.0, "scale": 0.0, "anomaly_impact": anomaly.impact_usd}
        return self._signal(
            "cost.daily_spike",
            anomaly.service,
            anomaly.impact_usd,
            day=day,
            samples=samples,
            context=context,
        )

    def _budget_signals(self, stored: History, today: date) -> list[Signal]:
        month = [
            costs for d, costs in stored.items() if (d.year, d.month) == (today.year, today.month)
        ]
        actual = sum(sum(costs.values()) for costs in month)
        samples = {"budget": self._monthly_budget}
        context = {"day": today.isoformat()}
        signals = [
            self._signal(
                "cost.budget_actual",
                "monthly-budget",
                actual,
                day=today,
                samples=samples,
                context=context,
            )
        ]
        forecast = self._once_a_day("forecast", today, lambda: self._explorer.month_forecast(today))
        if forecast is not None:
            signals.append(
                self._signal(
                    "cost.budget_forecast",
                    "monthly-budget",
                    actual + float(forecast),
                    day=today,
                    samples=samples,
                    context=context,
                )
            )
        return signals

    def _signal(
        self,
        kind: str,
        resource: str,
        value: float,
        *,
        day: date,
        samples: dict[str, float],
        context: dict[str, str],
    ) -> Signal:
        return Signal(
            source="cost",
            labels=Labels(kind=kind, resource=resource, account=self._account, region=self._region),
            value=round(value, 4),
            unit="USD",
            window_seconds=86_400,
            observed_at=datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC),
            samples=samples,
            context=context,
        )


def _described(assessment: Assessment) -> dict[str, str]:
    """The words for the baselines, the drift and the services the total is judged without."""
    words = {}
    if assessment.baseline is not None:
        described = [
            _BASELINE_WORDS[b.kind].format(n=len(b.points))
            for b in (assessment.baseline, assessment.also)
            if b is not None
        ]
        words["baseline"] = " and ".join(described)
    if assessment.drift is not None:
        words["drift"] = f"the {assessment.drift.weeks} weeks before"
    if assessment.explained_by:
        words["explained"] = (
            f"the bill without {', '.join(assessment.explained_by)}"
            " (alerted on its own in the last 6 weeks)"
        )
    return words
