"""Slack through a bot token: one thread per group, the opening message edited in place."""

import json
from datetime import datetime
from typing import Any, Literal

import pytest

from tests.factories import T0
from tests.unit.test_chat_claims import FakeClock, MemoryLog
from vigil.channels.delivery import ClaimState, bot_keys, deliver, deliver_to_slack_bot
from vigil.core.errors import ChatMessageGone, ConfigError
from vigil.core.model import ChatPayload, NotifyReason, Severity
from vigil.rules.document import RulesConfig


class FakeBot:
    channel = "C0123ABCD"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, str]] = []  # (method, ts or thread, title)

    def post(self, message: dict[str, Any], *, thread_ts: str | None = None) -> str:
        self.calls.append(("post", thread_ts, message["text"]))
        return f"100.{len(self.calls):06d}"

    def update(self, ts: str, message: dict[str, Any]) -> None:
        self.calls.append(("update", ts, message["text"]))


class MemoryThreads:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str, str], str] = {}

    def get(self, receiver: str, group_id: str, channel: str) -> str | None:
        return self.items.get((receiver, group_id, channel))

    def put(self, receiver: str, group_id: str, channel: str, ts: str, *, at: datetime) -> None:
        self.items[(receiver, group_id, channel)] = ts

    def close(self, receiver: str, group_id: str, channel: str) -> None:
        self.items.pop((receiver, group_id, channel), None)


def _payload(n: int, reason: NotifyReason, group: str | None = "g1") -> ChatPayload:
    return ChatPayload(
        notification_id=f"n{n}",
        category="alert",
        reason=reason,
        severity=Severity.WARNING,
        title=f"message {n} {reason.value}",
        text="text",
        stack="vigil",
        alerts=[],
        receiver="ops",
        group_id=group,
    )


def test_a_group_is_one_thread_whose_opening_message_shows_the_current_state() -> None:
    bot, threads, log = FakeBot(), MemoryThreads(), MemoryLog()

    def send(payload: ChatPayload) -> str:
        return deliver_to_slack_bot(
            payload, bot=bot, threads=threads, log=log, clock=FakeClock(T0), key="k"
        )

    outcomes = [
        send(_payload(1, NotifyReason.FIRING)),
        send(_payload(2, NotifyReason.REPEAT)),
        send(_payload(2, NotifyReason.REPEAT)),  # redelivered by SNS
        send(_payload(3, NotifyReason.RESOLVED)),
        send(_payload(4, NotifyReason.FIRING)),  # the group fires again: a new thread
        send(_payload(5, NotifyReason.FIRING, group=None)),  # no group: a message of its own
    ]

    assert outcomes == ["posted", "threaded", "duplicate", "threaded", "posted", "posted"]
    assert bot.calls == [
        ("post", None, "message 1 firing"),
        ("post", "100.000001", "message 2 repeat"),
        ("update", "100.000001", "message 2 repeat"),
        ("post", "100.000001", "message 3 resolved"),
        ("update", "100.000001", "message 3 resolved"),
        ("post", None, "message 4 firing"),
        ("post", None, "message 5 firing"),
    ]
    assert threads.items == {("ops", "g1", "C0123ABCD"): "100.000006"}


class NoTokens:
    """A chat secret without the bot's token key."""

    def webhook(self, platform: str, key: str) -> Literal["missing"]:
        return "missing"

    def bot(self, key: str, channel: str) -> Literal["missing"]:
        return "missing"


def test_without_a_token_the_bot_is_a_misconfigured_destination() -> None:
    rules = RulesConfig.from_json(
        '{"routing": {"receivers": [{"name": "ops", "slack_bot": "bot_token",'
        ' "slack_channel": "C0123ABCD"}], "route": {"receivers": ["ops"]}}}'
    )

    report = deliver(
        _payload(1, NotifyReason.FIRING),
        routing=rules.routing,
        ports=NoTokens(),
        threads=MemoryThreads(),
        log=MemoryLog(),
        clock=FakeClock(T0),
        stack="vigil",
    )

    assert report.outcomes == ["misconfigured"]  # no working destination to tell: the alarm
    assert [(p.destination.key, p.code) for p in report.problems] == [("bot_token", "missing")]


def test_bot_receivers_name_their_token_and_channel() -> None:
    rules = RulesConfig.from_json(
        '{"routing": {"receivers": [{"name": "default", "email": true,'
        ' "slack_bot": "bot_token", "slack_channel": "C0123ABCD"}]}}'
    )

    assert bot_keys(rules.routing, "default") == [("bot_token", "C0123ABCD")]
    assert bot_keys(rules.routing, None) == [("bot_token", "C0123ABCD")]
    assert rules.routing.receiver("default").channels == ["email", "slack"]


@pytest.mark.parametrize(
    ("receiver", "message"),
    [
        ({"slack_bot": "bot_token"}, "slack_bot and slack_channel go together"),
        ({"slack_bot": "bot_token", "slack_channel": "#ops"}, "slack_channel"),
    ],
)
def test_a_bot_receiver_needs_a_channel_id(receiver: dict[str, str], message: str) -> None:
    document = {"routing": {"receivers": [{"name": "default", **receiver}]}}

    with pytest.raises(ConfigError, match=message):
        RulesConfig.from_json(json.dumps(document))


class DeletedOpeningBot(FakeBot):
    def update(self, ts: str, message: dict[str, Any]) -> None:
        raise ChatMessageGone(f"Slack chat.update in {self.channel}: message_not_found")


def test_a_deleted_opening_message_closes_the_thread_and_loses_nothing() -> None:
    bot, threads, log = DeletedOpeningBot(), MemoryThreads(), MemoryLog()

    def send(payload: ChatPayload) -> str:
        return deliver_to_slack_bot(
            payload, bot=bot, threads=threads, log=log, clock=FakeClock(T0), key="k"
        )

    outcomes = [
        send(_payload(n, NotifyReason.FIRING if n < 3 else NotifyReason.REPEAT)) for n in (1, 2, 3)
    ]

    assert outcomes == ["posted", "threaded", "posted"]  # the reply stands; a new thread opens
    assert [call[:2] for call in bot.calls] == [
        ("post", None),
        ("post", "100.000001"),
        ("post", None),
    ]
    assert log.items[("n2", "slack_bot:k:C0123ABCD")].state is ClaimState.DELIVERED
