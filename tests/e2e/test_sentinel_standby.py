"""The sentinel starts the outage runbook in the standby region when the primary Vigil stops
(issue 17 item 3; ADR 48; docs/runbook.md "When the sentinel says Vigil stopped"), through the
real sentinel template deployed in us-west-2 with ``StandbyRunbookArn``.

The emulator runs one Vigil stack, so the standby stack's runbook is a stand-in state machine in
us-west-2 that accepts any input; what the sentinel sent is checked against the runbook's own
input contract (``RunbookInput``, which the real runbook's first step validates). The primary's
collection stops at 30 minutes; the sentinel announces it within its bound and starts the
runbook once for the episode, as a dry run, for the default service; the hourly repeat and
Lambda's retries start nothing more.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from emulator import Emulator
from emulator.sentinel import Sentinel, set_schedule
from vigil.runbook.incident import RunbookInput

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
STOP = T0 + timedelta(minutes=30)
END = STOP + timedelta(minutes=90)
STANDBY = "us-west-2"


@dataclass
class Played:
    sentinel: Sentinel
    runbook_arn: str
    executions: list[dict[str, Any]]


@pytest.fixture(scope="module")
def played() -> Iterator[Played]:
    with Emulator.start(start=T0) as emu:
        sfn = boto3.client("stepfunctions", region_name=STANDBY)
        runbook_arn = sfn.create_state_machine(
            name="vigil-standby-OutageRunbook",
            definition=json.dumps({"StartAt": "Parked", "States": {"Parked": {"Type": "Succeed"}}}),
            roleArn="arn:aws:iam::123456789012:role/standby-runbook",
        )["stateMachineArn"]
        sentinel = Sentinel.deploy(
            emu,
            parameters={
                "CheckSchedule": "rate(5 minutes)",
                "StaleMinutes": 15,
                "DownAfterChecks": 2,
                "RepeatMinutes": 60,
                "StandbyRunbookArn": runbook_arn,
            },
        )
        sentinel.play_until(STOP)
        assert set_schedule(emu, "CollectMetricsFunction", enabled=False)
        sentinel.play_until(END)
        executions = [
            sfn.describe_execution(executionArn=item["executionArn"])
            for item in sfn.list_executions(stateMachineArn=runbook_arn)["executions"]
        ]
        yield Played(sentinel, runbook_arn, executions)


def test_the_standby_runbook_starts_once_for_the_episode(played: Played) -> None:
    kinds = [kind for _, kind in played.sentinel.decisions]

    # Down, then the hourly repeat: one start, named by the episode.
    assert kinds == ["down", "still_down"]
    assert len(played.executions) == 1
    assert played.executions[0]["name"].startswith("sentinel-us-east-1-")


def test_its_input_is_the_runbooks_own_a_dry_run_for_the_primary_region(played: Played) -> None:
    started = RunbookInput.model_validate_json(played.executions[0]["input"])

    assert started.region == "us-east-1"
    assert started.service == "lambda"
    assert started.dry_run is True
    assert "stopped evaluating" in started.reason


def test_the_announcement_says_which_runbook_it_started(played: Played) -> None:
    down = played.sentinel.announcements[0]["message"]

    assert "runbook" in down.lower()
