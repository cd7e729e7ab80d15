"""Robust detection of daily cost spikes on short, spiky, weekly-seasonal series.

For the last complete day of each service (and of the total), the spend is compared with a
baseline chosen by what the history looks like:

- **month start** (the 1st): the 1st of previous months, because subscriptions, Savings
  Plans, support and tax are charged then and would otherwise look like a spike every month;
- **same weekday** over the recent weeks, when the series has a weekly pattern (weekday
  medians explain most of its spread);
- **recent days** otherwise.

- **usual non-zero days**, when the series is zero on most days (an irregular job): its
  non-zero days, so its usual amount does not alert against a median of 0;
- **recent days** otherwise.

The 1st of a month is left out of the other baselines, and is judged against both the month
starts and the baseline any other day would get: it must be unusual against both. The
baseline's centre is the median and its spread the MAD (scaled to a standard deviation), so
a spike already in the baseline moves neither. A flat series has no spread (MAD 0); the
scale is then floored at a fraction of the median, so a cent of noise on a flat line is not
"infinitely unusual". A day alerts only when it is both statistically unusual (robust
z-score) and material (absolute and relative floors); the thresholds are the cost rule's.

Beyond the one day: a **drift** compares the median of the last week with the median of the
weeks before it (a slow creep never makes one day unusual); an **episode** that a rise
opened stays open while the spend stays materially above the baseline, so a ramp is one
alert, not one per step; a young series alerts the first day it spends materially; the
``Total`` is judged without the services that alert on their own. Too little history means
no verdict, except for a service that spends materially for the first time.
"""

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, timedelta
from enum import StrEnum

from vigil.rules.cost import TOTAL, CostRule

MAD_TO_SIGMA = 1.4826
# The standard error of a median is about 1.2533 x sigma / sqrt(n) for normal data.
MEDIAN_SE = 1.2533
# A series at zero on at least this share of its days is judged against its non-zero days,
SPARSE_ZERO_SHARE = 0.5
# once at least this many of them exist.
SPARSE_MIN_POINTS = 2
# How far back an open episode is followed: a rise is one alert for at most this long.
EPISODE_DAYS = 42

History = Mapping[date, Mapping[str, float]]


class BaselineKind(StrEnum):
    MONTH_START = "month start"
    WEEKDAY = "same weekday"
    SPARSE = "usual non-zero days"
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
    drift_weeks: int = 3


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
class Drift:
    """The median of the 7 days to the judged day against the median of the weeks before."""

    recent: float
    before: float
    weeks: int
    noise: float  # the standard error of ``recent - before``


@dataclass(frozen=True)
class Assessment:
    """One service on one day: its spend and what it is compared with."""

    service: str
    day: date
    spend: float
    baseline: Baseline | None
    first_spend: bool
    also: Baseline | None = None  # on the 1st: the baseline of any other day
    drift: Drift | None = None
    first_material: bool = False  # a young series' first day at the new-service floor
    episode: bool = False  # a rise alerted the day before and may go on
    explained_by: tuple[str, ...] = ()  # the Total without these services
    rises: bool = True  # False: the whole Total, judged for drops only

    @property
    def increase(self) -> float:
        return self.spend - (self.baseline.median if self.baseline else 0.0)

    @property
    def samples(self) -> dict[str, float]:
        """What ``judge()`` decides a rise or a drop from (``CostRule.rise``, ``.drop``)."""
        samples: dict[str, float] = {}
        if self.baseline is not None:
            samples |= {"baseline": self.baseline.median, "scale": self.baseline.scale}
        if self.also is not None:
            samples |= {"also_baseline": self.also.median, "also_scale": self.also.scale}
        if self.episode:
            samples["episode"] = 1.0
        if self.drift is not None:
            samples |= {
                "drift_recent": self.drift.recent,
                "drift_before": self.drift.before,
                "drift_noise": self.drift.noise,
            }
        return {name: round(value, 4) for name, value in samples.items()}

    def rise(self, rule: CostRule) -> tuple[str, float] | None:
        return rule.rise(self.spend, self.samples) if self.rises else None

    def drop(self, rule: CostRule) -> float | None:
        """The drop bar crossed, when this series may report drops at all."""
        if rule.drops == "off" or (rule.drops == "total" and self.service != TOTAL):
            return None
        if self.explained_by:
            return None  # a total without some services: its whole is judged for drops
        if self.baseline is None or self.baseline.kind is BaselineKind.SPARSE:
            return None  # a sparse series is at zero on most days: zero is no drop
        return rule.drop(self.spend, self.samples)

    def new_service(self, rule: CostRule) -> bool:
        return (self.first_spend or self.first_material) and self.spend >= rule.new_service_min_usd


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
        (d, series[d])
        for back in range(1, 7 * settings.baseline_weeks + 1)
        if (d := day - timedelta(days=back)) in series and d.day != 1
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
    series: Mapping[date, float],
    day: date,
    settings: DetectionSettings,
    weekly: bool | None = None,
) -> Baseline | None:
    """The baseline ``day`` is judged against, or ``None`` when history is too short.

    ``weekly``: whether the series has a weekly pattern before ``day``, when already known.
    """
    if day.day == 1:
        firsts = [
            series[first]
            for first in _previous_firsts(day, settings.month_starts)
            if first in series
        ]
        if len(firsts) >= settings.min_month_starts:
            return _baseline(BaselineKind.MONTH_START, firsts, settings)
        return None
    if weekly is None:
        weekly = has_weekly_pattern(series, day, settings)
    return _regular_baseline(series, day, settings, weekly)


