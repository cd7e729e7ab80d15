"""Deliver one SNS-borne notification to every chat destination of its receiver: Slack
webhooks and bots, Teams, generic JSON webhooks, PagerDuty and the Amazon Q Developer (AWS
Chatbot) topic, once per destination even when SNS or Lambda delivers the message twice, at
the same moment or minutes apart.

Each destination is claimed in the delivery log before the post (a conditional write per
notification and destination), recorded as delivered once the platform accepted it, and
released when the post fails, so a retry can post. A claim older than ``CLAIM_LEASE`` belongs
to a delivery that crashed and is taken over; a younger one belongs to a live delivery, and the
duplicate skips. The time comes from an injected clock, never from the message: Lambda retries
an asynchronous invocation with the same SNS ``Timestamp`` minutes later.

PagerDuty hears of alert groups only (a notification with a ``group_id``: trigger, resolve)
and of their acknowledgement in Vigil, which goes to nothing else; a notification of no group
(a self-watch alarm, a notice) would open an incident nothing resolves.

A destination whose configuration is wrong (a chat secret key that is missing or empty, a
webhook or token the platform refuses for good) is skipped, the notification still reaches
every other destination, and a self-watch message naming the receiver, the platform, the key
and the fix goes to the destinations that work (once a day per problem and destination).
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, Protocol

from aws_lambda_powertools import Logger

from vigil.alerting.acknowledge import ACKNOWLEDGEMENT
from vigil.channels.chatbot import chatbot_notification
from vigil.channels.pagerduty import pagerduty_event
from vigil.channels.slack import slack_message
from vigil.channels.teams import teams_message
from vigil.channels.webhook import webhook_payload
from vigil.core.errors import ChatDeliveryError, ChatDestinationRefused, ChatMessageGone
from vigil.core.model import ChatPayload, NotifyReason, Severity
from vigil.rules.routing import RoutingConfig

logger = Logger(child=True)

Clock = Callable[[], datetime]
"""The time now (aware, UTC). The handler passes the wall clock, tests a fake one."""

CLAIM_LEASE = timedelta(seconds=45)
"""How long a claim keeps a duplicate out. Longer than the chat function can run (its
``Timeout``, 30 s, so a live holder has always finished), shorter than Lambda's first retry of
an asynchronous invocation (about a minute, so the retry of a crashed holder takes over)."""

DEFAULT_SLACK_KEY = "webhook_url"
CHATBOT_KEY = "chatbot"
"""The one Amazon Q Developer destination: the stack's ``ChatbotTopic``, named by no secret."""

Platform = Literal["slack", "teams", "webhook", "chatbot", "pagerduty"]
PLATFORMS: tuple[Platform, ...] = ("slack", "teams", "webhook", "chatbot", "pagerduty")

Unset = Literal["missing", "empty"]
"""Why a destination has no adapter: its chat secret key is absent, or holds nothing."""


class ClaimState(StrEnum):
    CLAIMED = "claimed"
    """This delivery holds the claim: post, then record or release."""
    DELIVERED = "delivered"
    """Already delivered: the duplicate skips."""
    HELD = "held"
    """A live delivery holds it: the duplicate skips (the holder posts, or fails and retries)."""


@dataclass(frozen=True)
class Claim:
    state: ClaimState
    token: str = ""
    """Names this claim, so ``release`` frees only its own."""


class ChatPort(Protocol):
    def post(self, message: dict[str, Any]) -> None: ...


class DeliveryLogPort(Protocol):
    def claim(
        self, notification_id: str, channel: str, *, at: datetime, lease: timedelta
    ) -> Claim: ...

    def record(self, notification_id: str, channel: str, *, at: datetime) -> None: ...

    def release(self, notification_id: str, channel: str, *, token: str) -> None: ...


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


class DestinationsPort(Protocol):
    """The adapters behind the chat secret's keys (and the Amazon Q Developer topic)."""

    def webhook(self, platform: Platform, key: str) -> ChatPort | Unset: ...

    def bot(self, key: str, channel: str) -> SlackBotPort | Unset: ...


