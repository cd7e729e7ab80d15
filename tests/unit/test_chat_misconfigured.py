"""A receiver whose chat destination cannot work (a chat secret key that is missing or empty,
a webhook or token the platform refuses for good) still gets its notification everywhere else,
and the destinations that work hear what to fix: once a day per problem and destination.

The refusals are the permanent answers of Slack's incoming webhooks (api.slack.com, "Sending
messages using incoming webhooks", "Handling errors": 404 ``no_service``, 403
``invalid_token``) and Web API (api.slack.com/methods/chat.postMessage: ``invalid_auth``,
``not_in_channel``), as the adapters raise them (``ChatDestinationRefused``).
"""

import json
from datetime import timedelta
from typing import Any

import pytest

from tests.factories import T0
from tests.unit.test_chat_claims import FakeChat, FakeClock, MemoryLog, NoThreads
from vigil.channels.delivery import (
    ChatPort,
    Destination,
    Platform,
    Problem,
    Report,
    SlackBotPort,
    Unset,
    deliver,
    misconfiguration_payload,
)
from vigil.core.errors import ChatDeliveryError, ChatDestinationRefused
from vigil.core.model import ChatPayload, NotifyReason, Severity
from vigil.rules.document import RulesConfig

SECRET = {
    "webhook_url": "https://hooks.slack.com/services/T0/B0/SECRET-SLACK",
    "teams_url": "",
    "audit_url": "https://audit.example.com/hook/SECRET-AUDIT",
    "bot_token": "xoxb-SECRET-TOKEN",
}


class RefusingChat(FakeChat):
    def post(self, message: dict[str, Any]) -> None:
        raise ChatDestinationRefused("Slack webhook answered 404: no_service")


class FakePorts:
    """The chat secret's keys, each behind its own fake adapter."""

    def __init__(self, secret: dict[str, str], chats: dict[str, FakeChat]) -> None:
        self.secret = secret
        self.chats = chats

    def webhook(self, platform: Platform, key: str) -> ChatPort | Unset:
        if not self.secret.get(key):
            return "empty" if key in self.secret else "missing"
        return self.chats[key]

    def bot(self, key: str, channel: str) -> SlackBotPort | Unset:
        return "empty" if key in self.secret and not self.secret[key] else "missing"


def _routing(**receiver: Any) -> RulesConfig:
    document = {
        "routing": {"receivers": [{"name": "ops", **receiver}], "route": {"receivers": ["ops"]}}
    }
    return RulesConfig.from_json(json.dumps(document))


def _payload() -> ChatPayload:
    return ChatPayload(
        notification_id="n1",
        category="alert",
        reason=NotifyReason.FIRING,
        severity=Severity.CRITICAL,
        title="[CRITICAL] Lambda errors firing: orders-api",
        text="text",
        stack="vigil",
        alerts=[],
        receiver="ops",
    )


def _deliver(rules: RulesConfig, ports: FakePorts, log: MemoryLog, clock: FakeClock) -> Report:
    return deliver(
        _payload(),
        routing=rules.routing,
        ports=ports,
        threads=NoThreads(),
        log=log,
        clock=clock,
        stack="vigil",
    )


def _titles(chat: FakeChat) -> list[str]:
    return [str(post["text"]) for post in chat.posts]


def test_broken_destinations_are_named_to_the_working_one_once_a_day() -> None:
    # Given a receiver whose Slack works, whose Teams key is empty, whose JSON webhook key is
    # not in the secret at all and whose bot token key is missing too
    rules = _routing(
        slack="webhook_url",
        teams="teams_url",
        webhook="audit_key",
        slack_bot="bot_key",
        slack_channel="C0123ABCD",
    )
    slack = FakeChat()
    ports = FakePorts(SECRET, {"webhook_url": slack})
    log, clock = MemoryLog(), FakeClock(T0)

    # When the notification is delivered, redelivered, and another one arrives the next day
    first = _deliver(rules, ports, log, clock)
    again = _deliver(rules, ports, log, clock)
    clock.advance(timedelta(days=1))
    next_day = _deliver(rules, ports, log, clock)

    # Then Slack gets the notification once and one notice per broken destination a day
    assert (
        first.outcomes
        == ["posted", "misconfigured", "misconfigured", "misconfigured"] + ["posted"] * 3
    )
    assert [p.code for p in first.problems] == ["empty", "missing", "missing"]
    assert first.failures == []
    assert again.outcomes.count("posted") == 0
    assert next_day.outcomes.count("posted") == 3  # the day's reminders, not the notification
    titles = _titles(slack)
    assert titles.count("[CRITICAL] Lambda errors firing: orders-api") == 1
    notices = [t for t in titles if "vigil.config_invalid" in t]
    assert len(notices) == 6
    assert set(notices) == {"[WARNING] Vigil self-watch: vigil.config_invalid: receiver ops"}


