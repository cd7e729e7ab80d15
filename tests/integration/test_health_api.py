"""The Health API adapter against the real botocore client shape (``Stubber``): pagination,
details and entities in chunks, failover between the two Health regions, the missing
support plan."""

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from vigil.adapters.health_api import (
    HealthApi,
    HealthApiUnavailable,
    HealthSubscriptionRequired,
    dns_active_region,
    failover_order,
)

SINCE = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
UPDATED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def summary(index: int, code: str = "AWS_LAMBDA_OPERATIONAL_ISSUE") -> dict[str, Any]:
    return {
        "arn": f"arn:aws:health:us-east-1::event/LAMBDA/{code}/{index}",
        "service": "LAMBDA",
        "eventTypeCode": code,
        "eventTypeCategory": "issue",
        "region": "us-east-1",
        "lastUpdatedTime": UPDATED,
        "statusCode": "open",
    }


@contextmanager
def stubbed() -> Iterator[dict[str, tuple[Any, Stubber]]]:
    clients = {r: boto3.client("health", region_name=r) for r in ("us-east-1", "us-east-2")}
    with ExitStack() as stack:
        yield {r: (c, stack.enter_context(Stubber(c))) for r, c in clients.items()}


def test_events_follow_pages_drop_filtered_ones_and_fetch_details_in_chunks_of_ten() -> None:
    events = [summary(i) for i in range(12)] + [summary(99, "AWS_VPN_SINGLE_TUNNEL_NOTIFICATION")]
    with stubbed() as stubs:
        stub = stubs["us-east-1"][1]
        query = {"filter": {"lastUpdatedTimes": [{"from": SINCE}]}, "maxResults": 100}
        stub.add_response("describe_events", {"events": events[:7], "nextToken": "tok1"}, query)
        stub.add_response("describe_events", {"events": events[7:]}, query | {"nextToken": "tok1"})
        for chunk in (events[:10], events[10:12]):
            arns = [e["arn"] for e in chunk]
            stub.add_response(
                "describe_event_details",
                {
                    "successfulSet": [
                        {"event": e, "eventDescription": {"latestDescription": f"text {e['arn']}"}}
                        for e in chunk
                    ]
                },
                {"eventArns": arns},
            )
            stub.add_response(
                "describe_affected_entities",
                {"entities": [{"entityValue": "fn-a", "eventArn": arns[0]}], "nextToken": "ent1"},
                {"filter": {"eventArns": arns}},
            )
            stub.add_response(
                "describe_affected_entities",
                {"entities": [{"entityValue": "fn-b", "eventArn": arns[0]}]},
                {"filter": {"eventArns": arns}, "nextToken": "ent1"},
            )
        api = HealthApi(lambda region: stubs[region][0], active_region=lambda: "us-east-1")

        found = api.events(
            since=SINCE,
            account="123456789012",
            keep=lambda e: not e.event_type_code.startswith("AWS_VPN"),
        )
        stub.assert_no_pending_responses()

    assert len(found) == 12
    assert found[0].affected_entities == ["fn-a", "fn-b"]
    assert found[0].description.startswith("text arn:aws:health")
    assert api.stats.by_api == {
        "DescribeEvents": 2,
        "DescribeEventDetails": 2,
        "DescribeAffectedEntities": 4,
    }


def test_a_failing_active_region_fails_over_to_the_passive_one() -> None:
    with stubbed() as stubs:
        stubs["us-east-2"][1].add_client_error(
            "describe_events", "ServiceUnavailable", http_status_code=503
        )
        stubs["us-east-1"][1].add_response("describe_events", {"events": []})
        api = HealthApi(lambda region: stubs[region][0], active_region=lambda: "us-east-2")

        assert api.events(since=SINCE, account="123456789012", keep=lambda e: True) == []
        assert api.failures == 1


