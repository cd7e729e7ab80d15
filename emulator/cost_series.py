"""Synthetic daily cost series with the shapes real bills have.

Each service has a base daily spend, an optional weekly shape (weekend factor), noise
(relative standard deviation), slow organic growth (per week), a first day (a service that
appears), charges on the 1st of the month (subscriptions, Savings Plans, tax), spikes on
given days (multipliers), and a split into usage types. Deterministic for a seed.
"""

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

DEFAULT_ACCOUNT = "123456789012"


@dataclass(frozen=True)
class ServiceSeries:
    name: str
    base: float
    weekend_factor: float = 1.0
    noise: float = 0.0
    growth_per_week: float = 0.0
    first_day: date | None = None
    month_start_charge: float = 0.0
    spikes: Mapping[date, float] = field(default_factory=dict)
    usage_types: Mapping[str, float] = field(default_factory=dict)
    account: str = DEFAULT_ACCOUNT
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Unique per series: the service name, plus account and tags where they are set."""
        extra = [] if self.account == DEFAULT_ACCOUNT else [self.account]
        extra += [f"{key}={value}" for key, value in sorted(self.tags.items())]
        return f"{self.name} [{' '.join(extra)}]" if extra else self.name

    def group_key(self, dimension: str) -> str:
        """This series' key in a Cost Explorer grouping: SERVICE, LINKED_ACCOUNT or TAG:<key>."""
        if dimension == "LINKED_ACCOUNT":
            return self.account
        if dimension.startswith("TAG:"):
            tag = dimension.removeprefix("TAG:")
            return f"{tag}${self.tags.get(tag, '')}"
        return self.name

    def spend(self, day: date, origin: date, rng: random.Random) -> float:
        if self.first_day is not None and day < self.first_day:
            return 0.0
        weeks = (day - origin).days / 7
        value = self.base * (1 + self.growth_per_week) ** weeks
        if day.weekday() >= 5:
            value *= self.weekend_factor
        if self.noise:
            value *= max(0.0, rng.gauss(1.0, self.noise))
        value *= self.spikes.get(day, 1.0)
        if day.day == 1:
            value += self.month_start_charge
        return float(round(value, 2))

    def usage(self, amount: float) -> dict[str, float]:
        if not self.usage_types:
            return {f"{self.name} usage": amount}
        total = sum(self.usage_types.values())
        return {name: round(amount * share / total, 2) for name, share in self.usage_types.items()}


def generate(
    services: Iterable[ServiceSeries], start: date, end: date, *, seed: int = 7
) -> dict[date, dict[str, float]]:
    """Daily spend per series (by ``label``) for every day in [start, end); zeros left out."""
    rng = random.Random(seed)
    days: dict[date, dict[str, float]] = {}
    day = start
    while day < end:
        costs = {s.label: s.spend(day, start, rng) for s in services}
        days[day] = {name: value for name, value in costs.items() if value > 0}
        day += timedelta(days=1)
    return days
