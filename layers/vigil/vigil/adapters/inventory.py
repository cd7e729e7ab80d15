"""Discovery of the edge dials' resources: S3 buckets and their request-metrics filters, Step
Functions state machines, API Gateway REST and HTTP APIs, service quotas with a usage metric,
Lambda on-failure destinations and reserved concurrency, and resource tags
(docs/architecture.md, ADR 25).

Each reader is one small adapter over an injected boto3 client; every request is counted in
``CallStats`` and every ``ClientError`` or connection error becomes :class:`InventoryUnavailable`
naming the API, so a failed discovery fails the cycle (the scheduler retries it) instead of
storing a half inventory.
"""

from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from vigil.adapters.paging import counted_pages
from vigil.adapters.stats import CallStats
from vigil.core.errors import VigilError
from vigil.dials.resources import MetricsFilter, NamedResource, QuotaUsage, UnknownService

if TYPE_CHECKING:
    from mypy_boto3_apigateway import APIGatewayClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

# No type stubs are installed for these three clients; they are typed ``Any``.
ApiGatewayV2Client = Any
ResourceGroupsTaggingAPIClient = Any
ServiceQuotasClient = Any

T = TypeVar("T")
# The largest pages each API allows.
_S3_PAGE = 10_000
_REST_PAGE = 500
_TAGS_PAGE = 100
_QUOTAS_PAGE = 100
# The resource types whose tags the tag filters apply to (Resource Groups Tagging API names).
TAGGED_TYPES = (
    "lambda:function",
    "sqs",
    "s3",
    "states:stateMachine",
    "dynamodb:table",
    "kinesis:stream",
)


class InventoryUnavailable(VigilError):
    """An AWS listing failed; the cycle fails and the scheduler retries it."""


def _guard[T](api: str, stats: CallStats, call: Callable[[], T]) -> T:
    stats.count(api)
    try:
        return call()
    except (ClientError, BotoCoreError) as exc:
        raise InventoryUnavailable(f"{api} failed: {exc}") from exc


def _pages(api: str, stats: CallStats, pages: Iterable[Any]) -> Iterator[Any]:
    return counted_pages(pages, api=api, stats=stats, failed=InventoryUnavailable)


class S3Buckets:
    def __init__(self, client: "S3Client", region: str, stats: CallStats | None = None) -> None:
        self._client = client
        self._region = region
        self.stats = stats or CallStats()

    def names(self) -> list[str]:
        """The buckets of this region (``ListBuckets`` with ``BucketRegion``)."""
        pages = self._client.get_paginator("list_buckets").paginate(
            BucketRegion=self._region, PaginationConfig={"PageSize": _S3_PAGE}
        )
        return [
            bucket["Name"]
            for page in _pages("ListBuckets", self.stats, pages)
            for bucket in page.get("Buckets", [])
        ]

    def metrics_filters(self, bucket: str) -> list[MetricsFilter]:
        """The bucket's request-metrics configurations (``ListBucketMetricsConfigurations``)."""
        found: list[MetricsFilter] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": bucket}
            if token:
                kwargs["ContinuationToken"] = token
            page = _guard(
                "ListBucketMetricsConfigurations",
                self.stats,
                partial(self._client.list_bucket_metrics_configurations, **kwargs),
            )
            found += [
                MetricsFilter(id=item["Id"], whole_bucket="Filter" not in item)
                for item in page.get("MetricsConfigurationList", [])
            ]
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return found


class StateMachines:
    def __init__(self, client: "SFNClient", stats: CallStats | None = None) -> None:
        self._client = client
        self.stats = stats or CallStats()

    def list(self) -> list[NamedResource]:
        """Every state machine of the region: its ARN (the metrics' dimension) and name."""
        pages = self._client.get_paginator("list_state_machines").paginate(
            PaginationConfig={"PageSize": 1000}
        )
        return [
            NamedResource(id=item["stateMachineArn"], name=item["name"], tags={})
            for page in _pages("ListStateMachines", self.stats, pages)
            for item in page.get("stateMachines", [])
        ]


