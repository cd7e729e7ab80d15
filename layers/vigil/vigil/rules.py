"""The rules config and the rules themselves.

The config is one JSON document (the ``RulesConfig`` stack parameter, ``VIGIL_RULES`` in the
functions' environment) that overrides the defaults below; docs/rules.md documents every
field with its reason. It is validated at cold start: an invalid document raises
``ConfigError`` naming each offending field, e.g. ``lambda_errors.warning_rate``.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vigil.cost import DetectionSettings
from vigil.errors import ConfigError, describe_validation
from vigil.model import Evidence, Labels, Severity, Signal
from vigil.routing import RoutingConfig


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VolumeAwareRule(_Config):
    """Alert on a count of bad events among a volume of requests.

    Below ``low_volume_below`` requests in the window every bad event counts and fires at
    once: a function called a few times an hour has no "normal" error rate. At or above it
    the rate must exceed ``warning_rate`` (``critical_rate`` for a page) and stay above it
    for ``for_minutes``, so a single noisy minute of a busy function does not page.
    """

    enabled: bool = True
    low_volume_below: Annotated[int, Field(ge=1)]
    low_volume_severity: Severity = Severity.WARNING
    warning_rate: Annotated[float, Field(gt=0, lt=1)]
    critical_rate: Annotated[float, Field(gt=0, le=1)]
    for_minutes: Annotated[int, Field(ge=0, le=1440)]

    @model_validator(mode="after")
    def _critical_above_warning(self) -> Self:
        if self.critical_rate < self.warning_rate:
            raise ValueError("critical_rate must be at least warning_rate")
        return self


_TAG_DIMENSION = re.compile(r"TAG:[\w.:/=+\-@ ]{1,128}")


class CostRule(_Config):
    """Daily cost spikes, first spend of a service, and the monthly budget (docs/rules.md)."""

    enabled: bool = True
    dimensions: Annotated[list[str], Field(min_length=1, max_length=4)] = Field(
        default_factory=lambda: ["SERVICE"],
        description="SERVICE, then optionally LINKED_ACCOUNT and TAG:<key> series.",
    )
    z_threshold: Annotated[float, Field(ge=2, le=50)] = 4.0
    min_increase_usd: Annotated[float, Field(ge=0)] = 10.0
    min_increase_ratio: Annotated[float, Field(ge=0)] = 0.3
    critical_increase_usd: Annotated[float, Field(ge=0)] = 100.0
    new_service_min_usd: Annotated[float, Field(ge=0)] = 10.0
    baseline_weeks: Annotated[int, Field(ge=2, le=12)] = 6
    recent_days: Annotated[int, Field(ge=3, le=60)] = 14
    min_baseline_points: Annotated[int, Field(ge=3, le=30)] = 4
    month_starts: Annotated[int, Field(ge=1, le=12)] = 3
    min_month_starts: Annotated[int, Field(ge=1, le=12)] = 2
    min_history_days: Annotated[int, Field(ge=7, le=90)] = 14
    weekly_pattern_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.6
    scale_floor_ratio: Annotated[float, Field(ge=0, le=1)] = 0.05
    history_days: Annotated[int, Field(ge=28, le=365)] = 93
    restatement_days: Annotated[int, Field(ge=0, le=14)] = 3
    max_requests_per_day: Annotated[int, Field(ge=1, le=1000)] = 24
    top_usage_types: Annotated[int, Field(ge=0, le=20)] = 5
    repeat_interval_minutes: Annotated[int, Field(ge=60, le=10080)] = 1440

    @model_validator(mode="after")
    def _reachable_minimums(self) -> Self:
        if self.min_month_starts > self.month_starts:
            raise ValueError("min_month_starts must not exceed month_starts")
        if self.min_baseline_points > self.recent_days:
            raise ValueError("min_baseline_points must not exceed recent_days")
        if self.history_days < 31 * self.month_starts:
            raise ValueError(f"history_days must cover {self.month_starts} month starts")
        return self

    @field_validator("dimensions")
    @classmethod
    def _known_dimensions(cls, value: list[str]) -> list[str]:
        if value[0] != "SERVICE":
            raise ValueError("the first dimension must be SERVICE (it carries the total)")
        for dimension in value[1:]:
            if dimension != "LINKED_ACCOUNT" and not _TAG_DIMENSION.fullmatch(dimension):
                raise ValueError(
                    f"{dimension!r} is not LINKED_ACCOUNT or TAG:<cost allocation tag key>"
                )
        if len(set(value)) != len(value):
            raise ValueError("a dimension is listed twice")
        return value

    def detection(self) -> DetectionSettings:
        """The statistical settings of vigil.cost, taken from the fields of the same name."""
        shared = {f.name for f in fields(DetectionSettings)} & set(type(self).model_fields)
        return DetectionSettings(**{name: getattr(self, name) for name in shared})

    def alert_threshold(self, median: float, scale: float) -> float:
        """The smallest spend that alerts: unusual (z), and material (absolute, relative)."""
        return max(
            median + self.z_threshold * scale,
            median + self.min_increase_usd,
            median * (1 + self.min_increase_ratio),
        )


class CollectionConfig(_Config):
    """The collection cycle: its window, and the per-resource sweep (docs/architecture.md)."""

    window_minutes: Annotated[int, Field(ge=1, le=60)] = 5
    lag_minutes: Annotated[int, Field(ge=0, le=15)] = 2
    # At a 60 s period, 500 metrics x 180 points stays under GetMetricData's 100,800.
    sweep_minutes: Annotated[int, Field(ge=5, le=180)] = 60
    # Dead-letter queues change with deployments, not with traffic.
    discovery_minutes: Annotated[int, Field(ge=5, le=1440)] = 60

    @model_validator(mode="after")
    def _sweep_tiles_windows(self) -> Self:
        if self.sweep_minutes % self.window_minutes:
            raise ValueError("sweep_minutes must be a multiple of window_minutes")
        if self.discovery_minutes % self.window_minutes:
            raise ValueError("discovery_minutes must be a multiple of window_minutes")
        return self


class ConcurrencyRule(_Config):
    """The account's peak Lambda concurrency against its real limit (``GetAccountSettings``).

    The peak is the window's maximum of ``ClaimedAccountConcurrency`` (on-demand use plus
    reserved and provisioned allocations) or ``ConcurrentExecutions``, whichever is higher;
    at ``warning_ratio`` of the limit it warns, at ``critical_ratio`` it pages. Every
    function of the account throttles once the limit is reached, so it fires at once.
    """

    enabled: bool = True
    warning_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.8
    critical_ratio: Annotated[float, Field(gt=0, le=1)] = 0.9

    @model_validator(mode="after")
    def _critical_above_warning(self) -> Self:
        if self.critical_ratio < self.warning_ratio:
            raise ValueError("critical_ratio must be at least warning_ratio")
        return self


class AsyncDeliveryRule(_Config):
    """Asynchronous invocations that failed for good: any one alerts.

    ``AsyncEventsDropped`` counts events Lambda gave up on (sent to a dead-letter queue or
    on-failure destination first, when one is configured); ``DeadLetterErrors`` and
    ``DestinationDeliveryFailures`` count events that could not even be sent there, so
    they are lost.
    """

    enabled: bool = True
    dropped_severity: Severity = Severity.WARNING
    delivery_failure_severity: Severity = Severity.CRITICAL


class DeadLetterQueueRule(_Config):
    """Messages in an SQS dead-letter queue: any visible one alerts.

    A message lands in a dead-letter queue only after its consumer failed on it (or, for a
    Lambda dead-letter queue, after Lambda gave up on an event), so any is worth a look. SQS
    deletes a message once it is older than the queue's retention period, so an oldest message
    past ``critical_retention_ratio`` of the retention is about to be lost, and pages.
    """

    enabled: bool = True
    severity: Severity = Severity.WARNING
    critical_retention_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.5


class CapacityRule(_Config):
    """Use of a provisioned capacity (a table's or index's read and write units, a stream's
    shards) at its peak minute: at ``warning_ratio`` of the capacity it warns, at
    ``critical_ratio`` it pages. It fires at once: the peak is already a minute's average."""

    enabled: bool = True
    warning_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.8
    critical_ratio: Annotated[float, Field(gt=0, le=1)] = 0.9

    @model_validator(mode="after")
    def _critical_above_warning(self) -> Self:
        if self.critical_ratio < self.warning_ratio:
            raise ValueError("critical_ratio must be at least warning_ratio")
        return self


