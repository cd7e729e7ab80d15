"""The rules config: one document composed of every family's rule models.

The config is one JSON document (the ``RulesConfig`` stack parameter, ``VIGIL_RULES`` in the
functions' environment) that overrides the defaults of each family's models (``vigil.rules``'
``volume``, ``lambda_dials``, ``data_dials``, ``edge_dials``, ``cost``, ``health``,
``alarms``, ``organization``);
docs/rules.md documents every field with its reason. It is validated at cold start: an
invalid document raises ``ConfigError`` naming each offending field, e.g.
``lambda_errors.warning_rate``.
"""

import json
from collections.abc import Mapping
from typing import Annotated, Literal, Self

from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from vigil.core.errors import ConfigError, describe_validation
from vigil.core.json_lines import line_and_column
from vigil.core.model import Labels
from vigil.rules.alarms import CloudWatchAlarmsRule
from vigil.rules.base import (
    ConfigModel,
)
from vigil.rules.cost import CostRule
from vigil.rules.data_dials import CapacityRule, EventCountRule, IteratorAgeRule
from vigil.rules.edge_dials import ApiLatencyRule, QuotaRule, S3RequestRule, StepFunctionsRule
from vigil.rules.health import HealthConfig, OutageConfig
from vigil.rules.lambda_dials import (
    AsyncDeliveryRule,
    AsyncErrorsRule,
    ConcurrencyRule,
    DeadLetterQueueRule,
    ErrorTrackingRule,
    ReservedConcurrencyRule,
    TimeoutRule,
)
from vigil.rules.matchers import LabelKey
from vigil.rules.organization import OrganizationConfig
from vigil.rules.overrides import (
    Override,
    Resolver,
    ResolverSlot,
    checked,
    merge,
    rule_sections,
    runbook_url,
)
from vigil.rules.routing import LABEL_NAMES, RoutingConfig
from vigil.rules.status_page import StatusPageConfig
from vigil.rules.volume import KIND_SPECS, VolumeAwareRule

_BACKSTOP_SWEEP_MINUTES = 1440


