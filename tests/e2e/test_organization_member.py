"""The real template.yaml deployed with ``OrganizationId`` (its OAM sink), and the member
template deployed into a second account that links to it and whose role the deployed
collector's role assumes (README, "Watch an Organization"; docs/architecture.md, ADR 49).

moto keeps accounts apart by the credentials' account: the member stack is created through a
role of account 222222222222, as a service-managed StackSet's execution role creates it
(StackSets User Guide, AWSCloudFormationStackSetExecutionRole). moto does not evaluate trust
policies; the deployed trust policy's ``aws:PrincipalArn`` pattern is matched against the
collector role moto created from the template.
"""

from __future__ import annotations

import fnmatch
import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from emulator import PROJECT_ROOT, Emulator, cfn_shims
from emulator.deploy import EMULATOR_CFN
from vigil.adapters.lambda_inventory import LambdaInventory

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]

START = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
ORGANIZATION = "o-a1b2c3d4e5"
MEMBER = "222222222222"


def _session(credentials: dict[str, Any], region: str) -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator.start(parameters={"OrganizationId": ORGANIZATION}, start=START) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def member(emu: Emulator) -> dict[str, Any]:
    """The member template, created in the member account by the stack set's role."""
    region = emu.deployment.region
    sts = boto3.client("sts", region_name=region)
    stackset = _session(
        sts.assume_role(
            RoleArn=f"arn:aws:iam::{MEMBER}:role/AWSCloudFormationStackSetExecutionRole",
            RoleSessionName="stackset",
        )["Credentials"],
        region,
    )
    cfn = stackset.client("cloudformation")
    parameters = {
        "MonitoringAccountId": emu.deployment.account_id,
        "OrganizationId": ORGANIZATION,
        "SinkArn": emu.deployment.outputs["OamSinkArn"],
        "MonitoringStackName": emu.deployment.stack_name,
        "RoleRegion": region,
    }
    with cfn_shims.installed():
        cfn.create_stack(
            StackName="StackSet-vigil-member-1a2b",
            TemplateBody=(PROJECT_ROOT / "member" / "template.yaml").read_text(),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
    stack = cfn.describe_stacks(StackName="StackSet-vigil-member-1a2b")["Stacks"][0]
    return {"stack": stack, "session": stackset}


def test_the_stack_with_an_organization_has_a_sink_and_its_output(emu: Emulator) -> None:
    deployment = emu.deployment
    placement = {p.logical_id: p.where for p in deployment.placements}

    assert placement["OamSink"] == EMULATOR_CFN
    assert deployment.outputs["OamSinkArn"].startswith(
        f"arn:aws:oam:{deployment.region}:{deployment.account_id}:sink/"
    )


def test_the_member_links_to_the_sink_and_its_role_admits_the_collector(
    emu: Emulator, member: dict[str, Any]
) -> None:
    outputs = {o["OutputKey"]: o["OutputValue"] for o in member["stack"]["Outputs"]}
    assert member["stack"]["StackStatus"] == "CREATE_COMPLETE"
    assert outputs["MonitoringLinkArn"].startswith(f"arn:aws:oam:{emu.deployment.region}:{MEMBER}:")
    # Given the collector's role as the template deployed it
    collector_role = emu.deployment.physical_ids["CollectMetricsFunctionRole"]
    role_arn = boto3.client("iam").get_role(RoleName=collector_role)["Role"]["Arn"]
    # Then the member role's trust policy admits it, and not another role of the account
    iam = member["session"].client("iam")
    document = iam.get_role(RoleName="vigil-member")["Role"]["AssumeRolePolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    pattern = document["Statement"][0]["Condition"]["ArnLike"]["aws:PrincipalArn"]
    assert fnmatch.fnmatchcase(role_arn, pattern), (role_arn, pattern)
    assert not fnmatch.fnmatchcase(
        f"arn:aws:iam::{emu.deployment.account_id}:role/OrganizationAccountAccessRole", pattern
    )


def test_the_collectors_role_reads_the_member_accounts_inventory(
    emu: Emulator, member: dict[str, Any]
) -> None:
    region = emu.deployment.region
    # Given a function in the member account
    session = member["session"]
    role = session.client("iam").create_role(
        RoleName="orders-role",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    session.client("lambda").create_function(
        FunctionName="orders",
        Runtime="python3.13",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": code.getvalue()},
    )
    # When the collector's role assumes the member role (session name vigil-<stack>)
    collector_role = emu.deployment.physical_ids["CollectMetricsFunctionRole"]
    collector_arn = boto3.client("iam").get_role(RoleName=collector_role)["Role"]["Arn"]
    sts = boto3.client("sts", region_name=region)
    collector = _session(
        sts.assume_role(RoleArn=collector_arn, RoleSessionName="collect")["Credentials"], region
    )
    assumed = collector.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{MEMBER}:role/vigil-member",
        RoleSessionName=f"vigil-{emu.deployment.stack_name}",
    )
    reader = _session(assumed["Credentials"], region)
    # Then the inventory adapter lists the member's functions, none of the stack's own
    names = [fn.name for fn in LambdaInventory(reader.client("lambda")).functions()]
    assert names == ["orders"]
    assert reader.client("sts").get_caller_identity()["Account"] == MEMBER
