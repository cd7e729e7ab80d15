"""SNS subscriber: deliver each alert notification (and self-watch alarm) to its receiver's
chat channels: Slack, Teams, JSON webhooks and the Amazon Q Developer topic."""

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
from vigil.adapters.stats import CallStats
from vigil.adapters.table import DeliveryLog
from vigil.adapters.teams import TeamsWebhook
from vigil.adapters.webhook import JsonWebhook
from vigil.alarms import chat_payload
from vigil.clock import parse_time
from vigil.config_state import load_rules
from vigil.delivery import PLATFORMS, ChatPort, Platform, chat_keys, deliver_to_chat
from vigil.observability import logger, metrics, tracer
from vigil.rules import RulesConfig
from vigil.settings import ChatSettings

SECRET_CACHE_SECONDS = 300


_WEBHOOKS: dict[Platform, type[SlackWebhook]] = {
    "slack": SlackWebhook,
    "teams": TeamsWebhook,
    "webhook": JsonWebhook,
}


@cache
def _deps() -> tuple[ChatSettings, RulesConfig, DeliveryLog, ChatbotTopic | None]:
    settings = ChatSettings.from_env()
    dynamodb = boto3.client("dynamodb")
    last_good = LastGoodConfig(dynamodb, settings.table_name, stats=CallStats())
    rules = load_rules(settings.rules_json, last_good=last_good).rules
    log = DeliveryLog(
        dynamodb, settings.table_name, retention=timedelta(days=rules.resolved_retention_days)
    )
    topic = (
        ChatbotTopic(boto3.client("sns"), settings.chatbot_topic_arn, stats=CallStats())
        if settings.chatbot_topic_arn
        else None
    )
    return settings, rules, log, topic


def _destination(
    settings: ChatSettings, topic: ChatbotTopic | None, platform: Platform, key: str
) -> ChatPort | None:
    """Where ``key`` points: the webhook the chat secret names under it (none while it is
    empty), or the Amazon Q Developer topic."""
    if platform == "chatbot":
        return topic
    secret = parameters.get_secret(
        settings.slack_secret_arn, transform="json", max_age=SECRET_CACHE_SECONDS
    )
    url = secret.get(key) if isinstance(secret, dict) else None
    if not url:
        return None
    return _WEBHOOKS[platform](url)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=SNSEvent)
def lambda_handler(event: SNSEvent, context: LambdaContext) -> dict[str, Any]:
    settings, rules, log, topic = _deps()
    outcomes: dict[str, int] = {}
    for record in event.records:
        payload = chat_payload(record.sns.message, stack=settings.stack_name)
        now = parse_time(record.sns.timestamp, field="Sns.Timestamp")
        for platform in PLATFORMS:
            for key in chat_keys(rules.routing, payload.receiver, platform):
                chat = _destination(settings, topic, platform, key)
                outcome = deliver_to_chat(
                    payload, platform=platform, chat=chat, log=log, now=now, key=key
                )
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
                metrics.add_metric(f"Chat_{outcome.replace('-', '_')}", MetricUnit.Count, 1)
    return {"outcomes": outcomes}
