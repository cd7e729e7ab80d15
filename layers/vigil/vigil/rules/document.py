"""The rules config and the rules themselves.

The config is one JSON document (the ``RulesConfig`` stack parameter, ``VIGIL_RULES`` in the
functions' environment) that overrides the defaults below; docs/rules.md documents every
field with its reason. It is validated at cold start: an invalid document raises
``ConfigError`` naming each offending field, e.g. ``lambda_errors.warning_rate``.
"""

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vigil.core.errors import ConfigError, describe_validation
from vigil.core.json_lines import line_and_column
from vigil.core.model import Evidence, Labels, Severity, Signal
from vigil.rules.routing import RoutingConfig


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _ordered[M: BaseModel](model: M, low: str, high: str) -> M:
    """``model`` itself, once its ``high`` level is known not to be below its ``low`` one."""
    if getattr(model, high) < getattr(model, low):
        raise ValueError(f"{high} must be at least {low}")
    return model


class _UsageLevels(_Config):
    """Use of a limit: at ``warning_ratio`` of it a rule warns, at ``critical_ratio`` it pages."""

    enabled: bool = True
    warning_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.8
    critical_ratio: Annotated[float, Field(gt=0, le=1)] = 0.9

    @model_validator(mode="after")
    def _critical_above_warning(self) -> Self:
        return _ordered(self, "warning_ratio", "critical_ratio")


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
        return _ordered(self, "warning_rate", "critical_rate")


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


class ConcurrencyRule(_UsageLevels):
    """The account's peak Lambda concurrency against its real limit (``GetAccountSettings``).

    The peak is the window's maximum of ``ClaimedAccountConcurrency`` (on-demand use plus
    reserved and provisioned allocations) or ``ConcurrentExecutions``, whichever is higher;
    at ``warning_ratio`` of the limit it warns, at ``critical_ratio`` it pages. Every
    function of the account throttles once the limit is reached, so it fires at once.
    """


class ReservedConcurrencyRule(_UsageLevels):
    """A function's peak concurrency (``ConcurrentExecutions`` Maximum, per function) against
    its own reserved concurrency (``GetFunctionConcurrency``).

    A function never runs more instances than it reserved: at the reservation it throttles
    even when the account has room. At ``warning_ratio`` of it it warns, at ``critical_ratio``
    it pages, at once. A reservation of 0 switches the function off on purpose and never alerts.
    """


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


class CapacityRule(_UsageLevels):
    """Use of a provisioned capacity (a table's or index's read and write units, a stream's
    shards) at its peak minute: at ``warning_ratio`` of the capacity it warns, at
    ``critical_ratio`` it pages. It fires at once: the peak is already a minute's average."""


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
        return _ordered(self, "warning_retention_ratio", "critical_retention_ratio")


def _write_throttles_default() -> EventCountRule:
    return EventCountRule(critical_events=1000)


def _system_errors_default() -> EventCountRule:
    return EventCountRule(critical_events=100)


class TagMatch(_Config):
    """A tag a resource must carry: ``key`` with any of ``values`` (none listed: any value)."""

    key: Annotated[str, Field(min_length=1, max_length=128)]
    values: list[Annotated[str, Field(max_length=256)]] = Field(default_factory=list)

    def matches(self, tags: Mapping[str, str]) -> bool:
        return self.key in tags and (not self.values or tags[self.key] in self.values)


class TagFilters(_Config):
    """Which discovered resources are watched, by their tags (docs/rules.md, ``tags``).

    A resource is watched when ``include`` is empty or one of its entries matches, and no
    entry of ``exclude`` matches. With both lists empty (the default) tags are not even read.
    """

    include: list[TagMatch] = Field(default_factory=list)
    exclude: list[TagMatch] = Field(default_factory=list)

    @property
    def active(self) -> bool:
        return bool(self.include or self.exclude)

    def allows(self, tags: Mapping[str, str]) -> bool:
        if self.include and not any(match.matches(tags) for match in self.include):
            return False
        return not any(match.matches(tags) for match in self.exclude)


