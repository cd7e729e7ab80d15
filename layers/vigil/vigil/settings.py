"""Each function's environment as a typed model, loaded once per cold start.

A missing or malformed variable fails the cold start with a message naming the variable,
instead of running with a silent default.
"""

import os
from collections.abc import Mapping
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vigil.errors import ConfigError, describe_validation
from vigil.rules import RulesConfig


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


class ChatSettings(CommonSettings):
    slack_secret_arn: str = Field(alias="VIGIL_SLACK_SECRET_ARN", min_length=1)


class SlackActionsSettings(CommonSettings):
    signing_secret_arn: str = Field(alias="VIGIL_SLACK_SIGNING_SECRET_ARN", min_length=1)


class CostSettings(CollectorSettings):
    monthly_budget_usd: float = Field(alias="VIGIL_MONTHLY_BUDGET_USD", ge=0)


class HealthSettings(CollectorSettings):
    organization_view: bool = Field(alias="VIGIL_HEALTH_ORGANIZATION_VIEW", default=False)


class EvaluateSettings(CommonSettings):
    runbook_state_machine_arn: str = Field(
        alias="VIGIL_RUNBOOK_STATE_MACHINE_ARN", pattern=r"^arn:aws[a-z-]*:states:"
    )
