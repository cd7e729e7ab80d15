"""Deliver one SNS-borne notification to Slack and Teams, at most once per webhook when all
goes well."""

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, Protocol

from aws_lambda_powertools import Logger

from vigil.chat import slack_message
from vigil.model import ChatPayload
from vigil.routing import RoutingConfig
from vigil.teams import teams_message

logger = Logger(child=True)


class ChatPort(Protocol):
    def post(self, message: dict[str, Any]) -> None: ...


class DeliveryLogPort(Protocol):
    def delivered(self, notification_id: str, channel: str) -> bool: ...

    def record(self, notification_id: str, channel: str, *, at: datetime) -> None: ...


DEFAULT_SLACK_KEY = "webhook_url"


Platform = Literal["slack", "teams"]
PLATFORMS: tuple[Platform, ...] = ("slack", "teams")
_RENDER: dict[Platform, Callable[[ChatPayload], dict[str, Any]]] = {
    "slack": slack_message,
    "teams": teams_message,
}


def chat_keys(routing: RoutingConfig, receiver: str | None, platform: Platform) -> list[str]:
    """The chat secret keys of the ``platform`` webhooks a payload goes to: its receiver's,
    or (a message no route addressed, like a self-watch alarm) the root route's receivers'."""
    names = [receiver] if receiver else routing.route.receivers or []
    receivers = [routing.receiver(name) for name in names]
    keys = [r.slack if platform == "slack" else r.teams for r in receivers]
    return list(dict.fromkeys(key for key in keys if key))


def deliver_to_chat(
    payload: ChatPayload,
    *,
    platform: Platform,
    chat: ChatPort | None,
    log: DeliveryLogPort,
    now: datetime,
    key: str,
) -> str:
    """Post unless already delivered; record only after the platform accepted it.

    Recording after the post means a crash in between can repeat a message but never lose
    one. ``key`` names the webhook in the chat secret (one delivery log entry per webhook).
    Returns what happened: ``posted``, ``duplicate`` or ``not-configured``.
    """
    if chat is None:
        logger.warning(
            f"{platform} webhook {key!r} not configured; set it in the SlackWebhookSecret value",
            extra={"notification_id": payload.notification_id},
        )
        return "not-configured"
    channel = platform if (platform, key) == ("slack", DEFAULT_SLACK_KEY) else f"{platform}:{key}"
    if log.delivered(payload.notification_id, channel):
        logger.info("already delivered", extra={"notification_id": payload.notification_id})
        return "duplicate"
    chat.post(_RENDER[platform](payload))
    log.record(payload.notification_id, channel, at=now)
    return "posted"
