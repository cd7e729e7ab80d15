"""CloudWatch Logs subscription filters of Lambda log groups (log-groups mode, ADR 42):
Vigil's filter put where it is missing, behind ``vigil.tracking.subscriptions``."""

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from vigil.adapters.stats import CallStats
from vigil.tracking.subscriptions import Subscription

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient

FILTER_NAME = "vigil-error-stream"
MAX_FILTERS = 2
"""Subscription filters a log group may hold (CloudWatch Logs quotas)."""


class LogSubscriptions:
    def __init__(
        self,
        client: "CloudWatchLogsClient",
        *,
        destination_arn: str,
        pattern: str,
        stats: CallStats | None = None,
    ) -> None:
        self._client = client
        self._destination = destination_arn
        self._pattern = pattern
        self.stats = stats or CallStats()

    def subscribe(self, log_group: str) -> Subscription:
        """Put Vigil's filter on ``log_group`` unless it is there, or there is no room."""
        self.stats.count("DescribeSubscriptionFilters")
        try:
            filters = self._client.describe_subscription_filters(logGroupName=log_group).get(
                "subscriptionFilters", []
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return Subscription.MISSING
            raise
        ours = [f for f in filters if f.get("filterName") == FILTER_NAME]
        if ours and ours[0].get("destinationArn") == self._destination:
            if ours[0].get("filterPattern") == self._pattern:
                return Subscription.SUBSCRIBED
        elif len(filters) >= MAX_FILTERS:
            return Subscription.FULL
        self.stats.count("PutSubscriptionFilter")
        self._client.put_subscription_filter(
            logGroupName=log_group,
            filterName=FILTER_NAME,
            filterPattern=self._pattern,
            destinationArn=self._destination,
            distribution="Random",
        )
        return Subscription.SUBSCRIBED
