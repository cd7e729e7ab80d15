"""member/template.yaml and the OAM sink of template.yaml (docs/architecture.md, ADR 49).

The member role grants exactly the reads the metrics collector's inventory adapters make, as
``tests/e2e/test_iam_grants.py`` holds each function's grants to its calls: here the calls are
read from the code (the clients ``vigil/compose/collect_metrics.py`` injects into each adapter,
and the operations each adapter calls on them), and mapped to IAM actions the way the e2e
recorder maps them. The sink policy and the trust policy follow AWS's examples: PutSinkPolicy
(OAM API Reference, "Examples": an organization's accounts, ``aws:PrincipalOrgID`` with
``ForAllValues:StringEquals`` on ``oam:ResourceTypes``), the IAM User Guide's global condition
keys (``aws:PrincipalArn`` of a role is the role's ARN, ``aws:PrincipalOrgID``), and
AWS::Oam::Link's ResourceTypes (CloudFormation User Guide).
"""

import ast
import fnmatch
import inspect
import re
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name
from samtranslator.yaml_helper import yaml_parse

import vigil.compose.collect_metrics as composition
from tests.e2e.conftest import _IAM_ACTION, _IAM_PREFIX
from vigil.compose.collect_metrics import CLIENTS
from vigil.rules.organization import OrganizationConfig

ROOT = Path(__file__).resolve().parents[2]
MEMBER: dict[str, Any] = yaml_parse((ROOT / "member" / "template.yaml").read_text())
MAIN: dict[str, Any] = yaml_parse((ROOT / "template.yaml").read_text())
ROLE = MEMBER["Resources"]["MemberRole"]
LINK = MEMBER["Resources"]["MonitoringLink"]
SINK = MAIN["Resources"]["OamSink"]
SHARED_TYPES = {"AWS::CloudWatch::Metric", "AWS::Logs::LogGroup"}

# The adapters the metrics collector builds, by which account they read. A new adapter in the
# composition must be put in one of the two: the first are fed the member role's clients.
READS_THE_WATCHED_ACCOUNT = {
    "LambdaInventory",
    "LambdaDestinations",
    "LambdaReservations",
    "LambdaAccountSettings",
    "SqsDeadLetterQueues",
    "EventSourceMappings",
    "DynamoDbTables",
    "KinesisStreams",
    "S3Buckets",
    "StateMachines",
    "RestApis",
    "HttpApis",
    "ServiceQuotas",
    "ResourceTags",
}
MONITORING_ACCOUNT = {
    # Metrics come through the OAM link: GetMetricData in the monitoring account names the
    # member's AccountId.
    "CloudWatchMetrics",
    # Vigil's own state table, rules config, workflow and batch bucket.
    "CollectorState",
    "LastGoodConfig",
    "EvaluateWorkflow",
    "CollectWorkflow",
    "S3Batches",
    # Log-groups mode subscribes the monitoring account's own functions (ADR 42): a write,
    # which the member role never grants.
    "LogSubscriptions",
    # Organization mode (ADR 50): the Organization's tree is read in the monitoring (or
    # delegated administrator) account, the members are stored in its state table, and the
    # member role itself is what sts:AssumeRole is asked for.
    "OrganizationTree",
    "MemberStore",
    "MemberRoles",
    # The links attached to the monitoring account's own sinks (ADR 54).
    "OamLinks",
    # No client.
    "CallStats",
    "MemberRefused",
    "LimitsCache",
}
READ_VERBS = ("Describe", "List", "Get")
# The sink ARN of the OAM API Reference's examples (GetSink).
SINK_EXAMPLE = "arn:aws:oam:us-west-1:111111111111:sink/abcd1234-a123-456a-a12b-a123b456c789"


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(document["Statement"])


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def role_actions() -> set[str]:
    return {
        action
        for policy in ROLE["Properties"]["Policies"]
        for statement in _statements(policy["PolicyDocument"])
        for action in _actions(statement)
    }


# ------------------------------------------------------------- the calls, read from the code


def _adapter_classes() -> dict[str, type]:
    """The adapter classes the composition module imports, by name."""
    return {
        name: value
        for name, value in vars(composition).items()
        if inspect.isclass(value) and value.__module__.startswith("vigil.adapters.")
    }


def _client_key(node: ast.expr, aliases: dict[str, str]) -> str | None:
    """The CLIENTS key an argument stands for: ``clients["lambda"]`` or a name bound to one."""
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        key = node.slice.value
        return key if isinstance(key, str) and key in CLIENTS else None
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    return None


