"""GetMetricData with a query's ``AccountId`` and ListMetrics with ``IncludeLinkedAccounts``, as
CloudWatch cross-account observability answers them, in the emulator
(``emulator/metric_index.py``, ``emulator/oam.py``; docs/architecture.md, ADRs 49 and 53).

The cases come from the AWS documentation: MetricDataQuery's ``AccountId`` (CloudWatch API
Reference: in a monitoring account, the account to retrieve the metric from); ListMetrics'
``IncludeLinkedAccounts``, ``OwningAccount`` and ``OwningAccounts`` (same reference); a source
account shares its metrics through an ``AWS::Oam::Link`` to a sink of the monitoring account,
per resource type (``AWS::CloudWatch::Metric``), "within a Region" (OAM API Reference: its
introduction, CreateLink and DeleteLink). The stacks are created the way
``test_member_account.py`` creates them (a StackSet execution role in the member account,
template.yaml's sink in the home region) and ``sink/template.yaml`` is the sink of a second
region.
"""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from emulator import metric_index, oam
from emulator.errors import EmulatorError

from .conftest import REGION, ROOT
from .test_member_account import (
    MEMBER,
    MONITORING,
    ORGANIZATION,
    STACK,
    _assume,
    _create_stack,
    _sink_template,
)

OTHER_REGION = "eu-west-1"
UNLINKED = "333333333333"
OTHER_MONITORING = "444444444444"
START = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
MEMBER_STACK = "StackSet-vigil-member-1a2b"


@pytest.fixture
def linked(aws: None) -> Iterator[None]:
    """moto with the emulator's GetMetricData and ListMetrics, as Emulator.start installs them."""
    with metric_index.installed(), oam.installed():
        yield


def _in(session: boto3.Session, region: str) -> boto3.Session:
    """The same credentials (the same account) in another region."""
    credentials = session.get_credentials()
    assert credentials is not None
    return boto3.Session(
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        aws_session_token=credentials.token,
        region_name=region,
    )


def _account(account: str, region: str = REGION) -> boto3.Session:
    """A session acting in ``account`` (the monitoring account's own, unassumed)."""
    if account == MONITORING:
        return boto3.Session(region_name=region)
    role = f"arn:aws:iam::{account}:role/AWSCloudFormationStackSetExecutionRole"
    return _in(_assume(role, "stackset"), region)


def _sink(region: str, account: str = MONITORING) -> str:
    """The monitoring account's sink in ``region``: template.yaml's in the home region,
    sink/template.yaml's in any other."""
    body = _sink_template() if region == REGION else (ROOT / "sink" / "template.yaml").read_text()
    name = STACK if region == REGION else f"{STACK}-sink"
    stack = _create_stack(_account(account, region), name, body, OrganizationId=ORGANIZATION)
    return str({o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["OamSinkArn"])


def _link(sink_arn: str, region: str, account: str = MEMBER) -> None:
    """The member template's stack instance of ``account`` in ``region``."""
    _create_stack(
        _account(account, region),
        MEMBER_STACK,
        (ROOT / "member" / "template.yaml").read_text(),
        MonitoringAccountId=MONITORING,
        OrganizationId=ORGANIZATION,
        SinkArn=sink_arn,
        MonitoringStackName=STACK,
        RoleRegion=REGION,
    )


def _errors(account: str, region: str, value: float) -> None:
    """``value`` errors of the account's function ``orders`` at 09:01 in ``region``."""
    _account(account, region).client("cloudwatch").put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "Errors",
                "Dimensions": [{"Name": "FunctionName", "Value": "orders"}],
                "Timestamp": START + timedelta(minutes=1),
                "Value": value,
                "Unit": "Count",
            }
        ],
    )


def _query(query_id: str, account: str | None = None, **extra: Any) -> dict[str, Any]:
    query: dict[str, Any] = {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/Lambda",
                "MetricName": "Errors",
                "Dimensions": [{"Name": "FunctionName", "Value": "orders"}],
            },
            "Period": 60,
            "Stat": "Sum",
        },
        **extra,
    }
    if account is not None:
        query["AccountId"] = account
    return query


def _read(*queries: dict[str, Any], region: str = REGION) -> dict[str, list[float]]:
    """The monitoring account's GetMetricData in ``region``: values by query id, in order."""
    answer = boto3.client("cloudwatch", region_name=region).get_metric_data(
        MetricDataQueries=list(queries),
        StartTime=START,
        EndTime=START + timedelta(minutes=5),
    )
    return {result["Id"]: result["Values"] for result in answer["MetricDataResults"]}