class S3RequestRule(_Config):
    """S3 request metrics against each bucket's own robust baseline (docs/rules.md, ``s3``).

    A window is compared with the earlier windows of the last ``baseline_minutes``: their
    median and scaled median absolute deviation (floored at ``scale_floor_ratio`` of the
    median). The 5xx rate fires above the larger of ``warning_rate`` and median + z x scale,
    and pages above ``critical_rate``; the latency fires above the largest of median +
    z x scale, median x (1 + ``latency_min_increase_ratio``) and median +
    ``latency_min_increase_ms``. Windows with fewer than ``min_requests`` requests are not
    judged and are not part of a baseline.
    """

    enabled: bool = True
    baseline_minutes: Annotated[int, Field(ge=30, le=1440)] = 180
    min_baseline_windows: Annotated[int, Field(ge=3, le=288)] = 6
    min_requests: Annotated[int, Field(ge=1)] = 100
    z_threshold: Annotated[float, Field(ge=2, le=50)] = 4.0
    scale_floor_ratio: Annotated[float, Field(ge=0, le=1)] = 0.1
    min_errors: Annotated[int, Field(ge=1)] = 5
    warning_rate: Annotated[float, Field(gt=0, lt=1)] = 0.01
    critical_rate: Annotated[float, Field(gt=0, le=1)] = 0.05
    errors_for_minutes: Annotated[int, Field(ge=0, le=1440)] = 5
    latency_metric: Literal["FirstByteLatency", "TotalRequestLatency"] = "FirstByteLatency"
    latency_min_increase_ratio: Annotated[float, Field(ge=0)] = 0.5
    latency_min_increase_ms: Annotated[float, Field(ge=0)] = 50.0
    latency_for_minutes: Annotated[int, Field(ge=0, le=1440)] = 10
    busy_objects: Annotated[int, Field(ge=1)] = 1_000_000
    hint: bool = True

    @model_validator(mode="after")
    def _critical_above_warning(self) -> Self:
        return _ordered(self, "warning_rate", "critical_rate")


class StepFunctionsRule(_Config):
    """Step Functions executions that failed, timed out or were throttled: any one alerts,
    ``critical_count`` in a window pages. Aborted executions are someone's StopExecution,
    usually on purpose: watched only with ``include_aborted``."""

    enabled: bool = True
    severity: Severity = Severity.WARNING
    critical_count: Annotated[int, Field(ge=1)] = 10
    include_aborted: bool = False


class QuotaRule(_UsageLevels):
    """Service quota usage (``AWS/Usage``) against the applied quota value.

    ``services`` are Service Quotas service codes whose quotas with a usage metric are
    discovered (``ListServiceQuotas``); at ``warning_ratio`` of a quota it warns, at
    ``critical_ratio`` it pages, at once.
    """

    services: list[Annotated[str, Field(pattern=r"^[a-z0-9-]{2,63}$")]] = Field(
        default_factory=lambda: ["lambda", "states", "apigateway", "dynamodb", "kinesis"]
    )


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
    # AWS's actionability (ACTION_REQUIRED, ACTION_MAY_BE_REQUIRED, INFORMATIONAL; more may
    # come); an event without one matches no list.
    actionabilities: list[Annotated[str, Field(pattern=r"^[A-Z][A-Z_]*$")]] = Field(
        default_factory=list
    )


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
    # vigil.health_poll alerts after this many catch-up polls in a row got no answer.
    poll_failures_before_alert: Annotated[int, Field(ge=1, le=1000)] = 3


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


