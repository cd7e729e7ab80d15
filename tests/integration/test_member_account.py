"""member/template.yaml deployed into a second account, and its role assumed from the
monitoring account (docs/architecture.md, ADR 49).

moto keeps accounts apart by the account of the credentials: an assumed role's credentials
act in the role's account. The member stack is created the way a service-managed StackSet
creates it, through a role in the member account (AWSCloudFormationStackSetExecutionRole, in
the StackSets User Guide); the sink comes from template.yaml's own ``OamSink``. moto does not
evaluate trust policies, so the trust policy's ``aws:PrincipalArn`` pattern is matched here
against the ARN of the role that assumes it.
"""

import fnmatch
import io
import json
import zipfile
from typing import Any

import boto3
import pytest
from samtranslator.yaml_helper import yaml_parse

from emulator import cfn_shims
from vigil.adapters.lambda_inventory import LambdaInventory

from .conftest import ACCOUNT, REGION, ROOT

MONITORING = ACCOUNT
MEMBER = "222222222222"
ORGANIZATION = "o-a1b2c3d4e5"
STACK = "vigil"
FUNCTION_ROLE = f"{STACK}-CollectMetricsFunctionRole-1A2B3C4D5E6F"


def _session(credentials: dict[str, Any]) -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )


def _assume(role_arn: str, session_name: str, via: boto3.Session | None = None) -> boto3.Session:
    sts = (via or boto3.Session(region_name=REGION)).client("sts")
    return _session(sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"])


def _sink_template() -> str:
    """template.yaml's sink and its output, as the monitoring stack creates them when
    OrganizationId is set."""
    main = yaml_parse((ROOT / "template.yaml").read_text())
    sink = {k: v for k, v in main["Resources"]["OamSink"].items() if k != "Condition"}
    output = {k: v for k, v in main["Outputs"]["OamSinkArn"].items() if k != "Condition"}
    return json.dumps(
        {
            "Parameters": {"OrganizationId": main["Parameters"]["OrganizationId"]},
            "Resources": {"OamSink": sink},
            "Outputs": {"OamSinkArn": output},
        }
    )


def _create_stack(session: boto3.Session, name: str, body: str, **parameters: str) -> Any:
    cfn = session.client("cloudformation")
    with cfn_shims.installed():
        cfn.create_stack(
            StackName=name,
            TemplateBody=body,
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
    return cfn.describe_stacks(StackName=name)["Stacks"][0]


def _function(session: boto3.Session, name: str) -> None:
    iam = session.client("iam")
    role = iam.create_role(
        RoleName=f"{name}-role",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    session.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": buffer.getvalue()},
    )


@pytest.fixture
def member_stack(aws: None) -> dict[str, Any]:
    # Given the monitoring stack's sink, in the monitoring account
    monitoring = boto3.Session(region_name=REGION)
    sink = _create_stack(monitoring, STACK, _sink_template(), OrganizationId=ORGANIZATION)
    sink_arn = {o["OutputKey"]: o["OutputValue"] for o in sink["Outputs"]}["OamSinkArn"]
    # and the member template created in the member account by the stack set's role
    stackset = _assume(
        f"arn:aws:iam::{MEMBER}:role/AWSCloudFormationStackSetExecutionRole", "stackset"
    )
    stack = _create_stack(
        stackset,
        "StackSet-vigil-member-1a2b",
        (ROOT / "member" / "template.yaml").read_text(),
        MonitoringAccountId=MONITORING,
        OrganizationId=ORGANIZATION,
        SinkArn=sink_arn,
        MonitoringStackName=STACK,
    )
    return {"stack": stack, "sink_arn": sink_arn, "session": stackset}


def test_the_member_stack_creates_the_role_and_the_link_in_the_member_account(
    member_stack: dict[str, Any],
) -> None:
    stack = member_stack["stack"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}

    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert outputs["MemberRoleArn"] == f"arn:aws:iam::{MEMBER}:role/vigil-member"
    assert outputs["MonitoringLinkArn"].startswith(f"arn:aws:oam:{REGION}:{MEMBER}:link/")
    # The role is the member account's, not the monitoring account's
    member_iam = member_stack["session"].client("iam")
    assert member_iam.get_role(RoleName="vigil-member")["Role"]["Path"] == "/"
    with pytest.raises(boto3.client("iam").exceptions.NoSuchEntityException):
        boto3.client("iam").get_role(RoleName="vigil-member")


def test_the_trust_policy_admits_the_monitoring_stacks_function_roles_only(
    member_stack: dict[str, Any],
) -> None:
    # Given the trust policy as deployed, parameters resolved
    role = member_stack["session"].client("iam").get_role(RoleName="vigil-member")["Role"]
    document = role["AssumeRolePolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    (statement,) = document["Statement"]
    condition = statement["Condition"]
    # Then it names the monitoring account, the Organization and the stack's roles
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{MONITORING}:root"}
    assert condition["StringEquals"] == {"aws:PrincipalOrgID": ORGANIZATION}
    pattern = condition["ArnLike"]["aws:PrincipalArn"]
    assert fnmatch.fnmatchcase(f"arn:aws:iam::{MONITORING}:role/{FUNCTION_ROLE}", pattern)
    assert not fnmatch.fnmatchcase(f"arn:aws:iam::{MONITORING}:role/admin", pattern)
    assert not fnmatch.fnmatchcase(f"arn:aws:iam::{MEMBER}:role/{FUNCTION_ROLE}", pattern)


def test_the_collector_assumes_the_role_and_lists_the_member_accounts_functions(
    member_stack: dict[str, Any],
) -> None:
    # Given one function in each account
    _function(boto3.Session(region_name=REGION), "monitoring-own")
    _function(member_stack["session"], "member-orders")
    # and the collector's role in the monitoring account (the trust policy's principal)
    iam = boto3.client("iam")
    function_role = iam.create_role(
        RoleName=FUNCTION_ROLE,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    collector = _assume(function_role, "collect-metrics")
    # When the collector assumes the member role (session name vigil-<stack>)
    member = _assume(f"arn:aws:iam::{MEMBER}:role/vigil-member", f"vigil-{STACK}", via=collector)
    identity = member.client("sts").get_caller_identity()
    # Then it acts in the member account, and the inventory adapter lists that account's
    # functions, not the monitoring account's
    assert identity["Account"] == MEMBER
    assert identity["Arn"] == f"arn:aws:sts::{MEMBER}:assumed-role/vigil-member/vigil-{STACK}"
    names = [fn.name for fn in LambdaInventory(member.client("lambda")).functions()]
    assert names == ["member-orders"]


def test_a_member_stack_naming_no_sink_fails(aws: None) -> None:
    # Given no monitoring stack with OrganizationId set (no sink in the region)
    stackset = _assume(
        f"arn:aws:iam::{MEMBER}:role/AWSCloudFormationStackSetExecutionRole", "stackset"
    )
    missing = f"arn:aws:oam:{REGION}:{MONITORING}:sink/abcd1234-a123-456a-a12b-a123b456c789"
    # When the member template is deployed, Then CreateLink's check fails the stack
    with pytest.raises(Exception, match="no sink"):
        _create_stack(
            stackset,
            "StackSet-vigil-member-1a2b",
            (ROOT / "member" / "template.yaml").read_text(),
            MonitoringAccountId=MONITORING,
            OrganizationId=ORGANIZATION,
            SinkArn=missing,
        )


def test_the_role_is_created_in_the_role_region_only(member_stack: dict[str, Any]) -> None:
    # Given the member stack set's instance in a second region, the sink's region differing
    monitoring = boto3.Session(region_name="eu-west-1")
    sink = _create_stack(monitoring, STACK, _sink_template(), OrganizationId=ORGANIZATION)
    sink_arn = {o["OutputKey"]: o["OutputValue"] for o in sink["Outputs"]}["OamSinkArn"]
    cfn = member_stack["session"].client("cloudformation", region_name="eu-west-1")
    with cfn_shims.installed():
        cfn.create_stack(
            StackName="StackSet-vigil-member-1a2b",
            TemplateBody=(ROOT / "member" / "template.yaml").read_text(),
            Parameters=[
                {"ParameterKey": "MonitoringAccountId", "ParameterValue": MONITORING},
                {"ParameterKey": "OrganizationId", "ParameterValue": ORGANIZATION},
                {"ParameterKey": "SinkArn", "ParameterValue": sink_arn},
            ],
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
    stack = cfn.describe_stacks(StackName="StackSet-vigil-member-1a2b")["Stacks"][0]
    # Then that instance creates the link to its region's sink, and no role: the role (IAM is
    # global) came from the us-east-1 instance
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert set(outputs) == {"MonitoringLinkArn"}
    assert outputs["MonitoringLinkArn"].startswith(f"arn:aws:oam:eu-west-1:{MEMBER}:link/")


def test_a_link_for_more_than_the_sink_allows_fails(aws: None) -> None:
    # Given a sink whose policy allows metrics only
    template = json.loads(_sink_template())
    policy = template["Resources"]["OamSink"]["Properties"]["Policy"]
    policy["Statement"][0]["Condition"]["ForAllValues:StringEquals"]["oam:ResourceTypes"] = [
        "AWS::CloudWatch::Metric"
    ]
    sink = _create_stack(
        boto3.Session(region_name=REGION), STACK, json.dumps(template), OrganizationId=ORGANIZATION
    )
    sink_arn = {o["OutputKey"]: o["OutputValue"] for o in sink["Outputs"]}["OamSinkArn"]
    stackset = _assume(
        f"arn:aws:iam::{MEMBER}:role/AWSCloudFormationStackSetExecutionRole", "stackset"
    )
    # When the member template links metrics and log groups, Then the link is refused
    with pytest.raises(Exception, match=r"does not allow \['AWS::Logs::LogGroup'\]"):
        _create_stack(
            stackset,
            "StackSet-vigil-member-1a2b",
            (ROOT / "member" / "template.yaml").read_text(),
            MonitoringAccountId=MONITORING,
            OrganizationId=ORGANIZATION,
            SinkArn=sink_arn,
        )
