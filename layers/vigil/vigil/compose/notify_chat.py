"""The chat function's composition: each SNS record's notification delivered to its
receiver's chat channels through the adapters behind the chat secret's keys
(``functions/notify_chat/app.py`` is the handler)."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.data_classes import SNSEvent

from vigil.adapters.chatbot import ChatbotTopic
from vigil.adapters.config_store import LastGoodConfig
from vigil.adapters.delivery_log import DeliveryLog
from vigil.adapters.pagerduty import PagerDutyEvents
from vigil.adapters.slack import SlackWebhook
from vigil.adapters.slack_bot import SLACK_API_URL, SlackBot, ThreadStore
from vigil.adapters.stats import CallStats
from vigil.adapters.teams import TeamsWebhook
from vigil.adapters.webhook import JsonWebhook
from vigil.alerting.alarms import chat_payload
from vigil.channels.delivery import ChatPort, Platform, SlackBotPort, Unset, deliver
from vigil.channels.pagerduty import EVENTS_URL
from vigil.compose.settings import ChatSettings
from vigil.core.observability import metrics
from vigil.rules.document import RulesConfig
from vigil.rules.loading import load_rules

SECRET_CACHE_SECONDS = 300
MISCONFIGURED_METRIC = "Chat_misconfigured"
"""Destinations that cannot work until their configuration changes (template.yaml,
``ChatMisconfiguredAlarm``)."""


PAGERDUTY_URL_KEY = "pagerduty_events_url"
"""The chat secret key that points PagerDuty events elsewhere (the local emulator); unset:
PagerDuty's own endpoint."""

_WEBHOOKS: dict[Platform, type[SlackWebhook]] = {
    "slack": SlackWebhook,
    "teams": TeamsWebhook,
    "webhook": JsonWebhook,
}


@dataclass(frozen=True)
class Environment:
    """What every invocation of one cold start shares (the handler caches it)."""

    settings: ChatSettings
    rules: RulesConfig
    log: DeliveryLog
    threads: ThreadStore
    topic: ChatbotTopic | None


def environment() -> Environment:
    """The settings, the rules config in force (the last good one if it is invalid), the
    delivery log, the Slack threads and the Amazon Q Developer topic."""
    settings = ChatSettings.from_env()
    dynamodb = boto3.client("dynamodb")
    last_good = LastGoodConfig(dynamodb, settings.table_name, stats=CallStats())
    rules = load_rules(settings.rules_json, last_good=last_good).rules
    retention = timedelta(days=rules.resolved_retention_days)
    log = DeliveryLog(dynamodb, settings.table_name, retention=retention)
    threads = ThreadStore(dynamodb, settings.table_name, retention=retention, stats=CallStats())
    topic = (
        ChatbotTopic(boto3.client("sns"), settings.chatbot_topic_arn, stats=CallStats())
        if settings.chatbot_topic_arn
        else None
    )
    return Environment(settings, rules, log, threads, topic)


@dataclass(frozen=True)
class _Destinations:
    """The adapters behind the chat secret's keys, read once per invocation (cached for
    ``SECRET_CACHE_SECONDS`` across invocations), and the Amazon Q Developer topic."""

    secret: dict[str, str]
    topic: ChatbotTopic | None

    def webhook(self, platform: Platform, key: str) -> ChatPort | Unset:
        if platform == "chatbot":
            return self.topic or "missing"
        value = self.secret.get(key)
        if not value:
            return self._unset(key)
        if platform == "pagerduty":
            return PagerDutyEvents(value, url=self.secret.get(PAGERDUTY_URL_KEY) or EVENTS_URL)
        return _WEBHOOKS[platform](value)

    def bot(self, key: str, channel: str) -> SlackBotPort | Unset:
        token = self.secret.get(key)
        if not token:
            return self._unset(key)
        api_url = self.secret.get("slack_api_url") or SLACK_API_URL
        return SlackBot(token, channel, stats=CallStats(), api_url=api_url)

    def _unset(self, key: str) -> Unset:
        return "empty" if key in self.secret else "missing"


def _secret(settings: ChatSettings) -> dict[str, str]:
    secret = parameters.get_secret(
        settings.slack_secret_arn, transform="json", max_age=SECRET_CACHE_SECONDS
    )
    return {str(k): str(v) for k, v in secret.items()} if isinstance(secret, dict) else {}


def deliver_records(
    event: SNSEvent, *, env: Environment, clock: Callable[[], datetime]
) -> dict[str, Any]:
    """Deliver every record's notification; the outcomes counted. A delivery that failed is
    raised after the metrics of the others are added (Lambda retries the event; the delivery
    log makes the retry post only what is missing)."""
    outcomes: dict[str, int] = {}
    for record in event.records:
        payload = chat_payload(record.sns.message, stack=env.settings.stack_name)
        report = deliver(
            payload,
            routing=env.rules.routing,
            ports=_Destinations(_secret(env.settings), env.topic),
            threads=env.threads,
            log=env.log,
            clock=clock,
            stack=env.settings.stack_name,
        )
        for outcome in report.outcomes:
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if outcome != "misconfigured":
                metrics.add_metric(f"Chat_{outcome.replace('-', '_')}", MetricUnit.Count, 1)
        # published on every delivery, 0 included: ChatMisconfiguredAlarm ignores missing
        # data, so it stays in ALARM until a notification reaches all of its destinations
        misconfigured = report.outcomes.count("misconfigured")
        metrics.add_metric(MISCONFIGURED_METRIC, MetricUnit.Count, misconfigured)
        report.raise_failures()
    return {"outcomes": outcomes}
