"""The alarm intake's composition (``vigil.compose.alarm_intake``, ADR 47): what it starts, and
what it leaves alone, for the events EventBridge hands it (AWS's single metric sample,
tests/unit/data/cloudwatch_alarm_events)."""

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.unit.test_cloudwatch_alarms import changed, sample
from vigil.compose.alarm_intake import Environment, run
from vigil.compose.settings import CollectorSettings
from vigil.core.errors import InvalidEventError
from vigil.rules.document import RulesConfig

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:vigil-evaluate"
SETTINGS = CollectorSettings.from_env(
    {
        "AWS_REGION": "us-east-1",
        "VIGIL_STACK_NAME": "vigil",
        "VIGIL_TABLE_NAME": "vigil-state",
        "VIGIL_EVALUATE_STATE_MACHINE_ARN": ARN,
        "VIGIL_BATCH_BUCKET": "vigil-batches",
    }
)


class StepFunctions:
    """Records ``StartExecution``; a name seen before is ``ExecutionAlreadyExists``."""

    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []

    def start_execution(self, **request: Any) -> dict[str, str]:
        if any(s["name"] == request["name"] for s in self.started):
            error = {"Error": {"Code": "ExecutionAlreadyExists", "Message": "exists"}}
            raise ClientError(error, "StartExecution")  # type: ignore[arg-type]
        self.started.append(request)
        return {"executionArn": f"{ARN}:{request['name']}"}


def environment(**section: object) -> Environment:
    rules = RulesConfig.from_json(json.dumps({"cloudwatch_alarms": section}))
    return Environment(settings=SETTINGS, rules=rules, stepfunctions=StepFunctions())


def test_a_selected_alarm_starts_one_evaluation_and_a_redelivery_the_same_one() -> None:
    env = environment(enabled=True, prefixes=[{"prefix": "Server"}])

    first = run(env, sample("single-metric"))
    again = run(env, sample("single-metric"))

    (started,) = env.stepfunctions.started
    assert started["stateMachineArn"] == ARN
    assert first["batch_id"] == again["batch_id"] == started["name"]
    assert json.loads(started["input"])["signals"][0]["labels"]["kind"] == "cloudwatch.alarm"


@pytest.mark.parametrize(
    ("section", "event", "skipped"),
    [
        ({}, sample("single-metric"), "not selected"),
        (
            {"enabled": True, "prefixes": [{"prefix": "Disk"}]},
            sample("single-metric"),
            "not selected",
        ),
        (
            {"enabled": True, "prefixes": [{"prefix": "Server"}]},
            changed(sample("single-metric"), "INSUFFICIENT_DATA", "2019-10-02T17:09:00.000+0000"),
            "state INSUFFICIENT_DATA",
        ),
    ],
)
def test_what_the_intake_leaves_alone_starts_nothing(
    section: dict[str, object], event: dict[str, Any], skipped: str
) -> None:
    env = environment(**section)

    assert run(env, event)["skipped"] == skipped
    assert env.stepfunctions.started == []


def test_the_stacks_own_alarms_are_left_to_the_alerts_topic() -> None:
    env = environment(enabled=True, prefixes=[{"prefix": "vigil-"}])
    event = sample("single-metric")
    event["detail"]["alarmName"] = "vigil-EvaluateFailuresAlarm-1A2B"

    assert run(env, event)["skipped"] == "self-watch"
    assert env.stepfunctions.started == []


def test_an_event_that_is_not_an_alarm_state_change_fails_the_invocation() -> None:
    with pytest.raises(InvalidEventError, match="not a CloudWatch Alarm State Change event"):
        run(environment(), {"source": "aws.health", "detail-type": "AWS Health Event"})