def injected_services() -> dict[str, dict[str, str]]:
    """For each adapter the composition builds: its constructor parameter -> boto3 service."""
    tree = ast.parse(inspect.getsource(composition))
    aliases = {
        target.id: key
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name) and (key := _client_key(node.value, {}))
    }
    classes = _adapter_classes()
    found: dict[str, dict[str, str]] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        cls = classes.get(node.func.id)
        if cls is None:
            continue
        params = list(inspect.signature(cls).parameters)
        bound = list(zip(params, node.args, strict=False))
        bound += [(kw.arg, kw.value) for kw in node.keywords if kw.arg]
        services = found.setdefault(cls.__name__, {})
        for param, value in bound:
            if key := _client_key(value, aliases):
                services[param] = CLIENTS[key]
    return found


@cache
def _operations(service: str) -> dict[str, str]:
    """boto3 method name -> API operation name, for ``service``."""
    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(name): name for name in model.operation_names}


def _iam_action(service: str, operation: str) -> str:
    model = botocore.session.get_session().get_service_model(service)
    action = f"{_IAM_PREFIX.get(model.signing_name, model.signing_name)}:{operation}"
    return _IAM_ACTION.get(action, action)


def adapter_actions(cls: type, services: dict[str, str]) -> set[str]:
    """The IAM actions of the operations ``cls`` calls on its injected clients."""
    tree = ast.parse(inspect.getsource(inspect.getmodule(cls)))  # type: ignore[arg-type]
    (node,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls.__name__]
    attributes = {
        target.attr: services[assign.value.id]
        for assign in ast.walk(node)
        if isinstance(assign, ast.Assign)
        and isinstance(assign.value, ast.Name)
        and assign.value.id in services
        for target in assign.targets
        if isinstance(target, ast.Attribute)
    }
    actions: set[str] = set()
    for child in ast.walk(node):
        # self._client.<operation>, called or handed on (functools.partial)
        if (
            isinstance(child, ast.Attribute)
            and isinstance(child.value, ast.Attribute)
            and child.value.attr in attributes
        ):
            service = attributes[child.value.attr]
            method = child.attr
            if method == "get_paginator":
                continue
            if method in _operations(service):
                actions.add(_iam_action(service, _operations(service)[method]))
        # self._client.get_paginator("<operation>")
        if (
            isinstance(child, ast.Call)
            and isinstance(child.func, ast.Attribute)
            and child.func.attr == "get_paginator"
            and isinstance(child.func.value, ast.Attribute)
            and child.func.value.attr in attributes
            and isinstance(child.args[0], ast.Constant)
        ):
            service = attributes[child.func.value.attr]
            actions.add(_iam_action(service, _operations(service)[str(child.args[0].value)]))
    return actions


def member_reads() -> dict[str, set[str]]:
    classes = _adapter_classes()
    injected = injected_services()
    return {
        name: adapter_actions(classes[name], injected.get(name, {}))
        for name in sorted(READS_THE_WATCHED_ACCOUNT)
    }


# ---------------------------------------------------------------------------- the member role


def test_every_adapter_the_collector_builds_is_placed_in_one_account() -> None:
    # Given the adapters vigil/compose/collect_metrics.py imports
    built = set(_adapter_classes())
    # Then each reads either the watched (member) account or the monitoring account
    assert built == READS_THE_WATCHED_ACCOUNT | MONITORING_ACCOUNT
    assert not READS_THE_WATCHED_ACCOUNT & MONITORING_ACCOUNT


def test_each_member_side_adapter_calls_aws_through_an_injected_client() -> None:
    # Given the reads each member-side adapter makes, found in its code
    reads = member_reads()
    # Then every one of them calls at least one AWS operation (the derivation sees them all)
    assert all(reads.values()), {name: actions for name, actions in reads.items() if not actions}
    # and a few are the ones the adapters' docstrings name
    assert "lambda:ListFunctions" in reads["LambdaInventory"]
    assert reads["DynamoDbTables"] >= {
        "dynamodb:ListTables",
        "application-autoscaling:DescribeScalableTargets",
    }
    assert reads["RestApis"] == {"apigateway:GET"}
    assert reads["S3Buckets"] == {"s3:ListAllMyBuckets", "s3:GetMetricsConfiguration"}


def test_the_role_grants_exactly_the_reads_the_inventory_adapters_make() -> None:
    # Given the actions the member-side adapters call, derived from the code
    called = set().union(*member_reads().values())
    # When compared with the member role's grants
    granted = role_actions()
    # Then nothing called is missing, and nothing granted is unused
    assert sorted(called - granted) == []
    assert sorted(granted - called) == []


