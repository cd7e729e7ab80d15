"""template.yaml keeps the data and watches every path (ADR 31).

The alarm limits are PutMetricAlarm's (docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/
API_PutMetricAlarm.html: Period x EvaluationPeriods at most 604,800 s, at most 86,400 s for a
period under an hour); the retry timing is Lambda's for asynchronous invocations
(docs.aws.amazon.com/lambda/latest/dg/invocation-async.html: a first retry after about a minute).
"""

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from vigil.channels.delivery import CLAIM_LEASE

TEMPLATE: dict[str, Any] = yaml_parse(
    (Path(__file__).resolve().parents[2] / "template.yaml").read_text()
)
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]

STATEFUL_TYPES = {
    "AWS::DynamoDB::Table",
    "AWS::DynamoDB::GlobalTable",
    "AWS::SQS::Queue",
    "AWS::KMS::Key",
    "AWS::SecretsManager::Secret",
    "AWS::Logs::LogGroup",
    "AWS::S3::Bucket",
    "AWS::Kinesis::Stream",
    "AWS::EFS::FileSystem",
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBCluster",
    "AWS::Backup::BackupVault",
}
"""Resource types that hold data a replacement or deletion would destroy."""

HOLDS_HISTORY = {
    "StateTable": "alert history, deliveries, incidents, silences",
    "CollectorDeadLetterQueue": "parked collector runs and events",
    "ChatDeadLetterQueue": "parked chat deliveries",
    "RunbookBucket": "status page and incident reports",
    "SlackWebhookSecret": "chat URLs and tokens stored by hand",
    "SlackSigningSecret": "the Slack app's signing secret",
}


def _stateful() -> list[str]:
    return [name for name, r in RESOURCES.items() if r["Type"] in STATEFUL_TYPES]


@pytest.mark.parametrize("name", _stateful())
def test_every_stateful_resource_says_what_a_delete_and_a_replacement_do(name: str) -> None:
    resource = RESOURCES[name]

    assert resource.get("DeletionPolicy") in {"Retain", "RetainExceptOnCreate", "Delete"}
    assert resource.get("UpdateReplacePolicy") in {"Retain", "Delete"}


@pytest.mark.parametrize("name", sorted(HOLDS_HISTORY))
def test_history_and_parked_messages_outlive_the_stack(name: str) -> None:
    resource = RESOURCES[name]

    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_the_stateful_inventory_is_complete() -> None:
    # a new stateful resource must be added here, with its policies decided
    assert sorted(_stateful()) == sorted(
        [
            *HOLDS_HISTORY,
            "BatchBucket",
            "AlertsKey",
            "CollectMetricsLogGroup",
            "CollectCostsLogGroup",
            "CollectHealthLogGroup",
            "EvaluateLogGroup",
            "EvaluateWorkflowLogGroup",
            "CollectWorkflowLogGroup",
            "NotifyChatLogGroup",
            "SlackActionsLogGroup",
            "RunbookLogGroup",
            "RunbookWorkflowLogGroup",
            "ErrorStreamLogGroup",
            "AlarmIntakeLogGroup",
        ]
    )


def _alarms() -> dict[str, dict[str, Any]]:
    return {
        name: r["Properties"]
        for name, r in RESOURCES.items()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }


def _watching(metric: str, dimension_value: str) -> list[dict[str, Any]]:
    return [
        alarm
        for alarm in _alarms().values()
        if alarm["MetricName"] == metric
        and any(d["Value"] == {"Ref": dimension_value} for d in alarm["Dimensions"])
    ]


def _rate(parameter: str) -> timedelta:
    default = TEMPLATE["Parameters"][parameter]["Default"]
    number, unit = re.fullmatch(r"rate\((\d+) (\w+?)s?\)", default).groups()  # type: ignore[union-attr]
    return timedelta(**{f"{unit}s": int(number)})


@pytest.mark.parametrize(
    ("function", "schedule"),
    [
        ("CollectMetricsFunction", "CollectSchedule"),
        ("CollectCostsFunction", "CostSchedule"),
        ("CollectHealthFunction", "HealthPollSchedule"),
    ],
)
def test_each_collector_has_a_heartbeat_longer_than_its_default_schedule(
    function: str, schedule: str
) -> None:
    (alarm,) = _watching("Invocations", function)
    span = timedelta(seconds=alarm["Period"] * alarm["EvaluationPeriods"])

    assert alarm["ComparisonOperator"] == "LessThanThreshold"
    assert alarm["TreatMissingData"] == "breaching"  # never invoked is the case it is for
    assert alarm.get("DatapointsToAlarm", alarm["EvaluationPeriods"]) == alarm["EvaluationPeriods"]
    assert span > _rate(schedule)


def test_the_chat_path_is_watched_for_errors_dead_letters_and_misconfiguration() -> None:
    alarms = _alarms()
    misconfigured = alarms["ChatMisconfiguredAlarm"]
    service = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]

    assert _watching("Errors", "NotifyChatFunction")
    assert alarms["ChatDeadLettersAlarm"]["Dimensions"][0]["Value"] == {
        "Fn::GetAtt": ["ChatDeadLetterQueue", "QueueName"]
    }
    assert (misconfigured["Namespace"], misconfigured["MetricName"]) == (
        "Vigil",
        "Chat_misconfigured",
    )
    assert misconfigured["Dimensions"] == [{"Name": "service", "Value": service}]
    assert misconfigured["TreatMissingData"] == "ignore"


@pytest.mark.parametrize("name", sorted(_alarms()))
def test_every_alarm_is_within_cloudwatchs_limits_and_tells_the_alerts_topic(name: str) -> None:
    alarm = _alarms()[name]
    span = alarm["Period"] * alarm["EvaluationPeriods"]

    assert alarm["Period"] % 60 == 0
    assert span <= (604_800 if alarm["Period"] >= 3600 else 86_400)
    assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": "AlertsTopic"}]


def test_a_claim_outlives_the_chat_function_and_ends_before_lambdas_first_retry() -> None:
    timeout = RESOURCES["NotifyChatFunction"]["Properties"]["Timeout"]

    assert timedelta(seconds=timeout) < CLAIM_LEASE < timedelta(minutes=1)
