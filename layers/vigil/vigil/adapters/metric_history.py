"""The Lambda functions with CloudWatch history to backtest (``ListMetrics``).

Every function with an ``AWS/Lambda`` Invocations, Errors or Throttles metric of its own
(dimension ``FunctionName`` alone). ``ListMetrics`` lists the metrics that received data in
about the last two weeks, so a function deleted since still counts while its history lasts;
it is billed per request ($0.01 per 1,000, 500 metrics a page), not per metric.
"""

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from vigil.adapters.cloudwatch import MetricsUnavailable
from vigil.adapters.stats import CallStats

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

_VOLUME_METRICS = ("Invocations", "Errors", "Throttles")


def functions_with_metrics(client: "CloudWatchClient", stats: CallStats | None = None) -> list[str]:
    """The names of the functions with Lambda volume metrics of their own, sorted."""
    stats = stats or CallStats()
    names: set[str] = set()
    paginator = client.get_paginator("list_metrics")
    try:
        for metric in _VOLUME_METRICS:
            for page in paginator.paginate(Namespace="AWS/Lambda", MetricName=metric):
                stats.count("ListMetrics")
                for item in page.get("Metrics", []):
                    dimensions = item.get("Dimensions", [])
                    if len(dimensions) == 1 and dimensions[0].get("Name") == "FunctionName":
                        names.add(dimensions[0]["Value"])
    except (ClientError, BotoCoreError) as exc:
        raise MetricsUnavailable(f"ListMetrics failed for AWS/Lambda: {exc}") from exc
    return sorted(names)
