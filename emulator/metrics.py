"""CloudWatch metrics the emulator writes on simulated time.

moto's CloudWatch stores what it is given and answers ``GetMetricData``; nothing emits the
``AWS/Lambda`` metrics Lambda would. :class:`MetricsWriter` writes, for every simulated minute
up to the clock's next step:

* for each **workload** function of the scenario (created in moto as plain functions, so
  ``ListFunctions`` sees them): ``Invocations``, ``Errors`` and ``Throttles``, dimension
  ``FunctionName``, one datapoint per minute timestamped at the minute's start, as
  ``StatisticValues`` shaped like Lambda's (one sample per request: ``Sum`` is the count,
  ``Average`` of ``Errors`` is the error rate). Minutes without traffic get no datapoint, as on
  AWS. Throttled requests are not counted in ``Invocations``, as on AWS.
* the Lambda **dials** of the scenario's phases: each function's ``AsyncEventsDropped``,
  ``DeadLetterErrors``, ``DestinationDeliveryFailures`` and ``ConcurrentExecutions`` (dimension
  ``FunctionName``; reserved concurrency is set when the function is created), and the
  account's ``ConcurrentExecutions`` (the sum of the workloads' ``concurrency``) and
  ``ClaimedAccountConcurrency`` (that plus the scenario's reserved concurrency), without
  dimensions, as Lambda publishes them; minutes with no concurrency get no datapoint.
* ``Duration`` of the workloads whose phase gives ``duration_ms`` (the minute's slowest
  invocation, in milliseconds): per function (dimension ``FunctionName``) and the slowest of
  them for the account (no dimensions); no datapoint for a workload without one, or a minute
  without invocations. With ``typical_duration_ms`` a function's datum carries every
  invocation of the minute (``Values``/``Counts``: one at ``duration_ms``, the others at the
  typical duration). A workload's ``timeout`` is set when it is created.
* for each function of the **stack** the emulator ran: ``Invocations`` and ``Errors`` of the
  runs that happened in that minute (the runtime counts them).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from moto.cloudwatch.models import cloudwatch_backends

from emulator._aws import ACCOUNT_ID, REGION, client
from emulator.scenario import Scenario, Traffic

NAMESPACE = "AWS/Lambda"
_BATCH = 500
_WORKLOAD_ROLE = "emulator-workload-role"
_WORKLOAD_CODE = "def handler(event, context):\n    return {'ok': True}\n"


def floor_minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def _stat(samples: int, total: int, minimum: float, maximum: float) -> dict[str, float]:
    return {
        "SampleCount": float(samples),
        "Sum": float(total),
        "Minimum": minimum,
        "Maximum": maximum,
    }


def lambda_datums(function_name: str, minute: datetime, traffic: Traffic) -> list[dict[str, Any]]:
    """The AWS/Lambda datapoints of one function for one minute."""
    dims = [{"Name": "FunctionName", "Value": function_name}]
    out: list[dict[str, Any]] = []
    inv, err, thr = traffic.invocations, traffic.errors, traffic.throttles
    if inv > 0:
        out.append(
            {
                "MetricName": "Invocations",
                "Dimensions": dims,
                "Timestamp": minute,
                "Unit": "Count",
                "StatisticValues": _stat(inv, inv, 1.0, 1.0),
            }
        )
        out.append(
            {
                "MetricName": "Errors",
                "Dimensions": dims,
                "Timestamp": minute,
                "Unit": "Count",
                "StatisticValues": _stat(
                    inv, err, 0.0 if err < inv else 1.0, 1.0 if err > 0 else 0.0
                ),
            }
        )
    if inv > 0 or thr > 0:
        requests = inv + thr
        out.append(
            {
                "MetricName": "Throttles",
                "Dimensions": dims,
                "Timestamp": minute,
                "Unit": "Count",
                "StatisticValues": _stat(
                    requests, thr, 0.0 if thr < requests else 1.0, 1.0 if thr > 0 else 0.0
                ),
            }
        )
    return out


_ASYNC_METRICS = (
    ("AsyncEventsDropped", "async_dropped"),
    ("DeadLetterErrors", "dead_letter_errors"),
    ("DestinationDeliveryFailures", "destination_failures"),
)


def async_datums(function_name: str, minute: datetime, traffic: Traffic) -> list[dict[str, Any]]:
    """The asynchronous delivery failures of one function for one minute (non-zero only)."""
    dims = [{"Name": "FunctionName", "Value": function_name}]
    return [
        {
            "MetricName": metric,
            "Dimensions": dims,
            "Timestamp": minute,
            "Unit": "Count",
            "Value": float(count),
        }
        for metric, field in _ASYNC_METRICS
        if (count := getattr(traffic, field))
    ]


def function_concurrency_datums(
    function_name: str, minute: datetime, concurrency: int
) -> list[dict[str, Any]]:
    """One function's peak concurrent executions in one minute (none when it is 0)."""
    if concurrency <= 0:
        return []
    return [
        {
            "MetricName": "ConcurrentExecutions",
            "Dimensions": [{"Name": "FunctionName", "Value": function_name}],
            "Timestamp": minute,
            "Unit": "Count",
            "Value": float(concurrency),
        }
    ]


def duration_datums(
    function_name: str | None,
    minute: datetime,
    slowest: int,
    typical: int = 0,
    invocations: int = 0,
) -> list[dict[str, Any]]:
    """The slowest invocation of one minute, of a function or (``None``) of the account; with
    ``typical``, the minute's other invocations too, so that its percentiles can be read."""
    if slowest <= 0:
        return []
    datum: dict[str, Any] = {
        "MetricName": "Duration",
        "Dimensions": [{"Name": "FunctionName", "Value": function_name}] if function_name else [],
        "Timestamp": minute,
        "Unit": "Milliseconds",
    }
    if typical and invocations > 1:
        return [
            {**datum, "Values": [float(typical), float(slowest)], "Counts": [invocations - 1, 1]}
        ]
    return [{**datum, "Value": float(slowest)}]


