"""The people's side of an outage, through the real template in the emulator: the ``vigil``
command starts runbooks, lists incidents and alerts, sends a test notification, and decides a
parked approval gate; the Slack interactivity endpoint (the stack's function URL) decides a
gate and silences an alert from its real Slack message, and refuses a forged request.

Given the outage-demo scenario played to 09:40 (orders-api firing since about 09:25).

The gate: until the OutageRunbook workflow has its own approval state, a state machine
created here parks on a ``.waitForTaskToken`` task after the stack's real ``OpenIncident``
step, and the test records the approval with :func:`vigil.approval.request_approval` as the
gate's task does. Everything after that (the command, the endpoint, SendTaskSuccess, the
workflow resuming) is the real path.
"""

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest

from emulator import Emulator
from vigil.adapters.table import ApprovalStore, SilenceStore
from vigil.approval import ApprovalState, request_approval
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


# ------------------------------------------------------------------ the parked gate


def _gate_machine(emu: Emulator) -> tuple[str, str]:
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="approval-requests")["QueueUrl"]
    runbook_function = boto3.client("lambda").get_function(
        FunctionName=emu.deployment.function_name("RunbookFunction")
    )["Configuration"]["FunctionArn"]
    definition = {
        "StartAt": "OpenIncident",
        "States": {
            "OpenIncident": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {
                    "FunctionName": runbook_function,
                    "Payload": {
                        "step": "open",
                        "execution_name.$": "$$.Execution.Name",
                        "started_at.$": "$$.Execution.StartTime",
                        "input.$": "$",
                    },
                },
                "ResultPath": None,
                "Next": "AwaitApproval",
            },
            "AwaitApproval": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {
                    "QueueUrl": queue,
                    "MessageBody": {"incident.$": "$$.Execution.Name", "token.$": "$$.Task.Token"},
                },
                "TimeoutSeconds": 1800,
                "End": True,
            },
        },
    }
    role = boto3.client("iam").create_role(RoleName="gate", AssumeRolePolicyDocument="{}")
    arn = boto3.client("stepfunctions").create_state_machine(
        name="runbook-with-gate", definition=json.dumps(definition), roleArn=role["Role"]["Arn"]
    )["stateMachineArn"]
    return arn, queue


@pytest.fixture(scope="module")
def gate(emu: Emulator) -> tuple[str, str]:
    return _gate_machine(emu)


def _park(emu: Emulator, gate: tuple[str, str], name: str) -> str:
    """Start a runbook that waits at the gate; record its approval as the gate task does."""
    machine, queue = gate
    execution = boto3.client("stepfunctions").start_execution(
        stateMachineArn=machine,
        name=name,
        input=json.dumps({"service": "lambda", "region": "us-east-1", "reason": "orders 5xx"}),
    )["executionArn"]
    emu.settle()
    [message] = boto3.client("sqs").receive_message(QueueUrl=queue)["Messages"]
    boto3.client("sqs").delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    body = json.loads(message["Body"])
    request_approval(
        body["incident"],
        token=body["token"],
        plan="ssm-active-region",
        dry_run=True,
        now=emu.now,
        timeout=timedelta(minutes=30),
        store=ApprovalStore(boto3.client("dynamodb"), emu.deployment.table_name),
    )
    assert _status(execution)["status"] == "RUNNING"
    return execution


def _status(execution: str) -> dict[str, Any]:
    return dict(boto3.client("stepfunctions").describe_execution(executionArn=execution))


# ------------------------------------------------------------------ Slack requests


def _slack_post(
    emu: Emulator, action_id: str, value: str, *, secret: str = SIGNING_SECRET
) -> dict[str, Any]:
    payload = {
        "type": "block_actions",
        "user": {"id": "U07ONCALL", "username": "oncall"},
        "actions": [{"action_id": action_id, "value": value, "action_ts": str(emu.now)}],
        "response_url": emu.slack.base_url + "/actions/T000/1/response",
    }
    body = urlencode({"payload": json.dumps(payload)})
    timestamp = str(int(emu.now.timestamp()))
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256)
    return emu.post_function_url(
        "SlackActionsFunction",
        body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": "v0=" + digest.hexdigest(),
        },
    )


# ------------------------------------------------------------------ start and list


def test_start_runs_the_stacks_runbook_and_the_incident_is_listed(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _vigil(
        emu, "runbook", "start", "--service", "lambda", "--region", "us-east-1",
        "--reason", "orders-api 5xx", "--as", "ana", "--name", "inc-orders",
    )  # fmt: skip
    started = capsys.readouterr().out
    emu.settle()
    [record] = [r for r in emu.executions("OutageRunbookStateMachine") if r.name == "inc-orders"]

    assert code == 0
    assert f"execution: {record.arn}" in started
    assert record.succeeded
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
        emu, "runbook", "start", "--service", "lambda", "--region", "moon-1",
        "--reason", "orders-api 5xx", "--as", "ana",
    )  # fmt: skip
    refused = capsys.readouterr().err
    arn = emu.start_execution("OutageRunbookStateMachine", {**bad, "requested_by": "ana"})
    emu.settle()
    failed = _status(arn)

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
    assert rows[0][:5] == ["KIND", "RESOURCE", "SEVERITY", "STATE", "SINCE"]
    assert ["lambda.errors", "orders-api"] in [row[:2] for row in rows[1:]]


def test_notify_test_reaches_slack_and_email(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _vigil(emu, "notify", "test", "--severity", "critical") == 0
    emu.settle()

    title = "[CRITICAL] Vigil test notification"
    assert "published test-" in capsys.readouterr().out
    assert title in [email.subject for email in emu.mailbox.emails]
    assert title in [post.payload["text"] for post in emu.slack.posts if post.payload]


# ------------------------------------------------------------------ the gate


def test_the_command_approves_a_parked_runbook_and_it_resumes(
    emu: Emulator, gate: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    execution = _park(emu, gate, "inc-cli")

    code = _vigil(emu, "runbook", "approve", "inc-cli", "--as", "ana", "--comment", "go")
    emu.settle()
    again = _vigil(emu, "runbook", "decline", "inc-cli", "--as", "bo")

    result = _status(execution)
    assert (code, again) == (0, 1)
    assert result["status"] == "SUCCEEDED"
    output = json.loads(result["output"])
    assert (output["decision"], output["by"], output["comment"]) == ("approved", "ana", "go")
    assert "already approved by ana" in capsys.readouterr().err


def test_a_forged_slack_decline_is_refused_and_a_signed_one_resumes_the_runbook(
    emu: Emulator, gate: tuple[str, str]
) -> None:
    execution = _park(emu, gate, "inc-slack")

    forged = _slack_post(emu, "runbook_decline", "inc-slack", secret="guessed-secret")
    emu.settle()
    still = _status(execution)["status"]
    signed = _slack_post(emu, "runbook_decline", "inc-slack")
    emu.settle()

    approval = ApprovalStore(boto3.client("dynamodb"), emu.deployment.table_name).get("inc-slack")
    assert forged["statusCode"] == 401
    assert still == "RUNNING"
    assert signed["statusCode"] == 200
    assert json.loads(signed["body"])["replace_original"] is True
    assert json.loads(_status(execution)["output"])["decision"] == "declined"
    assert approval is not None
    assert (approval.state, approval.decided_by) == (
        ApprovalState.DECLINED,
        "oncall (Slack U07ONCALL)",
    )
    [reply] = [
        post.payload["text"]
        for post in emu.slack.posts
        if post.path == "/actions/T000/1/response" and "inc-slack" in post.payload["text"]
    ]
    assert "declined by oncall (Slack U07ONCALL)" in reply


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
