"""The OutageRunbook state machine started by hand, through the real template."""

import json
from collections.abc import Iterator

import boto3
import pytest

from emulator import Emulator

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator.start(parameters={"AlertEmail": "ops@example.com"}) as emulator:
        yield emulator


def _run(emu: Emulator, payload: object, name: str) -> dict[str, object]:
    arn = emu.start_execution("OutageRunbookStateMachine", payload, name=name)
    emu.settle()
    description = boto3.client("stepfunctions").describe_execution(executionArn=arn)
    return dict(description)


def test_a_manual_start_opens_an_incident_and_notifies(emu: Emulator) -> None:
    result = _run(
        emu,
        {
            "service": "dynamodb",
            "region": "eu-west-1",
            "reason": "Throttling across all tables",
            "requested_by": "alice",
        },
        name="manual-dynamodb-1",
    )

    incident = json.loads(str(result["output"]))
    item = boto3.client("dynamodb").get_item(
        TableName=emu.deployment.table_name,
        Key={"pk": {"S": "INCIDENT#manual-dynamodb-1"}, "sk": {"S": "META"}},
    )["Item"]
    subject = "[CRITICAL] Outage runbook started: dynamodb in eu-west-1"
    assert result["status"] == "SUCCEEDED"
    assert incident["incident_id"] == "manual-dynamodb-1"
    assert incident["timeline"][0]["text"] == (
        "Runbook started (manual by alice): Throttling across all tables"
    )
    assert json.loads(item["body"]["S"])["status"] == "open"
    assert [e.subject for e in emu.mailbox.emails if e.subject == subject] == [subject]
    assert subject in [post.payload["text"] for post in emu.slack.posts]


def test_bad_input_fails_the_first_step_naming_each_field(emu: Emulator) -> None:
    result = _run(emu, {"service": "Lambda!", "region": "moon-1"}, name="manual-bad-1")

    assert result["status"] == "FAILED"
    assert result["error"] == "InvalidRunbookInput"
    cause = str(result["cause"])
    for field in ("service:", "region:", "reason:"):
        assert field in cause
