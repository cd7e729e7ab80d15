"""A silence made with ``vigil silence add`` mutes exactly what it matches, in the real stack.

Given the outage-demo scenario and, before it starts, a silence on ``resource=orders-*`` made
through the command (which finds the table through the stack's ``StateTableName`` output),
the orders-api burst is recorded but reaches neither Slack nor email, while the unrelated
nightly-report error is delivered as usual.
"""

import json
from collections.abc import Iterator

import boto3
import pytest

from emulator import Emulator
from vigil_cli.main import main

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture(scope="module")
def played() -> Iterator[tuple[Emulator, str]]:
    with Emulator.start(scenario="outage-demo", parameters={"AlertEmail": "ops@x.com"}) as emu:
        command = ["--stack", "vigil", "--region", "us-east-1", "silence", "add"]
        matchers = ["--match", "kind=lambda.errors", "--match", "resource=orders-*"]
        code = main(
            [*command, *matchers, "--for", "3h", "--comment", "deploy"], clock=lambda: emu.now
        )
        assert code == 0
        emu.play()
        yield emu, emu.deployment.table_name


def test_the_silenced_burst_reaches_no_one_and_the_rest_is_delivered(
    played: tuple[Emulator, str],
) -> None:
    emu, _ = played
    titles = [str(post.payload["text"]) for post in emu.slack.posts]
    subjects = [email.subject for email in emu.mailbox.emails]
    evaluated = [
        invocation.result["summary"]
        for invocation in emu.invocations
        if invocation.function == "EvaluateFunction" and invocation.ok
    ]
    nightly = [
        "[WARNING] Lambda errors firing: nightly-report",
        "[RESOLVED] Lambda errors resolved: nightly-report",
    ]

    # exactly what the silence does not match is delivered: nothing more muted, nothing less
    assert titles == nightly
    assert subjects == nightly
    # and what it matches is muted: the orders-api alert and its repeat, nothing else
    assert sum(summary["silenced"] for summary in evaluated) == 2
    assert emu.failures == []


def test_the_silenced_alert_is_still_recorded(played: tuple[Emulator, str]) -> None:
    _, table = played
    items = boto3.client("dynamodb").scan(TableName=table)["Items"]
    alerts = [
        json.loads(item["body"]["S"])
        for item in items
        if item["pk"]["S"].startswith("ALERT#") and "body" in item
    ]

    assert "orders-api" in {alert["labels"]["resource"] for alert in alerts}