class RestApis:
    def __init__(self, client: "APIGatewayClient", stats: CallStats | None = None) -> None:
        self._client = client
        self.stats = stats or CallStats()

    def list(self) -> list[NamedResource]:
        """Every REST API (``GET /restapis``) with its tags, which the listing carries."""
        pages = self._client.get_paginator("get_rest_apis").paginate(
            PaginationConfig={"PageSize": _REST_PAGE}
        )
        return [
            NamedResource(id=item["id"], name=item["name"], tags=dict(item.get("tags", {})))
            for page in _pages("GetRestApis", self.stats, pages)
            for item in page.get("items", [])
        ]


class HttpApis:
    def __init__(self, client: ApiGatewayV2Client, stats: CallStats | None = None) -> None:
        self._client = client
        self.stats = stats or CallStats()

    def list(self) -> list[NamedResource]:
        """Every HTTP API (``GET /v2/apis``; WebSocket APIs left out) with its tags."""
        pages = self._client.get_paginator("get_apis").paginate()
        return [
            NamedResource(id=item["ApiId"], name=item["Name"], tags=dict(item.get("Tags", {})))
            for page in _pages("GetApis", self.stats, pages)
            for item in page.get("Items", [])
            if item.get("ProtocolType") == "HTTP"
        ]


_PERIOD_SECONDS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400, "WEEK": 604800}


class ServiceQuotas:
    def __init__(self, client: ServiceQuotasClient, stats: CallStats | None = None) -> None:
        self._client = client
        self.stats = stats or CallStats()

    def with_usage(self, service: str) -> list[QuotaUsage]:
        """The applied quotas of ``service`` that name a usage metric (``ListServiceQuotas``).

        A rate quota (one with a ``Period``) keeps its period, so that a per-minute usage sum
        can be brought to it; a quota with a sub-second period is left out.
        """
        pages = self._client.get_paginator("list_service_quotas").paginate(
            ServiceCode=service, PaginationConfig={"PageSize": _QUOTAS_PAGE}
        )
        found: list[QuotaUsage] = []
        try:
            listed = [
                quota
                for page in _pages("ListServiceQuotas", self.stats, pages)
                for quota in page.get("Quotas", [])
            ]
        except InventoryUnavailable as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and (
                cause.response.get("Error", {}).get("Code") == "NoSuchResourceException"
            ):
                raise UnknownService(
                    f"service_quotas.services: Service Quotas has no service {service!r}"
                ) from cause
            raise
        for quota in listed:
            usage = quota.get("UsageMetric") or {}
            period = quota.get("Period") or {}
            if not usage.get("MetricName") or "Value" not in quota:
                continue
            if period and period.get("PeriodUnit") not in _PERIOD_SECONDS:
                continue
            found.append(
                QuotaUsage(
                    service=service,
                    code=quota["QuotaCode"],
                    name=quota.get("QuotaName", quota["QuotaCode"]),
                    value=float(quota["Value"]),
                    period_seconds=(
                        _PERIOD_SECONDS[period["PeriodUnit"]] * int(period.get("PeriodValue", 1))
                        if period
                        else None
                    ),
                    namespace=usage.get("MetricNamespace", "AWS/Usage"),
                    metric=usage["MetricName"],
                    dimensions=tuple(sorted(usage.get("MetricDimensions", {}).items())),
                    statistic=usage.get("MetricStatisticRecommendation", "Maximum"),
                )
            )
        return found