def _regular_baseline(
    series: Mapping[date, float], day: date, settings: DetectionSettings, weekly: bool
) -> Baseline | None:
    """Same weekday, usual non-zero days or recent days: the baseline of any day but a 1st."""
    if weekly:
        same_weekday = [
            series[d]
            for week in range(1, settings.baseline_weeks + 1)
            if (d := day - timedelta(days=7 * week)) in series and d.day != 1
        ]
        if len(same_weekday) >= settings.min_baseline_points:
            return _baseline(BaselineKind.WEEKDAY, same_weekday, settings)
    window = [
        series[d]
        for back in range(1, 7 * settings.baseline_weeks + 1)
        if (d := day - timedelta(days=back)) in series and d.day != 1
    ]
    nonzero = [value for value in window if value > 0]
    if (
        len(window) >= settings.min_baseline_points
        and len(window) - len(nonzero) >= SPARSE_ZERO_SHARE * len(window)
        and len(nonzero) >= SPARSE_MIN_POINTS
    ):
        return _baseline(BaselineKind.SPARSE, nonzero, settings)
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


def drift_of(
    series: Mapping[date, float], day: date, settings: DetectionSettings, *, weekly: bool
) -> Drift | None:
    """The last 7 days' median (to ``day``) against the ``drift_weeks`` weeks before them.

    Whole weeks on both sides, and the 1sts left out. A series with a ``weekly`` pattern is
    compared day by day with its weekday's median of the weeks before (the last week's level
    is theirs plus the median of those differences), so a week's weekend days do not decide
    its median. The noise is the standard error of the difference of the two medians, from
    the spread of the ``baseline_weeks`` weeks before the last one (when weekly, relative to
    each weekday's median, over enough points per weekday not to shrink it).
    """
    weeks = settings.drift_weeks
    if weeks == 0 or day - timedelta(days=7 * (weeks + 1) - 1) not in series:
        return None
    recent = _days_back(series, day, 0, 7)
    before = _days_back(series, day, 7, 7 * weeks)
    values = [value for _, value in before]
    centre = statistics.median(values)
    if centre <= 0 or len(values) < 6 * weeks:
        return None
    longer = _days_back(series, day, 7, 7 * settings.baseline_weeks)
    if weekly:
        level = _weekday_medians(before)
        shift = statistics.median(value - level[d.weekday()] for d, value in recent)
        latest = centre + shift
        spread = _relative_spread(longer) * centre
    else:
        latest = statistics.median(value for _, value in recent)
        spread = mad_scale([value for _, value in longer], statistics.median(v for _, v in longer))
    spread = max(spread, settings.scale_floor_ratio * centre, settings.scale_floor_usd)
    noise = MEDIAN_SE * spread * math.sqrt(1 / len(recent) + 1 / len(values))
    return Drift(recent=latest, before=centre, weeks=weeks, noise=noise)


def _days_back(
    series: Mapping[date, float], day: date, skip: int, count: int
) -> list[tuple[date, float]]:
    """The ``count`` days before the ``skip`` days to ``day`` (``day`` included), no 1sts."""
    span = (day - timedelta(days=back) for back in range(skip, skip + count))
    return [(d, series[d]) for d in span if d in series and d.day != 1]


def _weekday_medians(days: list[tuple[date, float]]) -> dict[int, float]:
    by_weekday: dict[int, list[float]] = {}
    for d, value in days:
        by_weekday.setdefault(d.weekday(), []).append(value)
    return {weekday: statistics.median(points) for weekday, points in by_weekday.items()}


def _relative_spread(days: list[tuple[date, float]]) -> float:
    """The scaled MAD of each day's ratio to its weekday's median, minus 1: a bill's noise is
    proportional to it, so the weekend days' small deviations do not hide the weekdays'."""
    level = _weekday_medians(days)
    ratios = [value / level[d.weekday()] - 1 for d, value in days if level[d.weekday()] > 0]
    return mad_scale(ratios, statistics.median(ratios)) if ratios else 0.0


