"""The Slack endpoint's composition: the clients with short time-outs, the stores and the
Slack readers wired into the two paths of :mod:`vigil.runbook.slack_actions` (acknowledge a request,
act on a queued press), and PagerDuty's webhook on its own path
(:mod:`vigil.runbook.pagerduty_webhook`); ``functions/slack_actions/app.py`` is the handler."""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import boto3
from aws_lambda_powertools.utilities.data_classes import LambdaFunctionUrlEvent
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from slack_sdk.http_retry.handler import RetryHandler

from vigil.adapters.incident_store import ApprovalStore
from vigil.adapters.routing_store import GroupStore, SilenceStore
from vigil.adapters.slack import SlackWebhook
from vigil.adapters.slack_bot import SLACK_API_URL, SlackUserGroups
from vigil.adapters.stats import CallStats
from vigil.adapters.topic import AlertsTopic
from vigil.adapters.workflow import TaskCallback
from vigil.alerting.acknowledge import Acknowledged, acknowledge_target
from vigil.compose.settings import SlackActionsSettings
from vigil.rules.routing import RoutingConfig
from vigil.runbook.pagerduty_webhook import PATH, SIGNING_FIELD, WebhookPorts, handle_webhook
from vigil.runbook.slack_actions import (
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


@dataclass(frozen=True)
class Acknowledgements:
    """Acknowledges notification groups for a press or PagerDuty's webhook (ADR 44)."""

    groups: GroupStore
    routing: RoutingConfig
    stack: str
    via: Literal["slack", "pagerduty"]

    def acknowledge(self, group_id: str, *, by: str, now: datetime) -> list[Acknowledged]:
        return acknowledge_target(
            self.groups,
            group_id,
            by=by,
            via=self.via,
            now=now,
            routing=self.routing,
            stack=self.stack,
            alerts=False,  # a button or an incident names its group
        )


class Replies:
    """Posts the reply to a press's ``response_url`` (one attempt of a second)."""

    def post(self, url: str, message: dict[str, Any]) -> None:
        _ReplyOnce(url, timeout=RESPONSE_URL_TIMEOUT).post(message)


@dataclass(frozen=True)
class Environment:
    """What every invocation of one cold start shares (the handler caches it)."""

    settings: SlackActionsSettings
    secrets: SecretsProvider
    lambda_: Any
    """The Lambda client that queues a press (``Invoke``, ``InvocationType=Event``)."""
    ports: ActPorts
    pagerduty: Acknowledgements


def environment() -> Environment:
    """The settings, the clients (every one with the short time-outs of ``AWS_CALLS``) and
    the ports of a queued press."""
    settings = SlackActionsSettings.from_env()
    config = AWS_CALLS.botocore()
    dynamodb = boto3.client("dynamodb", config=config)
    secrets = SecretsProvider(boto3_client=boto3.client("secretsmanager", config=config))
    rules = settings.rules
    groups = GroupStore(
        dynamodb, settings.table_name, retention=timedelta(days=rules.resolved_retention_days)
    )
    acknowledgements = Acknowledgements(groups, rules.routing, settings.stack_name, "slack")
    ports = ActPorts(
        approvals=ApprovalStore(dynamodb, settings.table_name),
        callback=TaskCallback(boto3.client("stepfunctions", config=config)),
        silences=SilenceStore(dynamodb, settings.table_name),
        approvers=rules.approvers,
        notices=AlertsTopic(boto3.client("sns", config=config), settings.topic_arn),
        replies=Replies(),
        stack=settings.stack_name,
        groups=lambda: _groups(settings, secrets, rules.approvers.slack_bot),
        acknowledgements=acknowledgements,
    )
    pagerduty = Acknowledgements(groups, rules.routing, settings.stack_name, "pagerduty")
    return Environment(settings, secrets, boto3.client("lambda", config=config), ports, pagerduty)


def _secret(secrets: SecretsProvider, arn: str) -> dict[str, Any]:
    value = secrets.get(arn, transform="json", max_age=SECRET_CACHE_SECONDS)
    return value if isinstance(value, dict) else {}


def _signing_secret(deps: Environment) -> tuple[str, str]:
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


def _webhook_secret(deps: Environment) -> str:
    """PagerDuty's webhook signing secret from the chat secret ('' when unset: all refused)."""
    if not deps.settings.chat_secret_arn:
        return ""
    value = _secret(deps.secrets, deps.settings.chat_secret_arn).get(SIGNING_FIELD)
    return value if isinstance(value, str) else ""


def enqueue(deps: Environment, function_arn: str, job: PressJob) -> None:
    """Queue a verified press as an asynchronous invocation of the function itself."""
    deps.lambda_.invoke(
        FunctionName=function_arn,
        InvocationType="Event",
        Payload=json.dumps({JOB_KEY: job.model_dump(mode="json")}).encode(),
    )


def handle(event: dict[str, Any], *, env: Environment, function_arn: str) -> dict[str, Any]:
    """A queued press is acted on (an empty answer); PagerDuty's webhook (its own path) is
    verified and acted on at once; a Slack request is acknowledged: verified, queued and
    answered within Slack's 3 seconds, or refused 4xx."""
    if JOB_KEY in event:
        act(PressJob.model_validate(event[JOB_KEY]), ports=env.ports)
        return {}
    request = LambdaFunctionUrlEvent(event)
    raw_path = request.get("rawPath")  # read as sent: a function URL event has no stage
    if isinstance(raw_path, str) and raw_path.rstrip("/") == PATH:
        ports = WebhookPorts(secret=lambda: _webhook_secret(env), acknowledgements=env.pagerduty)
        return handle_webhook(request, ports=ports).event()
    return acknowledge(
        request,
        secrets=lambda: _signing_secret(env),
        enqueue=lambda job: enqueue(env, function_arn, job),
    ).event()
