"""The scenario's DynamoDB tables and Kinesis streams in moto, and the metrics AWS would publish.

moto implements the tables, streams, auto scaling targets and event source mappings, but
publishes no ``AWS/DynamoDB``, ``AWS/Kinesis`` or ``IteratorAge`` metrics. :class:`DataDriver`
creates the resources of the scenario's ``tables:`` and ``streams:`` sections, then writes, for
every simulated minute up to the clock's next step, once, what the phases covering that minute
add up to:

* DynamoDB: ``ConsumedRead/WriteCapacityUnits`` (Sum, the minute's units) of the table or of the
  phase's ``index``; ``ReadThrottleEvents``, ``WriteThrottleEvents`` and ``SystemErrors``
  (operation ``PutItem``) only for minutes that have some, as DynamoDB publishes them; the
  ``IteratorAge`` (ms) of the table stream's ``consumer`` function;
* Kinesis: ``IncomingBytes`` and ``IncomingRecords`` (Sum), ``WriteProvisionedThroughputExceeded``
  when not zero, and ``GetRecords.IteratorAgeMilliseconds`` (Maximum).

Scenario sections::

    tables:
      - name: orders
        billing: provisioned             # or on_demand
        read_capacity: 100               # provisioned units (table)
        write_capacity: 50
        autoscaling: {write_max: 200}    # a scalable target from the units to this maximum
        indexes: [{name: by-customer, read_capacity: 20, write_capacity: 20}]
        consumer: orders-projector       # a workload function reading the table's stream
        phases:
          - {from: 0m, read_per_second: 20, write_per_second: 10}
          - {from: 20m, to: 35m, write_per_second: 35, write_throttles_per_minute: 40}
          - {from: 10m, to: 20m, index: by-customer, read_per_second: 17}
    streams:
      - name: clicks
        shards: 2                        # or mode: on_demand
        retention_hours: 24
        phases:
          - {from: 0m, bytes_per_second: 524288, records_per_second: 500}
          - {from: 25m, to: 40m, write_throttles_per_minute: 300, iterator_age_seconds: 25200}

Phases may overlap: the values of every phase covering a minute add up.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from emulator._aws import REGION, client
from emulator.errors import ScenarioError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _offset(value: object) -> object:
    """``20m``, ``1h30m`` or a number of minutes, as a scenario writes offsets."""
    if isinstance(value, int) and not isinstance(value, bool):
        return timedelta(minutes=value)
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m?)?\s*", value)
        if match and any(match.groups()):
            return timedelta(hours=int(match.group(1) or 0), minutes=int(match.group(2) or 0))
    raise ValueError(f"expected an offset such as 20m or 1h30m, got {value!r}")


Offset = Annotated[timedelta, BeforeValidator(_offset)]


class _Span(_Strict):
    start: Offset = Field(alias="from")
    end: Offset | None = Field(default=None, alias="to")

    def covers(self, offset: timedelta) -> bool:
        return self.start <= offset and (self.end is None or offset < self.end)


class TablePhase(_Span):
    index: str | None = None
    read_per_second: float = Field(default=0, ge=0)
    write_per_second: float = Field(default=0, ge=0)
    read_throttles_per_minute: int = Field(default=0, ge=0)
    write_throttles_per_minute: int = Field(default=0, ge=0)
    system_errors_per_minute: int = Field(default=0, ge=0)
    consumer_iterator_age_seconds: float = Field(default=0, ge=0)


class IndexSpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{3,255}$")
    read_capacity: int = Field(default=5, ge=1)
    write_capacity: int = Field(default=5, ge=1)


class AutoScaling(_Strict):
    read_max: int | None = Field(default=None, ge=1)
    write_max: int | None = Field(default=None, ge=1)


class TableSpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{3,255}$")
    billing: Literal["provisioned", "on_demand"] = "provisioned"
    read_capacity: int = Field(default=5, ge=1)
    write_capacity: int = Field(default=5, ge=1)
    autoscaling: AutoScaling | None = None
    indexes: list[IndexSpec] = Field(default_factory=list)
    consumer: str | None = None
    phases: list[TablePhase] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known_indexes(self) -> TableSpec:
        names = {index.name for index in self.indexes}
        for number, phase in enumerate(self.phases):
            if phase.index is not None and phase.index not in names:
                raise ValueError(f"phases[{number}].index: {phase.index} is not an index listed")
        return self


class StreamPhase(_Span):
    bytes_per_second: float = Field(default=0, ge=0)
    records_per_second: float = Field(default=0, ge=0)
    write_throttles_per_minute: int = Field(default=0, ge=0)
    iterator_age_seconds: float = Field(default=0, ge=0)


class StreamSpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,128}$")
    mode: Literal["provisioned", "on_demand"] = "provisioned"
    shards: int = Field(default=1, ge=1, le=500)
    retention_hours: int = Field(default=24, ge=24, le=8760)
    phases: list[StreamPhase] = Field(default_factory=list)


class DataSpec(_Strict):
    tables: list[TableSpec] = Field(default_factory=list)
    streams: list[StreamSpec] = Field(default_factory=list)


def parse_data(tables: object, streams: object, *, workloads: set[str]) -> DataSpec:
    """The ``tables`` and ``streams`` sections; a consumer must be one of the workloads."""
    try:
        spec = DataSpec.model_validate({"tables": tables or [], "streams": streams or []})
    except ValidationError as exc:
        problems = "; ".join(
            ".".join(str(part) for part in err["loc"]) + f": {err['msg']}" for err in exc.errors()
        )
        raise ScenarioError(problems) from None
    for number, table in enumerate(spec.tables):
        if table.consumer is not None and table.consumer not in workloads:
            raise ScenarioError(
                f"tables[{number}].consumer: {table.consumer} is not a workload function"
            )
    return spec


def _datum(
    metric: str, dimensions: dict[str, str], minute: datetime, value: float
) -> dict[str, Any]:
    return {
        "MetricName": metric,
        "Dimensions": [{"Name": name, "Value": v} for name, v in dimensions.items()],
        "Timestamp": minute,
        "Value": value,
    }


def table_datums(spec: TableSpec, minute: datetime, offset: timedelta) -> list[dict[str, Any]]:
    """The AWS/DynamoDB datapoints of one table and its indexes for one minute."""
    totals: dict[tuple[str | None, str], float] = {}
    for phase in spec.phases:
        if not phase.covers(offset):
            continue
        for field_name in (
            "read_per_second",
            "write_per_second",
            "read_throttles_per_minute",
            "write_throttles_per_minute",
            "system_errors_per_minute",
        ):
            key = (phase.index, field_name)
            totals[key] = totals.get(key, 0.0) + float(getattr(phase, field_name))
    out: list[dict[str, Any]] = []
    for (index, field_name), value in sorted(
        totals.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])
    ):
        dims = {"TableName": spec.name}
        if index is not None:
            dims = {"GlobalSecondaryIndexName": index, **dims}
        if field_name == "read_per_second":
            out.append(_datum("ConsumedReadCapacityUnits", dims, minute, value * 60))
        elif field_name == "write_per_second":
            out.append(_datum("ConsumedWriteCapacityUnits", dims, minute, value * 60))
        elif value and field_name == "read_throttles_per_minute":
            out.append(_datum("ReadThrottleEvents", dims, minute, value))
        elif value and field_name == "write_throttles_per_minute":
            out.append(_datum("WriteThrottleEvents", dims, minute, value))
        elif value and field_name == "system_errors_per_minute":
            dims = {"TableName": spec.name, "Operation": "PutItem"}
            out.append(_datum("SystemErrors", dims, minute, value))
    return out


def consumer_datums(spec: TableSpec, minute: datetime, offset: timedelta) -> list[dict[str, Any]]:
    """The ``IteratorAge`` (ms) of the function reading the table's stream, when it has one."""
    age = sum(p.consumer_iterator_age_seconds for p in spec.phases if p.covers(offset))
    if spec.consumer is None or not age:
        return []
    return [_datum("IteratorAge", {"FunctionName": spec.consumer}, minute, age * 1000)]