def assess_series(
    service: str,
    series: Mapping[date, float],
    day: date,
    settings: DetectionSettings,
    *,
    long_enough: bool,
    new_service_min_usd: float,
) -> Assessment:
    """One series on ``day``: its baselines, its drift, and whether it is new.

    A young series (first spend at most ``recent_days`` back) is at its first material day
    when it spends ``new_service_min_usd`` for the first time (``math.inf``: never asked).
    """
    spend = series.get(day, 0.0)
    spent_on = sorted(d for d, value in series.items() if d < day and value > 0)
    if not spent_on:
        return Assessment(service, day, spend, None, first_spend=long_enough and spend > 0)
    # Days before a service's first spend say nothing about its normal level.
    since_first = {d: v for d, v in series.items() if d >= spent_on[0]}
    young = (day - spent_on[0]).days <= settings.recent_days
    first_material = (
        long_enough
        and young
        and spend >= new_service_min_usd
        and all(since_first[d] < new_service_min_usd for d in spent_on)
    )
    weekly = has_weekly_pattern(since_first, day, settings)
    return Assessment(
        service=service,
        day=day,
        spend=spend,
        baseline=baseline_for(since_first, day, settings, weekly),
        first_spend=False,
        also=_regular_baseline(since_first, day, settings, weekly) if day.day == 1 else None,
        drift=drift_of(since_first, day, settings, weekly=weekly),
        first_material=first_material,
    )


def _long_enough(history: History, day: date, settings: DetectionSettings) -> bool:
    # Days before the account spent anything are stored empty (Cost Explorer answers every
    # day asked for); they do not make a history long enough to call a service new.
    earlier = sum(1 for d, costs in history.items() if d < day and costs)
    return earlier >= settings.min_history_days


def assess_day(
    history: History, day: date, settings: DetectionSettings, *, with_total: bool = True
) -> list[Assessment]:
    """Assess every series that spent on ``day`` or on the days before it, and the total.

    Each series on its own: no episodes, the total with every service in it (``detect``
    adds those).
    """
    if day not in history:
        return []
    long_enough = _long_enough(history, day, settings)
    services = sorted({service for costs in history.values() for service in costs})
    return [
        assess_series(
            service,
            series_of(history, service),
            day,
            settings,
            long_enough=long_enough,
            new_service_min_usd=math.inf,
        )
        for service in ([*services, TOTAL] if with_total else services)
    ]


def detect(
    history: History, day: date, rule: CostRule, *, with_total: bool = True
) -> list[Assessment]:
    """Every series on ``day`` as the cost rule judges it: with its open episode, and the
    ``Total`` without the services that explain its rise.

    The days from ``EPISODE_DAYS`` back are judged in order: a series whose rise alerted
    (``CostRule.rise``) carries an open episode into the next day, where half the material
    floors keep it open; a service that alerted (a rise or a new service) on any of these
    days explains its share of the total from then on.
    """
    if day not in history:
        return []
    settings = detection_settings(rule)
    services = sorted({service for costs in history.values() for service in costs})
    series = {service: series_of(history, service) for service in services}
    days = sorted(d for d in history if day - timedelta(days=EPISODE_DAYS) <= d <= day)
    open_episodes: set[str] = set()
    alerted: set[str] = set()
    judged: list[Assessment] = []
    for current in days:
        long_enough = _long_enough(history, current, settings)
        judged = [
            replace(
                assess_series(
                    service,
                    series[service],
                    current,
                    settings,
                    long_enough=long_enough,
                    new_service_min_usd=rule.new_service_min_usd,
                ),
                episode=service in open_episodes,
            )
            for service in services
        ]
        alerted |= {a.service for a in judged if a.rise(rule) or a.new_service(rule)}
        if with_total:
            judged += _total(
                history,
                current,
                settings,
                explained_by=tuple(sorted(alerted)),
                episode=TOTAL in open_episodes,
                long_enough=long_enough,
            )
        open_episodes = {a.service for a in judged if a.rise(rule) is not None}
    return judged


def _total(
    history: History,
    day: date,
    settings: DetectionSettings,
    *,
    explained_by: tuple[str, ...],
    episode: bool,
    long_enough: bool,
) -> list[Assessment]:
    """The total of the services that do not explain a rise on their own, for rises, and,
    when that is not the whole bill, the whole total for drops.

    The services explained are left out of every day of the total, so its baseline is the
    rest of the bill's: one rise is one alert, and a rise spread thinly over many services
    still shows.
    """
    rest = {
        d: sum(cost for service, cost in costs.items() if service not in explained_by)
        for d, costs in history.items()
    }
    judged = [
        replace(
            assess_series(
                TOTAL, rest, day, settings, long_enough=long_enough, new_service_min_usd=math.inf
            ),
            episode=episode,
            explained_by=explained_by,
        )
    ]
    if explained_by:
        whole = series_of(history, TOTAL)
        judged.append(
            replace(
                assess_series(
                    TOTAL,
                    whole,
                    day,
                    settings,
                    long_enough=long_enough,
                    new_service_min_usd=math.inf,
                ),
                rises=False,
            )
        )
    return judged