class ApproversConfig(_Config):
    """Who may answer a runbook gate and silence from a Slack button (ADR 32).

    A live failover is decided only by a listed person: from Slack a user in ``slack_users``
    or a member of a user group in ``slack_groups`` (read with the chat secret's bot token
    named by ``slack_bot``), from the ``vigil`` command a caller matching ``iam_principals``;
    with a list empty nobody may from that place, until they are configured. Dry runs stay
    open to anyone. Silences from buttons follow the Slack lists once they name anyone, and
    stay open while they are empty.
    """

    slack_users: list[Annotated[str, Field(pattern=r"^[UW][A-Z0-9]+$")]] = Field(
        default_factory=list
    )
    slack_groups: Annotated[
        list[Annotated[str, Field(pattern=r"^S[A-Z0-9]+$")]], Field(max_length=5)
    ] = Field(default_factory=list)
    """Slack user group ids (``S0123ABC``) whose members are approvers (usergroups.users.list)."""
    slack_bot: Annotated[str, Field(min_length=1, max_length=128)] = "bot_token"
    """The chat secret's key of the bot token (scope ``usergroups:read``) that reads the groups."""
    iam_principals: list[
        Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:(user|role)/\S+$")]
    ] = Field(default_factory=list)
    """IAM users and roles that may decide a live failover with the ``vigil`` command."""
    live_approvals: Annotated[int, Field(ge=1, le=2)] = 1
    """2: a live failover needs two distinct listed approvers (a decline still needs one)."""
    silence_max_hours: Annotated[int, Field(ge=1, le=8760)] = 168

    @property
    def slack_listed(self) -> bool:
        """Whether anyone is named for Slack (a user or a group)."""
        return bool(self.slack_users or self.slack_groups)


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


def _api_5xx_default() -> VolumeAwareRule:
    return VolumeAwareRule(
        low_volume_below=1000,
        warning_rate=0.001,
        critical_rate=0.01,
        for_minutes=5,
    )


class RulesConfig(_Config):
    version: Literal[1] = 1
    collection: CollectionConfig = Field(default_factory=CollectionConfig)
    lambda_errors: VolumeAwareRule = Field(default_factory=_lambda_errors_default)
    lambda_throttles: VolumeAwareRule = Field(default_factory=_lambda_throttles_default)
    lambda_concurrency: ConcurrencyRule = Field(default_factory=ConcurrencyRule)
    lambda_reserved_concurrency: ReservedConcurrencyRule = Field(
        default_factory=ReservedConcurrencyRule
    )
    lambda_async: AsyncDeliveryRule = Field(default_factory=AsyncDeliveryRule)
    sqs_dlq: DeadLetterQueueRule = Field(default_factory=DeadLetterQueueRule)
    s3: S3RequestRule = Field(default_factory=S3RequestRule)
    step_functions: StepFunctionsRule = Field(default_factory=StepFunctionsRule)
    apigateway_rest_5xx: VolumeAwareRule = Field(default_factory=_api_5xx_default)
    apigateway_http_5xx: VolumeAwareRule = Field(default_factory=_api_5xx_default)
    service_quotas: QuotaRule = Field(default_factory=QuotaRule)
    tags: TagFilters = Field(default_factory=TagFilters)
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
    approvers: ApproversConfig = Field(default_factory=ApproversConfig)

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
            problems = describe_validation(exc, where=lambda loc: line_and_column(text, loc))
            raise ConfigError(f"{source}: invalid rules config: {problems}") from exc

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
    "apigateway.rest_5xx": KindSpec("apigateway_rest_5xx", "API Gateway 5xx", "errors", "requests"),
    "apigateway.http_5xx": KindSpec(
        "apigateway_http_5xx", "API Gateway HTTP 5xx", "errors", "requests"
    ),
}


@dataclass(frozen=True)
class Breach:
    """A rule's verdict that a signal is bad, and how long it must last before it fires."""

    labels: Labels
    severity: Severity
    evidence: Evidence
    for_seconds: int
    repeat_minutes: int | None = None


