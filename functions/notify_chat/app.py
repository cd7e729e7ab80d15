"""SNS subscriber: deliver each alert notification (and self-watch alarm) to its receiver's
chat channels: Slack, Teams, JSON webhooks and the Amazon Q Developer topic."""

from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.data_classes import SNSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from vigil.adapters.chatbot import ChatbotTopic
from vigil.adapters.config_store import LastGoodConfig
from vigil.adapters.slack import SlackWebhook
from vigil.adapters.slack_bot import SLACK_API_URL, SlackBot, ThreadStore
from vigil.adapters.stats import CallStats
from vigil.adapters.table import DeliveryLog
from vigil.adapters.teams import TeamsWebhook
from vigil.adapters.webhook import JsonWebhook
from vigil.alarms import chat_payload
from vigil.clock import parse_time
from vigil.config_state import load_rules
from vigil.delivery import (
    PLATFORMS,
    ChatPort,
    Platform,
    bot_keys,
    chat_keys,
    deliver_to_chat,
    deliver_to_slack_bot,
)
from vigil.observability import logger, metrics, tracer
from vigil.rules import RulesConfig
from vigil.settings import ChatSettings

SECRET_CACHE_SECONDS = 300


_WEBHOOKS: dict[Platform, type[SlackWebhook]] = {
    "slack": SlackWebhook,
    "teams": TeamsWebhook,
    "webhook": JsonWebhook,
}


@dataclass(frozen=True)
class _Deps:
    settings: ChatSettings
    rules: RulesConfig
    log: DeliveryLog
    threads: ThreadStore
    topic: ChatbotTopic | None


@cache
def _deps() -> _Deps:
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
    return _Deps(settings, rules, log, threads, topic)


def _destination(
    settings: ChatSettings, topic: ChatbotTopic | None, platform: Platform, key: str
) -> ChatPort | None:
    """Where ``key`` points: the webhook the chat secret names under it (none while it is
    empty), or the Amazon Q Developer topic."""
    if platform == "chatbot":
        return topic
    url = _secret(settings).get(key)
    return _WEBHOOKS[platform](url) if url else None


def _secret(settings: ChatSettings) -> dict[str, str]:
    secret = parameters.get_secret(
        settings.slack_secret_arn, transform="json", max_age=SECRET_CACHE_SECONDS
    )
    return {str(k): str(v) for k, v in secret.items()} if isinstance(secret, dict) else {}


def _bot(settings: ChatSettings, key: str, channel: str) -> SlackBot | None:
    """The Slack bot whose token the chat secret holds under ``key`` (none while empty)."""
    secret = _secret(settings)
    token = secret.get(key)
    if not token:
        return None
    api_url = secret.get("slack_api_url") or SLACK_API_URL
    return SlackBot(token, channel, stats=CallStats(), api_url=api_url)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=SNSEvent)
def lambda_handler(event: SNSEvent, context: LambdaContext) -> dict[str, Any]:
    deps = _deps()
    outcomes: dict[str, int] = {}

    def count(outcome: str) -> None:
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        metrics.add_metric(f"Chat_{outcome.replace('-', '_')}", MetricUnit.Count, 1)

    for record in event.records:
        payload = chat_payload(record.sns.message, stack=deps.settings.stack_name)
        now = parse_time(record.sns.timestamp, field="Sns.Timestamp")
        for platform in PLATFORMS:
            for key in chat_keys(deps.rules.routing, payload.receiver, platform):
                chat = _destination(deps.settings, deps.topic, platform, key)
                count(
                    deliver_to_chat(
                        payload, platform=platform, chat=chat, log=deps.log, now=now, key=key
                    )
                )
        for key, channel in bot_keys(deps.rules.routing, payload.receiver):
            bot = _bot(deps.settings, key, channel)
            count(
                deliver_to_slack_bot(
                    payload, bot=bot, threads=deps.threads, log=deps.log, now=now, key=key
                )
            )
    return {"outcomes": outcomes}