class EventCountRule(_Config):
    """Requests refused or failed by a service (throttle events, system errors): any one in the
    window alerts at ``severity``; ``critical_events`` or more in one window page."""

    enabled: bool = True
    severity: Severity = Severity.WARNING
    critical_events: Annotated[int, Field(ge=1)] = 1000


class IteratorAgeRule(_Config):
    """How far a stream consumer lags, against the stream's retention: records older than the
    retention are deleted unread. At ``warning_retention_ratio`` of the retention it warns, at
    ``critical_retention_ratio`` it pages."""

    enabled: bool = True
    warning_retention_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.25
    critical_retention_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.5

    @model_validator(mode="after")
    def _critical_above_warning(self) -> Self:
        if self.critical_retention_ratio < self.warning_retention_ratio:
            raise ValueError("critical_retention_ratio must be at least warning_retention_ratio")
        return self


def _write_throttles_default() -> EventCountRule:
    return EventCountRule(critical_events=1000)


def _system_errors_default() -> EventCountRule:
    return EventCountRule(critical_events=100)


HealthCategory = Literal["issue", "accountNotification", "scheduledChange", "investigation"]


class HealthMatch(_Config):
    """Which AWS Health events a filter matches: every given list must match (an empty list
    matches anything). ``services`` and ``event_type_codes`` take shell-style patterns
    (``AWS_VPN_*``); ``regions`` takes region names or ``global``."""

    categories: list[HealthCategory] = Field(default_factory=list)
    services: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    event_type_codes: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    regions: list[Annotated[str, Field(pattern=r"^(global|[a-z]{2}(-[a-z]+)+-\d)$")]] = Field(
        default_factory=list
    )
    accounts: list[Annotated[str, Field(pattern=r"^\d{12}$")]] = Field(default_factory=list)


