"""The built-in outage scenario through the real template in the local emulator.

Given a quiet account, a high-volume function that bursts to ~2% errors for 50 minutes, a
low-volume function with two errors in a window and a high-volume function at a steady 0.05%,
Vigil alerts at once on the burst (2 % is above the critical 1 %), repeats after the
(scenario's 30-minute) repeat interval, resolves it after recovery, alerts on the low-volume
errors, and never on the 0.05% function.
"""

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from emulator import Emulator
from emulator.mailbox import Email
from emulator.slack import SlackPost
from tests.e2e.scenario_runs import play_scenario

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture(scope="module")
def played() -> Iterator[Emulator]:
    yield from play_scenario("outage-demo")


def _titles(posts: list[SlackPost]) -> list[str]:
    return [str(post.payload["text"]) for post in posts]


def _at(emu: Emulator, title: str) -> list[datetime]:
    return [email.sent_at for email in emu.mailbox.emails if email.subject == title]


def test_the_burst_alerts_once_repeats_after_the_interval_and_resolves(played: Emulator) -> None:
    titles = _titles(played.slack.posts)
    fired = _at(played, "[CRITICAL] Lambda errors firing: orders-api")
    repeated = _at(played, "[CRITICAL] Lambda errors still firing: orders-api")
    resolved = _at(played, "[RESOLVED] Lambda errors resolved: orders-api")

    assert titles.count("[CRITICAL] Lambda errors firing: orders-api") == 1
    assert titles.count("[CRITICAL] Lambda errors still firing: orders-api") == 1
    assert titles.count("[RESOLVED] Lambda errors resolved: orders-api") == 1
    assert len(fired) == len(repeated) == len(resolved) == 1
    assert repeated[0] - fired[0] == timedelta(minutes=30)
    assert resolved[0] > repeated[0]
    # The burst starts 20 minutes in; above the critical rate it fires with its first window.
    scenario_start = played.scenario.start if played.scenario else fired[0]
    assert fired[0] - scenario_start <= timedelta(minutes=30)


def test_the_low_volume_errors_alert(played: Emulator) -> None:
    assert "[WARNING] Lambda errors firing: nightly-report" in _titles(played.slack.posts)
    assert _at(played, "[WARNING] Lambda errors firing: nightly-report")


def test_a_high_volume_function_at_0_05_percent_never_alerts(played: Emulator) -> None:
    everything = [*_titles(played.slack.posts), *(e.subject for e in played.mailbox.emails)]

    assert not [title for title in everything if "search-api" in title]


def test_every_alert_reaches_slack_and_email_exactly_once(played: Emulator) -> None:
    titles = _titles(played.slack.posts)

    assert len(titles) == len(set(titles)) == 5
    assert sorted(titles) == sorted(e.subject for e in played.mailbox.emails)
    assert all(post.status == 200 for post in played.slack.posts)
    assert played.failures == []


def test_emails_are_readable_plain_text(played: Emulator) -> None:
    email: Email = played.mailbox.emails[0]

    assert email.body.isascii()
    assert "<" not in email.body.split("\n--\nIf you wish")[0]
    assert email.body.startswith(email.subject + "\n")
    for label in ("Resource:", "Value:", "Window:", "Metric: https://", "Logs Insights: https://"):
        assert label in email.body


def test_slack_messages_are_block_kit_with_console_links(played: Emulator) -> None:
    firing = next(p for p in played.slack.posts if "firing: orders-api" in str(p.payload["text"]))
    blocks = firing.payload["blocks"]
    urls = [
        el["url"] for b in blocks if b["type"] == "actions" for el in b["elements"] if "url" in el
    ]

    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "[CRITICAL] Lambda errors firing: orders-api"},
    }
    assert any("#metricsV2:graph=" in url for url in urls)
    assert any("#logsV2:logs-insights" in url and "orders-api" in url for url in urls)


def test_every_evaluation_succeeded_with_its_history_recorded(played: Emulator) -> None:
    executions = played.executions("EvaluateStateMachine")
    history = played.execution_history(executions[-1].arn)

    assert len(executions) == 24  # two hours of five-minute cycles
    assert all(execution.succeeded for execution in executions)
    assert history[0]["type"] == "ExecutionStarted"
    assert history[-1]["type"] == "ExecutionSucceeded"
    assert json.loads(history[-1]["executionSucceededEventDetails"]["output"])["batch_id"] == (
        executions[-1].name
    )
