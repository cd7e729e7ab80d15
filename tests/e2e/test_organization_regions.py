"""An Organization watched in two regions, in the emulator as ``Emulator.start`` wires it
(README, "Several regions"; docs/architecture.md, ADR 53).

The monitoring stack (template.yaml with ``OrganizationId``, its ``OamSink``) runs in the home
region; ``sink/template.yaml`` is deployed by the monitoring account in eu-west-1; the member
template's stack instance in each region links the member to that region's sink, as the
README's stack sets create them (through the StackSets execution role of the member account).
The monitoring account then reads the member's metrics of each region through that region's
sink: ``GetMetricData`` naming the member's ``AccountId``, ``ListMetrics`` with
``IncludeLinkedAccounts`` and ``OwningAccount`` (CloudWatch API Reference), the requests the
collector makes for a member.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from emulator import PROJECT_ROOT, Emulator, cfn_shims
from tests.e2e.test_organization_member import _session

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]

START = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
ORGANIZATION = "o-a1b2c3d4e5"
MEMBER = "222222222222"
OTHER_REGION = "eu-west-1"


def _create(cfn: Any, name: str, template: str, **parameters: str) -> dict[str, str]:
    """Create a stack with the emulator's CloudFormation handlers; its outputs."""
    with cfn_shims.installed():
        cfn.create_stack(
            StackName=name,
            TemplateBody=(PROJECT_ROOT / template).read_text(),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator.start(parameters={"OrganizationId": ORGANIZATION}, start=START) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def member(emu: Emulator) -> dict[str, boto3.Session]:
    """The member linked in both regions, each link to its region's sink: the member's
    session in each region."""
    home = emu.deployment.region
    sinks = {
        home: emu.deployment.outputs["OamSinkArn"],
        OTHER_REGION: _create(
            boto3.client("cloudformation", region_name=OTHER_REGION),
            "vigil-sink",
            "sink/template.yaml",
            OrganizationId=ORGANIZATION,
        )["OamSinkArn"],
    }
    credentials = boto3.client("sts", region_name=home).assume_role(
        RoleArn=f"arn:aws:iam::{MEMBER}:role/AWSCloudFormationStackSetExecutionRole",
        RoleSessionName="stackset",
    )["Credentials"]
    sessions = {region: _session(credentials, region) for region in sinks}
    for region, sink_arn in sinks.items():
        _create(
            sessions[region].client("cloudformation"),
            f"StackSet-vigil-member-{region}",
            "member/template.yaml",
            MonitoringAccountId=emu.deployment.account_id,
            OrganizationId=ORGANIZATION,
            SinkArn=sink_arn,
            MonitoringStackName=emu.deployment.stack_name,
            RoleRegion=home,
        )
    return sessions


def _errors(session: boto3.Session, function: str, value: float) -> None:
    session.client("cloudwatch").put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "Errors",
                "Dimensions": [{"Name": "FunctionName", "Value": function}],
                "Timestamp": START + timedelta(minutes=1),
                "Value": value,
            }
        ],
    )


def test_the_sink_stack_in_the_second_region_is_the_monitoring_accounts(
    emu: Emulator, member: dict[str, boto3.Session]
) -> None:
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in boto3.client("cloudformation", region_name=OTHER_REGION).describe_stacks(
            StackName="vigil-sink"
        )["Stacks"][0]["Outputs"]
    }

    assert outputs["OamSinkArn"].startswith(
        f"arn:aws:oam:{OTHER_REGION}:{emu.deployment.account_id}:sink/"
    )


def test_each_region_reads_the_members_metrics_of_that_region(
    emu: Emulator, member: dict[str, boto3.Session]
) -> None:
    home = emu.deployment.region
    # Given the member's function erring in both regions, differently
    _errors(member[home], "orders", 7)
    _errors(member[OTHER_REGION], "orders", 3)
    query = {
        "Id": "errors",
        "AccountId": MEMBER,
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/Lambda",
                "MetricName": "Errors",
                "Dimensions": [{"Name": "FunctionName", "Value": "orders"}],
            },
            "Period": 60,
            "Stat": "Sum",
        },
    }
    # When the monitoring account reads the member in each region
    read = {
        region: boto3.client("cloudwatch", region_name=region).get_metric_data(
            MetricDataQueries=[query], StartTime=START, EndTime=START + timedelta(minutes=5)
        )["MetricDataResults"][0]["Values"]
        for region in (home, OTHER_REGION)
    }
    # Then each region's sink brings that region's datapoint
    assert read == {home: [7.0], OTHER_REGION: [3.0]}


def test_each_region_lists_the_members_metrics_with_their_owner(
    emu: Emulator, member: dict[str, boto3.Session]
) -> None:
    # Given a function of the member's only in the second region
    _errors(member[OTHER_REGION], "ledger", 1)
    # When the monitoring account lists the member's metrics of each region
    listed = {
        region: [
            (owner, metric["Dimensions"][0]["Value"])
            for page in boto3.client("cloudwatch", region_name=region)
            .get_paginator("list_metrics")
            .paginate(
                Namespace="AWS/Lambda",
                MetricName="Errors",
                IncludeLinkedAccounts=True,
                OwningAccount=MEMBER,
            )
            for owner, metric in zip(page["OwningAccounts"], page["Metrics"], strict=True)
        ]
        for region in (emu.deployment.region, OTHER_REGION)
    }
    # Then the second region lists it, owned by the member; the home region does not
    assert (MEMBER, "ledger") in listed[OTHER_REGION]
    assert (MEMBER, "ledger") not in listed[emu.deployment.region]
    assert {owner for region in listed for owner, _ in listed[region]} <= {MEMBER}
