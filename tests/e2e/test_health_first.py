"""AWS Health first: the ``health-first`` scenario through the real template in the emulator.

Given AWS Health opening a Lambda issue before our functions fail, Vigil tells
people about an AWS outage once, with AWS's words and its own evidence, keeps the per-resource
alerts the outage explains out of Slack and email while it is open, and never notifies the
event types the config filters out.
"""

from collections.abc import Iterator

import pytest

from emulator import Emulator
from tests.e2e.scenario_runs import play_scenario

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]


def _subjects(emu: Emulator) -> list[str]:
    return [email.subject for email in emu.mailbox.emails]


def _slack(emu: Emulator) -> list[str]:
    return [str(post.payload["text"]) for post in emu.slack.posts]


@pytest.fixture(scope="module")
def health_first() -> Iterator[Emulator]:
    yield from play_scenario("health-first")


def test_health_first_confirms_an_outage_that_mutes_our_alerts_until_aws_closes_it(
    health_first: Emulator,
) -> None:
    subjects = _subjects(health_first)

    assert subjects[:2] == [
        "[CRITICAL] AWS outage confirmed by AWS: lambda in us-east-1",
        "[AWS HEALTH] LAMBDA issue updated in us-east-1: AWS_LAMBDA_OPERATIONAL_ISSUE",
    ]
    # One evaluation publishes these two in parallel (the workflow's Map).
    assert set(subjects[2:4]) == {
        "[RESOLVED] AWS outage over: lambda in us-east-1",
        "[CRITICAL] Lambda errors still firing: orders-api",
    }
    assert subjects[4:] == ["[RESOLVED] Lambda errors resolved: orders-api"]
    assert sorted(_slack(health_first)) == sorted(subjects)
    assert health_first.failures == []


def test_the_closing_notification_quotes_aws_lists_the_evidence_and_the_muted_count(
    health_first: Emulator,
) -> None:
    closing = next(e for e in health_first.mailbox.emails if "outage over" in e.subject)

    assert "The issue has been resolved." in closing.body
    for resource in ("orders-api", "payments-api", "search-api"):
        assert f"  - {resource} lambda.errors:" in closing.body
    assert "3 per-resource alert notifications were muted" in closing.body
    assert "Released: 1 still firing (sent again now), 2 resolved meanwhile." in closing.body


def test_filtered_event_types_never_notify_and_an_unchanged_update_is_not_repeated(
    health_first: Emulator,
) -> None:
    everything = " ".join(_subjects(health_first) + _slack(health_first))

    assert "VPN" not in everything
    assert "RDS" not in everything
    assert (
        _subjects(health_first).count(
            "[AWS HEALTH] LAMBDA issue updated in us-east-1: AWS_LAMBDA_OPERATIONAL_ISSUE"
        )
        == 1
    )


def test_the_catch_up_poll_reads_the_api_and_adds_no_duplicate(health_first: Emulator) -> None:
    operations = {operation for _, operation, _ in health_first.health.requests}

    assert operations == {"DescribeEvents", "DescribeEventDetails", "DescribeAffectedEntities"}
    assert {region for region, _, _ in health_first.health.requests} == {"us-east-1"}
    assert len([s for s in _subjects(health_first) if "outage over" in s]) == 1
