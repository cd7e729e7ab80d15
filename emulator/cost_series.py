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
    """Daily spend per service for every day in [start, end); zero spend is left out."""
    rng = random.Random(seed)
    days: dict[date, dict[str, float]] = {}
    day = start
    while day < end:
        costs = {s.name: s.spend(day, start, rng) for s in services}
        days[day] = {name: value for name, value in costs.items() if value > 0}
        day += timedelta(days=1)
    return days