@dataclass(frozen=True)
class Destination:
    """One place a receiver's notifications go: a webhook (or the topic) by its secret key,
    or a Slack bot by its token key and channel."""

    platform: Platform | Literal["slack_bot"]
    key: str
    slack_channel: str = ""

    @property
    def log_channel(self) -> str:
        """The delivery log's sort key for this destination."""
        if self.platform == "slack_bot":
            return f"slack_bot:{self.key}:{self.slack_channel}"
        default = (self.platform, self.key) in {
            ("slack", DEFAULT_SLACK_KEY),
            ("chatbot", CHATBOT_KEY),
        }
        return self.platform if default else f"{self.platform}:{self.key}"


@dataclass(frozen=True)
class Problem:
    """A destination that cannot work until someone changes its configuration."""

    receiver: str
    destination: Destination
    code: Literal["missing", "empty", "refused"]
    detail: str


@dataclass
class Report:
    """What one notification's delivery did, destination by destination."""

    outcomes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    failures: list[ChatDeliveryError] = field(default_factory=list)

    def raise_failures(self) -> None:
        """Fail the invocation (Lambda retries it) when a destination failed for now; the
        delivered ones are skipped on the retry."""
        if len(self.failures) == 1:
            raise self.failures[0]
        if self.failures:
            raise ChatDeliveryError("; ".join(str(failure) for failure in self.failures))


_RENDER: dict[Platform, Callable[[ChatPayload], dict[str, Any]]] = {
    "slack": slack_message,
    "teams": teams_message,
    "webhook": webhook_payload,
    "chatbot": chatbot_notification,
    "pagerduty": pagerduty_event,
}

_PLATFORM_NAMES = {
    "slack": "Slack webhook",
    "teams": "Teams workflow",
    "webhook": "JSON webhook",
    "chatbot": "Amazon Q Developer topic",
    "pagerduty": "PagerDuty integration",
    "slack_bot": "Slack bot",
}

_WORKING = frozenset({"posted", "threaded", "duplicate", "in-flight"})


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
            "pagerduty": r.pagerduty,
        }[platform]
        for r in receivers
    ]
    return list(dict.fromkeys(key for key in keys if key))


def destinations(routing: RoutingConfig, payload: ChatPayload) -> list[Destination]:
    """The chat destinations of a payload's receiver that take it, webhooks first, then
    Slack bots: PagerDuty takes alert groups and their acknowledgements, which go nowhere
    else."""
    receiver = payload.receiver
    hooks = [
        Destination(platform, key)
        for platform in PLATFORMS
        for key in chat_keys(routing, receiver, platform)
    ]
    bots = [Destination("slack_bot", key, channel) for key, channel in bot_keys(routing, receiver)]
    found = hooks + bots
    if payload.category == ACKNOWLEDGEMENT:
        return [d for d in found if d.platform == "pagerduty"]
    if payload.group_id is None:
        return [d for d in found if d.platform != "pagerduty"]
    return found


def deliver(
    payload: ChatPayload,
    *,
    routing: RoutingConfig,
    ports: DestinationsPort,
    threads: ThreadStorePort,
    log: DeliveryLogPort,
    clock: Clock,
    stack: str,
) -> Report:
    """Deliver ``payload`` to each of its destinations, then tell the destinations that work
    about the ones that cannot. A failure for now (after the adapters' own retries) does not
    stop the others; the caller raises it afterwards (``Report.raise_failures``)."""
    deps = _Deps(ports, threads, log, clock)
    report = Report()
    working: list[Destination] = []
    for destination in destinations(routing, payload):
        outcome = _attempt(payload, destination, deps, report)
        report.outcomes.append(outcome)
        if outcome in _WORKING:
            working.append(destination)
    day = clock().date().isoformat()
    notices = [
        misconfiguration_payload(problem, receiver=payload.receiver, stack=stack, day=day)
        for problem in report.problems
    ]
    for notice in notices:
        for destination in (d for d in working if d.platform != "pagerduty"):
            # a destination that refuses the notice is named by a later notification's own
            # delivery; one that fails for now fails the invocation like any other
            scratch = Report()
            report.outcomes.append(_attempt(notice, destination, deps, scratch))
            report.failures += scratch.failures
    return report


@dataclass(frozen=True)
class _Deps:
    ports: DestinationsPort
    threads: ThreadStorePort
    log: DeliveryLogPort
    clock: Clock