class CollectionConfig(ConfigModel):
    """The collection cycle: its window, and the per-resource sweep (docs/architecture.md)."""

    window_minutes: Annotated[int, Field(ge=1, le=60)] = 5
    lag_minutes: Annotated[int, Field(ge=0, le=15)] = 2
    # At a 60 s period, 500 metrics x 180 points stays under GetMetricData's 100,800.
    sweep_minutes: Annotated[int, Field(ge=5, le=180)] = 60
    # Dead-letter queues change with deployments, not with traffic.
    discovery_minutes: Annotated[int, Field(ge=5, le=1440)] = 60
    # Every function's errors: hourly without the error stream; with it, the stream finds a
    # function's first errors within minutes and this sweep is the backstop for functions
    # that log no error line (ADR 42). None: 60, or 1440 (daily) with the error stream on.
    function_sweep_minutes: Annotated[int, Field(ge=5, le=1440)] | None = None
    # The regions watched besides the stack's own (ADR 51): each read from the stack's region
    # through the collect workflow, members through the OAM sink of that region (ADR 53).
    regions: Annotated[
        list[Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")]], Field(max_length=20)
    ] = Field(default_factory=list)

    @field_validator("regions")
    @classmethod
    def _regions_once(cls, value: list[str]) -> list[str]:
        twice = sorted({region for region in value if value.count(region) > 1})
        if twice:
            raise ValueError(f"{', '.join(twice)} is listed more than once")
        return value

    @model_validator(mode="after")
    def _sweep_tiles_windows(self) -> Self:
        if self.sweep_minutes % self.window_minutes:
            raise ValueError("sweep_minutes must be a multiple of window_minutes")
        if self.discovery_minutes % self.window_minutes:
            raise ValueError("discovery_minutes must be a multiple of window_minutes")
        if self.function_sweep_minutes and self.function_sweep_minutes % self.window_minutes:
            raise ValueError("function_sweep_minutes must be a multiple of window_minutes")
        return self

    def function_sweep(self, *, error_stream: bool) -> int:
        """How often every function's errors are swept: the configured period, or 60 minutes
        (1,440, daily, when the error stream reads the functions' error lines)."""
        if self.function_sweep_minutes is not None:
            return self.function_sweep_minutes
        return _BACKSTOP_SWEEP_MINUTES if error_stream else self.sweep_minutes


class TagMatch(ConfigModel):
    """A tag a resource must carry: ``key`` with any of ``values`` (none listed: any value)."""

    key: Annotated[str, Field(min_length=1, max_length=128)]
    values: list[Annotated[str, Field(max_length=256)]] = Field(default_factory=list)

    def matches(self, tags: Mapping[str, str]) -> bool:
        return self.key in tags and (not self.values or tags[self.key] in self.values)


class TagFilters(ConfigModel):
    """Which discovered resources are watched, by their tags, and which tags their alerts carry
    as labels (docs/rules.md, ``tags``).

    A resource is watched when ``include`` is empty or one of its entries matches, and no
    entry of ``exclude`` matches. With both lists empty (the default) every resource is watched.
    ``labels`` names the tag keys (``team``, ``env``) whose values become labels of the
    resource's alerts, for routes, silences, inhibit rules and ``group_by``; the tags are read
    at discovery (ADR 43).
    """

    include: list[TagMatch] = Field(default_factory=list)
    exclude: list[TagMatch] = Field(default_factory=list)
    labels: Annotated[list[LabelKey], Field(max_length=20)] = Field(default_factory=list)

    @field_validator("labels")
    @classmethod
    def _label_names(cls, value: list[str]) -> list[str]:
        fixed = sorted(set(value) & set(LABEL_NAMES))
        if fixed:
            raise ValueError(f"{', '.join(fixed)} is one of the alert's own labels")
        twice = sorted({label for label in value if value.count(label) > 1})
        if twice:
            raise ValueError(f"{', '.join(twice)} is listed more than once")
        return value

    def label_tags(self, tags: Mapping[str, str]) -> dict[str, str]:
        """The allowlisted ``tags`` as labels; a tag the resource lacks gives no label."""
        return {key: tags[key] for key in self.labels if key in tags}

    @property
    def active(self) -> bool:
        return bool(self.include or self.exclude)

    def allows(self, tags: Mapping[str, str]) -> bool:
        if self.include and not any(match.matches(tags) for match in self.include):
            return False
        return not any(match.matches(tags) for match in self.exclude)


class ApproversConfig(ConfigModel):
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


def _write_throttles_default() -> EventCountRule:
    return EventCountRule(critical_events=1000)


def _system_errors_default() -> EventCountRule:
    return EventCountRule(critical_events=100)


def _lambda_errors_default() -> VolumeAwareRule:
    return VolumeAwareRule(
        warning_rate=0.001,
        critical_rate=0.01,
        for_minutes=5,
    )


def _lambda_throttles_default() -> VolumeAwareRule:
    return VolumeAwareRule(
        warning_rate=0.01,
        critical_rate=0.05,
        for_minutes=10,
    )


def _api_5xx_default() -> VolumeAwareRule:
    return VolumeAwareRule(
        warning_rate=0.001,
        critical_rate=0.01,
        for_minutes=5,
    )


def _sqs_failures_default() -> VolumeAwareRule:
    # A message is moved only after maxReceiveCount failed receives: consumers retried it.
    return VolumeAwareRule(
        warning_rate=0.001,
        critical_rate=0.01,
        for_minutes=5,
    )


def _api_4xx_default() -> VolumeAwareRule:
    # Off by default: mostly the clients' own mistakes, and one more metric per API a cycle.
    return VolumeAwareRule(
        enabled=False,
        warning_rate=0.05,
        critical_rate=0.25,
        min_events=10,
        for_minutes=10,
    )


class RulesConfig(ConfigModel):
    version: Literal[1] = 1
    collection: CollectionConfig = Field(default_factory=CollectionConfig)
    lambda_errors: VolumeAwareRule = Field(default_factory=_lambda_errors_default)
    lambda_throttles: VolumeAwareRule = Field(default_factory=_lambda_throttles_default)
    lambda_concurrency: ConcurrencyRule = Field(default_factory=ConcurrencyRule)
    lambda_reserved_concurrency: ReservedConcurrencyRule = Field(
        default_factory=ReservedConcurrencyRule
    )
    lambda_async: AsyncDeliveryRule = Field(default_factory=AsyncDeliveryRule)
    lambda_async_errors: AsyncErrorsRule = Field(default_factory=AsyncErrorsRule)
    error_tracking: ErrorTrackingRule = Field(default_factory=ErrorTrackingRule)
    lambda_timeouts: TimeoutRule = Field(default_factory=TimeoutRule)
    sqs_dlq: DeadLetterQueueRule = Field(default_factory=DeadLetterQueueRule)
    sqs_failures: VolumeAwareRule = Field(default_factory=_sqs_failures_default)
    s3: S3RequestRule = Field(default_factory=S3RequestRule)
    step_functions: StepFunctionsRule = Field(default_factory=StepFunctionsRule)
    apigateway_rest_5xx: VolumeAwareRule = Field(default_factory=_api_5xx_default)
    apigateway_http_5xx: VolumeAwareRule = Field(default_factory=_api_5xx_default)
    apigateway_rest_4xx: VolumeAwareRule = Field(default_factory=_api_4xx_default)
    apigateway_http_4xx: VolumeAwareRule = Field(default_factory=_api_4xx_default)
    apigateway_latency: ApiLatencyRule = Field(default_factory=ApiLatencyRule)
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
    cloudwatch_alarms: CloudWatchAlarmsRule = Field(default_factory=CloudWatchAlarmsRule)
    repeat_interval_minutes: Annotated[int, Field(ge=1, le=10080)] = 240
    send_resolved: bool = True
    resolved_retention_days: Annotated[int, Field(ge=1, le=400)] = 30
    health: HealthConfig = Field(default_factory=HealthConfig)
    outage: OutageConfig = Field(default_factory=OutageConfig)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    approvers: ApproversConfig = Field(default_factory=ApproversConfig)
    status_page: StatusPageConfig = Field(default_factory=StatusPageConfig)
    organization: OrganizationConfig = Field(default_factory=OrganizationConfig)
    overrides: list[Override] = Field(default_factory=list)
    _resolver: ResolverSlot = PrivateAttr(default_factory=ResolverSlot)

    @field_validator("overrides")
    @classmethod
    def _overrides_merge(cls, entries: list[Override], info: ValidationInfo) -> list[Override]:
        return checked(entries, info.data)

    @property
    def resolver(self) -> Resolver:
        """The per-resource rules (``overrides`` and ``vigil:`` tags), cached for this config."""
        return self._resolver.resolver(
            self, lambda: Resolver(self.overrides, rule_sections(dict(self)))
        )

    def runbook_url(self, labels: Labels, tags: Mapping[str, str] | None = None) -> str | None:
        """The runbook an alert links (docs/rules.md, "Per-resource overrides"): its resource's
        ``vigil:runbook`` tag, else the last entry of ``overrides`` that selects it and names
        one."""
        return runbook_url(self.overrides, labels.kind, labels.resource, tags or {})

    @classmethod
    def from_json(cls, text: str, *, source: str = "VIGIL_RULES") -> "RulesConfig":
        """Parse overrides; fields not given keep their defaults, nested objects merge."""
        try:
            overrides = json.loads(text or "{}")
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{source}: not valid JSON ({exc})") from exc
        if not isinstance(overrides, dict):
            raise ConfigError(f"{source}: expected a JSON object, got {type(overrides).__name__}")
        merged = merge(cls().model_dump(mode="json", by_alias=True), overrides)
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
