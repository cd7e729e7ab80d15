"""What the dial families read about resources: the records their ports return.

The adapters (``vigil.adapters``) fill them from the AWS APIs and the collector state; the
families judge them. They are the dials' vocabulary, so they live here and the adapters
import them, never the other way round.
"""

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Self

from vigil.core.errors import VigilError


# read by vigil.adapters.cloudwatch
@dataclass(frozen=True)
class MetricQuery:
    id: str
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str = "Sum"


# read by vigil.adapters.collector_state
class InventoryUnreadable(VigilError):
    """A stored inventory is not the JSON list of records this version writes."""


@dataclass(frozen=True)
class Coverage:
    """What one cycle judged per resource: ``drilled`` kinds for all, the rest for ``watched``."""

    start: datetime
    end: datetime
    drilled: frozenset[str]
    watched: frozenset[str]

    def covers(self, kind: str, resource: str) -> bool:
        return kind in self.drilled or resource in self.watched


# read by vigil.adapters.lambda_inventory
@dataclass(frozen=True)
class FunctionInfo:
    name: str
    arn: str
    dead_letter_target: str | None = None
    timeout: int | None = None
    """The configured time-out in seconds (``Timeout``); ``None`` when not known."""


# read by vigil.adapters.lambda_account
@dataclass(frozen=True)
class AccountLimits:
    concurrent_executions: int
    unreserved_concurrent_executions: int


# read by vigil.adapters.sqs_queues
@dataclass(frozen=True)
class QueueDepth:
    url: str
    visible: int
    retention_seconds: int

    @property
    def name(self) -> str:
        return self.url.rsplit("/", 1)[-1]


# read by vigil.adapters.dynamodb_tables
@dataclass(frozen=True)
class Capacity:
    """One table's or index's provisioned units, and the auto scaling maximum when it scales.

    ``read_max``/``write_max`` are what the units can grow to: the auto scaling maximum, or the
    provisioned units when nothing scales them.
    """

    read: int
    write: int
    read_max: int
    write_max: int


@dataclass(frozen=True)
class TableInfo:
    name: str
    arn: str
    billing_mode: str
    capacity: Capacity | None
    indexes: dict[str, Capacity | None] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def provisioned(self) -> bool:
        return self.billing_mode == "PROVISIONED"

    def record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Self:
        def capacity(value: dict[str, int] | None) -> Capacity | None:
            return Capacity(**value) if value else None

        return cls(
            name=record["name"],
            arn=record["arn"],
            billing_mode=record["billing_mode"],
            capacity=capacity(record["capacity"]),
            indexes={name: capacity(value) for name, value in record["indexes"].items()},
            tags=dict(record["tags"]),
        )


# read by vigil.adapters.kinesis_streams
@dataclass(frozen=True)
class StreamInfo:
    name: str
    arn: str
    mode: str
    shards: int
    retention_hours: int
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def provisioned(self) -> bool:
        return self.mode == "PROVISIONED"

    def record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Self:
        return cls(**{**record, "tags": dict(record["tags"])})


# read by vigil.adapters.event_source_mappings
@dataclass(frozen=True)
class StreamMapping:
    uuid: str
    function: str
    source_arn: str
    retention_hours: int
    state: str
    tags: dict[str, str] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Self:
        return cls(**{**record, "tags": dict(record["tags"])})


# read by vigil.adapters.inventory
class UnknownService(VigilError):
    """Service Quotas knows no service of that code (a mistyped ``service_quotas.services``)."""


@dataclass(frozen=True)
class MetricsFilter:
    """One S3 request-metrics configuration: its id (the ``FilterId`` dimension) and whether
    it covers the whole bucket or filters (by prefix, tag or access point)."""

    id: str
    whole_bucket: bool


@dataclass(frozen=True)
class NamedResource:
    id: str
    name: str
    tags: dict[str, str]


@dataclass(frozen=True)
class QuotaUsage:
    """An applied quota and the usage metric AWS names for it (``AWS/Usage`` mostly)."""

    service: str
    code: str
    name: str
    value: float
    period_seconds: int | None
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    statistic: str
