"""sentinel/template.yaml keeps its data, watches its own failures and grants only what the
sentinel calls (ADR 48), in the terms ``tests/unit/test_template_watch.py`` holds the primary
to. Which IAM actions take no resource-level permission is the Service Authorization
Reference's (docs.aws.amazon.com/service-authorization/latest/reference: CloudWatch
``GetMetricData`` and AWS Health's ``Describe*`` list no resource types)."""

from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from tests.unit.test_template_watch import STATEFUL_TYPES

TEMPLATE: dict[str, Any] = yaml_parse(
    (Path(__file__).resolve().parents[2] / "sentinel" / "template.yaml").read_text()
)
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
FUNCTION = RESOURCES["SentinelFunction"]["Properties"]

WITHOUT_RESOURCE_TYPES = {
    "cloudwatch:GetMetricData",
    "health:DescribeEvents",
    "health:DescribeEventDetails",
    "health:DescribeAffectedEntities",
}


@pytest.mark.parametrize("name", [n for n, r in RESOURCES.items() if r["Type"] in STATEFUL_TYPES])
def test_every_stateful_resource_says_what_a_delete_does_and_data_stays(name: str) -> None:
    resource = RESOURCES[name]
    assert resource.get("UpdateReplacePolicy") == resource.get("DeletionPolicy")
    expected = "Delete" if resource["Type"] == "AWS::KMS::Key" else "Retain"
    assert resource.get("DeletionPolicy") == expected


def test_only_unscoped_actions_have_a_wildcard_resource() -> None:
    statements = [statement for policy in FUNCTION["Policies"] for statement in policy["Statement"]]
    for statement in statements:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        if statement["Resource"] == "*":
            assert set(actions) <= WITHOUT_RESOURCE_TYPES, statement["Sid"]
        elif "Fn::If" in statement["Resource"]:  # the standby runbook named by a parameter
            condition, named, _nothing = statement["Resource"]["Fn::If"]
            assert (condition, named) == ("HasStandbyRunbook", {"Ref": "StandbyRunbookArn"})
            assert actions == ["states:StartExecution"]
        else:  # one of the stack's own resources
            (reference,) = statement["Resource"].values()
            own = reference[0] if isinstance(reference, list) else reference
            assert own in RESOURCES, statement["Sid"]
    granted = {
        action
        for statement in statements
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    assert granted == WITHOUT_RESOURCE_TYPES | {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "secretsmanager:GetSecretValue",
        "sns:Publish",
        "kms:GenerateDataKey*",
        "kms:Decrypt",
        "states:StartExecution",
    }


def test_failures_of_a_check_are_retried_then_parked_and_alarmed() -> None:
    on_failure = FUNCTION["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
    schedule = FUNCTION["Events"]["Every"]["Properties"]
    alarm = RESOURCES["SentinelDeadLettersAlarm"]["Properties"]
    assert on_failure["Destination"] == {"Fn::GetAtt": ["SentinelDeadLetterQueue", "Arn"]}
    assert schedule["DeadLetterConfig"]["Arn"] == on_failure["Destination"]
    assert schedule["ScheduleExpression"] == {"Ref": "CheckSchedule"}
    assert TEMPLATE["Parameters"]["CheckSchedule"]["Default"] == "rate(5 minutes)"
    assert alarm["Dimensions"][0]["Value"] == {
        "Fn::GetAtt": ["SentinelDeadLetterQueue", "QueueName"]
    }
    assert alarm["AlarmActions"] == [{"Ref": "SentinelTopic"}]


def test_the_topic_is_encrypted_and_the_logs_expire() -> None:
    assert RESOURCES["SentinelTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "SentinelKey"}
    logs = RESOURCES["SentinelLogGroup"]["Properties"]
    assert logs["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert logs["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${SentinelFunction}"}
