"""The ``vigil`` command and the Slack endpoint against a live stack, through the real template
in the emulator: the command starts a runbook (and refuses bad input with the workflow's own
message), lists incidents and open alerts, and sends a test notification that reaches Slack and
email; the ``Silence 2h`` button of a real alert message, pressed through the stack's function
URL, mutes that alert. (The approval gate: ``test_runbook_gate_people.py``.)

Given the outage-demo scenario played to 09:40 (orders-api firing since about 09:25).
"""

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest

from emulator import Emulator
from tests.e2e.scenario_runs import press_slack_button
from vigil.adapters.routing_store import SilenceStore
from vigil_cli.main import main

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]

SIGNING_SECRET = "0f4e2d9c8b7a6f5e4d3c2b1a"
STACK = ["--stack", "vigil", "--region", "us-east-1"]


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator.start(scenario="outage-demo", parameters={"AlertEmail": "ops@x.com"}) as e:
        e.set_secret("SlackSigningSecret", {"signing_secret": SIGNING_SECRET})
        e.play(until=e.now + timedelta(minutes=40))
        yield e


def _vigil(emu: Emulator, *argv: str) -> int:
    return main([*STACK, *argv], clock=lambda: emu.now)


# ------------------------------------------------------------------ Slack requests


def _slack_post(
    emu: Emulator, action_id: str, value: str, *, secret: str = SIGNING_SECRET
) -> dict[str, Any]:
    return press_slack_button(emu, action_id, value, secret=secret, action_ts=str(emu.now))


# ------------------------------------------------------------------ start and list


def test_start_runs_the_stacks_runbook_and_the_incident_is_listed(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _vigil(
        emu, "runbook", "start", "--service", "lambda", "--affected-region", "us-east-1",
        "--reason", "orders-api 5xx", "--as", "ana", "--name", "inc-orders",
    )  # fmt: skip
    started = capsys.readouterr().out
    emu.settle()
    [record] = [r for r in emu.executions("OutageRunbookStateMachine") if r.name == "inc-orders"]

    assert code == 0
    assert f"execution: {record.arn}" in started
    assert _vigil(emu, "incidents", "list") == 0
    listing = capsys.readouterr().out
    assert "inc-orders" in listing
    assert "lambda/us-east-1" in listing
    assert _vigil(emu, "incidents", "show", "inc-orders") == 0
    shown = capsys.readouterr().out
    assert "Started:   manual by ana" in shown
    assert "Runbook started (manual by ana): orders-api 5xx" in shown


def test_bad_input_is_refused_by_the_command_with_the_workflows_own_message(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = {"service": "lambda", "region": "moon-1", "reason": "orders-api 5xx"}
    before = len(emu.executions("OutageRunbookStateMachine"))

    code = _vigil(
        emu, "runbook", "start", "--service", "lambda", "--affected-region", "moon-1",
        "--reason", "orders-api 5xx", "--as", "ana",
    )  # fmt: skip
    refused = capsys.readouterr().err
    arn = emu.start_execution("OutageRunbookStateMachine", {**bad, "requested_by": "ana"})
    emu.settle()
    failed = boto3.client("stepfunctions").describe_execution(executionArn=arn)

    assert code == 2
    assert len(emu.executions("OutageRunbookStateMachine")) == before + 1  # only the direct one
    assert failed["status"] == "FAILED"
    assert failed["error"] == "InvalidRunbookInput"
    assert refused.strip() == f"vigil: error: {json.loads(failed['cause'])['errorMessage']}"


def test_alerts_list_shows_the_firing_alert_from_the_stack(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _vigil(emu, "alerts", "list") == 0

    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert rows[0][:6] == ["FINGERPRINT", "KIND", "RESOURCE", "SEVERITY", "STATE", "SINCE"]
    assert ["lambda.errors", "orders-api"] in [row[1:3] for row in rows[1:]]


def test_notify_test_reaches_slack_and_email(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _vigil(emu, "notify", "test", "--severity", "critical") == 0
    emu.settle()

    title = "[CRITICAL] Vigil test notification"
    assert "published test-" in capsys.readouterr().out
    assert title in [email.subject for email in emu.mailbox.emails]
    assert title in [post.payload["text"] for post in emu.slack.posts if post.payload]


def test_silence_2h_from_the_real_alert_message_mutes_that_alert(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    [button] = [
        element
        for post in emu.slack.delivered
        if post.payload and "orders-api" in str(post.payload.get("text"))
        for block in post.payload["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == "silence_group"
    ][:1]

    answer = _slack_post(emu, "silence_group", str(button["value"]))

    [silence] = SilenceStore(boto3.client("dynamodb"), emu.deployment.table_name).current(emu.now)
    assert answer["statusCode"] == 200
    assert silence.matchers.match["resource"] == "orders-api"
    assert silence.ends_at - silence.starts_at == timedelta(hours=2)
    assert _vigil(emu, "alerts", "list") == 0
    [orders] = [
        line for line in capsys.readouterr().out.splitlines() if " orders-api " in f" {line} "
    ]
    assert orders.split()[-1] == silence.silence_id
