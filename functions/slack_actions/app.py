"""Slack interactivity endpoint (a Lambda function URL): verify, queue, then act on a press.

The function URL has no AWS auth (Slack cannot sign AWS requests); the Slack signature is
the authentication. Two kinds of event reach the handler (vigil.slack_actions, ADR 32):

- a request (function URL, payload 2.0, parsed with Powertools' ``LambdaFunctionUrlEvent``):
  verified and checked, queued as an asynchronous invocation of this function, answered 200
  within Slack's 3 seconds; a request that fails is answered 4xx and nothing is acted on;
- a queued press (``{"vigil_slack_press": ...}``, only from this function): the decision or
  silence, a refusal recorded and announced, the reply to ``response_url``.

``now`` is the moment the request reached the URL (``requestContext.timeEpoch``).
"""

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities.data_classes import LambdaFunctionUrlEvent
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.typing import LambdaContext
from slack_sdk.http_retry.handler import RetryHandler

from vigil.adapters.slack import SlackWebhook
from vigil.adapters.slack_bot import SLACK_API_URL, SlackUserGroups
from vigil.adapters.stats import CallStats
from vigil.adapters.table import ApprovalStore, SilenceStore
from vigil.adapters.topic import AlertsTopic
from vigil.adapters.workflow import TaskCallback
from vigil.observability import logger, metrics, tracer
from vigil.settings import SlackActionsSettings
from vigil.slack_actions import (
    AWS_CALLS,
    JOB_KEY,
    SLACK_HOOKS_URL,
    ActPorts,
    PressJob,
    acknowledge,
    act,
)

SECRET_CACHE_SECONDS = 300
RESPONSE_URL_TIMEOUT = 1
"""The reply to a press: one attempt of at most a second."""


def _no_retries() -> list[RetryHandler]:
    return []


class _ReplyOnce(SlackWebhook):
    """The reply to a press: one attempt, no retries. Only the note in Slack can be lost:
    the decision or silence is already stored."""

    retry_handlers = staticmethod(_no_retries)


class _Replies:
    def post(self, url: str, message: dict[str, Any]) -> None:
        _ReplyOnce(url, timeout=RESPONSE_URL_TIMEOUT).post(message)


@dataclass(frozen=True)
class _Deps:
    settings: SlackActionsSettings
    secrets: SecretsProvider
    lambda_: Any
    """The Lambda client that queues a press (``Invoke``, ``InvocationType=Event``)."""
    ports: ActPorts


@cache
def _deps() -> _Deps:
    settings = SlackActionsSettings.from_env()
    config = AWS_CALLS.botocore()
    dynamodb = boto3.client("dynamodb", config=config)
    secrets = SecretsProvider(boto3_client=boto3.client("secretsmanager", config=config))
    rules = settings.rules
    ports = ActPorts(
        approvals=ApprovalStore(dynamodb, settings.table_name),
        callback=TaskCallback(boto3.client("stepfunctions", config=config)),
        silences=SilenceStore(dynamodb, settings.table_name),
        approvers=rules.approvers,
        notices=AlertsTopic(boto3.client("sns", config=config), settings.topic_arn),
        replies=_Replies(),
        stack=settings.stack_name,
        groups=lambda: _groups(settings, secrets, rules.approvers.slack_bot),
    )
    return _Deps(settings, secrets, boto3.client("lambda", config=config), ports)


def _secret(secrets: SecretsProvider, arn: str) -> dict[str, Any]:
    value = secrets.get(arn, transform="json", max_age=SECRET_CACHE_SECONDS)
    return value if isinstance(value, dict) else {}


def _signing_secret(deps: _Deps) -> tuple[str, str]:
    """The signing secret, and the hooks URL a ``response_url`` must be on: Slack's, unless
    the secret names another (``hooks_url``, as the local emulator does, like the chat
    secret's ``slack_api_url``)."""
    values = _secret(deps.secrets, deps.settings.signing_secret_arn)
    signing, hooks = values.get("signing_secret"), values.get("hooks_url")
    return (
        signing if isinstance(signing, str) else "",
        hooks if isinstance(hooks, str) else SLACK_HOOKS_URL,
    )


_GROUPS: dict[str, SlackUserGroups] = {}
"""One reader per bot token and API URL, so its members cache outlives the invocation."""


def _groups(
    settings: SlackActionsSettings, secrets: SecretsProvider, key: str
) -> SlackUserGroups | None:
    """The user group reader with the chat secret's bot token, or None without one."""
    if not settings.chat_secret_arn:
        return None
    values = _secret(secrets, settings.chat_secret_arn)
    token, api_url = values.get(key), values.get("slack_api_url") or SLACK_API_URL
    if not isinstance(token, str) or not token:
        return None
    cache_key = f"{api_url}|{token}"
    if cache_key not in _GROUPS:
        _GROUPS[cache_key] = SlackUserGroups(token, stats=CallStats(), api_url=str(api_url))
    return _GROUPS[cache_key]


def _enqueue(deps: _Deps, function_arn: str, job: PressJob) -> None:
    deps.lambda_.invoke(
        FunctionName=function_arn,
        InvocationType="Event",
        Payload=json.dumps({JOB_KEY: job.model_dump(mode="json")}).encode(),
    )


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deps = _deps()
    if JOB_KEY in event:
        act(PressJob.model_validate(event[JOB_KEY]), ports=deps.ports)
        return {}
    return acknowledge(
        LambdaFunctionUrlEvent(event),
        secrets=lambda: _signing_secret(deps),
        enqueue=lambda job: _enqueue(deps, context.invoked_function_arn, job),
    ).event()
