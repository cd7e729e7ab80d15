"""The cost rule (docs/rules.md, ``cost``): daily spend per service against its baseline, new
services, budgets.
"""

import re
from typing import Annotated, Any, Self

from pydantic import Field, field_validator, model_validator

from vigil.core.model import Severity, Signal
from vigil.rules.base import Breach, ConfigModel, SignalKind, breach

_TAG_DIMENSION = re.compile(r"TAG:[\w.:/=+\-@ ]{1,128}")


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
    repeat_interval_minutes: Annotated[int, Field(ge=60, le=10080)] = 1440

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


# Kinds that report an event rather than a condition: they clear without a resolved notice.
EVENT_KINDS = frozenset({"cost.new_service"})


def _judge_cost(signal: Signal, rule: CostRule) -> Breach | None:
    if not rule.enabled:
        return None
    kind, spend, samples = signal.labels.kind, signal.value, signal.samples
    context = signal.context
    if kind == "cost.daily_spike" and "anomaly_impact" in samples:
        threshold = rule.min_increase_usd
        if spend < threshold:
            return None
        severity = Severity.CRITICAL if spend >= rule.critical_increase_usd else Severity.WARNING
        summary = (
            f"{signal.labels.resource}: ${spend:,.2f} of unexpected spend on"
            f" {context.get('day', '?')}"
        )
    elif kind == "cost.daily_spike":
        median, scale = samples.get("baseline", 0.0), samples.get("scale", 0.0)
        threshold = rule.alert_threshold(median, scale)
        if scale <= 0 or spend < threshold:
            return None
        increase = spend - median
        severity = Severity.CRITICAL if increase >= rule.critical_increase_usd else Severity.WARNING
        percent = f" (+{increase / median:.0%})" if median > 0 else ""
        summary = (
            f"{signal.labels.resource} spent ${spend:,.2f} on {context.get('day', '?')}"
            f" against a baseline of ${median:,.2f} ({context.get('baseline', 'baseline')}):"
            f" +${increase:,.2f}{percent}, z={(spend - median) / scale:.1f}"
        )
    elif kind == "cost.new_service":
        threshold = rule.new_service_min_usd
        if spend < threshold:
            return None
        severity = Severity.WARNING
        summary = (
            f"{signal.labels.resource} spent ${spend:,.2f} on {context.get('day', '?')},"
            " the first spend seen for it"
        )
    else:
        threshold = samples.get("budget", 0.0)
        if threshold <= 0 or spend <= threshold:
            return None
        actual = kind == "cost.budget_actual"
        severity = Severity.CRITICAL if actual else Severity.WARNING
        what = "Spend this month" if actual else "Forecast spend for the month"
        summary = f"{what} ${spend:,.2f} is above the monthly budget of ${threshold:,.2f}"
    for key in ("top_usage", "anomaly"):
        if context.get(key):
            summary += f"; {context[key]}"
    return breach(
        signal,
        severity,
        round(spend, 2),
        round(threshold, 2),
        "USD",
        summary=summary,
        repeat_minutes=rule.repeat_interval_minutes,
    )


# One rule, four kinds.
KINDS: tuple[SignalKind[Any], ...] = tuple(
    SignalKind(name, title, "cost", _judge_cost)
    for name, title in (
        ("cost.daily_spike", "Cost spike"),
        ("cost.new_service", "New service spend"),
        ("cost.budget_forecast", "Budget forecast"),
        ("cost.budget_actual", "Budget exceeded"),
    )
)