def stream_datums(spec: StreamSpec, minute: datetime, offset: timedelta) -> list[dict[str, Any]]:
    """The AWS/Kinesis stream-level datapoints of one stream for one minute."""
    covering = [p for p in spec.phases if p.covers(offset)]
    dims = {"StreamName": spec.name}
    size = sum(p.bytes_per_second for p in covering) * 60
    count = sum(p.records_per_second for p in covering) * 60
    refused = sum(p.write_throttles_per_minute for p in covering)
    age = sum(p.iterator_age_seconds for p in covering)
    out = []
    if size or count:
        out += [
            _datum("IncomingBytes", dims, minute, size),
            _datum("IncomingRecords", dims, minute, count),
        ]
    if refused:
        out.append(_datum("WriteProvisionedThroughputExceeded", dims, minute, refused))
    if age:
        out.append(_datum("GetRecords.IteratorAgeMilliseconds", dims, minute, age * 1000))
    return out


class DataDriver:
    """Creates the scenario's tables and streams and writes their metrics; see the module doc."""

    def __init__(
        self,
        *,
        start: datetime,
        spec: DataSpec,
        scenario_start: datetime,
        scenario_end: datetime,
        region: str = REGION,
    ) -> None:
        self._spec = spec
        self._region = region
        self._begin, self._end = scenario_start, scenario_end
        self._cloudwatch = client("cloudwatch", region)
        self._written_until = start.replace(second=0, microsecond=0)

    def create(self) -> list[str]:
        """Create every table (with its auto scaling targets and stream mapping) and stream."""
        dynamodb = client("dynamodb", self._region)
        autoscaling = client("application-autoscaling", self._region)
        lambda_client = client("lambda", self._region)
        kinesis = client("kinesis", self._region)
        created: list[str] = []
        for table in self._spec.tables:
            provisioned = table.billing == "provisioned"
            throughput = (
                {
                    "ProvisionedThroughput": {
                        "ReadCapacityUnits": table.read_capacity,
                        "WriteCapacityUnits": table.write_capacity,
                    }
                }
                if provisioned
                else {}
            )
            extra: dict[str, Any] = {}
            if table.indexes:
                extra["GlobalSecondaryIndexes"] = [
                    {
                        "IndexName": index.name,
                        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "KEYS_ONLY"},
                        **(
                            {
                                "ProvisionedThroughput": {
                                    "ReadCapacityUnits": index.read_capacity,
                                    "WriteCapacityUnits": index.write_capacity,
                                }
                            }
                            if provisioned
                            else {}
                        ),
                    }
                    for index in table.indexes
                ]
            if table.consumer is not None:
                extra["StreamSpecification"] = {
                    "StreamEnabled": True,
                    "StreamViewType": "NEW_IMAGE",
                }
            described = dynamodb.create_table(
                TableName=table.name,
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                BillingMode="PROVISIONED" if provisioned else "PAY_PER_REQUEST",
                **throughput,
                **extra,
            )["TableDescription"]
            scaling = table.autoscaling
            for direction, maximum, units in (
                ("Read", scaling.read_max if scaling else None, table.read_capacity),
                ("Write", scaling.write_max if scaling else None, table.write_capacity),
            ):
                if maximum is not None:
                    autoscaling.register_scalable_target(
                        ServiceNamespace="dynamodb",
                        ResourceId=f"table/{table.name}",
                        ScalableDimension=f"dynamodb:table:{direction}CapacityUnits",
                        MinCapacity=units,
                        MaxCapacity=maximum,
                    )
            if table.consumer is not None:
                lambda_client.create_event_source_mapping(
                    EventSourceArn=described["LatestStreamArn"],
                    FunctionName=table.consumer,
                    StartingPosition="LATEST",
                )
            created.append(table.name)
        for stream in self._spec.streams:
            mode = "PROVISIONED" if stream.mode == "provisioned" else "ON_DEMAND"
            kinesis.create_stream(
                StreamName=stream.name,
                StreamModeDetails={"StreamMode": mode},
                **({"ShardCount": stream.shards} if mode == "PROVISIONED" else {}),
            )
            if stream.retention_hours > 24:
                kinesis.increase_stream_retention_period(
                    StreamName=stream.name, RetentionPeriodHours=stream.retention_hours
                )
            created.append(stream.name)
        return created

    def write_until(self, until: datetime) -> int:
        """Write every minute in ``[written_until, floor(until))``; return datapoints written."""
        end = until.replace(second=0, microsecond=0)
        by_namespace: dict[str, list[dict[str, Any]]] = {
            "AWS/DynamoDB": [],
            "AWS/Lambda": [],
            "AWS/Kinesis": [],
        }
        minute = self._written_until
        while minute < end:
            if self._begin <= minute < self._end:
                offset = minute - self._begin
                for table in self._spec.tables:
                    by_namespace["AWS/DynamoDB"] += table_datums(table, minute, offset)
                    by_namespace["AWS/Lambda"] += consumer_datums(table, minute, offset)
                for stream in self._spec.streams:
                    by_namespace["AWS/Kinesis"] += stream_datums(stream, minute, offset)
            minute += timedelta(minutes=1)
        for namespace, datums in by_namespace.items():
            for index in range(0, len(datums), 500):
                self._cloudwatch.put_metric_data(
                    Namespace=namespace, MetricData=datums[index : index + 500]
                )
        self._written_until = max(self._written_until, end)
        return sum(len(datums) for datums in by_namespace.values())
