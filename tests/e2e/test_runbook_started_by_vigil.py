"""With ``outage.runbook: start`` the Evaluate workflow starts the OutageRunbook itself:
once per outage, even when the suspicion is later confirmed by AWS.

In health-suspected the first outage is suspected at 09:25, confirmed at 09:40 and over when
AWS closes its issue at 10:15; the functions still failing then raise a second suspicion at
10:20, a new outage with a runbook of its own."""

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


def test_each_outage_starts_one_runbook_even_when_aws_confirms_it_later(
    started: Emulator,
) -> None:
    runs = started.executions("OutageRunbookStateMachine")
    announced = [
        post
        for post in started.slack.posts
        if post.payload["text"] == "[CRITICAL] Outage runbook started: lambda in us-east-1"
    ]

    assert sorted(run.name for run in runs) == [
        "outage-lambda-us-east-1-20250314T0925Z",
        "outage-lambda-us-east-1-20250314T1020Z",
    ]
    assert all(run.succeeded for run in runs)
    assert len(announced) == 2


def test_the_evaluations_that_started_it_succeeded(started: Emulator) -> None:
    evaluations = started.executions("EvaluateStateMachine")

    assert evaluations
    assert all(execution.succeeded for execution in evaluations)
