"""The edge dials' resources in the emulator: S3 buckets with request metrics, Step Functions
state machines, API Gateway APIs and service quotas, their CloudWatch metrics, and fakes for the
two listings moto does not answer.

Scenario section (all lists optional; offsets and phases as in workloads)::

    edge:
      buckets:
        - name: media-uploads
          tags: {team: media}
          objects: 2500000               # NumberOfObjects, the daily storage metric
          request_metrics_from: 20m      # a whole-bucket request-metrics configuration
                                         # ("EntireBucket") exists from this offset; none: never
          phases:                        # AllRequests, 5xxErrors, FirstByteLatency per minute
            - {from: 0m, to: 40m, requests_per_minute: 1200, latency_ms: 40}
            - {from: 40m, to: 55m, requests_per_minute: 1200, errors_5xx_per_minute: 96,
               latency_ms: 240}
      state_machines:
        - name: order-flow
          phases: [{from: 10m, to: 20m, started_per_minute: 20, failed_per_minute: 1,
                    timed_out_per_minute: 0, throttled_per_minute: 2, aborted_per_minute: 0}]
      apis:
        - {name: orders-api, type: rest,     # rest: AWS/ApiGateway 5XXError, 4XXError,
                                             # Count and Latency (one value a minute) by
                                             # ApiName
           phases: [{from: 0m, requests_per_minute: 2000, errors_5xx_per_minute: 0,
                     errors_4xx_per_minute: 0, latency_ms: 80}]}
        - {name: search-http, type: http}    # http: 5xx, 4xx and Count by ApiId
      service_quotas:
        - service: lambda
          code: L-B99A9384
          name: Concurrent executions
          value: 1000
          metric: ResourceCount              # AWS/Usage metric; CallCount for rate quotas
          dimensions: {Service: Lambda, Type: Resource, Resource: ConcurrentExecutions,
                       Class: None}
          period: null                       # SECOND or MINUTE for a rate quota
          phases: [{from: 0m, usage: 500}]   # usage per minute's peak (per period for rates)

moto creates the buckets, state machines and APIs (with their tags). It stores no S3 metrics
configuration it can list and has no Service Quotas ``ListServiceQuotas``: while
:meth:`EdgeDriver.installed` is active, ``GET /?metrics`` on a bucket is answered from the
scenario (through :func:`emulator._aws.rest_service`) and ``ListServiceQuotas`` from its
``service_quotas`` (through :func:`emulator._aws.json_service`); everything else reaches moto.
For every simulated minute the driver writes the ``AWS/S3`` request metrics of a bucket whose
configuration exists then, ``AWS/States`` execution metrics, ``AWS/ApiGateway`` metrics and
``AWS/Usage`` usage, and once, at creation, each bucket's ``NumberOfObjects`` for the day before
the scenario.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from emulator._aws import ACCOUNT_ID, REGION, JsonAnswer, client, json_service, rest_service
from emulator.clock import parse_duration
from emulator.errors import ScenarioError

_S3_METRICS = re.compile(r"^https://([a-z0-9.-]+)\.s3\.amazonaws\.com/\?metrics(&.*)?$")
_QUOTAS_URL = re.compile(r"^https://servicequotas\.[a-z0-9-]+\.amazonaws\.com/?$")
_LIST_QUOTAS = "ServiceQuotasV20190624.ListServiceQuotas"
_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/emulator-workflow-role"
_PASS = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
_BATCH = 500


def _duration(value: object) -> timedelta:
    try:
        return parse_duration(value, "offset")
    except ScenarioError as exc:
        raise ValueError(str(exc)) from None


Offset = Annotated[timedelta, BeforeValidator(_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _Phase(_Strict):
    start: Offset = Field(alias="from", default=timedelta(0))
    end: Offset | None = Field(alias="to", default=None)

    def covers(self, offset: timedelta) -> bool:
        return self.start <= offset and (self.end is None or offset < self.end)


class BucketPhase(_Phase):
    requests_per_minute: int = Field(default=0, ge=0)
    errors_5xx_per_minute: int = Field(default=0, ge=0)
    latency_ms: float = Field(default=0, ge=0)


class StateMachinePhase(_Phase):
    started_per_minute: int = Field(default=0, ge=0)
    failed_per_minute: int = Field(default=0, ge=0)
    timed_out_per_minute: int = Field(default=0, ge=0)
    throttled_per_minute: int = Field(default=0, ge=0)
    aborted_per_minute: int = Field(default=0, ge=0)


class ApiPhase(_Phase):
    requests_per_minute: int = Field(default=0, ge=0)
    errors_5xx_per_minute: int = Field(default=0, ge=0)
    errors_4xx_per_minute: int = Field(default=0, ge=0)
    latency_ms: float = Field(default=0, ge=0)


class QuotaPhase(_Phase):
    usage: float = Field(ge=0)


def _phase[P: _Phase](phases: list[P], offset: timedelta) -> P | None:
    return next((phase for phase in phases if phase.covers(offset)), None)


class BucketSpec(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    tags: dict[str, str] = Field(default_factory=dict)
    objects: int | None = Field(default=None, ge=0)
    request_metrics_from: Offset | None = None
    phases: list[BucketPhase] = Field(default_factory=list)


class StateMachineSpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,80}$")
    tags: dict[str, str] = Field(default_factory=dict)
    phases: list[StateMachinePhase] = Field(default_factory=list)


class ApiSpec(_Strict):
    name: str = Field(min_length=1, max_length=128)
    type: Literal["rest", "http"]
    tags: dict[str, str] = Field(default_factory=dict)
    phases: list[ApiPhase] = Field(default_factory=list)


class QuotaSpec(_Strict):
    service: str = Field(pattern=r"^[a-z0-9-]{2,63}$")
    code: str = Field(pattern=r"^L-[A-Z0-9]{8}$")
    name: str = Field(min_length=1)
    value: float = Field(gt=0)
    metric: Literal["ResourceCount", "CallCount"]
    dimensions: dict[str, str]
    statistic: Literal["Maximum", "Sum"] = "Maximum"
    period: Literal["SECOND", "MINUTE"] | None = None
    phases: list[QuotaPhase] = Field(default_factory=list)


class EdgeScenario(_Strict):
    buckets: list[BucketSpec] = Field(default_factory=list)
    state_machines: list[StateMachineSpec] = Field(default_factory=list)
    apis: list[ApiSpec] = Field(default_factory=list)
    service_quotas: list[QuotaSpec] = Field(default_factory=list)


def parse_edge(document: object) -> EdgeScenario:
    """Validate a scenario's ``edge:`` section (empty if absent)."""
    if document is None:
        return EdgeScenario()
    try:
        return EdgeScenario.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            "edge." + ".".join(str(part) for part in err["loc"]) + f": {err['msg']}"
            for err in exc.errors()
        )
        raise ScenarioError(problems) from None


