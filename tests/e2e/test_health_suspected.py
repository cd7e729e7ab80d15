"""Our signals first: the ``health-suspected`` scenario through the real template.

Given three functions failing at once in an account without a Business/Enterprise support
plan, Vigil suspects an AWS outage naming the evidence, starts the runbook once, upgrades to
confirmed when the aws.health event arrives, and its catch-up poll logs the missing plan once.
"""

from collections.abc import Iterator

import pytest

from emulator import Emulator
from tests.e2e.scenario_runs import play_scenario

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]


def _subjects(emu: Emulator) -> list[str]:
    return [email.subject for email in emu.mailbox.emails]


@pytest.fixture(scope="module")
def suspected() -> Iterator[Emulator]:
    yield from play_scenario("health-suspected")


def test_our_errors_first_raise_a_suspected_outage_naming_the_evidence(
    suspected: Emulator,
) -> None:
    subjects = _subjects(suspected)
    first = suspected.mailbox.emails[0]

    assert subjects[:2] == [
        "[CRITICAL] Suspected AWS outage: lambda in us-east-1",
        "[CRITICAL] AWS outage confirmed by AWS: lambda in us-east-1",
    ]
    assert "AWS has not confirmed" in first.body
    for resource in ("orders-api", "payments-api", "search-api"):
        assert resource in first.body
    assert not [s for s in subjects[:2] if "Lambda errors firing" in s]
    assert "[RESOLVED] AWS outage over: lambda in us-east-1" in subjects


def test_aws_confirmation_quotes_aws_and_the_runbook_command_is_exact(
    suspected: Emulator,
) -> None:
    first, confirmed = suspected.mailbox.emails[:2]
    stack = suspected.deployment

    assert "We are investigating increased Lambda error rates" in confirmed.body
    assert (
        f"\n    vigil --stack {stack.stack_name} --region {stack.region} runbook start"
        " --service lambda --affected-region us-east-1"
        " --name outage-lambda-us-east-1-20250314T0925Z"
        " --reason 'AWS outage suspected: lambda in us-east-1; 3 resources failing'\n" in first.body
    )
    assert suspected.executions("OutageRunbookStateMachine") == []
    assert all(r.succeeded for r in suspected.executions("EvaluateStateMachine"))


def test_without_a_support_plan_the_poll_logs_once_and_events_still_flow(
    suspected: Emulator,
) -> None:
    log = suspected.logs["CollectHealthFunction"].text()

    assert log.count("SubscriptionRequiredException") == 1
    assert len([r for r in suspected.health.requests if r[1] == "DescribeEvents"]) == 1
    assert "[CRITICAL] AWS outage confirmed by AWS: lambda in us-east-1" in _subjects(suspected)
