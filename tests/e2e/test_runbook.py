"""The OutageRunbook state machine started by hand, through the real template."""

import json
from collections.abc import Iterator
from datetime import timedelta

import boto3
import pytest

from emulator import Emulator
from tests.e2e.runbook_support import describe, incident, runbook_emulator

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with runbook_emulator() as emulator:
        yield emulator


def _run(emu: Emulator, payload: object, name: str) -> dict[str, object]:
    arn = emu.start_execution("OutageRunbookStateMachine", payload, name=name)
    emu.settle()
    return describe(arn)


def test_a_manual_start_opens_an_incident_notifies_and_resolves_when_all_is_clear(
    emu: Emulator,
) -> None:
    running = _run(
        emu,
        {
            "service": "dynamodb",
            "region": "eu-west-1",
            "reason": "Throttling across all tables",
            "requested_by": "alice",
        },
        name="manual-dynamodb-1",
    )
    item = boto3.client("dynamodb").get_item(
        TableName=emu.deployment.table_name,
        Key={"pk": {"S": "INCIDENT#manual-dynamodb-1"}, "sk": {"S": "META"}},
    )["Item"]
    subject = "[CRITICAL] Outage runbook started: dynamodb in eu-west-1"

    assert running["status"] == "RUNNING"  # the monitor loop waits on the simulated clock
    assert json.loads(item["body"]["S"])["status"] == "open"
    assert incident(emu, "manual-dynamodb-1").timeline[0].text == (
        "Runbook started (manual by alice): Throttling across all tables"
    )
    assert [e.subject for e in emu.mailbox.emails if e.subject == subject] == [subject]
    assert subject in [post.payload["text"] for post in emu.slack.posts]

    emu.advance(timedelta(minutes=5))
    done = describe(str(running["executionArn"]))

    assert done["status"] == "SUCCEEDED"
    assert json.loads(str(done["output"])) == {
        "incident_id": "manual-dynamodb-1",
        "status": "resolved",
        "report": f"s3://{emu.deployment.outputs['RunbookBucketName']}"
        "/reports/manual-dynamodb-1/report.md",
    }


def test_bad_input_fails_the_first_step_naming_each_field(emu: Emulator) -> None:
    result = _run(emu, {"service": "Lambda!", "region": "moon-1"}, name="manual-bad-1")

    assert result["status"] == "FAILED"
    assert result["error"] == "InvalidRunbookInput"
    cause = str(result["cause"])
    for field in ("service:", "region:", "reason:"):
        assert field in cause


def test_an_unknown_failover_plan_fails_the_first_step_listing_the_known_ones(
    emu: Emulator,
) -> None:
    result = _run(
        emu,
        {"service": "lambda", "region": "us-east-1", "reason": "errors", "failover_plan": "nope"},
        name="manual-bad-2",
    )

    assert result["status"] == "FAILED"
    assert result["error"] == "InvalidRunbookInput"
    assert "failover_plan: no plan named 'nope'; known plans: broken, to-west" in str(
        result["cause"]
    )
