"""With ``outage.runbook: start`` the Evaluate workflow starts the OutageRunbook itself:
once per outage, even when the suspicion is later confirmed by AWS.

In health-suspected the first outage is suspected at 09:25, confirmed at 09:40 and over when
AWS closes its issue at 10:15; the functions still failing then raise a second suspicion at
10:20, a new outage whose runbook is refused: the first runbook still watches lambda in
us-east-1 (its alerts are open), and one incident runs per service and region (issue 12)."""

import json
from collections.abc import Iterator

import pytest

from emulator import Emulator

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture(scope="module")
def started() -> Iterator[Emulator]:
    parameters = {
        "AlertEmail": "ops@example.com",
        "RulesConfig": '{"outage": {"runbook": "start"}}',
    }
    with Emulator.start(scenario="health-suspected", parameters=parameters) as emu:
        emu.play()
        yield emu


def test_an_outage_starts_one_runbook_and_a_second_one_in_its_scope_is_refused(
    started: Emulator,
) -> None:
    runs = {run.name: run for run in started.executions("OutageRunbookStateMachine")}
    announced = [
        post
        for post in started.slack.posts
        if post.payload["text"] == "[CRITICAL] Outage runbook started: lambda in us-east-1"
    ]
    first, second = (
        "outage-lambda-us-east-1-20250314T0925Z",
        "outage-lambda-us-east-1-20250314T1020Z",
    )
    refused = runs[second]

    assert sorted(runs) == [first, second]
    assert runs[first].succeeded
    # The second outage's runbook is refused while the first one still watches the scope.
    assert (refused.status, refused.error) == ("FAILED", "IncidentAlreadyOpen")
    assert json.loads(refused.cause or "{}")["errorMessage"].startswith(
        f"lambda in us-east-1 already has an open incident: {first},"
        " opened 2025-03-14T09:25:00Z (vigil by vigil-outage-correlation);"
    )
    assert len(announced) == 1


def test_the_evaluations_that_started_it_succeeded(started: Emulator) -> None:
    evaluations = started.executions("EvaluateStateMachine")

    assert evaluations
    assert all(execution.succeeded for execution in evaluations)