def _attempt(payload: ChatPayload, destination: Destination, deps: _Deps, report: Report) -> str:
    receiver = payload.receiver or "(root route)"
    try:
        if destination.platform == "slack_bot":
            bot = deps.ports.bot(destination.key, destination.slack_channel)
            if isinstance(bot, str):
                return _unset(payload, destination, bot, receiver, report)
            return deliver_to_slack_bot(
                payload,
                bot=bot,
                threads=deps.threads,
                log=deps.log,
                clock=deps.clock,
                key=destination.key,
            )
        chat = deps.ports.webhook(destination.platform, destination.key)
        if isinstance(chat, str):
            return _unset(payload, destination, chat, receiver, report)
        return deliver_to_chat(
            payload,
            platform=destination.platform,
            chat=chat,
            log=deps.log,
            clock=deps.clock,
            key=destination.key,
        )
    except ChatDestinationRefused as exc:
        _misconfigured(payload, report, Problem(receiver, destination, "refused", str(exc)))
        return "misconfigured"
    except ChatDeliveryError as exc:
        logger.warning(
            "chat delivery failed; the invocation fails after the other destinations",
            extra={"notification_id": payload.notification_id, "error": str(exc)},
        )
        report.failures.append(exc)
        return "failed"


def _unset(
    payload: ChatPayload, destination: Destination, why: Unset, receiver: str, report: Report
) -> str:
    if (destination.platform, destination.key, why) == ("slack", DEFAULT_SLACK_KEY, "empty"):
        # the stack's secret starts out with an empty webhook_url: Slack not connected yet
        logger.warning(
            "Slack webhook not configured; set webhook_url in SlackWebhookSecret",
            extra={"notification_id": payload.notification_id},
        )
        return "not-configured"
    _misconfigured(payload, report, Problem(receiver, destination, why, ""))
    return "misconfigured"


def _misconfigured(payload: ChatPayload, report: Report, problem: Problem) -> None:
    """Note (and log) a destination that cannot work; never its secret's value."""
    logger.warning(
        "chat destination misconfigured",
        extra={
            "notification_id": payload.notification_id,
            "receiver": problem.receiver,
            "platform": problem.destination.platform,
            "key": problem.destination.key,
            "problem": problem.code,
            "detail": problem.detail,
        },
    )
    report.problems.append(problem)


def misconfiguration_payload(
    problem: Problem, *, receiver: str | None, stack: str, day: str
) -> ChatPayload:
    """The self-watch notice about a destination that cannot work, for the destinations that
    do. Its id names the problem and the day, so each working destination hears of it once a
    day while it lasts. It never carries the secret's value."""
    destination = problem.destination
    platform = _PLATFORM_NAMES[destination.platform]
    where = (
        f"the Slack bot token key {destination.key!r} (channel {destination.slack_channel})"
        if destination.platform == "slack_bot"
        else "the stack's ChatbotTopic (VIGIL_CHATBOT_TOPIC_ARN)"
        if destination.platform == "chatbot"
        else f"the chat secret key {destination.key!r}"
    )
    what, fix = {
        "missing": (
            f"{where} is not in SlackWebhookSecret",
            f"add {destination.key!r} to SlackWebhookSecret, or remove it from the receiver",
        ),
        "empty": (
            f"{where} is empty in SlackWebhookSecret",
            f"put the {platform} URL or token under {destination.key!r} in SlackWebhookSecret",
        ),
        "refused": (
            f"the {platform} behind {where} refuses it for good: {problem.detail}",
            "create a new webhook or token (or invite the bot to the channel) and store it "
            f"under {destination.key!r} in SlackWebhookSecret",
        ),
    }[problem.code]
    key = "|".join(
        (problem.receiver, destination.platform, destination.key, destination.slack_channel)
    )
    digest = hashlib.sha256(f"vigil.config_invalid|{key}|{problem.code}|{day}".encode())
    return ChatPayload(
        notification_id=digest.hexdigest()[:24],
        category="self-watch",
        reason=NotifyReason.FIRING,
        severity=Severity.WARNING,
        title=f"[WARNING] Vigil self-watch: vigil.config_invalid: receiver {problem.receiver}",
        text=(
            f"Receiver {problem.receiver!r} cannot reach its {platform}: {what}.\n"
            f"Fix: {fix}. Until then its notifications reach its other destinations only "
            "(this notice repeats once a day; the ChatMisconfiguredAlarm emails it too)."
        ),
        stack=stack,
        alerts=[],
        receiver=receiver,
    )