def test_both_regions_failing_is_reported_not_crashed_and_counted() -> None:
    # 503 ServiceUnavailable: https://docs.aws.amazon.com/health/latest/APIReference/CommonErrors.html
    with stubbed() as stubs:
        stubs["us-east-1"][1].add_client_error(
            "describe_events", "InternalFailure", http_status_code=500
        )
        stubs["us-east-2"][1].add_client_error(
            "describe_events", "ServiceUnavailable", http_status_code=503
        )
        api = HealthApi(lambda region: stubs[region][0], active_region=lambda: None)

        with pytest.raises(HealthApiUnavailable, match="no Health endpoint answered"):
            api.events(since=SINCE, account="123456789012", keep=lambda e: True)
        assert api.failures == 2


def test_no_support_plan_is_its_own_error_and_no_failover() -> None:
    with stubbed() as stubs:
        stubs["us-east-1"][1].add_client_error("describe_events", "SubscriptionRequiredException")
        api = HealthApi(lambda region: stubs[region][0], active_region=lambda: "us-east-1")

        with pytest.raises(HealthSubscriptionRequired):
            api.events(since=SINCE, account="123456789012", keep=lambda e: True)
        stubs["us-east-2"][1].assert_no_pending_responses()


def test_the_active_region_comes_from_the_global_name_cname() -> None:
    def resolve(name: str) -> tuple[str, list[str], list[str]]:
        assert name == "global.health.amazonaws.com"
        return "health.us-east-2.amazonaws.com", ["global.health.amazonaws.com"], ["10.0.0.1"]

    def broken(name: str) -> tuple[str, list[str], list[str]]:
        raise OSError("no DNS")

    assert dns_active_region(resolve) == "us-east-2"
    assert dns_active_region(broken) is None
    assert failover_order("us-east-2") == ["us-east-2", "us-east-1"]
    assert failover_order(None) == ["us-east-1", "us-east-2"]


def test_the_organizational_view_tracks_each_affected_account_and_public_events_once() -> None:
    specific = summary(1) | {"eventScopeCode": "ACCOUNT_SPECIFIC"}
    public = summary(2) | {"eventScopeCode": "PUBLIC"}
    with stubbed() as stubs:
        stub = stubs["us-east-1"][1]
        stub.add_response(
            "describe_events_for_organization",
            {"events": [specific, public]},
            {"filter": {"lastUpdatedTime": {"from": SINCE}}, "maxResults": 100},
        )
        stub.add_response(
            "describe_affected_accounts_for_organization",
            {"affectedAccounts": ["111111111111"], "nextToken": "more"},
            {"eventArn": specific["arn"]},
        )
        stub.add_response(
            "describe_affected_accounts_for_organization",
            {"affectedAccounts": ["222222222222"]},
            {"eventArn": specific["arn"], "nextToken": "more"},
        )
        filters = [
            {"eventArn": specific["arn"], "awsAccountId": "111111111111"},
            {"eventArn": specific["arn"], "awsAccountId": "222222222222"},
            {"eventArn": public["arn"]},  # public events are asked for without an account
        ]
        stub.add_response(
            "describe_event_details_for_organization",
            {
                "successfulSet": [
                    {
                        "awsAccountId": account,
                        "event": specific,
                        "eventDescription": {"latestDescription": f"for {account}"},
                    }
                    for account in ("111111111111", "222222222222")
                ]
                + [{"event": public, "eventDescription": {"latestDescription": "everyone"}}]
            },
            {"organizationEventDetailFilters": filters},
        )
        stub.add_response(
            "describe_affected_entities_for_organization",
            {
                "entities": [
                    {
                        "eventArn": specific["arn"],
                        "awsAccountId": "222222222222",
                        "entityValue": "arn:aws:lambda:us-east-1:222222222222:function:f",
                    }
                ]
            },
            {"organizationEntityFilters": filters},
        )
        api = HealthApi(
            lambda region: stubs[region][0], active_region=lambda: "us-east-1", organization=True
        )

        events = api.events(since=SINCE, account="999999999999", keep=lambda event: True)

    assert [(e.arn, e.account, e.description) for e in events] == [
        (specific["arn"], "111111111111", "for 111111111111"),
        (specific["arn"], "222222222222", "for 222222222222"),
        (public["arn"], "999999999999", "everyone"),
    ]
    assert events[1].affected_entities == ["arn:aws:lambda:us-east-1:222222222222:function:f"]
    assert events[0].affected_entities == []