def _breach(
    signal: Signal,
    severity: Severity,
    value: float,
    threshold: float,
    unit: str,
    *,
    summary: str,
    for_seconds: int = 0,
    repeat_minutes: int | None = None,
) -> Breach:
    """A rule's verdict on ``signal``: its evidence keeps the signal's window, time and samples."""
    return Breach(
        labels=signal.labels,
        severity=severity,
        evidence=Evidence(
            value=value,
            threshold=threshold,
            unit=unit,
            window_seconds=signal.window_seconds,
            observed_at=signal.observed_at,
            summary=summary,
            samples=signal.samples,
        ),
        for_seconds=for_seconds,
        repeat_minutes=repeat_minutes,
    )


@dataclass(frozen=True)
class _Level:
    """The level a use reached of its limit: ``ratio`` is the critical one when it pages,
    the warning one when it warns."""

    critical: bool
    ratio: float


def _level_reached(used: float, limit: float, warning: float, critical: float) -> _Level | None:
    """The level ``used`` reached of ``limit``: ``None`` below ``warning`` of it, or no limit."""
    if limit <= 0 or used < warning * limit:
        return None
    pages = used >= critical * limit
    return _Level(critical=pages, ratio=critical if pages else warning)


def _usage_breach(signal: Signal, level: _Level, percent: float, summary: str) -> Breach:
    """A use at ``percent`` of its limit, against the level it reached; it fires at once."""
    return _breach(
        signal,
        Severity.CRITICAL if level.critical else Severity.WARNING,
        round(percent, 2),
        round(level.ratio * 100, 2),
        "Percent",
        summary=summary,
    )


def _count_breach(
    signal: Signal,
    count: float,
    unit: str,
    summary: str,
    *,
    severity: Severity,
    critical_count: int,
    critical_note: str = "",
) -> Breach:
    """``count`` bad events: they alert at ``severity``, and ``critical_count`` or more page,
    with ``critical_note`` added to the summary."""
    critical = count >= critical_count
    return _breach(
        signal,
        Severity.CRITICAL if critical else severity,
        count,
        float(critical_count if critical else 0),
        unit,
        summary=summary + (critical_note if critical else ""),
    )


def _judge_volume(signal: Signal, rules: RulesConfig) -> Breach | None:
    """A volume-aware rule (:data:`KIND_SPECS`): at low volume every bad event counts, above
    ``low_volume_below`` the rate is judged against the warning and critical rates."""
    kind = signal.labels.kind
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
        return _breach(
            signal,
            rule.low_volume_severity,
            events,
            0,
            "Count",
            summary=(
                f"{_plural(events, spec.event[:-1])} in {_plural(volume, spec.volume[:-1])}"
                f" over {window} (low volume: every one counts)"
            ),
        )
    rate = events / volume
    if rate <= rule.warning_rate:
        return None
    severity = Severity.CRITICAL if rate > rule.critical_rate else Severity.WARNING
    threshold = rule.critical_rate if severity is Severity.CRITICAL else rule.warning_rate
    return _breach(
        signal,
        severity,
        round(rate * 100, 4),
        round(threshold * 100, 4),
        "Percent",
        summary=(
            f"{rate:.2%} {spec.event} ({events:,.0f} of {volume:,.0f} {spec.volume})"
            f" over {window}, above {threshold:.2%}"
        ),
        for_seconds=rule.for_minutes * 60,
    )


def _plural(count: float, noun: str) -> str:
    number = f"{count:,.0f}"
    return f"{number} {noun}" if count == 1 else f"{number} {noun}s"


# The stack's own rules config is invalid and the last good one runs (vigil.rules.loading).
CONFIG_KIND = "vigil.config_invalid"


def _judge_config(signal: Signal) -> Breach | None:
    if signal.value <= 0:
        return None
    problem = signal.context.get("problem", "the rules config is invalid")
    summary = f"Running the last good rules config: {problem}"
    return _breach(signal, Severity.WARNING, signal.value, 0, "Count", summary=summary)


