"""The emulator plays a workload's error lines and delivers them to the error stream, through the
real template: the account-level subscription filter policy (default), a subscription filter on
the function's log group (log-groups mode, as the discovery puts it), and nothing when off.

What is asserted is what the emulator delivered (its records), not what the handler made of it.
The event shape is the one AWS documents for a CloudWatch Logs subscription to Lambda
("Real-time processing of log data with subscriptions"): ``awslogs.data`` is base64 of gzip of
``{messageType, owner, logGroup, logStream, subscriptionFilters, logEvents}``.
"""

from datetime import UTC, datetime, timedelta

import pytest

from emulator import ACCOUNT_ID, Emulator
from emulator._aws import client, function_arn
from emulator.logs import DELIVERY_DELAY, LogDelivery, decode, encode
from emulator.scenario import Scenario, parse_scenario
from vigil.tracking.logs import FILTER_PATTERN

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]

START = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
FAILING = START + timedelta(minutes=30)
# The template's FilterPattern (ErrorStreamPolicy), which the discovery puts on log groups too.
PATTERN = FILTER_PATTERN


def _scenario() -> Scenario:
    return parse_scenario(
        {
            "name": "error-lines",
            "start": "2025-03-14T09:00:00Z",
            "duration": "40m",
            "seed": 3,
            "workloads": [
                {"function": "search-api", "phases": [{"from": 0, "invocations_per_minute": 50}]},
                {
                    "function": "batch-job",
                    "phases": [
                        {"from": 0, "to": "30m", "invocations_per_minute": 2},
                        {
                            "from": "30m",
                            "to": "32m",
                            "invocations_per_minute": 2,
                            "errors_per_minute": 2,
                            "exceptions": [{"type": "KeyError", "message": "'user_id'"}],
                        },
                        {"from": "32m", "invocations_per_minute": 2},
                    ],
                },
            ],
        }
    )


def _play(mode: str) -> tuple[Emulator, list[tuple[datetime, float]]]:
    """Play the scenario in one ``ErrorStreamMode``; in log-groups mode, first put the filter
    the discovery puts on the function's log group (the discovery is not what is tested).
    Also returns, per data delivery, the ``Invocations`` CloudWatch held at that moment for the
    minute whose lines it carried."""
    seen: list[tuple[datetime, float]] = []

    def read_metrics(delivery: LogDelivery) -> None:
        if delivery.message_type != "DATA_MESSAGE":
            return
        minute = delivery.at - DELIVERY_DELAY - timedelta(minutes=1)
        points = client("cloudwatch").get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName="Invocations",
            Dimensions=[{"Name": "FunctionName", "Value": delivery.function}],
            StartTime=minute,
            EndTime=minute + timedelta(minutes=1),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        seen.append((minute, sum(point["Sum"] for point in points)))

    with Emulator.start(scenario=_scenario(), parameters={"ErrorStreamMode": mode}) as emu:
        emu.log_subscriptions.on_delivery(read_metrics)
        if mode == "log-groups":
            client("logs").put_subscription_filter(
                logGroupName="/aws/lambda/batch-job",
                filterName="vigil-error-stream",
                filterPattern=PATTERN,
                destinationArn=function_arn(emu.deployment.function_name("ErrorStreamFunction")),
            )
        emu.play()
    return emu, seen


@pytest.fixture(scope="module")
def runs() -> dict[str, tuple[Emulator, list[tuple[datetime, float]]]]:
    # One after the other: the emulators share moto's process-wide state while they run.
    return {mode: _play(mode) for mode in ("account-policy", "log-groups", "off")}


@pytest.fixture(scope="module")
def played(runs: dict[str, tuple[Emulator, list[tuple[datetime, float]]]]) -> dict[str, Emulator]:
    return {mode: emu for mode, (emu, _) in runs.items()}


@pytest.fixture(scope="module")
def account_policy(played: dict[str, Emulator]) -> Emulator:
    return played["account-policy"]


def _data(emu: Emulator) -> list[LogDelivery]:
    return [d for d in emu.log_subscriptions.deliveries if d.message_type == "DATA_MESSAGE"]


def test_the_stack_puts_its_account_policy_leaving_its_own_log_groups_out(
    account_policy: Emulator,
) -> None:
    policy = account_policy.log_subscriptions.subscription_policy()

    assert policy is not None
    assert policy.name == "vigil-error-stream"
    assert policy.pattern.text == PATTERN
    assert policy.destination_arn.endswith(
        ":function:" + account_policy.deployment.function_name("ErrorStreamFunction")
    )
    own = {
        f"/aws/lambda/{account_policy.deployment.function_name(f)}"
        for f in ("ErrorStreamFunction", "CollectMetricsFunction", "EvaluateFunction")
    }
    assert own <= policy.excluded
    assert "/aws/lambda/batch-job" not in policy.excluded