def concurrency_datums(minute: datetime, concurrent: int, reserved: int) -> list[dict[str, Any]]:
    """The account-level concurrency peaks of one minute (no dimensions)."""
    if concurrent <= 0:
        return []
    return [
        {
            "MetricName": metric,
            "Dimensions": [],
            "Timestamp": minute,
            "Unit": "Count",
            "Value": value,
        }
        for metric, value in (
            ("ConcurrentExecutions", float(concurrent)),
            ("ClaimedAccountConcurrency", float(concurrent + reserved)),
        )
    ]


class MetricsWriter:
    """Writes the metrics of every minute before a given time, once; see the module docstring."""

    def __init__(
        self,
        *,
        start: datetime,
        scenario: Scenario | None = None,
        stack_usage: Callable[[datetime], dict[tuple[str, datetime], dict[str, int]]] | None = None,
        region: str = REGION,
        account: str = ACCOUNT_ID,
        session: boto3.Session | None = None,
    ) -> None:
        """``account`` and a ``session`` of it play another account's workloads (a member of
        an Organization, :mod:`emulator.organization`)."""
        self._scenario = scenario
        self._stack_usage = stack_usage
        self._region = region
        self._account = account
        self._session = session
        self._written_until = floor_minute(start)
        self.datapoints_written = 0

    @property
    def written_until(self) -> datetime:
        return self._written_until

    def _put(self, datums: list[dict[str, Any]]) -> None:
        """``PutMetricData`` straight into moto's CloudWatch backend, with the datums moto's
        request parser would hand it (timestamps naive UTC): a storm writes half a million
        datapoints, and serializing, validating and parsing them as HTTP requests took most
        of its minutes. What moto stores, and answers, is the same."""
        backend = cloudwatch_backends[self._account][self._region]
        backend.put_metric_data(
            NAMESPACE,
            [
                {**datum, "Timestamp": datum["Timestamp"].astimezone(UTC).replace(tzinfo=None)}
                for datum in datums
            ],
        )

    def create_workloads(self) -> list[str]:
        """Create the scenario's workload functions in moto; return their names."""
        if self._scenario is None or not self._scenario.workloads:
            return []
        iam = self._client("iam")
        try:
            role_arn = iam.get_role(RoleName=_WORKLOAD_ROLE)["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            role_arn = iam.create_role(
                RoleName=_WORKLOAD_ROLE,
                AssumeRolePolicyDocument=(
                    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":'
                    '{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
                ),
            )["Role"]["Arn"]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("index.py", _WORKLOAD_CODE)
        lam = self._client("lambda")
        names: list[str] = []
        for workload in self._scenario.workloads:
            lam.create_function(
                FunctionName=workload.function,
                Runtime="python3.13",
                Role=role_arn,
                Handler="index.handler",
                Code={"ZipFile": buffer.getvalue()},
                Description=workload.description or "scenario workload (emulator)",
                **({"Timeout": workload.timeout} if workload.timeout is not None else {}),
            )
            if workload.reserved_concurrency is not None:
                lam.put_function_concurrency(
                    FunctionName=workload.function,
                    ReservedConcurrentExecutions=workload.reserved_concurrency,
                )
            names.append(workload.function)
        return names

    def _client(self, service: str) -> Any:
        if self._session is None:
            return client(service, self._region)
        return self._session.client(service, region_name=self._region)  # type: ignore[call-overload]

    def workload_arns(self) -> list[str]:
        if self._scenario is None:
            return []
        return [
            f"arn:aws:lambda:{self._region}:{self._account}:function:{w.function}"
            for w in self._scenario.workloads
        ]

    def write_until(self, until: datetime) -> int:
        """Write every minute in ``[written_until, floor(until))``; return datapoints written."""
        end = floor_minute(until)
        datums: list[dict[str, Any]] = []
        minute = self._written_until
        scenario = self._scenario
        while minute < end:
            if scenario is not None and scenario.start <= minute < scenario.end:
                offset = minute - scenario.start
                concurrent = slowest = 0
                for workload in scenario.workloads:
                    traffic = workload.traffic(offset, scenario.seed)
                    datums += lambda_datums(workload.function, minute, traffic)
                    datums += async_datums(workload.function, minute, traffic)
                    datums += function_concurrency_datums(
                        workload.function, minute, traffic.concurrency
                    )
                    datums += duration_datums(
                        workload.function,
                        minute,
                        traffic.duration_ms,
                        traffic.typical_duration_ms,
                        traffic.invocations,
                    )
                    concurrent += traffic.concurrency
                    slowest = max(slowest, traffic.duration_ms)
                reserved = scenario.lambda_account.reserved_concurrency
                datums += concurrency_datums(minute, concurrent, reserved)
                datums += duration_datums(None, minute, slowest)
            minute += timedelta(minutes=1)
        if self._stack_usage is not None:
            for (name, at), counts in sorted(self._stack_usage(end).items()):
                datums += lambda_datums(
                    name, at, Traffic(counts["Invocations"], counts["Errors"], 0)
                )[:2]
        for i in range(0, len(datums), _BATCH):
            self._put(datums[i : i + _BATCH])
        self._written_until = max(self._written_until, end)
        self.datapoints_written += len(datums)
        return len(datums)
