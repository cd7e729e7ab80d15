"""Deliver one SNS-borne notification to every chat channel of its receiver: Slack, Teams, a
generic JSON webhook and the Amazon Q Developer (AWS Chatbot) topic, at most once per
destination when all goes well."""

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, Protocol

from aws_lambda_powertools import Logger

from vigil.chat import slack_message
from vigil.chatbot import chatbot_notification
from vigil.errors import ChatMessageGone
from vigil.model import ChatPayload, NotifyReason
from vigil.routing import RoutingConfig
from vigil.teams import teams_message
from vigil.webhook import webhook_payload

logger = Logger(child=True)


class ChatPort(Protocol):
    def post(self, message: dict[str, Any]) -> None: ...


class DeliveryLogPort(Protocol):
    def delivered(self, notification_id: str, channel: str) -> bool: ...

    def record(self, notification_id: str, channel: str, *, at: datetime) -> None: ...


DEFAULT_SLACK_KEY = "webhook_url"
CHATBOT_KEY = "chatbot"
"""The one Amazon Q Developer destination: the stack's ``ChatbotTopic``, named by no secret."""


Platform = Literal["slack", "teams", "webhook", "chatbot"]
PLATFORMS: tuple[Platform, ...] = ("slack", "teams", "webhook", "chatbot")


class SlackBotPort(Protocol):
    def post(self, message: dict[str, Any], *, thread_ts: str | None = None) -> str:
        """Post to the bot's channel (in a thread when ``thread_ts``); the message's ts."""
        ...

    def update(self, ts: str, message: dict[str, Any]) -> None: ...

    @property
    def channel(self) -> str: ...


class ThreadStorePort(Protocol):
    def get(self, receiver: str, group_id: str, channel: str) -> str | None:
        """The ts of the message that opened the group's thread in ``channel``."""
        ...

    def put(self, receiver: str, group_id: str, channel: str, ts: str, *, at: datetime) -> None: ...

    def close(self, receiver: str, group_id: str, channel: str) -> None: ...


_RENDER: dict[Platform, Callable[[ChatPayload], dict[str, Any]]] = {
    "slack": slack_message,
    "teams": teams_message,
    "webhook": webhook_payload,
    "chatbot": chatbot_notification,
}


def bot_keys(routing: RoutingConfig, receiver: str | None) -> list[tuple[str, str]]:
    """The (token key, channel) of the Slack bots a payload goes to (see ``chat_keys``)."""
    names = [receiver] if receiver else routing.route.receivers or []
    found = [(r.slack_bot, r.slack_channel) for r in map(routing.receiver, names)]
    return list(dict.fromkeys((k, c) for k, c in found if k and c))


def chat_keys(routing: RoutingConfig, receiver: str | None, platform: Platform) -> list[str]:
    """The destinations on ``platform`` a payload goes to: the chat secret keys of its
    receiver's webhooks (``chatbot``: the topic), or, for a message no route addressed (like
    a self-watch alarm), the root route's receivers'."""
    names = [receiver] if receiver else routing.route.receivers or []
    receivers = [routing.receiver(name) for name in names]
    keys = [
        {
            "slack": r.slack,
            "teams": r.teams,
            "webhook": r.webhook,
            "chatbot": CHATBOT_KEY if r.chatbot else None,
        }[platform]
        for r in receivers
    ]
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
        where = (
            "the stack has no ChatbotTopic (VIGIL_CHATBOT_TOPIC_ARN)"
            if platform == "chatbot"
            else f"{platform} webhook {key!r} not configured; set it in SlackWebhookSecret"
        )
        logger.warning(where, extra={"notification_id": payload.notification_id})
        return "not-configured"
    default = (platform, key) in {("slack", DEFAULT_SLACK_KEY), ("chatbot", CHATBOT_KEY)}
    channel = platform if default else f"{platform}:{key}"
    if log.delivered(payload.notification_id, channel):
        logger.info("already delivered", extra={"notification_id": payload.notification_id})
        return "duplicate"
    chat.post(_RENDER[platform](payload))
    log.record(payload.notification_id, channel, at=now)
    return "posted"


def deliver_to_slack_bot(
    payload: ChatPayload,
    *,
    bot: SlackBotPort | None,
    threads: ThreadStorePort,
    log: DeliveryLogPort,
    now: datetime,
    key: str,
) -> str:
    """Post through a Slack bot: a group's first message opens a thread; later ones (updates,
    the resolution) are replies in it, and the opening message is edited to show the group's
    current state. The resolution closes the thread, so the group's next firing opens a new
    one. A payload of no group (a self-watch alarm, an outage notice) is a message of its own.

    As for webhooks, delivery is recorded after Slack accepted it: a crash in between can
    repeat a message, never lose one. Returns ``posted``, ``threaded``, ``duplicate`` or
    ``not-configured``.
    """
    if bot is None:
        logger.warning(
            f"Slack bot token {key!r} not configured; set it in SlackWebhookSecret",
            extra={"notification_id": payload.notification_id},
        )
        return "not-configured"
    channel = f"slack_bot:{key}:{bot.channel}"
    if log.delivered(payload.notification_id, channel):
        return "duplicate"
    message = slack_message(payload)
    receiver, group = payload.receiver or "", payload.group_id
    opened = threads.get(receiver, group, bot.channel) if group else None
    if group is None or opened is None:
        ts = bot.post(message)
        if group and payload.reason is not NotifyReason.RESOLVED:
            threads.put(receiver, group, bot.channel, ts, at=now)
        outcome = "posted"
    else:
        bot.post(message, thread_ts=opened)
        try:
            bot.update(opened, message)
        except ChatMessageGone:
            # someone deleted the opening message: the reply stands, the next message of
            # the group opens a new thread
            logger.warning("the thread's first message is gone", extra={"group": group})
            threads.close(receiver, group, bot.channel)
        else:
            if payload.reason is NotifyReason.RESOLVED:
                threads.close(receiver, group, bot.channel)
        outcome = "threaded"
    log.record(payload.notification_id, channel, at=now)
    return outcome
