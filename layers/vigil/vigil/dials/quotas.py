"""Service quotas: usage (mostly the ``AWS/Usage`` namespace) against the applied quota.

Discovery (every ``discovery_minutes``): ``ListServiceQuotas`` for each service code of
``service_quotas.services``; a quota whose answer names a usage metric (``UsageMetric``:
namespace, name, dimensions, recommended statistic) is watched with its applied value. Every
cycle asks each watched quota's usage metric at a 60 s period, one metric per quota: the count
depends on the services chosen, not on the account's resources (docs/architecture.md, ADR 25).

The usage is the window's peak: the highest minute of a ``ResourceCount`` (Maximum), or, for a
rate quota (one with a ``Period``, usage counted by ``CallCount`` sums), the busiest minute's
sum brought to the quota's period (a per-second quota compares the minute's sum / 60).
"""

from dataclasses import asdict
from typing import Protocol

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict

from vigil.dials.base import CycleContext, FamilyResult, FamilyRun, MetricKey, Stage
from vigil.dials.inventory import InventoryStore, load_records
from vigil.dials.resources import QuotaUsage, UnknownService

QUOTA_KIND = "quota.usage"
logger = Logger(child=True)
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


class QuotaFamily:
    name: str = "quotas"
    kinds: tuple[str, ...] = (QUOTA_KIND,)

    def __init__(self, quotas: QuotasPort, state: InventoryStore) -> None:
        self._quotas = quotas
        self._state = state

    def run(self, ctx: CycleContext) -> FamilyRun:
        rule = ctx.rules.service_quotas
        if not rule.enabled or not rule.services:
            return FamilyResult(signals=[])
        found, discovered = load_records(
            ctx, self._state, self.name, Quota, lambda: self._discover(rule.services)
        )
        # A service dropped from the config is dropped now; one added waits for the discovery.
        quotas = [quota for quota in found if quota.service in rule.services]
        answers = yield [ctx.ask(quota.key, Stage.FAST) for quota in quotas]
        signals = []
        for quota in quotas:
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
        return FamilyResult(signals=signals, resources=len(quotas), discovered=discovered)

    def _discover(self, services: list[str]) -> list[Quota]:
        """The watched quotas of every known service; a code Service Quotas does not know is
        logged and skipped, so one mistyped entry does not blind the other dials."""
        found: list[Quota] = []
        for service in sorted(services):
            try:
                usages = self._quotas.with_usage(service)
            except UnknownService as exc:
                logger.warning(str(exc))
                continue
            found += [Quota.model_validate(asdict(usage)) for usage in usages]
        return found