class HealthConfig(_Config):
    """AWS Health: which events notify. An event notifies when it matches ``include`` and
    no entry of ``exclude``."""

    enabled: bool = True
    include: HealthMatch = Field(default_factory=HealthMatch)
    exclude: list[HealthMatch] = Field(
        default_factory=lambda: [
            # One tunnel of a redundant VPN down is routine maintenance noise.
            HealthMatch(event_type_codes=["AWS_VPN_SINGLE_TUNNEL_NOTIFICATION"]),
        ]
    )
    poll_lookback_hours: Annotated[int, Field(ge=1, le=168)] = 24


class OutageConfig(_Config):
    """Outage correlation: suspect an AWS outage when ``min_resources`` resources of one
    service in one region breach at once; inhibit the per-resource alerts it explains."""

    enabled: bool = True
    min_resources: Annotated[int, Field(ge=2, le=1000)] = 3
    kinds: list[Annotated[str, Field(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")]] = Field(
        default_factory=lambda: ["lambda.errors", "lambda.throttles"]
    )
    runbook: Literal["start", "suggest"] = "suggest"
    inhibit: bool = True


def _lambda_errors_default() -> VolumeAwareRule:
    return VolumeAwareRule(
        low_volume_below=1000,
        warning_rate=0.001,
        critical_rate=0.01,
        for_minutes=5,
    )


def _lambda_throttles_default() -> VolumeAwareRule:
    return VolumeAwareRule(
        low_volume_below=1000,
        warning_rate=0.01,
        critical_rate=0.05,
        for_minutes=10,
    )


class RulesConfig(_Config):
    version: Literal[1] = 1
    collection: CollectionConfig = Field(default_factory=CollectionConfig)
    lambda_errors: VolumeAwareRule = Field(default_factory=_lambda_errors_default)
    lambda_throttles: VolumeAwareRule = Field(default_factory=_lambda_throttles_default)
    lambda_concurrency: ConcurrencyRule = Field(default_factory=ConcurrencyRule)
    lambda_async: AsyncDeliveryRule = Field(default_factory=AsyncDeliveryRule)
    sqs_dlq: DeadLetterQueueRule = Field(default_factory=DeadLetterQueueRule)
    lambda_iterator_age: IteratorAgeRule = Field(default_factory=IteratorAgeRule)
    dynamodb_capacity: CapacityRule = Field(default_factory=CapacityRule)
    dynamodb_throttles: EventCountRule = Field(default_factory=_write_throttles_default)
    dynamodb_system_errors: EventCountRule = Field(default_factory=_system_errors_default)
    kinesis_write_throttles: EventCountRule = Field(default_factory=_write_throttles_default)
    kinesis_shard_capacity: CapacityRule = Field(default_factory=CapacityRule)
    kinesis_iterator_age: IteratorAgeRule = Field(default_factory=IteratorAgeRule)
    cost: CostRule = Field(default_factory=CostRule)
    repeat_interval_minutes: Annotated[int, Field(ge=1, le=10080)] = 240
    send_resolved: bool = True
    resolved_retention_days: Annotated[int, Field(ge=1, le=400)] = 30
    health: HealthConfig = Field(default_factory=HealthConfig)
    outage: OutageConfig = Field(default_factory=OutageConfig)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)

    @classmethod
    def from_json(cls, text: str, *, source: str = "VIGIL_RULES") -> "RulesConfig":
        """Parse overrides; fields not given keep their defaults, nested objects merge."""
        try:
            overrides = json.loads(text or "{}")
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{source}: not valid JSON ({exc})") from exc
        if not isinstance(overrides, dict):
            raise ConfigError(f"{source}: expected a JSON object, got {type(overrides).__name__}")
        merged = _merge(cls().model_dump(mode="json", by_alias=True), overrides)
        try:
            return cls.model_validate(merged)
        except ValidationError as exc:
            raise ConfigError(
                f"{source}: invalid rules config: {describe_validation(exc)}"
            ) from exc

    def rule_for(self, kind: str) -> "VolumeAwareRule | None":
        spec = KIND_SPECS.get(kind)
        if spec is None:
            return None
        rule: VolumeAwareRule = getattr(self, spec.rule)
        return rule if rule.enabled else None

    @property
    def enabled_kinds(self) -> list[str]:
        return [kind for kind in KIND_SPECS if self.rule_for(kind) is not None]


def _merge(base: dict[str, object], overrides: dict[str, object]) -> dict[str, object]:
    merged = dict(base)
    for key, value in overrides.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged[key] = _merge(current, value)
        else:
            merged[key] = value
    return merged


@dataclass(frozen=True)
class KindSpec:
    """How to read a volume-aware signal: which samples are the bad events and the volume."""

    rule: str
    title: str
    event: str
    volume: str


KIND_SPECS: dict[str, KindSpec] = {
    "lambda.errors": KindSpec("lambda_errors", "Lambda errors", "errors", "invocations"),
    "lambda.throttles": KindSpec("lambda_throttles", "Lambda throttles", "throttles", "requests"),
}


@dataclass(frozen=True)
class Breach:
    """A rule's verdict that a signal is bad, and how long it must last before it fires."""

    labels: Labels
    severity: Severity
    evidence: Evidence
    for_seconds: int
    repeat_minutes: int | None = None


def judge(signal: Signal, rules: RulesConfig) -> Breach | None:
    """Apply the rule for the signal's kind; ``None`` means healthy (or no rule)."""
    kind = signal.labels.kind
    if kind in COST_KINDS:
        return _judge_cost(signal, rules.cost) if rules.cost.enabled else None
    if kind == "lambda.account_concurrency":
        return _judge_concurrency(signal, rules.lambda_concurrency)
    if kind == "lambda.async_failures":
        return _judge_async(signal, rules.lambda_async)
    if kind == "sqs.dlq_messages":
        return _judge_dead_letters(signal, rules.sqs_dlq)
    data_rule = _DATA_RULES.get(kind)
    if data_rule is not None:
        return data_rule(signal, rules)
    rule = rules.rule_for(kind)
    if rule is None:
        return None
    spec = KIND_SPECS[kind]
    events = signal.samples.get(spec.event, 0.0)
    volume = signal.samples.get(spec.volume, 0.0)
    if events <= 0:
        return None
    window = f"{signal.window_seconds // 60} min"
    if volume < rule.low_volume_below:
        return Breach(
            labels=signal.labels,
            severity=rule.low_volume_severity,
            evidence=Evidence(
                value=events,
                threshold=0,
                unit="Count",
                window_seconds=signal.window_seconds,
                observed_at=signal.observed_at,
                summary=(
                    f"{_plural(events, spec.event[:-1])} in {_plural(volume, spec.volume[:-1])}"
                    f" over {window} (low volume: every one counts)"
                ),
                samples=signal.samples,
            ),
            for_seconds=0,
        )
    rate = events / volume
    if rate <= rule.warning_rate:
        return None
    severity = Severity.CRITICAL if rate > rule.critical_rate else Severity.WARNING
    threshold = rule.critical_rate if severity is Severity.CRITICAL else rule.warning_rate
    return Breach(
        labels=signal.labels,
        severity=severity,
        evidence=Evidence(
            value=round(rate * 100, 4),
            threshold=round(threshold * 100, 4),
            unit="Percent",
            window_seconds=signal.window_seconds,
            observed_at=signal.observed_at,
            summary=(
                f"{rate:.2%} {spec.event} ({events:,.0f} of {volume:,.0f} {spec.volume})"
                f" over {window}, above {threshold:.2%}"
            ),
            samples=signal.samples,
        ),
        for_seconds=rule.for_minutes * 60,
    )


def _plural(count: float, noun: str) -> str:
    number = f"{count:,.0f}"
    return f"{number} {noun}" if count == 1 else f"{number} {noun}s"


# The dials (docs/rules.md): rules of their own, not volume-aware.
DIAL_KINDS = {
    "lambda.account_concurrency": "Lambda account concurrency",
    "lambda.async_failures": "Lambda async delivery failures",
    "sqs.dlq_messages": "SQS dead-letter messages",
    "lambda.iterator_age": "Lambda stream iterator age",
    "dynamodb.capacity": "DynamoDB capacity",
    "dynamodb.throttles": "DynamoDB throttles",
    "dynamodb.system_errors": "DynamoDB system errors",
    "kinesis.write_throttles": "Kinesis write throttles",
    "kinesis.shard_capacity": "Kinesis shard capacity",
    "kinesis.iterator_age": "Kinesis iterator age",
}


def kind_title(kind: str) -> str:
    """What a human calls a kind's alerts: ``Lambda errors``, ``Cost spike``."""
    spec = KIND_SPECS.get(kind)
    if spec is not None:
        return spec.title
    return DIAL_KINDS.get(kind) or COST_KINDS.get(kind, kind)


def _judge_concurrency(signal: Signal, rule: ConcurrencyRule) -> Breach | None:
    limit = signal.samples.get("limit", 0.0)
    peak = max(signal.samples.get("claimed", 0.0), signal.samples.get("concurrent", 0.0))
    if not rule.enabled or limit <= 0 or peak < rule.warning_ratio * limit:
        return None
    critical = peak >= rule.critical_ratio * limit
    ratio = rule.critical_ratio if critical else rule.warning_ratio
    return Breach(
        labels=signal.labels,
        severity=Severity.CRITICAL if critical else Severity.WARNING,
        evidence=Evidence(
            value=round(peak / limit * 100, 2),
            threshold=round(ratio * 100, 2),
            unit="Percent",
            window_seconds=signal.window_seconds,
            observed_at=signal.observed_at,
            summary=(
                f"peak concurrency {peak:,.0f} of the account limit {limit:,.0f}"
                f" ({peak / limit:.0%}) over {signal.window_seconds // 60} min, at or above"
                f" {ratio:.0%}; every function throttles at the limit"
            ),
            samples=signal.samples,
        ),
        for_seconds=0,
    )


def _judge_async(signal: Signal, rule: AsyncDeliveryRule) -> Breach | None:
    dropped = signal.samples.get("dropped", 0.0)
    lost = signal.samples.get("dead_letter_errors", 0.0) + signal.samples.get(
        "destination_failures", 0.0
    )
    if not rule.enabled or dropped + lost <= 0:
        return None
    parts = [
        _plural(count, noun)
        for count, noun in (
            (dropped, "dropped event"),
            (signal.samples.get("dead_letter_errors", 0.0), "dead-letter error"),
            (signal.samples.get("destination_failures", 0.0), "destination delivery failure"),
        )
        if count
    ]
    return Breach(
        labels=signal.labels,
        severity=rule.delivery_failure_severity if lost else rule.dropped_severity,
        evidence=Evidence(
            value=dropped + lost,
            threshold=0,
            unit="events",
            window_seconds=signal.window_seconds,
            observed_at=signal.observed_at,
            summary=(
                f"{', '.join(parts)} over {signal.window_seconds // 60} min"
                + ("; those events are lost" if lost else "")
            ),
            samples=signal.samples,
        ),
        for_seconds=0,
    )


def _judge_dead_letters(signal: Signal, rule: DeadLetterQueueRule) -> Breach | None:
    visible = signal.samples.get("visible", 0.0)
    if not rule.enabled or visible <= 0:
        return None
    age = signal.samples.get("oldest_age_seconds", 0.0)
    retention = signal.samples.get("retention_seconds", 0.0)
    limit = rule.critical_retention_ratio * retention
    critical = retention > 0 and age >= limit
    summary = f"{_plural(visible, 'message')} in the dead-letter queue"
    if age > 0 and retention > 0:
        summary += f", the oldest {_duration(age)} old of a {_duration(retention)} retention"
    if critical:
        summary += "; SQS deletes it at the end of the retention, so it is about to be lost"
    return Breach(
        labels=signal.labels,
        severity=Severity.CRITICAL if critical else rule.severity,
        evidence=Evidence(
            value=visible,
            threshold=0,
            unit="messages",
            window_seconds=signal.window_seconds,
            observed_at=signal.observed_at,
            summary=summary,
            samples=signal.samples,
        ),
        for_seconds=0,
    )


def _duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3.5 h``, ``4 d``: the unit a reader thinks in."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.3g} h"
    return f"{seconds / 86400:.3g} d"


def _judge_capacity(signal: Signal, rule: CapacityRule, what: str) -> Breach | None:
    """``signal.value`` is the peak use in percent of the capacity; the samples say of what."""
    ratio = signal.value / 100
    if not rule.enabled or ratio < rule.warning_ratio:
        return None
    critical = ratio >= rule.critical_ratio
    threshold = rule.critical_ratio if critical else rule.warning_ratio
    parts = [
        f"{direction} {signal.samples[used]:,.0f} of {signal.samples[capacity]:,.0f} {unit}"
        for direction, used, capacity, unit in _CAPACITY_SAMPLES
        if used in signal.samples and signal.samples.get(capacity, 0) > 0
    ]
    return Breach(
        labels=signal.labels,
        severity=Severity.CRITICAL if critical else Severity.WARNING,
        evidence=Evidence(
            value=round(signal.value, 2),
            threshold=round(threshold * 100, 2),
            unit="Percent",
            window_seconds=signal.window_seconds,
            observed_at=signal.observed_at,
            summary=(
                f"peak minute at {ratio:.0%} of the {what} ({'; '.join(parts)}) over"
                f" {signal.window_seconds // 60} min, at or above {threshold:.0%};"
                " requests beyond it are throttled"
            ),
            samples=signal.samples,
        ),
        for_seconds=0,
    )


# (what, peak sample, capacity sample, unit) of the capacity signals' samples.
_CAPACITY_SAMPLES = (
    ("reads", "read_per_second", "read_capacity", "units/s"),
    ("writes", "write_per_second", "write_capacity", "units/s"),
    ("incoming", "bytes_per_second", "bytes_capacity", "bytes/s"),
    ("incoming", "records_per_second", "records_capacity", "records/s"),
)


def _judge_events(signal: Signal, rule: EventCountRule, what: str) -> Breach | None:
    """``signal.value`` is the count of refused or failed requests in the window."""
    events = signal.value
    if not rule.enabled or events <= 0:
        return None
    critical = events >= rule.critical_events
    details = ", ".join(
        _plural(value, name.replace("_", " ")[:-1])
        for name, value in sorted(signal.samples.items())
        if value and name.endswith("s")
    )
    return Breach(
        labels=signal.labels,
        severity=Severity.CRITICAL if critical else rule.severity,
        evidence=Evidence(
            value=events,
            threshold=float(rule.critical_events if critical else 0),
            unit="events",
            window_seconds=signal.window_seconds,
            observed_at=signal.observed_at,
            summary=f"{what}: {details or _plural(events, 'event')} over"
            f" {signal.window_seconds // 60} min",
            samples=signal.samples,
        ),
        for_seconds=0,
    )


def _judge_iterator_age(signal: Signal, rule: IteratorAgeRule) -> Breach | None:
    age = signal.samples.get("age_seconds", 0.0)
    retention = signal.samples.get("retention_seconds", 0.0)
    if not rule.enabled or retention <= 0 or age < rule.warning_retention_ratio * retention:
        return None
    critical = age >= rule.critical_retention_ratio * retention
    ratio = rule.critical_retention_ratio if critical else rule.warning_retention_ratio
    summary = (
        f"the consumer is {_duration(age)} behind, {age / retention:.0%} of the"
        f" {_duration(retention)} retention (at or above {ratio:.0%})"
    )
    if critical:
        summary += "; records older than the retention are deleted unread"
    return Breach(
        labels=signal.labels,
        severity=Severity.CRITICAL if critical else Severity.WARNING,
        evidence=Evidence(
            value=round(age / retention * 100, 2),
            threshold=round(ratio * 100, 2),
            unit="Percent",
            window_seconds=signal.window_seconds,
            observed_at=signal.observed_at,
            summary=summary,
            samples=signal.samples,
        ),
        for_seconds=0,
    )


_DATA_RULES: dict[str, Callable[[Signal, RulesConfig], Breach | None]] = {
    "lambda.iterator_age": lambda s, r: _judge_iterator_age(s, r.lambda_iterator_age),
    "dynamodb.capacity": lambda s, r: _judge_capacity(
        s, r.dynamodb_capacity, "provisioned capacity"
    ),
    "dynamodb.throttles": lambda s, r: _judge_events(s, r.dynamodb_throttles, "throttled requests"),
    "dynamodb.system_errors": lambda s, r: _judge_events(
        s, r.dynamodb_system_errors, "DynamoDB internal server errors"
    ),
    "kinesis.write_throttles": lambda s, r: _judge_events(
        s, r.kinesis_write_throttles, "records refused for exceeding the shards' write limit"
    ),
    "kinesis.shard_capacity": lambda s, r: _judge_capacity(
        s, r.kinesis_shard_capacity, "shards' write capacity"
    ),
    "kinesis.iterator_age": lambda s, r: _judge_iterator_age(s, r.kinesis_iterator_age),
}


# Kinds that report an event rather than a condition: they clear without a resolved notice.
EVENT_KINDS = frozenset({"cost.new_service"})

COST_KINDS = {
    "cost.daily_spike": "Cost spike",
    "cost.new_service": "New service spend",
    "cost.budget_forecast": "Budget forecast",
    "cost.budget_actual": "Budget exceeded",
}


def _judge_cost(signal: Signal, rule: CostRule) -> Breach | None:
    kind, spend, samples = signal.labels.kind, signal.value, signal.samples
    context = signal.context
    if kind == "cost.daily_spike" and "anomaly_impact" in samples:
        threshold = rule.min_increase_usd
        if spend < threshold:
            return None
        severity = Severity.CRITICAL if spend >= rule.critical_increase_usd else Severity.WARNING
        summary = (
            f"{signal.labels.resource}: ${spend:,.2f} of unexpected spend on"
            f" {context.get('day', '?')}"
        )
    elif kind == "cost.daily_spike":
        median, scale = samples.get("baseline", 0.0), samples.get("scale", 0.0)
        threshold = rule.alert_threshold(median, scale)
        if scale <= 0 or spend < threshold:
            return None
        increase = spend - median
        severity = Severity.CRITICAL if increase >= rule.critical_increase_usd else Severity.WARNING
        percent = f" (+{increase / median:.0%})" if median > 0 else ""
        summary = (
            f"{signal.labels.resource} spent ${spend:,.2f} on {context.get('day', '?')}"
            f" against a baseline of ${median:,.2f} ({context.get('baseline', 'baseline')}):"
            f" +${increase:,.2f}{percent}, z={(spend - median) / scale:.1f}"
        )
    elif kind == "cost.new_service":
        threshold = rule.new_service_min_usd
        if spend < threshold:
            return None
        severity = Severity.WARNING
        summary = (
            f"{signal.labels.resource} spent ${spend:,.2f} on {context.get('day', '?')},"
            " the first spend seen for it"
        )
    else:
        threshold = samples.get("budget", 0.0)
        if threshold <= 0 or spend <= threshold:
            return None
        actual = kind == "cost.budget_actual"
        severity = Severity.CRITICAL if actual else Severity.WARNING
        what = "Spend this month" if actual else "Forecast spend for the month"
        summary = f"{what} ${spend:,.2f} is above the monthly budget of ${threshold:,.2f}"
    for key in ("top_usage", "anomaly"):
        if context.get(key):
            summary += f"; {context[key]}"
    return Breach(
        labels=signal.labels,
        severity=severity,
        evidence=Evidence(
            value=round(spend, 2),
            threshold=round(threshold, 2),
            unit="USD",
            window_seconds=signal.window_seconds,
            observed_at=signal.observed_at,
            summary=summary,
            samples=samples,
        ),
        for_seconds=0,
        repeat_minutes=rule.repeat_interval_minutes,
    )
