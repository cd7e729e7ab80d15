"""Robust detection of daily cost spikes on short, spiky, weekly-seasonal series.

For the last complete day of each service (and of the total), the spend is compared with a
baseline chosen by what the history looks like:

- **month start** (the 1st): the 1st of previous months, because subscriptions, Savings
  Plans, support and tax are charged then and would otherwise look like a spike every month;
- **same weekday** over the recent weeks, when the series has a weekly pattern (weekday
  medians explain most of its spread);
- **recent days** otherwise.

The 1st of a month is left out of the other two baselines. The baseline's centre is the
median and its spread the MAD (scaled to a standard deviation), so a spike already in the
baseline moves neither. A flat series has no spread (MAD 0); the scale is then floored at a
fraction of the median, so a cent of noise on a flat line is not "infinitely unusual". A day
alerts only when it is both statistically unusual (robust z-score) and material (absolute
and relative increase floors). Too little history means no verdict, except for a service
that spends materially for the first time.
"""

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, timedelta
from enum import StrEnum

from vigil.rules.cost import CostRule

MAD_TO_SIGMA = 1.4826
TOTAL = "Total"

History = Mapping[date, Mapping[str, float]]


class BaselineKind(StrEnum):
    MONTH_START = "month start"
    WEEKDAY = "same weekday"
    RECENT = "recent days"


@dataclass(frozen=True)
class DetectionSettings:
    """The statistical knobs; the rules config (``cost``) fills them, docs/rules.md explains."""

    baseline_weeks: int = 6
    recent_days: int = 14
    min_baseline_points: int = 4
    month_starts: int = 3
    min_month_starts: int = 2
    min_history_days: int = 14
    weekly_pattern_ratio: float = 0.6
    scale_floor_ratio: float = 0.05
    scale_floor_usd: float = 0.01


def detection_settings(rule: CostRule) -> DetectionSettings:
    """The statistical settings the cost rule sets (its fields of the same names)."""
    shared = {f.name for f in fields(DetectionSettings)} & set(type(rule).model_fields)
    return DetectionSettings(**{name: getattr(rule, name) for name in shared})


@dataclass(frozen=True)
class Baseline:
    kind: BaselineKind
    points: tuple[float, ...]
    median: float
    scale: float

    def z(self, value: float) -> float:
        return (value - self.median) / self.scale


@dataclass(frozen=True)
class Assessment:
    """One service on one day: its spend and what it is compared with."""

    service: str
    day: date
    spend: float
    baseline: Baseline | None
    first_spend: bool

    @property
    def increase(self) -> float:
        return self.spend - (self.baseline.median if self.baseline else 0.0)


def mad_scale(points: Sequence[float], median: float) -> float:
    return MAD_TO_SIGMA * statistics.median(abs(point - median) for point in points)


def series_of(history: History, service: str) -> dict[date, float]:
    """A service's daily spend over every known day (absent on a known day means zero)."""
    if service == TOTAL:
        return {day: sum(costs.values()) for day, costs in history.items()}
    return {day: costs.get(service, 0.0) for day, costs in history.items()}


def has_weekly_pattern(
    series: Mapping[date, float], day: date, settings: DetectionSettings
) -> bool:
    """Do weekday medians explain most of the spread of the weeks before ``day``?"""
    window = [
        (d, v)
        for d, v in series.items()
        if day - timedelta(days=7 * settings.baseline_weeks) <= d < day and d.day != 1
    ]
    by_weekday: dict[int, list[float]] = {}
    for d, value in window:
        by_weekday.setdefault(d.weekday(), []).append(value)
    if len(by_weekday) < 7 or min(len(values) for values in by_weekday.values()) < 3:
        return False
    values = [value for _, value in window]
    spread = mad_scale(values, statistics.median(values))
    medians = {weekday: statistics.median(points) for weekday, points in by_weekday.items()}
    if spread == 0:
        # Mostly one value (often zero): a weekly job is the days that differ by weekday.
        return len(set(medians.values())) > 1
    residuals = [value - medians[d.weekday()] for d, value in window]
    residual_spread = mad_scale(residuals, statistics.median(residuals))
    return residual_spread < settings.weekly_pattern_ratio * spread


def baseline_for(
    series: Mapping[date, float], day: date, settings: DetectionSettings
) -> Baseline | None:
    """The baseline ``day`` is judged against, or ``None`` when history is too short."""
    if day.day == 1:
        firsts = [
            series[first]
            for first in _previous_firsts(day, settings.month_starts)
            if first in series
        ]
        if len(firsts) >= settings.min_month_starts:
            return _baseline(BaselineKind.MONTH_START, firsts, settings)
        return None
    if has_weekly_pattern(series, day, settings):
        same_weekday = [
            series[d]
            for week in range(1, settings.baseline_weeks + 1)
            if (d := day - timedelta(days=7 * week)) in series and d.day != 1
        ]
        if len(same_weekday) >= settings.min_baseline_points:
            return _baseline(BaselineKind.WEEKDAY, same_weekday, settings)
    recent = [
        series[d]
        for back in range(1, settings.recent_days + 1)
        if (d := day - timedelta(days=back)) in series and d.day != 1
    ]
    if len(recent) >= settings.min_baseline_points:
        return _baseline(BaselineKind.RECENT, recent, settings)
    return None


def _baseline(kind: BaselineKind, points: list[float], settings: DetectionSettings) -> Baseline:
    median = statistics.median(points)
    scale = max(
        mad_scale(points, median),
        settings.scale_floor_ratio * abs(median),
        settings.scale_floor_usd,
    )
    return Baseline(kind=kind, points=tuple(points), median=median, scale=scale)


def _previous_firsts(day: date, count: int) -> list[date]:
    firsts = []
    year, month = day.year, day.month
    for _ in range(count):
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        firsts.append(date(year, month, 1))
    return firsts


def assess_day(
    history: History, day: date, settings: DetectionSettings, *, with_total: bool = True
) -> list[Assessment]:
    """Assess every series that spent on ``day`` or on the days before it, and the total."""
    if day not in history:
        return []
    # Days before the account spent anything are stored empty (Cost Explorer answers every
    # day asked for); they do not make a history long enough to call a service new.
    earlier = {d: costs for d, costs in history.items() if d < day}
    long_enough = sum(1 for costs in earlier.values() if costs) >= settings.min_history_days
    services = sorted({service for costs in history.values() for service in costs})
    assessments = []
    for service in [*services, TOTAL] if with_total else services:
        series = series_of(history, service)
        spend = series.get(day, 0.0)
        spent_on = sorted(d for d in earlier if series[d] > 0)
        # Days before a service's first spend say nothing about its normal level.
        since_first = {d: v for d, v in series.items() if spent_on and d >= spent_on[0]}
        assessments.append(
            Assessment(
                service=service,
                day=day,
                spend=spend,
                baseline=baseline_for(since_first, day, settings) if spent_on else None,
                first_spend=long_enough and not spent_on and spend > 0,
            )
        )
    return assessments
