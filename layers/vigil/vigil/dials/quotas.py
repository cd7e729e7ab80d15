"""Service quotas: usage (mostly the ``AWS/Usage`` namespace) against the applied quota.

Discovery (every ``discovery_minutes``): ``ListServiceQuotas`` for each service code of
``service_quotas.services``; a quota whose answer names a usage metric (``UsageMetric``:
namespace, name, dimensions, recommended statistic) is watched with its applied value. Every
cycle asks each watched quota's usage metric at a 60 s period, one metric per quota: the count
depends on the services chosen, not on the account's resources (docs/architecture.md, ADR 24).

The usage is the window's peak: the highest minute of a ``ResourceCount`` (Maximum), or, for a
rate quota (one with a ``Period``, usage counted by ``CallCount`` sums), the busiest minute's
sum brought to the quota's period (a per-second quota compares the minute's sum / 60).
"""

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from vigil.adapters.inventory import QuotaUsage
from vigil.dials.base import CycleContext, FamilyResult, FamilyRun, MetricKey, Stage
from vigil.dials.inventory import InventoryStatePort, load_or_discover

QUOTA_KIND = "quota.usage"
_MINUTE = 60


class QuotasPort(Protocol):
    def with_usage(self, service: str) -> list[QuotaUsage]: ...


class Quota(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str
    code: str
    name: str
    value: float
    period_seconds: int | None
    namespace: str
    metric: str
    dimensions: list[tuple[str, str]]
    statistic: str

    @property
    def key(self) -> MetricKey:
        stat = "Sum" if self.period_seconds else self.statistic
        return MetricKey(self.namespace, self.metric, tuple(self.dimensions), stat)


class QuotaInventory(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    services: list[str]
    quotas: list[Quota]


class QuotaFamily:
    name: str = "quotas"
    kinds: tuple[str, ...] = (QUOTA_KIND,)

    def __init__(self, quotas: QuotasPort, state: InventoryStatePort) -> None:
        self._quotas = quotas
        self._state = state

    def run(self, ctx: CycleContext) -> FamilyRun:
        rule = ctx.rules.service_quotas
        if not rule.enabled or not rule.services:
            return FamilyResult(signals=[])
        inventory, discovered = load_or_discover(
            self._state, self.name, QuotaInventory, ctx, lambda: self._discover(rule.services)
        )
        if inventory.services != sorted(rule.services):
            # The config changed since the discovery: discover the new services now.
            inventory = self._discover(rule.services)
            self._state.remember_inventory(self.name, inventory.model_dump(mode="json"), at=ctx.now)
            discovered = True
        answers = yield [ctx.ask(quota.key, Stage.FAST) for quota in inventory.quotas]
        signals = []
        for quota in inventory.quotas:
            peak = answers.peak(quota.key, ctx.window)
            if peak <= 0:
                continue
            usage = peak * quota.period_seconds / _MINUTE if quota.period_seconds else peak
            signals.append(
                ctx.signal(
                    QUOTA_KIND,
                    f"{quota.service}/{quota.code}",
                    value=round(usage / quota.value * 100, 4) if quota.value else 100.0,
                    unit="Percent",
                    samples={"usage": usage, "quota": quota.value},
                    context={"quota": f"{quota.name} ({quota.service})"},
                )
            )
        return FamilyResult(signals=signals, resources=len(inventory.quotas), discovered=discovered)

    def _discover(self, services: list[str]) -> QuotaInventory:
        ordered = sorted(services)
        return QuotaInventory(
            services=ordered,
            quotas=[
                Quota(
                    service=found.service,
                    code=found.code,
                    name=found.name,
                    value=found.value,
                    period_seconds=found.period_seconds,
                    namespace=found.namespace,
                    metric=found.metric,
                    dimensions=list(found.dimensions),
                    statistic=found.statistic,
                )
                for service in ordered
                for found in self._quotas.with_usage(service)
            ],
        )
