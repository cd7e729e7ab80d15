"""Deliver one SNS-borne notification to chat, at most once per channel when all goes well."""

from datetime import datetime
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from vigil.chat import slack_message
from vigil.model import ChatPayload

logger = Logger(child=True)


class ChatPort(Protocol):
    def post(self, message: dict[str, Any]) -> None: ...


class DeliveryLogPort(Protocol):
    def delivered(self, notification_id: str, channel: str) -> bool: ...

    def record(self, notification_id: str, channel: str, *, at: datetime) -> None: ...


def deliver_to_slack(
    payload: ChatPayload, *, slack: ChatPort | None, log: DeliveryLogPort, now: datetime
) -> str:
    """Post unless already delivered; record only after Slack accepted it.

    Recording after the post means a crash in between can repeat a message but never lose
    one. Returns what happened: ``posted``, ``duplicate`` or ``not-configured``.
    """
    if slack is None:
        logger.warning(
            "Slack webhook not configured; set the SlackWebhookSecret value to deliver to chat",
            extra={"notification_id": payload.notification_id},
        )
        return "not-configured"
    if log.delivered(payload.notification_id, "slack"):
        logger.info("already delivered", extra={"notification_id": payload.notification_id})
        return "duplicate"
    slack.post(slack_message(payload))
    log.record(payload.notification_id, "slack", at=now)
    return "posted"
