"""The cost rule (docs/rules.md, ``cost``): daily spend per service against its baseline, new
services, budgets.
"""

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from vigil.core.model import Severity, Signal
from vigil.rules.base import Breach, ConfigModel, SignalKind, breach

_TAG_DIMENSION = re.compile(r"TAG:[\w.:/=+\-@ ]{1,128}")

TOTAL = "Total"


class CostRule(ConfigModel):
    """Daily cost spikes, first spend of a service, and the monthly budget (docs/rules.md)."""

    enabled: bool = True
    dimensions: Annotated[list[str], Field(min_length=1, max_length=4)] = Field(
        default_factory=lambda: ["SERVICE"],
        description="SERVICE, then optionally LINKED_ACCOUNT and TAG:<key> series.",
    )
    z_threshold: Annotated[float, Field(ge=2, le=50)] = 4.0
    min_increase_usd: Annotated[float, Field(ge=0)] = 10.0
    min_increase_ratio: Annotated[float, Field(ge=0)] = 0.3
    critical_increase_usd: Annotated[float, Field(ge=0)] = 100.0
    new_service_min_usd: Annotated[float, Field(ge=0)] = 10.0
    baseline_weeks: Annotated[int, Field(ge=2, le=12)] = 6
    recent_days: Annotated[int, Field(ge=3, le=60)] = 14
    min_baseline_points: Annotated[int, Field(ge=3, le=30)] = 4
    month_starts: Annotated[int, Field(ge=1, le=12)] = 3
    min_month_starts: Annotated[int, Field(ge=1, le=12)] = 2
    min_history_days: Annotated[int, Field(ge=7, le=90)] = 14
    weekly_pattern_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.6
    scale_floor_ratio: Annotated[float, Field(ge=0, le=1)] = 0.05
    history_days: Annotated[int, Field(ge=28, le=365)] = 93
    restatement_days: Annotated[int, Field(ge=0, le=14)] = 3
    max_requests_per_day: Annotated[int, Field(ge=1, le=1000)] = 24
    top_usage_types: Annotated[int, Field(ge=0, le=20)] = 5
    repeat_interval_minutes: Annotated[int, Field(ge=60, le=10080)] = 10080
    drops: Literal["total", "all", "off"] = Field(
        default="total", description="Which series alert when their spend falls."
    )
    drop_min_decrease_usd: Annotated[float, Field(ge=0)] = 20.0
    drop_min_decrease_ratio: Annotated[float, Field(gt=0, le=1)] = 0.4
    drop_for_minutes: Annotated[int, Field(ge=0, le=2880)] = 720
    drift_weeks: Annotated[int, Field(ge=0, le=8)] = 3
    drift_min_ratio: Annotated[float, Field(gt=0)] = 0.2

    @model_validator(mode="after")
    def _reachable_minimums(self) -> Self:
        if self.min_month_starts > self.month_starts:
            raise ValueError("min_month_starts must not exceed month_starts")
        if self.min_baseline_points > self.recent_days:
            raise ValueError("min_baseline_points must not exceed recent_days")
        if self.history_days < 31 * self.month_starts:
            raise ValueError(f"history_days must cover {self.month_starts} month starts")
        return self

    @field_validator("dimensions")
    @classmethod
    def _known_dimensions(cls, value: list[str]) -> list[str]:
        if value[0] != "SERVICE":
            raise ValueError("the first dimension must be SERVICE (it carries the total)")
        for dimension in value[1:]:
            if dimension != "LINKED_ACCOUNT" and not _TAG_DIMENSION.fullmatch(dimension):
                raise ValueError(
                    f"{dimension!r} is not LINKED_ACCOUNT or TAG:<cost allocation tag key>"
                )
        if len(set(value)) != len(value):
            raise ValueError("a dimension is listed twice")
        return value

    def alert_threshold(self, median: float, scale: float) -> float:
        """The smallest spend that alerts: unusual (z), and material (absolute, relative)."""
        return max(
            median + self.z_threshold * scale,
            median + self.min_increase_usd,
            median * (1 + self.min_increase_ratio),
        )

    def persist_threshold(self, median: float) -> float:
        """The smallest spend that keeps an open episode open: half the material floors, no z.

        A rise that goes on widens its own baseline's spread, so the z-term would close the
        episode and the next step up would open another one.
        """
        return max(median + self.min_increase_usd / 2, median * (1 + self.min_increase_ratio / 2))

    def drop_threshold(self, median: float, scale: float) -> float:
        """The largest spend that alerts as a drop: unusual (z), and material both ways."""
        return min(
            median - self.z_threshold * scale,
            median - self.drop_min_decrease_usd,
            median * (1 - self.drop_min_decrease_ratio),
        )

    def drift_threshold(self, before: float, noise: float) -> float:
        """The smallest median of the last week that is a drift from the weeks before it."""
        return max(
            before * (1 + self.drift_min_ratio),
            before + self.min_increase_usd,
            before + self.z_threshold * noise,
        )

    def rise(self, spend: float, samples: Mapping[str, float]) -> tuple[str, float] | None:
        """Why a day's spend is a rise (``spike``, ``persists``, ``drift``) and the bar it
        crossed, or ``None``. The collector and ``judge()`` both decide with it, from the
        signal's samples.

        On the 1st of a month (``also_baseline`` present) the day must be unusual against both
        its baselines.
        """
        scale = samples.get("scale", 0.0)
        if scale > 0:
            medians = [samples.get("baseline", 0.0)]
            fresh = self.alert_threshold(medians[0], scale)
            if samples.get("also_scale", 0.0) > 0:
                medians.append(samples["also_baseline"])
                fresh = max(fresh, self.alert_threshold(medians[1], samples["also_scale"]))
            if spend >= fresh:
                return "spike", fresh
            persist = max(self.persist_threshold(median) for median in medians)
            if samples.get("episode", 0.0) and spend >= persist:
                return "persists", persist
        if samples.get("drift_noise", 0.0) > 0:
            bar = self.drift_threshold(samples["drift_before"], samples["drift_noise"])
            if samples["drift_recent"] >= bar:
                return "drift", bar
        return None

    def drop(self, spend: float, samples: Mapping[str, float]) -> float | None:
        """The bar a day's spend fell under, or ``None``; on the 1st, under both baselines'."""
        if samples.get("scale", 0.0) <= 0:
            return None
        bar = self.drop_threshold(samples.get("baseline", 0.0), samples["scale"])
        if samples.get("also_scale", 0.0) > 0:
            bar = min(bar, self.drop_threshold(samples["also_baseline"], samples["also_scale"]))
        return bar if spend <= bar else None