class LambdaDestinations:
    """The on-failure destinations of Lambda functions and event source mappings, and which
    functions an event source mapping invokes."""

    def __init__(self, client: "LambdaClient", stats: CallStats | None = None) -> None:
        self._client = client
        self.stats = stats or CallStats()
        self._mappings: list[Any] | None = None

    def function_destinations(self, functions: Iterable[str]) -> dict[str, set[str]]:
        """Each function's asynchronous ``OnFailure`` destinations, with its versions' and
        aliases' (``ListFunctionEventInvokeConfigs``, one request per function: the function
        listing does not carry them); a function with none maps to an empty set."""
        found: dict[str, set[str]] = {}
        for name in functions:
            self.stats.count("ListFunctionEventInvokeConfigs")
            try:
                answer = self._client.list_function_event_invoke_configs(
                    FunctionName=name, MaxItems=50
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                    continue  # deleted since it was listed
                raise InventoryUnavailable(f"ListFunctionEventInvokeConfigs failed: {exc}") from exc
            except BotoCoreError as exc:
                raise InventoryUnavailable(f"ListFunctionEventInvokeConfigs failed: {exc}") from exc
            # Up to 50 configs: the unqualified function, its versions and aliases.
            configs = answer.get("FunctionEventInvokeConfigs", [])
            found[name] = {arn for config in configs if (arn := _on_failure(config))}
        return found

    def mapping_destinations(self) -> set[str]:
        """Every event source mapping's ``OnFailure`` destination (``ListEventSourceMappings``)."""
        return {arn for mapping in self._event_source_mappings() if (arn := _on_failure(mapping))}

    def mapped_functions(self) -> set[str]:
        """The functions an event source mapping invokes (SQS, Kinesis, DynamoDB Streams, Kafka,
        MQ, DocumentDB): by name, whatever version or alias the mapping names."""
        return {
            str(mapping["FunctionArn"]).partition(":function:")[2].split(":")[0]
            for mapping in self._event_source_mappings()
            if mapping.get("FunctionArn")
        }

    def _event_source_mappings(self) -> list[Any]:
        """The account's mappings, listed once (100 a page) for both questions."""
        if self._mappings is None:
            pages = self._client.get_paginator("list_event_source_mappings").paginate()
            self._mappings = [
                mapping
                for page in _pages("ListEventSourceMappings", self.stats, pages)
                for mapping in page.get("EventSourceMappings", [])
            ]
        return self._mappings


class LambdaReservations:
    """The reserved concurrency of Lambda functions."""

    def __init__(self, client: "LambdaClient", stats: CallStats | None = None) -> None:
        self._client = client
        self.stats = stats or CallStats()

    def reserved(self, functions: Iterable[str]) -> dict[str, int]:
        """The ``ReservedConcurrentExecutions`` of each function that has a reservation
        (``GetFunctionConcurrency``, one request per function: ``ListFunctions`` does not carry
        it); a function without one, or deleted since it was listed, is absent. A reservation of
        0 is kept: the function is switched off."""
        found: dict[str, int] = {}
        for name in functions:
            self.stats.count("GetFunctionConcurrency")
            try:
                answer = self._client.get_function_concurrency(FunctionName=name)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                    continue
                raise InventoryUnavailable(f"GetFunctionConcurrency failed: {exc}") from exc
            except BotoCoreError as exc:
                raise InventoryUnavailable(f"GetFunctionConcurrency failed: {exc}") from exc
            reserved = answer.get("ReservedConcurrentExecutions")
            if reserved is not None:  # AWS leaves it out when there is none
                found[name] = int(reserved)
        return found


def _on_failure(config: Any) -> str:
    return str(config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination", ""))


class ResourceTags:
    def __init__(
        self, client: ResourceGroupsTaggingAPIClient, stats: CallStats | None = None
    ) -> None:
        self._client = client
        self.stats = stats or CallStats()

    def by_arn(self) -> dict[str, dict[str, str]]:
        """The tags of every tagged resource of :data:`TAGGED_TYPES` in the region, by ARN
        (``GetResources``, 100 a page); an untagged resource is absent."""
        pages = self._client.get_paginator("get_resources").paginate(
            ResourceTypeFilters=list(TAGGED_TYPES), ResourcesPerPage=_TAGS_PAGE
        )
        return {
            item["ResourceARN"]: {tag["Key"]: tag["Value"] for tag in item.get("Tags", [])}
            for page in _pages("GetResources", self.stats, pages)
            for item in page.get("ResourceTagMappingList", [])
        }