def _datum(
    metric: str, dimensions: dict[str, str], at: datetime, value: float, unit: str = "Count"
) -> dict[str, Any]:
    return {
        "MetricName": metric,
        "Dimensions": [{"Name": name, "Value": text} for name, text in dimensions.items()],
        "Timestamp": at,
        "Unit": unit,
        "Value": float(value),
    }


def _period(quota: QuotaSpec) -> dict[str, Any]:
    return {"Period": {"PeriodValue": 1, "PeriodUnit": quota.period}} if quota.period else {}


class EdgeDriver:
    """Creates the scenario's edge resources, writes their metrics, answers the two listings
    moto lacks; see the module docstring. ``calls`` counts the answered listings by API."""

    def __init__(
        self,
        *,
        start: datetime,
        scenario: EdgeScenario,
        now: Callable[[], datetime],
        region: str = REGION,
    ) -> None:
        self._edge = scenario
        self._start = start.replace(second=0, microsecond=0)
        self._now = now
        self._region = region
        self._written_until = self._start
        self.http_api_ids: dict[str, str] = {}
        self.calls: dict[str, int] = {}

    # ------------------------------------------------------------------ resources
    def create_resources(self) -> None:
        s3 = client("s3", self._region)
        cloudwatch = client("cloudwatch", self._region)
        for bucket in self._edge.buckets:
            s3.create_bucket(Bucket=bucket.name)
            if bucket.tags:
                s3.put_bucket_tagging(
                    Bucket=bucket.name,
                    Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in bucket.tags.items()]},
                )
            if bucket.objects is not None:
                day = self._start.replace(hour=0, minute=0) - timedelta(days=1)
                dimensions = {"BucketName": bucket.name, "StorageType": "AllStorageTypes"}
                cloudwatch.put_metric_data(
                    Namespace="AWS/S3",
                    MetricData=[_datum("NumberOfObjects", dimensions, day, bucket.objects)],
                )
        sfn = client("stepfunctions", self._region)
        for machine in self._edge.state_machines:
            sfn.create_state_machine(
                name=machine.name,
                definition=_PASS,
                roleArn=_ROLE,
                tags=[{"key": k, "value": v} for k, v in machine.tags.items()],
            )
        rest, http = client("apigateway", self._region), client("apigatewayv2", self._region)
        for api in self._edge.apis:
            if api.type == "rest":
                rest.create_rest_api(name=api.name, tags=api.tags)
            else:
                created = http.create_api(Name=api.name, ProtocolType="HTTP", Tags=api.tags)
                self.http_api_ids[api.name] = created["ApiId"]

    # ------------------------------------------------------------------ metrics
    def write_until(self, until: datetime) -> int:
        """Write every minute in ``[written_until, floor(until))``; return datapoints written."""
        end = until.replace(second=0, microsecond=0)
        by_namespace: dict[str, list[dict[str, Any]]] = {}
        minute = self._written_until
        while minute < end:
            offset = minute - self._start
            for namespace, datums in self._minute(minute, offset):
                by_namespace.setdefault(namespace, []).extend(datums)
            minute += timedelta(minutes=1)
        cloudwatch = client("cloudwatch", self._region)
        written = 0
        for namespace, datums in by_namespace.items():
            for index in range(0, len(datums), _BATCH):
                cloudwatch.put_metric_data(
                    Namespace=namespace, MetricData=datums[index : index + _BATCH]
                )
            written += len(datums)
        self._written_until = max(self._written_until, end)
        return written

    def _minute(
        self, minute: datetime, offset: timedelta
    ) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        for bucket in self._edge.buckets:
            phase = _phase(bucket.phases, offset)
            configured = self._configured(bucket, offset)
            if phase is None or not configured or not phase.requests_per_minute:
                continue
            dims = {"BucketName": bucket.name, "FilterId": "EntireBucket"}
            yield (
                "AWS/S3",
                [
                    _datum("AllRequests", dims, minute, phase.requests_per_minute),
                    _datum("5xxErrors", dims, minute, phase.errors_5xx_per_minute),
                    _datum("FirstByteLatency", dims, minute, phase.latency_ms, "Milliseconds"),
                    _datum("TotalRequestLatency", dims, minute, phase.latency_ms, "Milliseconds"),
                ],
            )
        for machine in self._edge.state_machines:
            sphase = _phase(machine.phases, offset)
            if sphase is None:
                continue
            arn = f"arn:aws:states:{self._region}:{ACCOUNT_ID}:stateMachine:{machine.name}"
            dims = {"StateMachineArn": arn}
            counts = {
                "ExecutionsStarted": sphase.started_per_minute,
                "ExecutionsFailed": sphase.failed_per_minute,
                "ExecutionsTimedOut": sphase.timed_out_per_minute,
                "ExecutionThrottled": sphase.throttled_per_minute,
                "ExecutionsAborted": sphase.aborted_per_minute,
            }
            yield "AWS/States", [_datum(m, dims, minute, n) for m, n in counts.items() if n]
        for api in self._edge.apis:
            aphase = _phase(api.phases, offset)
            if aphase is None or not aphase.requests_per_minute:
                continue
            if api.type == "rest":
                dims, errors, refused = {"ApiName": api.name}, "5XXError", "4XXError"
            else:
                dims, errors, refused = {"ApiId": self.http_api_ids[api.name]}, "5xx", "4xx"
            yield (
                "AWS/ApiGateway",
                [
                    _datum("Count", dims, minute, aphase.requests_per_minute),
                    _datum(errors, dims, minute, aphase.errors_5xx_per_minute),
                    _datum(refused, dims, minute, aphase.errors_4xx_per_minute),
                    *(
                        [_datum("Latency", dims, minute, aphase.latency_ms, "Milliseconds")]
                        if aphase.latency_ms
                        else []
                    ),
                ],
            )
        for quota in self._edge.service_quotas:
            qphase = _phase(quota.phases, offset)
            if qphase is None or not qphase.usage:
                continue
            # A rate quota's usage is given per its period; CallCount is a per-minute sum.
            per_minute = {"SECOND": 60, "MINUTE": 1}.get(quota.period or "", 1)
            value = qphase.usage * per_minute
            yield "AWS/Usage", [_datum(quota.metric, quota.dimensions, minute, value, "None")]

    def _configured(self, bucket: BucketSpec, offset: timedelta) -> bool:
        return bucket.request_metrics_from is not None and offset >= bucket.request_metrics_from

    # ------------------------------------------------------------------ fakes
    def list_metrics_configurations(self, bucket: str) -> JsonAnswer:
        """``ListBucketMetricsConfigurations`` as S3 answers it (XML), from the scenario."""
        self._count("ListBucketMetricsConfigurations")
        spec = next((b for b in self._edge.buckets if b.name == bucket), None)
        configured = spec is not None and self._configured(spec, self._now() - self._start)
        entries = (
            "<MetricsConfiguration><Id>EntireBucket</Id></MetricsConfiguration>"
            if configured
            else ""
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<ListMetricsConfigurationsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<IsTruncated>false</IsTruncated>{entries}</ListMetricsConfigurationsResult>"
        )
        return 200, {"Content-Type": "application/xml"}, body

    def list_service_quotas(self, body: dict[str, Any]) -> JsonAnswer:
        """``ListServiceQuotas`` for one service code, one page, from the scenario."""
        self._count("ListServiceQuotas")
        service = str(body.get("ServiceCode", ""))
        quotas = [
            {
                "ServiceCode": quota.service,
                "ServiceName": quota.service,
                "QuotaArn": (
                    f"arn:aws:servicequotas:{self._region}:{ACCOUNT_ID}:"
                    f"{quota.service}/{quota.code}"
                ),
                "QuotaCode": quota.code,
                "QuotaName": quota.name,
                "Value": quota.value,
                "Unit": "None",
                "Adjustable": True,
                "GlobalQuota": False,
                "UsageMetric": {
                    "MetricNamespace": "AWS/Usage",
                    "MetricName": quota.metric,
                    "MetricDimensions": quota.dimensions,
                    "MetricStatisticRecommendation": quota.statistic,
                },
                **_period(quota),
            }
            for quota in self._edge.service_quotas
            if quota.service == service
        ]
        return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps({"Quotas": quotas})

    def _count(self, api: str) -> None:
        self.calls[api] = self.calls.get(api, 0) + 1

    @contextlib.contextmanager
    def installed(self) -> Iterator[EdgeDriver]:
        def s3_matches(method: str, url: str) -> re.Match[str] | None:
            match = _S3_METRICS.match(url)
            # GET /?metrics&id=... is GetBucketMetricsConfiguration: moto's business.
            if method != "GET" or match is None or "id=" in (match.group(2) or ""):
                return None
            return match

        def s3_answer(match: re.Match[str], _body: dict[str, Any]) -> JsonAnswer:
            return self.list_metrics_configurations(match.group(1))

        def quotas_answer(_match: Any, target: str, body: dict[str, Any]) -> JsonAnswer:
            if target != _LIST_QUOTAS:
                message = (
                    "the emulator's Service Quotas fake answers ListServiceQuotas only,"
                    f" not {target}"
                )
                error = {"__type": "UnknownOperationException", "message": message}
                return 400, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(error)
            return self.list_service_quotas(body)

        with (
            rest_service(s3_matches, s3_answer),
            json_service(_QUOTAS_URL.match, quotas_answer),
        ):
            yield self