# Kinds that report an event rather than a condition: they clear without a resolved notice.
EVENT_KINDS = frozenset({"cost.new_service"})


# A verdict of one cost kind: severity, value, threshold, summary.
_Verdict = tuple[Severity, float, float, str]


def _anomaly_verdict(signal: Signal, rule: CostRule) -> _Verdict | None:
    impact = signal.value
    if impact < rule.min_increase_usd:
        return None
    severity = Severity.CRITICAL if impact >= rule.critical_increase_usd else Severity.WARNING
    summary = (
        f"{signal.labels.resource}: ${impact:,.2f} of unexpected spend on"
        f" {signal.context.get('day', '?')}"
    )
    return severity, impact, rule.min_increase_usd, summary


def _rise_verdict(signal: Signal, rule: CostRule) -> _Verdict | None:
    spend, samples, context = signal.value, signal.samples, signal.context
    verdict = rule.rise(spend, samples)
    if verdict is None:
        return None
    reason, threshold = verdict
    if reason == "drift":
        recent, before = samples["drift_recent"], samples["drift_before"]
        increase = recent - before
        spend = recent
        summary = (
            f"{signal.labels.resource} is drifting up: a median of ${recent:,.2f} a day over"
            f" the 7 days to {context.get('day', '?')} against ${before:,.2f} over"
            f" {context.get('drift', 'the weeks before')}: +${increase:,.2f}"
            f" (+{increase / max(before, 0.01):.0%})"
        )
    else:
        median = samples.get("baseline", 0.0)
        increase = spend - median
        percent = f" (+{increase / median:.0%})" if median > 0 else ""
        summary = (
            f"{signal.labels.resource} spent ${spend:,.2f} on {context.get('day', '?')}"
            f" against a baseline of ${median:,.2f} ({context.get('baseline', 'baseline')}):"
            f" +${increase:,.2f}{percent}"
        )
        if reason == "spike":
            summary += f", z={(spend - median) / samples['scale']:.1f}"
        else:
            summary += "; the rise that opened this alert goes on"
    if context.get("explained"):
        summary += f"; {context['explained']}"
    severity = Severity.CRITICAL if increase >= rule.critical_increase_usd else Severity.WARNING
    return severity, spend, threshold, summary


