"""The account's Lambda concurrency limit (``GetAccountSettings``), cached for an hour.

The limit changes only when AWS raises a quota, so one call per cold start and at most one an
hour afterwards is enough. The hour is measured on the scheduled time the caller passes, never
on the wall clock, so a replay asks at the same cycles.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from vigil.adapters.stats import CallStats
from vigil.core.errors import VigilError
from vigil.dials.resources import AccountLimits

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

MAX_AGE = timedelta(hours=1)


class AccountSettingsUnavailable(VigilError):
    """Lambda could not say the account's limits; the cycle fails and the scheduler retries."""


@dataclass
class LimitsCache:
    """What the last ``GetAccountSettings`` said and when; lives as long as the instance."""

    limits: AccountLimits | None = None
    fetched_at: datetime | None = None

    def fresh(self, now: datetime) -> AccountLimits | None:
        if self.limits is None or self.fetched_at is None:
            return None
        # A scheduled time before the last fetch is a replay or a retry: ask again.
        return self.limits if self.fetched_at <= now < self.fetched_at + MAX_AGE else None


class LambdaAccountSettings:
    def __init__(
        self,
        client: "LambdaClient",
        stats: CallStats | None = None,
        cache: LimitsCache | None = None,
    ) -> None:
        self._client = client
        self.stats = stats or CallStats()
        self._cache = cache or LimitsCache()

    def limits(self, now: datetime) -> AccountLimits:
        cached = self._cache.fresh(now)
        if cached is not None:
            return cached
        self.stats.count("GetAccountSettings")
        try:
            limit = self._client.get_account_settings()["AccountLimit"]
        except (ClientError, BotoCoreError) as exc:
            raise AccountSettingsUnavailable(f"GetAccountSettings failed: {exc}") from exc
        limits = AccountLimits(
            concurrent_executions=int(limit.get("ConcurrentExecutions", 0)),
            unreserved_concurrent_executions=int(limit.get("UnreservedConcurrentExecutions", 0)),
        )
        self._cache.limits, self._cache.fetched_at = limits, now
        return limits
