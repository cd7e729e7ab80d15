"""The sentinel's reads of the primary region and its own state (ADR 48): the primary's
collection cycles from CloudWatch (cross-region ``GetMetricData``), every failed read
classified, and the sentinel's state item with an optimistic lock.

The heartbeat is what the primary already publishes: the ``AWS/Lambda`` ``Invocations`` and
``Errors`` of its metrics collector, which runs every collection cycle; a minute with more
invocations than errors is a successful cycle. Nothing is added to the primary stack.
"""

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from vigil.adapters.stats import CallStats
from vigil.adapters.table import conditional_failed
from vigil.core.errors import ConflictError
from vigil.sentinel.watch import Failure, ReadFailure, State

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricDataQueryTypeDef
    from mypy_boto3_dynamodb import DynamoDBClient

# botocore's own lists of throttling codes (botocore/retries/standard.py) plus the 429s.
THROTTLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "SignatureDoesNotMatch",
    }
)
SERVER_CODES = frozenset(
    {"InternalFailure", "InternalServerError", "InternalError", "ServiceUnavailable"}
)


_RECOGNISED = (
    ClientError,
    ConnectTimeoutError,
    ReadTimeoutError,
    EndpointConnectionError,
    ConnectionClosedError,
    NoCredentialsError,
)


def classify(exc: BaseException) -> ReadFailure:
    """What kind of failure a read raised, looking through wrapping exceptions to botocore's
    (the detail is the exception's text, capped)."""
    detail = str(exc)[:300]
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, _RECOGNISED):
        cause = cause.__cause__
    if cause is None:
        return ReadFailure(failure=Failure.OTHER, detail=detail)
    if isinstance(cause, ConnectTimeoutError | ReadTimeoutError):
        return ReadFailure(failure=Failure.TIMEOUT, detail=detail)
    if isinstance(cause, EndpointConnectionError | ConnectionClosedError):
        return ReadFailure(failure=Failure.UNREACHABLE, detail=detail)
    if isinstance(cause, NoCredentialsError):
        return ReadFailure(failure=Failure.ACCESS_DENIED, detail=detail)
    assert isinstance(cause, ClientError)
    code = str(cause.response.get("Error", {}).get("Code", ""))
    status = int(cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if code in THROTTLE_CODES or status == 429:
        kind = Failure.THROTTLED
    elif code in DENIED_CODES or status == 403:
        kind = Failure.ACCESS_DENIED
    elif code in SERVER_CODES or status >= 500:
        kind = Failure.SERVER_ERROR
    else:
        kind = Failure.OTHER
    return ReadFailure(failure=kind, detail=detail)


class PrimaryHeartbeat:
    """The primary's successful collection cycles, read from its region's CloudWatch."""

    def __init__(
        self, client: "CloudWatchClient", function_name: str, stats: CallStats | None = None
    ) -> None:
        self._client = client
        self._function = function_name
        self.stats = stats or CallStats()

    def _query(self, query_id: str, metric: str) -> "MetricDataQueryTypeDef":
        return {
            "Id": query_id,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/Lambda",
                    "MetricName": metric,
                    "Dimensions": [{"Name": "FunctionName", "Value": self._function}],
                },
                "Period": 60,
                "Stat": "Sum",
            },
        }

    def latest(self, now: datetime, lookback: timedelta) -> datetime | None:
        """The start of the latest minute in ``(now - lookback, now]`` with a successful
        cycle, ``None`` if there was none; a failed read raises botocore's exception."""
        self.stats.count("GetMetricData", metrics=2)
        answer = self._client.get_metric_data(
            MetricDataQueries=[
                self._query("invocations", "Invocations"),
                self._query("errors", "Errors"),
            ],
            StartTime=now - lookback,
            EndTime=now,
            ScanBy="TimestampDescending",
        )
        series: dict[str, dict[datetime, float]] = {}
        for result in answer.get("MetricDataResults", []):
            series[result["Id"]] = dict(
                zip(result.get("Timestamps", []), result.get("Values", []), strict=False)
            )
        errors = series.get("errors", {})
        good = [
            at
            for at, count in series.get("invocations", {}).items()
            if count - errors.get(at, 0.0) > 0
        ]
        return max(good) if good else None


class SentinelStateStore:
    """One item per watched primary: pk ``SENTINEL#<region>#<stack>``, the state as JSON and
    a revision that every write checks (two overlapping checks cannot both win)."""

    def __init__(self, client: "DynamoDBClient", table: str, *, region: str, stack: str) -> None:
        self._client = client
        self._table = table
        self._key = f"SENTINEL#{region}#{stack}"

    def get(self) -> tuple[State, int]:
        item: dict[str, Any] = (
            self._client.get_item(
                TableName=self._table, Key={"pk": {"S": self._key}}, ConsistentRead=True
            ).get("Item")
            or {}
        )
        if not item:
            return State(), 0
        return State.model_validate_json(item["state"]["S"]), int(item["revision"]["N"])

    def put(self, state: State, revision: int) -> int:
        """Write ``state`` over ``revision``; :class:`ConflictError` if another write won."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": self._key},
                    "state": {"S": state.model_dump_json()},
                    "revision": {"N": str(revision + 1)},
                },
                ConditionExpression="attribute_not_exists(pk) OR revision = :revision",
                ExpressionAttributeValues={":revision": {"N": str(revision)}},
            )
        except ClientError as exc:
            if conditional_failed(exc):
                raise ConflictError(
                    f"{self._key}: another check wrote revision {revision + 1}"
                ) from exc
            raise
        return revision + 1
