"""Deliver one SNS-borne notification to chat, at most once per channel when all goes well."""

from datetime import datetime
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from vigil.chat import slack_message
from vigil.model import ChatPayload
from vigil.routing import RoutingConfig

logger = Logger(child=True)


class ChatPort(Protocol):
    def post(self, message: dict[str, Any]) -> None: ...


class DeliveryLogPort(Protocol):
    def delivered(self, notification_id: str, channel: str) -> bool: ...

    def record(self, notification_id: str, channel: str, *, at: datetime) -> None: ...


DEFAULT_SLACK_KEY = "webhook_url"


def slack_keys(routing: RoutingConfig, receiver: str | None) -> list[str]:
    """The chat secret keys of the Slack webhooks a payload goes to: its receiver's, or
    (a message no route addressed, like a self-watch alarm) the root route's receivers'."""
    names = [receiver] if receiver else routing.route.receivers or []
    keys = [routing.receiver(name).slack for name in names]
    return list(dict.fromkeys(key for key in keys if key))


def deliver_to_slack(
    payload: ChatPayload,
    *,
    slack: ChatPort | None,
    log: DeliveryLogPort,
    now: datetime,
    key: str = DEFAULT_SLACK_KEY,
) -> str:
    """Post unless already delivered; record only after Slack accepted it.

    Recording after the post means a crash in between can repeat a message but never lose
    one. ``key`` names the webhook in the chat secret (one delivery log entry per webhook).
    Returns what happened: ``posted``, ``duplicate`` or ``not-configured``.
    """
    if slack is None:
        logger.warning(
            "Slack webhook not configured; set the SlackWebhookSecret value to deliver to chat",
            extra={"notification_id": payload.notification_id},
        )
        return "not-configured"
    channel = "slack" if key == DEFAULT_SLACK_KEY else f"slack:{key}"
    if log.delivered(payload.notification_id, channel):
        logger.info("already delivered", extra={"notification_id": payload.notification_id})
        return "duplicate"
    slack.post(slack_message(payload))
    log.record(payload.notification_id, channel, at=now)
    return "posted"
