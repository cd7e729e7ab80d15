"""Slack through a bot token, in the real stack: each group is one thread.

The outage-demo scenario with a receiver that posts through a bot token (the emulator's Slack
Web API): orders-api fails for an hour (alert, repeat 30 minutes later, resolution) and
nightly-report fails once. Each group's first message opens a thread; the repeat and the
resolution are replies in it, and the first message is edited to show the current state.
"""

import json
from collections.abc import Iterator

import pytest

from emulator import Emulator
from emulator.slack import BOT_CHANNEL
from tests.e2e.scenario_runs import ALERT_EMAIL

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]

RULES = {
    "repeat_interval_minutes": 30,
    "routing": {
        "receivers": [
            {
                "name": "default",
                "email": True,
                "slack_bot": "bot_token",
                "slack_channel": BOT_CHANNEL,
            }
        ]
    },
}


@pytest.fixture(scope="module")
def played() -> Iterator[Emulator]:
    parameters = {"AlertEmail": ALERT_EMAIL, "RulesConfig": json.dumps(RULES)}
    with Emulator.start(scenario="outage-demo", parameters=parameters) as emu:
        emu.set_chat_secret({"bot_token": emu.slack.bot_token, "slack_api_url": emu.slack.api_url})
        emu.play()
        yield emu


def test_each_group_opens_one_thread_with_its_updates_and_resolution(played: Emulator) -> None:
    openers = [m for m in played.slack.messages if m.thread_ts is None]
    orders = next(m for m in openers if "orders-api" in m.text)
    replies = [m.text for m in played.slack.replies(orders.ts)]

    assert len(openers) == 2  # orders-api and nightly-report, one thread each
    assert replies == [
        "[CRITICAL] Lambda errors still firing: orders-api",
        "[RESOLVED] Lambda errors resolved: orders-api",
    ]
    assert orders.text == "[RESOLVED] Lambda errors resolved: orders-api"  # edited in place
    assert [edit["text"] for edit in orders.edits] == [
        "[CRITICAL] Lambda errors firing: orders-api",
        "[CRITICAL] Lambda errors still firing: orders-api",
    ]
    assert all(m.channel == BOT_CHANNEL for m in played.slack.messages)
    assert played.failures == []


def test_the_webhook_is_not_used_and_email_still_gets_every_message(played: Emulator) -> None:
    paths = {post.path for post in played.slack.posts}
    subjects = [email.subject for email in played.mailbox.emails]

    assert paths == {"/api/chat.postMessage", "/api/chat.update"}
    assert "[RESOLVED] Lambda errors resolved: orders-api" in subjects