def test_the_role_grants_reads_only() -> None:
    for action in role_actions():
        service, _, name = action.partition(":")
        assert "*" not in action, action
        # apigateway:GET is API Gateway's read (its control plane's HTTP verbs are the actions)
        assert name.startswith(READ_VERBS) or action == "apigateway:GET", action
        assert service not in {"iam", "sts", "organizations", "kms", "secretsmanager"}, action
    for policy in ROLE["Properties"]["Policies"]:
        for statement in _statements(policy["PolicyDocument"]):
            assert statement["Effect"] == "Allow"
            assert "NotAction" not in statement
            assert "NotResource" not in statement
    assert "ManagedPolicyArns" not in ROLE["Properties"]
    assert "PermissionsBoundary" not in ROLE["Properties"]


def test_the_role_grants_nothing_the_collector_is_not_granted_in_its_own_account() -> None:
    # Given what template.yaml grants the metrics collector in the monitoring account
    own = {
        action
        for policy in MAIN["Resources"]["CollectMetricsFunction"]["Properties"]["Policies"]
        if "Statement" in policy
        for entry in policy["Statement"]
        for statement in (entry["Fn::If"][1:2] if "Fn::If" in entry else [entry])
        for action in _actions(statement)
    }
    # Then the member role is a subset: the same reads, in another account
    assert role_actions() <= own


def test_the_role_is_named_by_a_parameter_at_the_root_path_in_one_region() -> None:
    props = ROLE["Properties"]

    assert props["RoleName"] == {"Ref": "RoleName"}
    assert MEMBER["Parameters"]["RoleName"]["Default"] == "vigil-member"
    assert props["Path"] == "/"
    # IAM is global: a stack set deployed to several regions creates the role in one of them
    assert ROLE["Condition"] == "CreatesRole"
    assert MEMBER["Conditions"]["CreatesRole"] == {
        "Fn::Equals": [{"Ref": "AWS::Region"}, {"Ref": "RoleRegion"}]
    }


def test_the_member_role_name_is_the_same_default_in_both_stacks_and_the_rules_config() -> None:
    # The collector assumes organization.role_name, granted by MemberRoleName; the member
    # template creates RoleName: out of step, every member would be reported not connected.
    assert (
        MEMBER["Parameters"]["RoleName"]["Default"]
        == MAIN["Parameters"]["MemberRoleName"]["Default"]
        == OrganizationConfig().role_name
    )


def test_only_the_monitoring_stacks_functions_in_the_organization_may_assume_the_role() -> None:
    (statement,) = _statements(ROLE["Properties"]["AssumeRolePolicyDocument"])
    condition = statement["Condition"]

    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Principal"] == {
        "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${MonitoringAccountId}:root"}
    }
    assert condition["StringEquals"] == {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}
    pattern = condition["ArnLike"]["aws:PrincipalArn"]["Fn::Sub"]
    assert pattern == (
        "arn:${AWS::Partition}:iam::${MonitoringAccountId}:role/${MonitoringStackName}-*"
    )


