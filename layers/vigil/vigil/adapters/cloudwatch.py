"""CloudWatch ``GetMetricData``, batched to its limit of 500 metrics per call.

GetMetricData is billed per metric requested ($0.01 per 1,000), not per call or per data
point, so one call asks for as many metrics as it may and a window is fetched at a 60 s
period and summed here: the same price as one 5-minute datapoint, without depending on how
CloudWatch aligns a coarse period to the window.

With ``account_id`` (a member account of an Organization, ADR 51) every query names that
account (``MetricDataQuery.AccountId``) and ``ListMetrics`` asks for the linked account's
metrics (``IncludeLinkedAccounts``, ``OwningAccount``): the monitoring account reads them
through its CloudWatch cross-account observability sink, with its own credentials.
"""

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from vigil.adapters.stats import CallStats
from vigil.core.errors import VigilError
from vigil.dials.resources import MetricQuery

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricDataQueryTypeDef

MAX_METRICS_PER_CALL = 500
MAX_DATAPOINTS_PER_CALL = 100_800
"""A call returns at most this many datapoints; more would be paged (``NextToken``), and a
page is billed again for every metric it names."""


class MetricsUnavailable(VigilError):
    """CloudWatch could not answer; the cycle fails and the scheduler retries it."""


class CloudWatchMetrics:
    def __init__(
        self,
        client: "CloudWatchClient",
        stats: CallStats | None = None,
        *,
        account_id: str | None = None,
    ) -> None:
        self._client = client
        self.stats = stats or CallStats()
        self._account_id = account_id

    def sums(
        self,
        queries: Sequence[MetricQuery],
        *,
        start: datetime,
        end: datetime,
        period: int = 60,
    ) -> dict[str, float]:
        """The sum of each metric over [start, end); metrics with no data are absent."""
        return {
            query_id: sum(points.values())
            for query_id, points in self.series(
                queries, start=start, end=end, period=period
            ).items()
        }

    def recently_active(self, namespace: str, metric: str) -> list[tuple[tuple[str, str], ...]]:
        """The dimension sets of ``metric`` that received a datapoint in about the last 3 hours.

        ``ListMetrics`` with ``RecentlyActive=PT3H`` is billed per request ($0.01 per 1,000),
        not per metric, and returns up to 500 metrics a page. For a count that its service
        publishes only when it is not zero (DynamoDB's throttle events and system errors), the
        answer is the resources that had any in the last 3 hours.
        """
        found: list[tuple[tuple[str, str], ...]] = []
        linked: dict[str, Any] = (
            {}
            if self._account_id is None
            else {"IncludeLinkedAccounts": True, "OwningAccount": self._account_id}
        )
        pages = self._client.get_paginator("list_metrics").paginate(
            Namespace=namespace, MetricName=metric, RecentlyActive="PT3H", **linked
        )
        try:
            for page in pages:
                self.stats.count("ListMetrics")
                found += [
                    tuple(sorted((d["Name"], d["Value"]) for d in item.get("Dimensions", [])))
                    for item in page.get("Metrics", [])
                ]
        except (ClientError, BotoCoreError) as exc:
            raise MetricsUnavailable(f"ListMetrics failed for {namespace} {metric}: {exc}") from exc
        return sorted(set(found))

    def series(
        self,
        queries: Sequence[MetricQuery],
        *,
        start: datetime,
        end: datetime,
        period: int = 60,
    ) -> dict[str, dict[datetime, float]]:
        """Each metric's datapoints over [start, end) by timestamp; no data, no entry."""
        found: dict[str, dict[datetime, float]] = {}
        span = max(int((end - start).total_seconds()) // period, 1)
        per_call = max(min(MAX_METRICS_PER_CALL, MAX_DATAPOINTS_PER_CALL // span), 1)
        for chunk in _chunks(queries, per_call):
            request: list[MetricDataQueryTypeDef] = [
                {
                    "Id": query.id,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": query.namespace,
                            "MetricName": query.metric,
                            "Dimensions": [{"Name": n, "Value": v} for n, v in query.dimensions],
                        },
                        "Period": period,
                        "Stat": query.stat,
                    },
                    "ReturnData": True,
                }
                for query in chunk
            ]
            if self._account_id:
                for entry in request:
                    entry["AccountId"] = self._account_id
            pages = self._client.get_paginator("get_metric_data").paginate(
                MetricDataQueries=request, StartTime=start, EndTime=end
            )
            try:
                for page_number, page in enumerate(pages):
                    # Billing counts the metrics a request names, once per query.
                    self.stats.count("GetMetricData", len(request) if page_number == 0 else 0)
                    for result in page["MetricDataResults"]:
                        points = found.setdefault(result["Id"], {})
                        for at, value in zip(
                            result.get("Timestamps", []), result.get("Values", []), strict=True
                        ):
                            points[at] = points.get(at, 0.0) + value
            except (ClientError, BotoCoreError) as exc:
                raise MetricsUnavailable(f"GetMetricData failed: {exc}") from exc
        return {query_id: points for query_id, points in found.items() if points}


def _chunks(items: Sequence[MetricQuery], size: int) -> Iterator[Sequence[MetricQuery]]:
    for index in range(0, len(items), size):
        yield items[index : index + size]