def test_a_linked_members_metrics_are_read_with_its_account_id(linked: None) -> None:
    # Given the monitoring account's sink and the member's link to it, in the home region
    _link(_sink(REGION), REGION)
    # and the same function name erring in each account
    _errors(MONITORING, REGION, 1)
    _errors(MEMBER, REGION, 7)
    # When the monitoring account reads with and without AccountId
    values = _read(_query("member", MEMBER), _query("own"), _query("named_own", MONITORING))
    # Then the member's query reads the member's metric, the others the caller's own
    assert values == {"member": [7.0], "own": [1.0], "named_own": [1.0]}


def test_an_account_without_a_link_reads_nothing(linked: None) -> None:
    # Given a linked member, and an account with metrics but no link
    _link(_sink(REGION), REGION)
    _errors(MEMBER, REGION, 7)
    _errors(UNLINKED, REGION, 5)
    # When both are read in one call, beside the caller's own metric and a query not returned
    values = _read(
        _query("unlinked", UNLINKED),
        _query("own"),
        _query("hidden", MEMBER, ReturnData=False),
        _query("member", MEMBER),
    )
    # Then the unlinked account's query has no datapoints, and the answer keeps the call's order
    assert list(values) == ["unlinked", "own", "member"]
    assert values == {"unlinked": [], "own": [], "member": [7.0]}


def test_without_account_id_only_the_callers_own_metrics_are_read(linked: None) -> None:
    # Given a linked member with metrics, and the same metric in the monitoring account
    _link(_sink(REGION), REGION)
    _errors(MEMBER, REGION, 7)
    _errors(MONITORING, REGION, 1)
    # When the monitoring account reads without AccountId
    # Then it reads its own datapoint only, not the member's added to it
    assert _read(_query("own")) == {"own": [1.0]}


def test_a_deleted_link_or_sink_reads_nothing(linked: None) -> None:
    # Given a linked member with metrics, read through the link
    sink_arn = _sink(REGION)
    _link(sink_arn, REGION)
    _errors(MEMBER, REGION, 7)
    assert _read(_query("member", MEMBER)) == {"member": [7.0]}
    # When the member's stack instance (its link) is deleted
    _account(MEMBER).client("cloudformation").delete_stack(StackName=MEMBER_STACK)
    # Then its metrics are no longer read
    assert _read(_query("member", MEMBER)) == {"member": []}
    # and when the link is back but the sink's stack is gone, neither
    _link(sink_arn, REGION)
    assert _read(_query("member", MEMBER)) == {"member": [7.0]}
    boto3.client("cloudformation").delete_stack(StackName=STACK)
    assert _read(_query("member", MEMBER)) == {"member": []}


def test_a_link_to_another_accounts_sink_does_not_serve_this_one(linked: None) -> None:
    # Given the member linked to a sink of another monitoring account only
    _link(_sink(REGION, account=OTHER_MONITORING), REGION)
    _errors(MEMBER, REGION, 7)
    _errors(MONITORING, REGION, 1)
    # When this monitoring account reads the member, Then it reads nothing (neither the
    # member's datapoint nor its own)
    assert _read(_query("member", MEMBER)) == {"member": []}


def logs_only_link(sink_arn: str) -> str:
    """A template of one link to ``sink_arn`` that shares log groups and no metrics."""
    link = {
        "Type": "AWS::Oam::Link",
        "Properties": {
            "SinkIdentifier": sink_arn,
            "ResourceTypes": ["AWS::Logs::LogGroup"],
            "LabelTemplate": "$AccountName",
        },
    }
    return json.dumps({"Resources": {"LogsOnly": link}})


def test_a_link_that_shares_log_groups_only_brings_no_metrics(linked: None) -> None:
    # Given a link of the member to the sink for log groups only
    _create_stack(_account(MEMBER), "logs-only", logs_only_link(_sink(REGION)))
    _errors(MEMBER, REGION, 7)
    _errors(MONITORING, REGION, 1)
    # When the monitoring account reads the member's metric, Then it reads nothing
    assert _read(_query("member", MEMBER)) == {"member": []}


def test_a_link_serves_its_own_region_only(linked: None) -> None:
    # Given the member linked in eu-west-1 only, to sink/template.yaml's sink there
    _link(_sink(OTHER_REGION), OTHER_REGION)
    # and its function erring in both regions
    _errors(MEMBER, REGION, 7)
    _errors(MEMBER, OTHER_REGION, 3)
    # When the monitoring account reads the member in each region
    # Then eu-west-1 answers with eu-west-1's metric, us-east-1 with nothing (no link there)
    assert _read(_query("member", MEMBER), region=OTHER_REGION) == {"member": [3.0]}
    assert _read(_query("member", MEMBER), region=REGION) == {"member": []}


