"""Each function's environment as a typed model, loaded once per cold start.

A missing or malformed variable fails the cold start with a message naming the variable,
instead of running with a silent default.
"""

import os
from collections.abc import Mapping
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vigil.core.errors import ConfigError, describe_validation
from vigil.rules.document import RulesConfig
from vigil.runbook.failover import FailoverPlans


class _Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        env = os.environ if environ is None else environ
        try:
            return cls.model_validate(dict(env))
        except ValidationError as exc:
            raise ConfigError(
                f"{cls.__name__}: invalid environment: {describe_validation(exc)}"
            ) from exc


class CommonSettings(_Settings):
    region: str = Field(alias="AWS_REGION", min_length=1)
    stack_name: str = Field(alias="VIGIL_STACK_NAME", min_length=1)
    table_name: str = Field(alias="VIGIL_TABLE_NAME", min_length=1)
    rules_json: str = Field(alias="VIGIL_RULES", default="{}")

    @property
    def rules(self) -> RulesConfig:
        return RulesConfig.from_json(self.rules_json)


class CollectorSettings(CommonSettings):
    evaluate_state_machine_arn: str = Field(
        alias="VIGIL_EVALUATE_STATE_MACHINE_ARN", pattern=r"^arn:aws[a-z-]*:states:"
    )
    batch_bucket: str = Field(alias="VIGIL_BATCH_BUCKET", min_length=3)
    """Where a batch too large for a workflow input goes (ADR 28)."""
    error_stream_mode: Literal["account-policy", "log-groups", "off"] = Field(
        alias="VIGIL_ERROR_STREAM_MODE", default="off"
    )
    """How the functions' error lines reach the error stream (ADR 42); not off, the function
    sweep is the backstop (``CollectionConfig.function_sweep``)."""
    error_stream_arn: str = Field(
        alias="VIGIL_ERROR_STREAM_ARN", default="", pattern=r"^(arn:aws[a-z-]*:lambda:.+)?$"
    )
    """The error stream function, which the discovery subscribes log groups to (log-groups)."""
    member_role_name: str = Field(alias="VIGIL_MEMBER_ROLE_NAME", default="vigil-member")
    """The member role the stack may assume (its ``MemberRoleName`` parameter, ADR 50)."""
    collect_state_machine_arn: str = Field(
        alias="VIGIL_COLLECT_STATE_MACHINE_ARN",
        default="",
        pattern=r"^(arn:aws[a-z-]*:states:.+)?$",
    )
    """The collect workflow, which reads the other accounts and regions (ADR 51)."""


class ChatSettings(CommonSettings):
    slack_secret_arn: str = Field(alias="VIGIL_SLACK_SECRET_ARN", min_length=1)
    chatbot_topic_arn: str = Field(
        alias="VIGIL_CHATBOT_TOPIC_ARN", default="", pattern=r"^(arn:aws[a-z-]*:sns:.+)?$"
    )


class SlackActionsSettings(CommonSettings):
    signing_secret_arn: str = Field(alias="VIGIL_SLACK_SIGNING_SECRET_ARN", min_length=1)
    topic_arn: str = Field(alias="VIGIL_ALERTS_TOPIC_ARN", pattern=r"^arn:aws[a-z-]*:sns:")
    """Where a refused decision is announced (ADR 32)."""
    chat_secret_arn: str = Field(alias="VIGIL_SLACK_SECRET_ARN", default="")
    """The chat secret, whose bot token (``approvers.slack_bot``) reads Slack user groups."""


class CostSettings(CollectorSettings):
    monthly_budget_usd: float = Field(alias="VIGIL_MONTHLY_BUDGET_USD", ge=0)


class HealthSettings(CollectorSettings):
    organization_view: bool = Field(alias="VIGIL_HEALTH_ORGANIZATION_VIEW", default=False)
    topic_arn: str = Field(alias="VIGIL_ALERTS_TOPIC_ARN", pattern=r"^arn:aws[a-z-]*:sns:")
    """Where a parked, unreadable aws.health event is announced (ADR 30)."""