def _principal_pattern(stack: str, account: str) -> str:
    pattern = ROLE["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]
    text: str = pattern["ArnLike"]["aws:PrincipalArn"]["Fn::Sub"]
    return (
        text.replace("${AWS::Partition}", "aws")
        .replace("${MonitoringAccountId}", account)
        .replace("${MonitoringStackName}", stack)
    )


def test_the_principal_pattern_matches_the_stacks_function_roles_and_no_other() -> None:
    # Given the role names CloudFormation gives SAM's function roles: <stack>-<LogicalId>-<id>
    pattern = _principal_pattern("vigil", "111111111111")
    functions = [
        name
        for name, resource in MAIN["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    ]
    # Then every function role of the stack matches
    for function in functions:
        arn = f"arn:aws:iam::111111111111:role/vigil-{function}Role-1A2B3C4D5E6F"
        assert fnmatch.fnmatchcase(arn, pattern), arn
    # and neither another account's role nor a user of the monitoring account does
    assert not fnmatch.fnmatchcase("arn:aws:iam::999999999999:role/vigil-X-1", pattern)
    assert not fnmatch.fnmatchcase("arn:aws:iam::111111111111:user/vigil-admin", pattern)
    assert not fnmatch.fnmatchcase("arn:aws:iam::111111111111:role/other-X-1", pattern)


# ---------------------------------------------------------------------------- the link


def test_the_member_template_holds_the_role_and_the_link_and_nothing_else() -> None:
    kinds = sorted(resource["Type"] for resource in MEMBER["Resources"].values())

    assert kinds == ["AWS::IAM::Role", "AWS::Oam::Link"]
    # Plain CloudFormation: a stack set deploys it as is
    assert "Transform" not in MEMBER
    assert set(MEMBER["Parameters"]) == {
        "MonitoringAccountId",
        "OrganizationId",
        "SinkArn",
        "RoleName",
        "MonitoringStackName",
        "RoleRegion",
    }


def test_the_link_shares_metrics_and_log_groups_with_the_sink() -> None:
    props = LINK["Properties"]

    assert set(props["ResourceTypes"]) == SHARED_TYPES
    assert props["SinkIdentifier"] == {"Ref": "SinkArn"}
    # AWS::Oam::Link's LabelTemplate variables: $AccountName, $AccountEmail, ...
    assert props["LabelTemplate"] == "$AccountName"
    assert "Condition" not in LINK  # one link per region the stack set reaches


@pytest.mark.parametrize(
    ("parameter", "value", "valid"),
    [
        ("SinkArn", SINK_EXAMPLE, True),
        ("SinkArn", "arn:aws:oam:us-west-1:111111111111:link/abcd1234", False),
        ("OrganizationId", "o-a1b2c3d4e5", True),
        ("OrganizationId", "r-a1b2", False),
        ("MonitoringAccountId", "111111111111", True),
        ("MonitoringAccountId", "11111111111", False),
        ("RoleRegion", "eu-west-1", True),
        ("RoleName", "vigil-member", True),
    ],
)  # fmt: skip
def test_the_parameters_take_the_values_aws_gives(parameter: str, value: str, valid: bool) -> None:
    pattern = MEMBER["Parameters"][parameter]["AllowedPattern"]

    assert bool(re.fullmatch(pattern, value)) is valid


# --------------------------------------------------------------------- the monitoring stack


def test_the_sink_accepts_links_from_the_organization_only_and_for_the_links_types() -> None:
    (statement,) = _statements(SINK["Properties"]["Policy"])
    condition = statement["Condition"]

    assert statement["Effect"] == "Allow"
    assert sorted(_actions(statement)) == ["oam:CreateLink", "oam:UpdateLink"]
    assert condition["StringEquals"] == {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}
    assert set(condition["ForAllValues:StringEquals"]["oam:ResourceTypes"]) == SHARED_TYPES
    assert set(LINK["Properties"]["ResourceTypes"]) <= SHARED_TYPES


def test_the_sink_exists_only_when_an_organization_is_given() -> None:
    parameter = MAIN["Parameters"]["OrganizationId"]

    assert parameter["Default"] == ""
    assert re.fullmatch(parameter["AllowedPattern"], "")
    assert MAIN["Conditions"]["WatchesOrganization"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "OrganizationId"}, ""]}]
    }
    assert SINK["Condition"] == "WatchesOrganization"
    output = MAIN["Outputs"]["OamSinkArn"]
    assert output["Condition"] == "WatchesOrganization"
    assert output["Value"] == {"Fn::GetAtt": ["OamSink", "Arn"]}
    # the same Organization ID pattern as the member template's
    member_pattern = MEMBER["Parameters"]["OrganizationId"]["AllowedPattern"]
    assert parameter["AllowedPattern"] == f"^$|{member_pattern}"


def _mentions(value: Any, needles: set[str]) -> bool:
    if isinstance(value, dict):
        return any(_mentions(k, needles) or _mentions(v, needles) for k, v in value.items())
    if isinstance(value, list):
        return any(_mentions(item, needles) for item in value)
    return isinstance(value, str) and any(needle in value for needle in needles)


def test_with_the_default_parameters_the_stack_is_what_it_was() -> None:
    # Given everything that could read the new parameter, condition or sink
    needles = {"OrganizationId", "WatchesOrganization", "OamSink"}
    # Then only the sink and its output do, both behind the condition that is false by default
    resources = sorted(n for n, r in MAIN["Resources"].items() if _mentions(r, needles))
    outputs = sorted(n for n, o in MAIN["Outputs"].items() if _mentions(o, needles))
    conditions = sorted(n for n, c in MAIN["Conditions"].items() if _mentions(c, needles))
    assert resources == ["OamSink"]
    assert outputs == ["OamSinkArn"]
    assert conditions == ["WatchesOrganization"]
    assert not _mentions(MAIN["Globals"], needles)
