"""The sentinel (ADR 48): its decision over the primary's heartbeat, the read failures of the
primary region classified, AWS Health, hysteresis, one announcement down, repeats, one on
recovery; and its composition on fakes with every dependency failing in turn.

Failure shapes come from AWS and botocore: the error codes botocore's standard retry mode
treats as throttling (``botocore/retries/standard.py``), CloudWatch's ``GetMetricData``
errors (docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html:
``InternalServiceFault`` 500, plus the common ``Throttling`` 400, ``AccessDenied`` 403,
``ServiceUnavailable`` 503), botocore's ``ReadTimeoutError``, ``ConnectTimeoutError`` and
``EndpointConnectionError``. The Health event is the ``DescribeEvents`` item shape of
docs.aws.amazon.com/health/latest/APIReference/API_DescribeEvents.html.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from vigil.adapters.health_api import HealthApiUnavailable
from vigil.adapters.sentinel import classify
from vigil.compose import sentinel as compose
from vigil.compose.settings import SentinelSettings
from vigil.core.errors import ChatDeliveryError
from vigil.core.model import HealthEvent
from vigil.runbook.incident import RunbookInput
from vigil.sentinel.messages import plain_text, slack_payload, subject
from vigil.sentinel.watch import (
    Failure,
    Observation,
    Policy,
    ReadFailure,
    State,
    Status,
    decide,
)

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
POLICY = Policy(primary_region="us-east-1", primary_stack="vigil")
MIN = timedelta(minutes=1)
ACCOUNT = "123456789012"


def client_error(code: str, status: int, operation: str = "GetMetricData") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} message"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


FAILURES: list[tuple[str, BaseException, Failure]] = [
    ("throttled", client_error("Throttling", 400), Failure.THROTTLED),
    ("throttled 429", client_error("TooManyRequestsException", 429), Failure.THROTTLED),
    ("5xx", client_error("InternalServiceFault", 500), Failure.SERVER_ERROR),
    ("503", client_error("ServiceUnavailable", 503), Failure.SERVER_ERROR),
    (
        "read timeout",
        ReadTimeoutError(endpoint_url="https://monitoring.us-east-1.amazonaws.com"),
        Failure.TIMEOUT,
    ),
    (
        "connect timeout",
        ConnectTimeoutError(endpoint_url="https://monitoring.us-east-1.amazonaws.com"),
        Failure.TIMEOUT,
    ),
    (
        "unreachable",
        EndpointConnectionError(endpoint_url="https://monitoring.us-east-1.amazonaws.com"),
        Failure.UNREACHABLE,
    ),
    ("access denied", client_error("AccessDenied", 403), Failure.ACCESS_DENIED),
    ("expired token", client_error("ExpiredTokenException", 400), Failure.ACCESS_DENIED),
    ("validation", client_error("InvalidParameterValue", 400), Failure.OTHER),
]


@pytest.mark.parametrize(("name", "exc", "expected"), FAILURES, ids=[f[0] for f in FAILURES])
def test_every_read_failure_is_classified(name: str, exc: BaseException, expected: Failure) -> None:
    assert classify(exc).failure is expected


def test_a_wrapped_failure_is_classified_by_its_cause() -> None:
    outer = HealthApiUnavailable("no Health endpoint answered")
    outer.__cause__ = ReadTimeoutError(endpoint_url="https://health.us-east-1.amazonaws.com")
    assert classify(outer).failure is Failure.TIMEOUT
    assert classify(ValueError("what")).failure is Failure.OTHER


def beat(now: datetime, age: timedelta | None) -> Observation:
    return Observation(now=now, last_heartbeat=None if age is None else now - age)


def run_checks(
    observations: list[Observation], state: State | None = None
) -> tuple[State, list[str]]:
    current = state or State()
    kinds: list[str] = []
    for observation in observations:
        decision = decide(current, observation, POLICY)
        current = decision.state
        if decision.announcement is not None:
            kinds.append(decision.announcement.kind)
    return current, kinds


def test_one_missed_check_is_not_an_alarm() -> None:
    checks = [beat(T0, 2 * MIN), beat(T0 + 5 * MIN, 20 * MIN), beat(T0 + 10 * MIN, 3 * MIN)]
    state, kinds = run_checks(checks)
    assert kinds == []
    assert state.status is Status.UP
    assert state.missed == 0


def test_down_after_two_missed_checks_then_one_repeat_an_hour_then_one_recovery() -> None:
    last = T0 - 2 * MIN
    checks = [Observation(now=T0 + i * 5 * MIN, last_heartbeat=last) for i in range(20)]
    state, kinds = run_checks(checks[:5])
    # 15 minutes stale: missed at +15 (first) and +20 (second): down at the second.
    assert kinds == ["down"]
    assert state.down_since == last
    state, kinds = run_checks(checks[5:], state)
    assert kinds == ["still_down"]  # +80, an hour after +20
    recovered = decide(state, beat(T0 + 100 * MIN, MIN), POLICY)
    assert recovered.announcement is not None
    assert recovered.announcement.kind == "recovered"
    after, kinds = run_checks(
        [beat(T0 + 105 * MIN, MIN), beat(T0 + 110 * MIN, MIN)], recovered.state
    )
    assert kinds == []
    assert after.status is Status.UP


@pytest.mark.parametrize(("name", "exc", "expected"), FAILURES, ids=[f[0] for f in FAILURES])
def test_the_primary_region_failing_is_down_after_two_checks_and_named(
    name: str, exc: BaseException, expected: Failure
) -> None:
    failure = classify(exc)
    checks = [Observation(now=T0 + i * 5 * MIN, heartbeat_failure=failure) for i in range(1, 3)]
    state = State(last_heartbeat=T0 - MIN, last_check=T0)
    first = decide(state, checks[0], POLICY)
    assert first.announcement is None  # a recent heartbeat, but one failed read: not yet
    second = decide(first.state, checks[1], POLICY)
    assert second.announcement is not None
    assert second.announcement.kind == "down"
    assert any("CloudWatch in us-east-1" in line for line in second.announcement.reasons)
    assert second.announcement.last_heartbeat == T0 - MIN  # remembered across failed reads


def health_issue() -> HealthEvent:
    return HealthEvent(
        arn="arn:aws:health:us-east-1::event/LAMBDA/AWS_LAMBDA_OPERATIONAL_ISSUE/abc",
        service="LAMBDA",
        event_type_code="AWS_LAMBDA_OPERATIONAL_ISSUE",
        category="issue",
        region="us-east-1",
        status="open",
        start_time=T0 - 10 * MIN,
        last_updated=T0,
    )


def test_an_open_health_issue_for_the_region_confirms_at_the_first_missed_check() -> None:
    observation = Observation(now=T0, last_heartbeat=T0 - 20 * MIN, health_events=[health_issue()])
    decision = decide(State(), observation, POLICY)
    assert decision.announcement is not None
    assert decision.announcement.kind == "down"
    assert any("AWS_LAMBDA_OPERATIONAL_ISSUE" in line for line in decision.announcement.reasons)


def test_health_alone_with_fresh_heartbeats_is_not_down() -> None:
    observation = Observation(now=T0, last_heartbeat=T0 - MIN, health_events=[health_issue()])
    assert decide(State(), observation, POLICY).announcement is None


def test_a_replayed_check_changes_nothing() -> None:
    state, _ = run_checks([beat(T0, None), beat(T0 + 5 * MIN, None)])
    replay = decide(state, beat(T0 + 5 * MIN, None), POLICY)
    assert replay.replay
    assert replay.announcement is None
    assert replay.state == state
    earlier = decide(state, beat(T0, MIN), POLICY)
    assert earlier.replay
    assert earlier.state.status is Status.DOWN


def test_messages_escape_untrusted_names_and_keep_the_subject_short() -> None:
    policy = Policy(primary_region="us-east-1", primary_stack="<!channel> ops & co" + "x" * 120)
    observation = Observation(
        now=T0,
        heartbeat_failure=ReadFailure(failure=Failure.SERVER_ERROR, detail="<@U123> boom"),
    )
    state, _ = run_checks([])
    first = decide(state, observation, policy)
    second = decide(first.state, observation.model_copy(update={"now": T0 + 5 * MIN}), policy)
    announcement = second.announcement
    assert announcement is not None
    payload = slack_payload(announcement, "vigil-sentinel")
    # mrkdwn is interpreted, the header's plain_text is not (api.slack.com, "Escaping text")
    text = str([payload["text"], payload["blocks"][1], payload["blocks"][2]])
    assert "<!channel>" not in text
    assert "<@U123>" not in text
    assert "&lt;!channel&gt;" in text
    assert "&lt;@U123&gt;" in text
    assert len(subject(announcement)) <= 100
    assert subject(announcement).isascii()
    assert "answered a server error (5xx): <@U123> boom" in plain_text(announcement, "s")


# ---------------------------------------------------------------- composition on fakes
class FakeCloudWatch:
    def __init__(self) -> None:
        self.fail: BaseException | None = None
        self.last_good: datetime | None = None

    def get_metric_data(self, **kwargs: Any) -> dict[str, Any]:
        if self.fail is not None:
            raise self.fail
        stamps = [self.last_good] if self.last_good else []
        return {
            "MetricDataResults": [
                {"Id": "invocations", "Timestamps": stamps, "Values": [1.0] * len(stamps)},
                {"Id": "errors", "Timestamps": stamps, "Values": [0.0] * len(stamps)},
            ]
        }


class FakeTable:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def get_item(self, *, Key: dict[str, Any], **_: Any) -> dict[str, Any]:  # noqa: N803
        item = self.items.get(Key["pk"]["S"])
        return {"Item": item} if item else {}

    def put_item(
        self,
        *,
        Item: dict[str, Any],  # noqa: N803 - DynamoDB's parameter names
        ExpressionAttributeValues: dict[str, Any],  # noqa: N803
        **_: Any,
    ) -> None:
        current = self.items.get(Item["pk"]["S"])
        if current and current["revision"]["N"] != ExpressionAttributeValues[":revision"]["N"]:
            raise client_error("ConditionalCheckFailedException", 400, "PutItem")
        self.items[Item["pk"]["S"]] = Item


class FakeSns:
    def __init__(self) -> None:
        self.fail: BaseException | None = None
        self.published: list[dict[str, Any]] = []

    def publish(self, **kwargs: Any) -> dict[str, str]:
        if self.fail is not None:
            raise self.fail
        self.published.append(kwargs)
        return {"MessageId": str(len(self.published))}


class FakeSecrets:
    def get_secret_value(self, **_: Any) -> dict[str, str]:
        return {"SecretString": '{"webhook_url": "https://hooks.slack.com/services/T/B/x"}'}


class FakeHealth:
    def __init__(self) -> None:
        self.fail: BaseException | None = None

    def describe_events(self, **_: Any) -> dict[str, Any]:
        if self.fail is not None:
            raise self.fail
        return {"events": []}


class FakeStepFunctions:
    def __init__(self) -> None:
        self.started: dict[str, dict[str, Any]] = {}

    def start_execution(self, *, stateMachineArn: str, name: str, input: str) -> dict[str, str]:  # noqa: N803 - Step Functions' names
        if name in self.started:
            raise client_error("ExecutionAlreadyExists", 400, "StartExecution")
        self.started[name] = {"arn": stateMachineArn, "input": input}
        return {"executionArn": f"{stateMachineArn}:{name}"}


RUNBOOK_ARN = f"arn:aws:states:us-west-2:{ACCOUNT}:stateMachine:OutageRunbookStateMachine-x"


class World:
    def __init__(self, runbook: dict[str, str] | None = None) -> None:
        self.cloudwatch = FakeCloudWatch()
        self.table = FakeTable()
        self.sns = FakeSns()
        self.health = FakeHealth()
        self.slack_fail: BaseException | None = None
        self.slack: list[dict[str, Any]] = []
        settings = SentinelSettings.from_env(
            {
                "AWS_REGION": "us-west-2",
                "VIGIL_STACK_NAME": "vigil-sentinel",
                "VIGIL_TABLE_NAME": "sentinel",
                "VIGIL_SENTINEL_PRIMARY_REGION": "us-east-1",
                "VIGIL_SENTINEL_PRIMARY_STACK": "vigil",
                "VIGIL_SENTINEL_COLLECTOR_FUNCTION": "vigil-CollectMetricsFunction-abc",
                "VIGIL_SENTINEL_TOPIC_ARN": "arn:aws:sns:us-west-2:123456789012:sentinel",
                "VIGIL_SENTINEL_SECRET_ARN": f"arn:aws:secretsmanager:us-west-2:{ACCOUNT}:secret:s",
                **(runbook or {}),
            }
        )
        self.sfn = FakeStepFunctions()
        self.env = compose.Environment(
            settings=settings,
            cloudwatch=self.cloudwatch,
            dynamodb=self.table,
            sns=self.sns,
            secrets=FakeSecrets(),
            health_client_for=lambda region: self.health,
            health_active_region=lambda: None,
            post_slack=self.post_slack,
            sfn=self.sfn,
        )

    def post_slack(self, url: str, payload: dict[str, Any]) -> None:
        if self.slack_fail is not None:
            raise self.slack_fail
        self.slack.append(payload)

    def check(self, at: datetime) -> dict[str, Any]:
        return compose.run(self.env, now=at, account="123456789012")


@pytest.mark.parametrize(
    ("name", "exc", "expected"), FAILURES[:8], ids=[f[0] for f in FAILURES[:8]]
)
def test_run_with_the_primary_region_failing_announces_once_on_both_channels(
    name: str, exc: BaseException, expected: Failure
) -> None:
    world = World()
    world.cloudwatch.last_good = T0 - MIN
    assert world.check(T0)["status"] == "up"
    world.cloudwatch.fail = exc
    world.health.fail = client_error("ServiceUnavailable", 503, "DescribeEvents")
    results = [world.check(T0 + i * 5 * MIN) for i in range(1, 5)]
    assert [r["announced"] for r in results] == [None, "down", None, None]
    assert len(world.sns.published) == 1
    assert len(world.slack) == 1
    assert "AWS Health API answered a server error" in world.sns.published[0]["Message"]
    world.cloudwatch.fail = None
    world.health.fail = None
    world.cloudwatch.last_good = T0 + 24 * MIN
    assert world.check(T0 + 25 * MIN)["announced"] == "recovered"
    assert [p["Subject"].split("]")[0] for p in world.sns.published] == ["[CRITICAL", "[RESOLVED"]


def test_slack_down_keeps_email_and_retries_only_slack() -> None:
    world = World()
    world.cloudwatch.fail = client_error("Throttling", 400)
    world.check(T0)
    world.slack_fail = ChatDeliveryError("Slack webhook answered 503")
    with pytest.raises(ChatDeliveryError, match="pending on slack"):
        world.check(T0 + 5 * MIN)
    assert len(world.sns.published) == 1
    assert world.slack == []
    world.slack_fail = None
    retried = world.check(T0 + 5 * MIN)  # Lambda's retry of the same scheduled time
    assert retried["replay"]
    assert retried["pending"] == []
    assert len(world.sns.published) == 1
    assert len(world.slack) == 1


def test_sns_down_keeps_slack_and_the_next_check_does_not_judge_twice() -> None:
    world = World()
    world.cloudwatch.fail = client_error("AccessDenied", 403)
    world.check(T0)
    world.sns.fail = client_error("KMSAccessDeniedException", 400, "Publish")
    with pytest.raises(ChatDeliveryError, match="pending on sns"):
        world.check(T0 + 5 * MIN)
    assert len(world.slack) == 1
    assert "access denied" in str(world.slack[0])
    world.sns.fail = None
    world.check(T0 + 5 * MIN)
    world.check(T0 + 10 * MIN)
    assert len(world.sns.published) == 1
    assert len(world.slack) == 1


def test_a_later_check_does_not_resend_what_lambda_gave_up_on() -> None:
    world = World()
    world.cloudwatch.fail = client_error("Throttling", 400)
    world.check(T0)
    world.slack_fail = ChatDeliveryError("Slack webhook answered 503")
    for _ in range(3):  # the check and Lambda's two retries, then the dead-letter queue
        with pytest.raises(ChatDeliveryError):
            world.check(T0 + 5 * MIN)
    world.slack_fail = None
    later = world.check(T0 + 10 * MIN)
    assert later["announced"] is None
    assert "pending" not in later
    assert world.slack == []
    assert len(world.sns.published) == 1


def test_down_starts_the_standby_runbook_once_as_a_dry_run_and_says_so() -> None:
    world = World({"VIGIL_SENTINEL_RUNBOOK_ARN": RUNBOOK_ARN})
    world.cloudwatch.last_good = T0 - MIN
    world.check(T0)
    world.cloudwatch.fail = client_error("ServiceUnavailable", 503)
    world.check(T0 + 5 * MIN)  # the first missed check
    world.sns.fail = client_error("InternalError", 500, "Publish")
    for _ in range(2):  # the check, then Lambda's retry: the runbook is not started twice
        with pytest.raises(ChatDeliveryError, match="pending on sns"):
            world.check(T0 + 10 * MIN)
    world.sns.fail = None
    world.check(T0 + 10 * MIN)
    for i in range(3, 30):
        world.check(T0 + i * 5 * MIN)  # still down, the hourly repeats: no new start
    world.cloudwatch.fail = None
    world.cloudwatch.last_good = T0 + 200 * MIN
    world.check(T0 + 201 * MIN)  # recovered: no start
    assert list(world.sfn.started) == ["sentinel-us-east-1-20260302T1159Z"]
    started = RunbookInput.model_validate_json(
        world.sfn.started["sentinel-us-east-1-20260302T1159Z"]["input"]
    )
    assert (started.service, started.region, started.dry_run) == ("lambda", "us-east-1", True)
    assert (started.source, started.requested_by) == ("vigil", "vigil-sentinel")
    assert (
        "Outage runbook started in us-west-2: sentinel-us-east-1-20260302T1159Z (dry run"
        in (world.sns.published[0]["Message"])
    )


def test_the_runbook_scope_is_the_service_aws_health_names() -> None:
    world = World(
        {"VIGIL_SENTINEL_RUNBOOK_ARN": RUNBOOK_ARN, "VIGIL_SENTINEL_RUNBOOK_DRY_RUN": "false"}
    )
    announcement = decide(
        State(),
        Observation(now=T0, last_heartbeat=T0 - 20 * MIN, health_events=[health_issue()]),
        POLICY,
    ).announcement
    assert announcement is not None
    compose.start_runbook(world.env, announcement)
    (document,) = [RunbookInput.model_validate_json(s["input"]) for s in world.sfn.started.values()]
    assert (document.service, document.dry_run) == ("lambda", False)
    assert announcement.services == ["LAMBDA"]