# The AWS Health catch-up poll got no answer (vigil.health.collect): the value is how many
# polls in a row failed.
HEALTH_POLL_KIND = "vigil.health_poll"


def _judge_health_poll(signal: Signal, rules: RulesConfig) -> Breach | None:
    config = rules.health
    failures = signal.value
    if failures < config.poll_failures_before_alert:
        return None
    error = signal.context.get("error", "no answer")
    summary = (
        f"The AWS Health catch-up poll failed {failures:,.0f} times in a row (last: {error});"
        " aws.health events still arrive through EventBridge"
    )
    return _breach(
        signal,
        Severity.WARNING,
        failures,
        config.poll_failures_before_alert,
        "Count",
        summary=summary,
    )


def _judge_concurrency(signal: Signal, rule: ConcurrencyRule) -> Breach | None:
    limit = signal.samples.get("limit", 0.0)
    peak = max(signal.samples.get("claimed", 0.0), signal.samples.get("concurrent", 0.0))
    level = _level_reached(peak, limit, rule.warning_ratio, rule.critical_ratio)
    if not rule.enabled or level is None:
        return None
    return _usage_breach(
        signal,
        level,
        peak / limit * 100,
        f"peak concurrency {peak:,.0f} of the account limit {limit:,.0f}"
        f" ({peak / limit:.0%}) over {signal.window_seconds // 60} min, at or above"
        f" {level.ratio:.0%}; every function throttles at the limit",
    )