def test_the_notice_names_receiver_platform_key_and_fix_but_never_a_secret() -> None:
    rules = _routing(slack="webhook_url", teams="teams_url", webhook="audit_url")
    slack, audit = FakeChat(), RefusingChat()
    ports = FakePorts(SECRET, {"webhook_url": slack, "audit_url": audit})

    report = _deliver(rules, ports, MemoryLog(), FakeClock(T0))

    assert report.outcomes == ["posted", "misconfigured", "misconfigured", "posted", "posted"]
    texts = [json.dumps(post) for post in slack.posts[1:]]
    assert "Receiver 'ops' cannot reach its Teams workflow" in texts[0]
    assert "'teams_url' is empty in SlackWebhookSecret" in texts[0]
    assert "Fix: put the Teams workflow URL or token under 'teams_url'" in texts[0]
    assert "JSON webhook" in texts[1]
    assert "refuses it for good: Slack webhook answered 404: no_service" in texts[1]
    assert "create a new webhook or token" in texts[1]
    for value in SECRET.values():
        if value:
            assert all(value not in text for text in texts)


def test_the_stacks_own_empty_webhook_url_is_not_connected_yet_not_a_problem() -> None:
    # Given the secret as the stack creates it (ADR 6) and the default receiver
    report = deliver(
        _payload().model_copy(update={"receiver": None}),
        routing=RulesConfig().routing,
        ports=FakePorts({"webhook_url": ""}, {}),
        threads=NoThreads(),
        log=MemoryLog(),
        clock=FakeClock(T0),
        stack="vigil",
    )

    assert (report.outcomes, report.problems) == (["not-configured"], [])


def test_a_failure_for_now_does_not_hold_up_the_other_destinations() -> None:
    # Given Slack answers 5xx past its retries while the JSON webhook works
    rules = _routing(slack="webhook_url", webhook="audit_url")
    slack, audit = FakeChat(fail=1), FakeChat()
    ports = FakePorts(SECRET, {"webhook_url": slack, "audit_url": audit})
    log, clock = MemoryLog(), FakeClock(T0)

    first = _deliver(rules, ports, log, clock)
    with pytest.raises(ChatDeliveryError, match="503"):
        first.raise_failures()  # the invocation fails: Lambda retries it
    retry = _deliver(rules, ports, log, clock)

    # Then the webhook got it at once, Slack on the retry, each once
    assert first.outcomes == ["failed", "posted"]
    assert retry.outcomes == ["posted", "duplicate"]
    assert (len(slack.posts), len(audit.posts)) == (1, 1)


def test_two_failures_fail_the_invocation_naming_both() -> None:
    report = Report(failures=[ChatDeliveryError("a 503"), ChatDeliveryError("b 500")])

    with pytest.raises(ChatDeliveryError, match="a 503; b 500"):
        report.raise_failures()


def test_a_bot_destinations_notice_names_its_channel() -> None:
    problem = Problem("ops", Destination("slack_bot", "bot_key", "C0123ABCD"), "missing", "")

    notice = misconfiguration_payload(problem, receiver="ops", stack="vigil", day="2026-11-02")

    assert "Slack bot token key 'bot_key' (channel C0123ABCD) is not in" in notice.text
    assert (notice.category, notice.severity, notice.receiver) == ("self-watch", "warning", "ops")