class EvaluateSettings(CommonSettings):
    batch_bucket: str = Field(alias="VIGIL_BATCH_BUCKET", min_length=3)
    topic_arn: str = Field(alias="VIGIL_ALERTS_TOPIC_ARN", pattern=r"^arn:aws[a-z-]*:sns:")
    runbook_state_machine_arn: str = Field(
        alias="VIGIL_RUNBOOK_STATE_MACHINE_ARN", pattern=r"^arn:aws[a-z-]*:states:"
    )


class RunbookSettings(CommonSettings):
    """The outage runbook's function (template.yaml, ``RunbookFunction``)."""

    topic_arn: str = Field(alias="VIGIL_ALERTS_TOPIC_ARN", pattern=r"^arn:aws[a-z-]*:sns:")
    bucket: str = Field(alias="VIGIL_RUNBOOK_BUCKET", min_length=3)
    failover_plans_json: str = Field(alias="VIGIL_FAILOVER_PLANS", default="{}")
    hosted_zone_ids: str = Field(alias="VIGIL_FAILOVER_HOSTED_ZONE_IDS", default="")
    parameter_prefix: str = Field(alias="VIGIL_FAILOVER_PARAMETER_PREFIX", pattern=r"^/")
    approval_timeout_seconds: int = Field(alias="VIGIL_APPROVAL_TIMEOUT_SECONDS", ge=60)
    monitor_interval_seconds: int = Field(alias="VIGIL_MONITOR_INTERVAL_SECONDS", ge=60)
    heartbeat_seconds: int = Field(alias="VIGIL_MONITOR_HEARTBEAT_SECONDS", ge=60)
    max_duration_seconds: int = Field(alias="VIGIL_MONITOR_MAX_SECONDS", ge=300)
    status_page_title: str = Field(alias="VIGIL_STATUS_PAGE_TITLE", min_length=1)

    @property
    def failover_plans(self) -> FailoverPlans:
        zones = frozenset(z.strip() for z in self.hosted_zone_ids.split(",") if z.strip())
        return FailoverPlans.from_json(
            self.failover_plans_json,
            hosted_zone_ids=zones,
            parameter_prefix=self.parameter_prefix,
        )


class SentinelSettings(_Settings):
    """The sentinel's environment (``sentinel/template.yaml``, ADR 48); it reads no rules
    config: it watches a stack, not workloads."""

    region: str = Field(alias="AWS_REGION", min_length=1)
    stack_name: str = Field(alias="VIGIL_STACK_NAME", min_length=1)
    table_name: str = Field(alias="VIGIL_TABLE_NAME", min_length=1)
    primary_region: str = Field(
        alias="VIGIL_SENTINEL_PRIMARY_REGION", pattern=r"^[a-z]{2}(-[a-z]+)+-\d$"
    )
    primary_stack: str = Field(alias="VIGIL_SENTINEL_PRIMARY_STACK", min_length=1)
    collector_function: str = Field(alias="VIGIL_SENTINEL_COLLECTOR_FUNCTION", min_length=1)
    """The primary's metrics collector, whose invocations are the heartbeat."""
    topic_arn: str = Field(alias="VIGIL_SENTINEL_TOPIC_ARN", pattern=r"^arn:aws[a-z-]*:sns:")
    secret_arn: str = Field(alias="VIGIL_SENTINEL_SECRET_ARN", min_length=1)
    stale_minutes: int = Field(alias="VIGIL_SENTINEL_STALE_MINUTES", ge=1, default=15)
    down_after: int = Field(alias="VIGIL_SENTINEL_DOWN_AFTER", ge=1, default=2)
    repeat_minutes: int = Field(alias="VIGIL_SENTINEL_REPEAT_MINUTES", ge=1, default=60)
    runbook_arn: str = Field(
        alias="VIGIL_SENTINEL_RUNBOOK_ARN",
        default="",
        pattern=r"^(arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:.+)?$",
    )
    """The outage runbook of a Vigil stack in the standby region, started when the primary
    goes down (empty: announce only)."""
    runbook_dry_run: bool = Field(alias="VIGIL_SENTINEL_RUNBOOK_DRY_RUN", default=True)
    runbook_service: str = Field(
        alias="VIGIL_SENTINEL_RUNBOOK_SERVICE",
        default="lambda",
        pattern=r"^[a-z0-9][a-z0-9-]{1,40}$",
    )