def test_two_minutes_of_key_errors_reach_the_error_stream(account_policy: Emulator) -> None:
    deliveries = _data(account_policy)
    error_stream = account_policy.deployment.function_name("ErrorStreamFunction")

    assert [(d.at, d.function, d.event_count) for d in deliveries] == [
        (FAILING + timedelta(minutes=1) + DELIVERY_DELAY, "batch-job", 2),
        (FAILING + timedelta(minutes=2) + DELIVERY_DELAY, "batch-job", 2),
    ]
    for delivery, minute in zip(deliveries, (FAILING, FAILING + timedelta(minutes=1)), strict=True):
        assert delivery.ok
        assert delivery.destination_arn.endswith(f":function:{error_stream}")
        assert delivery.request_ids  # the runtime ran the destination
        message = delivery.message
        assert message["messageType"] == "DATA_MESSAGE"
        assert message["owner"] == ACCOUNT_ID
        assert message["logGroup"] == "/aws/lambda/batch-job"
        assert message["logStream"].startswith(f"{minute:%Y/%m/%d}/[$LATEST]")
        assert message["subscriptionFilters"] == ["vigil-error-stream"]
        stamps = [event["timestamp"] for event in message["logEvents"]]
        assert stamps == sorted(stamps)
        assert all(
            minute.timestamp() * 1000 <= s < (minute.timestamp() + 60) * 1000 for s in stamps
        )
        for event in message["logEvents"]:
            assert event["message"].startswith("[ERROR] KeyError: 'user_id'\nTraceback")
            assert len(event["id"]) == 56
        assert decode(encode(message)) == message
        assert delivery.payload_bytes < 4096


def test_the_error_stream_gets_one_control_message_first(account_policy: Emulator) -> None:
    first, *rest = account_policy.log_subscriptions.deliveries

    assert first.message_type == "CONTROL_MESSAGE"
    assert first.at == FAILING + timedelta(minutes=1) + DELIVERY_DELAY
    assert first.message["logEvents"][0]["message"].startswith("CWL CONTROL MESSAGE")
    assert [d.message_type for d in rest] == ["DATA_MESSAGE", "DATA_MESSAGE"]


def test_the_timeline_shows_each_delivery(account_policy: Emulator) -> None:
    lines = [(e.at, e.summary) for e in account_policy.timeline if e.kind == "logs"]

    assert lines[1:] == [
        (FAILING + timedelta(minutes=1, seconds=5), "error stream: 2 lines of batch-job"),
        (FAILING + timedelta(minutes=2, seconds=5), "error stream: 2 lines of batch-job"),
    ]


def test_the_metrics_of_the_minute_are_in_cloudwatch_when_its_lines_arrive(
    runs: dict[str, tuple[Emulator, list[tuple[datetime, float]]]],
) -> None:
    # The error stream may read the function's Invocations of the minute its lines were logged.
    emu, seen = runs["account-policy"]
    first = _data(emu)[0]
    invocation = next(i for i in emu.invocations if i.request_id == first.request_ids[0])

    assert invocation.source == "logs"
    assert invocation.sim_time == first.at
    assert seen == [(FAILING, 2.0), (FAILING + timedelta(minutes=1), 2.0)]


def test_log_groups_mode_delivers_through_the_log_groups_filter(
    played: dict[str, Emulator],
) -> None:
    emu = played["log-groups"]
    arn = function_arn(emu.deployment.function_name("ErrorStreamFunction"))

    assert emu.log_subscriptions.subscription_policy() is None
    assert [
        (d.message_type, d.subscription, d.event_count) for d in emu.log_subscriptions.deliveries
    ] == [
        ("CONTROL_MESSAGE", "vigil-error-stream", 0),
        ("DATA_MESSAGE", "vigil-error-stream", 2),
        ("DATA_MESSAGE", "vigil-error-stream", 2),
    ]
    assert all(d.ok and d.destination_arn == arn for d in emu.log_subscriptions.deliveries)


def test_off_delivers_nothing(played: dict[str, Emulator]) -> None:
    emu = played["off"]

    assert emu.log_subscriptions.subscription_policy() is None
    assert emu.log_subscriptions.deliveries == []
    assert not [e for e in emu.timeline if e.kind == "logs"]
