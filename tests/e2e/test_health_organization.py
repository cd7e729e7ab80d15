"""The Health organizational view through the real template: one notice per account."""

import json
from collections.abc import Iterator

import pytest

from emulator import Emulator
from tests.e2e.scenario_runs import play_scenario

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture(scope="module")
def played() -> Iterator[Emulator]:
    yield from play_scenario("health-organization")


def test_each_affected_member_account_hears_once_and_a_public_event_once(
    played: Emulator,
) -> None:
    posts = [json.dumps(post.payload) for post in played.slack.posts]
    rds = [post for post in posts if "AWS_RDS_HARDWARE_MAINTENANCE_SCHEDULED" in post]
    ec2 = [post for post in posts if "AWS_EC2_OPERATIONAL_ISSUE" in post]

    assert sorted("111111111111" in post for post in rds) == [False, True]
    assert sorted("222222222222" in post for post in rds) == [False, True]
    assert len(ec2) == 1
    # The RDS notice is informational: email's default filter (critical, warning) drops it.
    assert [email.subject for email in played.mailbox.emails] == [
        "[AWS HEALTH] EC2 issue in eu-west-1: AWS_EC2_OPERATIONAL_ISSUE"
    ]


def test_the_poll_used_the_organization_calls_only(played: Emulator) -> None:
    operations = {operation for _, operation, _ in played.health.requests}

    assert operations == {
        "DescribeEventsForOrganization",
        "DescribeAffectedAccountsForOrganization",
        "DescribeEventDetailsForOrganization",
        "DescribeAffectedEntitiesForOrganization",
    }