def test_with_a_link_in_each_region_each_region_reads_its_own_metrics(linked: None) -> None:
    # Given the member linked to the home sink and to the second region's sink
    _link(_sink(REGION), REGION)
    _link(_sink(OTHER_REGION), OTHER_REGION)
    _errors(MEMBER, REGION, 7)
    _errors(MEMBER, OTHER_REGION, 3)
    # When read in each region, Then each answers with that region's datapoints only
    assert _read(_query("member", MEMBER), region=REGION) == {"member": [7.0]}
    assert _read(_query("member", MEMBER), region=OTHER_REGION) == {"member": [3.0]}


def test_metric_math_naming_another_account_is_refused_not_answered_wrongly(linked: None) -> None:
    # Given a linked member
    _link(_sink(REGION), REGION)
    # When a call mixes a metric math expression with a query naming the member
    expression = {"Id": "total", "Expression": "SUM([member])"}
    # Then the emulator says it does not emulate it (rather than answer from the caller)
    with pytest.raises(EmulatorError, match="not emulated"):
        _read(_query("member", MEMBER, ReturnData=False), expression)


# ------------------------------------------------------------------------------- ListMetrics


def _listed(region: str = REGION, **request: Any) -> list[tuple[str, str]]:
    """The monitoring account's ListMetrics, every page through botocore's paginator (as
    ``vigil.adapters.cloudwatch`` reads it): (owning account, function name)."""
    pages = (
        boto3.client("cloudwatch", region_name=region)
        .get_paginator("list_metrics")
        .paginate(Namespace="AWS/Lambda", **request)
    )
    listed: list[tuple[str, str]] = []
    for page in pages:
        owners = page.get("OwningAccounts", [None] * len(page["Metrics"]))
        for owner, metric in zip(owners, page["Metrics"], strict=True):
            (dimension,) = metric["Dimensions"]
            listed.append((str(owner), dimension["Value"]))
    return listed


def test_list_metrics_includes_the_linked_accounts_with_their_owners(linked: None) -> None:
    # Given a linked member, an unlinked account and the monitoring account, each with a metric
    _link(_sink(REGION), REGION)
    _errors(MONITORING, REGION, 1)
    _errors(MEMBER, REGION, 7)
    _errors(UNLINKED, REGION, 5)
    # When the monitoring account lists with IncludeLinkedAccounts
    # Then its own and the linked member's metrics come, each with its owning account
    assert sorted(_listed(IncludeLinkedAccounts=True)) == sorted(
        [(MONITORING, "orders"), (MEMBER, "orders")]
    )
    # and OwningAccount keeps one account's, an unlinked one's being none
    assert _listed(IncludeLinkedAccounts=True, OwningAccount=MEMBER) == [(MEMBER, "orders")]
    assert _listed(IncludeLinkedAccounts=True, OwningAccount=UNLINKED) == []
    # and without IncludeLinkedAccounts, moto's answer: the caller's own, no owners
    assert _listed() == [("None", "orders")]


def test_list_metrics_includes_a_link_in_its_own_region_only(linked: None) -> None:
    # Given the member linked in eu-west-1 only, with a metric in each region
    _link(_sink(OTHER_REGION), OTHER_REGION)
    _errors(MEMBER, REGION, 7)
    _errors(MEMBER, OTHER_REGION, 3)
    # Then eu-west-1 lists it, us-east-1 does not
    assert _listed(OTHER_REGION, IncludeLinkedAccounts=True) == [(MEMBER, "orders")]
    assert _listed(REGION, IncludeLinkedAccounts=True) == []


def test_list_metrics_pages_across_accounts_with_their_owners(linked: None) -> None:
    # Given 300 functions' metrics in each of the monitoring and the linked member account
    _link(_sink(REGION), REGION)
    for account in (MONITORING, MEMBER):
        cloudwatch = _account(account).client("cloudwatch")
        for first in range(0, 300, 20):
            cloudwatch.put_metric_data(
                Namespace="AWS/Lambda",
                MetricData=[
                    {
                        "MetricName": "Errors",
                        "Dimensions": [{"Name": "FunctionName", "Value": f"fn-{n:03d}"}],
                        "Timestamp": START,
                        "Value": 0.0,
                    }
                    for n in range(first, first + 20)
                ],
            )
    # When listed with IncludeLinkedAccounts, a page at most 500 metrics
    first_page = boto3.client("cloudwatch").list_metrics(
        Namespace="AWS/Lambda", IncludeLinkedAccounts=True
    )
    listed = _listed(IncludeLinkedAccounts=True)
    # Then two pages hold all 600, each with its owner
    assert len(first_page["Metrics"]) == oam.PAGE == 500
    assert len(listed) == len(set(listed)) == 600
    assert {owner for owner, _ in listed} == {MONITORING, MEMBER}
    assert sorted(name for owner, name in listed if owner == MEMBER) == [
        f"fn-{n:03d}" for n in range(300)
    ]