def _drop_verdict(signal: Signal, rule: CostRule) -> _Verdict | None:
    if rule.drops == "off" or (rule.drops == "total" and signal.labels.resource != TOTAL):
        return None
    spend, samples = signal.value, signal.samples
    threshold = rule.drop(spend, samples)
    if threshold is None:
        return None
    median = samples["baseline"]
    summary = (
        f"{signal.labels.resource} spent ${spend:,.2f} on {signal.context.get('day', '?')}"
        f" against a baseline of ${median:,.2f} ({signal.context.get('baseline', 'baseline')}):"
        f" -${median - spend:,.2f} (-{(median - spend) / median:.0%}); a fall this large"
        " usually means something stopped running"
    )
    return Severity.WARNING, spend, threshold, summary


def _new_service_verdict(signal: Signal, rule: CostRule) -> _Verdict | None:
    spend = signal.value
    if spend < rule.new_service_min_usd:
        return None
    summary = (
        f"{signal.labels.resource} spent ${spend:,.2f} on {signal.context.get('day', '?')},"
        f" {signal.context.get('first', 'the first spend seen for it')}"
    )
    return Severity.WARNING, spend, rule.new_service_min_usd, summary


def _budget_verdict(signal: Signal, rule: CostRule) -> _Verdict | None:
    spend, budget = signal.value, signal.samples.get("budget", 0.0)
    if budget <= 0 or spend <= budget:
        return None
    actual = signal.labels.kind == "cost.budget_actual"
    what = "Spend this month" if actual else "Forecast spend for the month"
    summary = f"{what} ${spend:,.2f} is above the monthly budget of ${budget:,.2f}"
    return Severity.CRITICAL if actual else Severity.WARNING, spend, budget, summary


def _judge_cost(signal: Signal, rule: CostRule) -> Breach | None:
    if not rule.enabled:
        return None
    kind = signal.labels.kind
    if kind == "cost.daily_spike":
        anomaly_alone = "anomaly_impact" in signal.samples
        verdict = (_anomaly_verdict if anomaly_alone else _rise_verdict)(signal, rule)
    elif kind == "cost.daily_drop":
        verdict = _drop_verdict(signal, rule)
    elif kind == "cost.new_service":
        verdict = _new_service_verdict(signal, rule)
    else:
        verdict = _budget_verdict(signal, rule)
    if verdict is None:
        return None
    severity, value, threshold, summary = verdict
    for key in ("top_usage", "anomaly"):
        if signal.context.get(key):
            summary += f"; {signal.context[key]}"
    return breach(
        signal,
        severity,
        round(value, 2),
        round(threshold, 2),
        "USD",
        summary=summary,
        for_seconds=rule.drop_for_minutes * 60 if kind == "cost.daily_drop" else 0,
        repeat_minutes=rule.repeat_interval_minutes,
    )


# One rule, five kinds.
KINDS: tuple[SignalKind[Any], ...] = tuple(
    SignalKind(name, title, "cost", _judge_cost)
    for name, title in (
        ("cost.daily_spike", "Cost spike"),
        ("cost.daily_drop", "Cost drop"),
        ("cost.new_service", "New service spend"),
        ("cost.budget_forecast", "Budget forecast"),
        ("cost.budget_actual", "Budget exceeded"),
    )
)