def deliver_to_chat(
    payload: ChatPayload,
    *,
    platform: Platform,
    chat: ChatPort,
    log: DeliveryLogPort,
    clock: Clock,
    key: str,
) -> str:
    """Claim, post, record: ``posted``; ``duplicate`` when already delivered; ``in-flight``
    when a live delivery holds the claim. A failed post releases the claim and raises.

    Recording after the post means a crash in between (after the platform accepted the post)
    repeats the message once the lease runs out; it never loses one. ``key`` names the webhook
    in the chat secret (one delivery log entry per webhook).
    """
    channel = Destination(platform, key).log_channel
    claim = _claim(payload, channel, log, clock)
    if claim.state is not ClaimState.CLAIMED:
        return _skip(payload, channel, claim)
    try:
        chat.post(_RENDER[platform](payload))
    except Exception:
        log.release(payload.notification_id, channel, token=claim.token)
        raise
    _record(payload, channel, log, clock)
    return "posted"


def deliver_to_slack_bot(
    payload: ChatPayload,
    *,
    bot: SlackBotPort,
    threads: ThreadStorePort,
    log: DeliveryLogPort,
    clock: Clock,
    key: str,
) -> str:
    """Post through a Slack bot: a group's first message opens a thread; later ones (updates,
    the resolution) are replies in it, and the opening message is edited to show the group's
    current state. The resolution closes the thread, so the group's next firing opens a new
    one. A payload of no group (a self-watch alarm, an outage notice) is a message of its own.

    Claimed and recorded as for webhooks: ``posted``, ``threaded``, ``duplicate`` or
    ``in-flight``. A failure releases the claim and raises; if it came after the reply was
    posted (the edit of the opening message failed), the retry posts the reply again.
    """
    channel = Destination("slack_bot", key, bot.channel).log_channel
    claim = _claim(payload, channel, log, clock)
    if claim.state is not ClaimState.CLAIMED:
        return _skip(payload, channel, claim)
    try:
        outcome = _post_in_thread(payload, bot, threads, clock)
    except Exception:
        log.release(payload.notification_id, channel, token=claim.token)
        raise
    _record(payload, channel, log, clock)
    return outcome


def _post_in_thread(
    payload: ChatPayload, bot: SlackBotPort, threads: ThreadStorePort, clock: Clock
) -> str:
    message = slack_message(payload)
    receiver, group = payload.receiver or "", payload.group_id
    opened = threads.get(receiver, group, bot.channel) if group else None
    if group is None or opened is None:
        ts = bot.post(message)
        if group and payload.reason is not NotifyReason.RESOLVED:
            threads.put(receiver, group, bot.channel, ts, at=clock())
        return "posted"
    bot.post(message, thread_ts=opened)
    try:
        bot.update(opened, message)
    except ChatMessageGone:
        # someone deleted the opening message: the reply stands, the next message of the
        # group opens a new thread
        logger.warning("the thread's first message is gone", extra={"group": group})
        threads.close(receiver, group, bot.channel)
    else:
        if payload.reason is NotifyReason.RESOLVED:
            threads.close(receiver, group, bot.channel)
    return "threaded"


def _record(payload: ChatPayload, channel: str, log: DeliveryLogPort, clock: Clock) -> None:
    """Record a delivery the platform accepted. When the record fails (a throttle after
    botocore's retries), the message is posted all the same: the invocation succeeds rather
    than have Lambda's retry post it again, and the claim keeps other copies away for its
    lease. Only a process killed between the post and the record can repeat a message."""
    try:
        log.record(payload.notification_id, channel, at=clock())
    except Exception:  # whatever the store raised, the post stands
        logger.exception(
            "posted, but the delivery record failed",
            extra={"notification_id": payload.notification_id, "channel": channel},
        )


def _claim(payload: ChatPayload, channel: str, log: DeliveryLogPort, clock: Clock) -> Claim:
    return log.claim(payload.notification_id, channel, at=clock(), lease=CLAIM_LEASE)


def _skip(payload: ChatPayload, channel: str, claim: Claim) -> str:
    held = claim.state is ClaimState.HELD
    logger.info(
        "a live delivery holds it" if held else "already delivered",
        extra={"notification_id": payload.notification_id, "channel": channel},
    )
    return "in-flight" if held else "duplicate"