def _judge_reserved(signal: Signal, rule: ReservedConcurrencyRule) -> Breach | None:
    reserved = signal.samples.get("reserved", 0.0)
    peak = signal.samples.get("concurrent", 0.0)
    # _level_reached answers None for a reservation of 0: the function is switched off.
    level = _level_reached(peak, reserved, rule.warning_ratio, rule.critical_ratio)
    if not rule.enabled or level is None:
        return None
    return _usage_breach(
        signal,
        level,
        peak / reserved * 100,
        f"peak concurrency {peak:,.0f} of the function's reserved {reserved:,.0f}"
        f" ({peak / reserved:.0%}) over {signal.window_seconds // 60} min, at or above"
        f" {level.ratio:.0%}; the function throttles at its reservation",
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
    return _breach(
        signal,
        rule.delivery_failure_severity if lost else rule.dropped_severity,
        dropped + lost,
        0,
        "events",
        summary=(
            f"{', '.join(parts)} over {signal.window_seconds // 60} min"
            + ("; those events are lost" if lost else "")
        ),
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
    severity = Severity.CRITICAL if critical else rule.severity
    return _breach(signal, severity, visible, 0, "messages", summary=summary)


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
    # The use is already a share of the capacity, so the limit is the whole of it: 1.
    level = _level_reached(ratio, 1, rule.warning_ratio, rule.critical_ratio)
    if not rule.enabled or level is None:
        return None
    parts = [
        f"{direction} {signal.samples[used]:,.0f} of {signal.samples[capacity]:,.0f} {unit}"
        for direction, used, capacity, unit in _CAPACITY_SAMPLES
        if used in signal.samples and signal.samples.get(capacity, 0) > 0
    ]
    return _usage_breach(
        signal,
        level,
        signal.value,
        f"peak minute at {ratio:.0%} of the {what} ({'; '.join(parts)}) over"
        f" {signal.window_seconds // 60} min, at or above {level.ratio:.0%};"
        " requests beyond it are throttled",
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
    details = ", ".join(
        _plural(value, name.replace("_", " ")[:-1])
        for name, value in sorted(signal.samples.items())
        if value and name.endswith("s")
    )
    return _count_breach(
        signal,
        events,
        "events",
        f"{what}: {details or _plural(events, 'event')} over {signal.window_seconds // 60} min",
        severity=rule.severity,
        critical_count=rule.critical_events,
    )


def _judge_iterator_age(signal: Signal, rule: IteratorAgeRule) -> Breach | None:
    age = signal.samples.get("age_seconds", 0.0)
    retention = signal.samples.get("retention_seconds", 0.0)
    level = _level_reached(
        age, retention, rule.warning_retention_ratio, rule.critical_retention_ratio
    )
    if not rule.enabled or level is None:
        return None
    summary = (
        f"the consumer is {_duration(age)} behind, {age / retention:.0%} of the"
        f" {_duration(retention)} retention (at or above {level.ratio:.0%})"
    )
    if level.critical:
        summary += "; records older than the retention are deleted unread"
    return _usage_breach(signal, level, age / retention * 100, summary)


# Kinds that report an event rather than a condition: they clear without a resolved notice.
EVENT_KINDS = frozenset({"cost.new_service"})


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
    return _breach(
        signal,
        severity,
        round(spend, 2),
        round(threshold, 2),
        "USD",
        summary=summary,
        repeat_minutes=rule.repeat_interval_minutes,
    )


# The edge dials (docs/rules.md): S3 request metrics, Step Functions, service quotas.
_STATES_EVENTS = {
    "states.executions_failed": "failed execution",
    "states.executions_timed_out": "timed-out execution",
    "states.executions_throttled": "throttled execution",
    "states.executions_aborted": "aborted execution",
}


def baseline_threshold(median: float, scale: float, rule: S3RequestRule) -> float:
    """The robust upper bound of a baseline: median + z x scale, the scale floored."""
    return median + rule.z_threshold * max(scale, rule.scale_floor_ratio * median)


def _judge_s3_errors(signal: Signal, rules: RulesConfig) -> Breach | None:
    rule, samples = rules.s3, signal.samples
    errors, requests = samples.get("errors", 0.0), samples.get("requests", 0.0)
    if not rule.enabled or errors < rule.min_errors or requests < rule.min_requests:
        return None
    rate = errors / requests
    baseline = samples.get("baseline_rate", 0.0)
    threshold = rule.warning_rate
    if samples.get("baseline_windows", 0.0) >= rule.min_baseline_windows:
        threshold = max(threshold, baseline_threshold(baseline, samples["baseline_scale"], rule))
    if rate <= threshold:
        return None
    critical = rate > max(rule.critical_rate, threshold)
    return _breach(
        signal,
        Severity.CRITICAL if critical else Severity.WARNING,
        round(rate * 100, 4),
        round(threshold * 100, 4),
        "Percent",
        summary=(
            f"{rate:.2%} 5xx ({errors:,.0f} of {requests:,.0f} requests) over"
            f" {signal.window_seconds // 60} min against a baseline of {baseline:.2%},"
            f" above {threshold:.2%}; 503 SlowDown is S3 asking for fewer requests per"
            " prefix"
        ),
        for_seconds=rule.errors_for_minutes * 60,
    )


def _judge_s3_latency(signal: Signal, rules: RulesConfig) -> Breach | None:
    rule, samples = rules.s3, signal.samples
    latency, requests = samples.get("latency_ms", 0.0), samples.get("requests", 0.0)
    windows = samples.get("baseline_windows", 0.0)
    if not rule.enabled or requests < rule.min_requests or windows < rule.min_baseline_windows:
        return None
    median = samples.get("baseline_ms", 0.0)
    threshold = max(
        baseline_threshold(median, samples.get("baseline_scale", 0.0), rule),
        median * (1 + rule.latency_min_increase_ratio),
        median + rule.latency_min_increase_ms,
    )
    if latency <= threshold:
        return None
    return _breach(
        signal,
        Severity.WARNING,
        round(latency, 1),
        round(threshold, 1),
        "ms",
        summary=(
            f"{rule.latency_metric} averaged {latency:,.0f} ms over"
            f" {signal.window_seconds // 60} min ({requests:,.0f} requests) against a"
            f" baseline of {median:,.0f} ms over {windows:.0f} windows, above"
            f" {threshold:,.0f} ms"
        ),
        for_seconds=rule.latency_for_minutes * 60,
    )


def _judge_s3_hint(signal: Signal, rules: RulesConfig) -> Breach | None:
    rule, objects = rules.s3, signal.samples.get("objects", 0.0)
    if not (rule.enabled and rule.hint) or objects < rule.busy_objects:
        return None
    return _breach(
        signal,
        Severity.INFO,
        objects,
        float(rule.busy_objects),
        "objects",
        summary=(
            f"{objects:,.0f} objects and no request metrics configuration: 5xx, 503"
            " SlowDown on a hot prefix and latency are invisible to Vigil until a request"
            " metrics filter is added (PutBucketMetricsConfiguration)"
        ),
    )


def _judge_states(signal: Signal, rules: RulesConfig) -> Breach | None:
    rule, count = rules.step_functions, signal.samples.get("count", 0.0)
    kind = signal.labels.kind
    if not rule.enabled or count <= 0:
        return None
    if kind == "states.executions_aborted" and not rule.include_aborted:
        return None
    return _count_breach(
        signal,
        count,
        "executions",
        f"{_plural(count, _STATES_EVENTS[kind])} over {signal.window_seconds // 60} min",
        severity=rule.severity,
        critical_count=rule.critical_count,
        critical_note=f", at or above {rule.critical_count}",
    )


def _judge_quota(signal: Signal, rules: RulesConfig) -> Breach | None:
    rule = rules.service_quotas
    usage, quota = signal.samples.get("usage", 0.0), signal.samples.get("quota", 0.0)
    level = _level_reached(usage, quota, rule.warning_ratio, rule.critical_ratio)
    if not rule.enabled or level is None:
        return None
    name = signal.context.get("quota", signal.labels.resource)
    return _usage_breach(
        signal,
        level,
        usage / quota * 100,
        f"{name}: peak usage {usage:,.0f} of the quota {quota:,.0f}"
        f" ({usage / quota:.0%}) over {signal.window_seconds // 60} min, at or above"
        f" {level.ratio:.0%}",
    )


Judge = Callable[[Signal, "RulesConfig"], Breach | None]


@dataclass(frozen=True)
class SignalKind:
    """One kind of signal Vigil judges, declared once: what people call its alerts, the
    rules-config field that sets it (its section of docs/rules.md; ``None`` for Vigil's own
    health) and its judge."""

    name: str
    title: str
    config: str | None
    judge: Judge


def _registry(*kinds: SignalKind) -> dict[str, SignalKind]:
    registry: dict[str, SignalKind] = {}
    for kind in kinds:
        if kind.name in registry:
            raise ValueError(f"signal kind {kind.name} is declared twice")
        registry[kind.name] = kind
    return registry


KINDS: dict[str, SignalKind] = _registry(
    # Volume-aware error and throttle rates (docs/rules.md, lambda_errors, apigateway_*_5xx).
    *(SignalKind(name, spec.title, spec.rule, _judge_volume) for name, spec in KIND_SPECS.items()),
    # The Lambda dials.
    SignalKind(
        "lambda.account_concurrency",
        "Lambda account concurrency",
        "lambda_concurrency",
        lambda s, r: _judge_concurrency(s, r.lambda_concurrency),
    ),
    SignalKind(
        "lambda.reserved_concurrency",
        "Lambda reserved concurrency",
        "lambda_reserved_concurrency",
        lambda s, r: _judge_reserved(s, r.lambda_reserved_concurrency),
    ),
    SignalKind(
        "lambda.async_failures",
        "Lambda async delivery failures",
        "lambda_async",
        lambda s, r: _judge_async(s, r.lambda_async),
    ),
    SignalKind(
        "sqs.dlq_messages",
        "SQS dead-letter messages",
        "sqs_dlq",
        lambda s, r: _judge_dead_letters(s, r.sqs_dlq),
    ),
    # Data dials: DynamoDB, Kinesis and stream consumers.
    SignalKind(
        "lambda.iterator_age",
        "Lambda stream iterator age",
        "lambda_iterator_age",
        lambda s, r: _judge_iterator_age(s, r.lambda_iterator_age),
    ),
    SignalKind(
        "dynamodb.capacity",
        "DynamoDB capacity",
        "dynamodb_capacity",
        lambda s, r: _judge_capacity(s, r.dynamodb_capacity, "provisioned capacity"),
    ),
    SignalKind(
        "dynamodb.throttles",
        "DynamoDB throttles",
        "dynamodb_throttles",
        lambda s, r: _judge_events(s, r.dynamodb_throttles, "throttled requests"),
    ),
    SignalKind(
        "dynamodb.system_errors",
        "DynamoDB system errors",
        "dynamodb_system_errors",
        lambda s, r: _judge_events(s, r.dynamodb_system_errors, "DynamoDB internal server errors"),
    ),
    SignalKind(
        "kinesis.write_throttles",
        "Kinesis write throttles",
        "kinesis_write_throttles",
        lambda s, r: _judge_events(
            s, r.kinesis_write_throttles, "records refused for exceeding the shards' write limit"
        ),
    ),
    SignalKind(
        "kinesis.shard_capacity",
        "Kinesis shard capacity",
        "kinesis_shard_capacity",
        lambda s, r: _judge_capacity(s, r.kinesis_shard_capacity, "shards' write capacity"),
    ),
    SignalKind(
        "kinesis.iterator_age",
        "Kinesis iterator age",
        "kinesis_iterator_age",
        lambda s, r: _judge_iterator_age(s, r.kinesis_iterator_age),
    ),
    # Edge dials: S3 request metrics, Step Functions, service quotas.
    SignalKind("s3.5xx_rate", "S3 5xx rate", "s3", _judge_s3_errors),
    SignalKind("s3.latency", "S3 request latency", "s3", _judge_s3_latency),
    SignalKind("s3.request_metrics_missing", "S3 request metrics missing", "s3", _judge_s3_hint),
    *(
        SignalKind(name, f"Step Functions executions {state}", "step_functions", _judge_states)
        for name, state in (
            ("states.executions_failed", "failed"),
            ("states.executions_timed_out", "timed out"),
            ("states.executions_throttled", "throttled"),
            ("states.executions_aborted", "aborted"),
        )
    ),
    SignalKind("quota.usage", "Service quota usage", "service_quotas", _judge_quota),
    # Cost (one rule, four kinds).
    *(
        SignalKind(
            name,
            title,
            "cost",
            lambda s, r: _judge_cost(s, r.cost) if r.cost.enabled else None,
        )
        for name, title in (
            ("cost.daily_spike", "Cost spike"),
            ("cost.new_service", "New service spend"),
            ("cost.budget_forecast", "Budget forecast"),
            ("cost.budget_actual", "Budget exceeded"),
        )
    ),
    # Vigil's own health, judged like any other alert.
    SignalKind(CONFIG_KIND, "Vigil rules config invalid", None, lambda s, _: _judge_config(s)),
    SignalKind(HEALTH_POLL_KIND, "Vigil AWS Health poll failing", "health", _judge_health_poll),
)
"""Every kind Vigil judges (docs/rules.md): :func:`judge` and :func:`kind_title` look here."""

COST_KINDS = frozenset(name for name, kind in KINDS.items() if kind.config == "cost")


def judge(signal: Signal, rules: "RulesConfig") -> Breach | None:
    """Apply the rule for the signal's kind; ``None`` means healthy (or no rule)."""
    kind = KINDS.get(signal.labels.kind)
    return kind.judge(signal, rules) if kind is not None else None


def kind_title(kind: str) -> str:
    """What a human calls a kind's alerts: ``Lambda errors``, ``Cost spike``."""
    known = KINDS.get(kind)
    return known.title if known is not None else kind
