"""The sentinel (ADR 48) deployed in us-west-2 beside the primary Vigil in us-east-1, through
both real templates: the primary's evaluations stop and the sentinel announces it within its
configured bound, repeats it once an hour, announces the recovery once; then the primary
region's CloudWatch throttles every request (the monitoring account over its API rate) and the
sentinel announces that, naming the throttle, and the recovery.

The bound is the sentinel's own parameters: a check misses when the last successful cycle is
older than ``StaleMinutes`` (15) and the primary is down after ``DownAfterChecks`` (2)
consecutive misses, checks every ``CheckSchedule`` (5 minutes): at most 15 + 2 x 5 = 25
simulated minutes after the last cycle. The throttle's answer is CloudWatch's ``Throttling``
error (400) in the RPC v2 CBOR shape botocore reads.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from emulator import Emulator
from emulator._aws import MOTO_CONFIG, hermetic_aws_environ
from emulator.sentinel import Fault, Sentinel, primary_api_failing, set_schedule
from vigil.adapters.sentinel import PrimaryHeartbeat, classify
from vigil.compose.sentinel import PRIMARY_CONFIG
from vigil.sentinel.watch import Failure

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
STOP = T0 + timedelta(minutes=30)
RESTART = STOP + timedelta(minutes=90)
THROTTLE = RESTART + timedelta(minutes=30)
LIFT = THROTTLE + timedelta(minutes=30)
END = LIFT + timedelta(minutes=30)

INTERVAL = timedelta(minutes=5)
STALE = timedelta(minutes=15)
DOWN_AFTER = 2
BOUND = STALE + DOWN_AFTER * INTERVAL


@dataclass
class Played:
    emu: Emulator
    sentinel: Sentinel
    throttled_requests: int


@pytest.fixture(scope="module")
def played() -> Iterator[Played]:
    with Emulator.start(start=T0) as emu:
        sentinel = Sentinel.deploy(
            emu,
            parameters={
                "CheckSchedule": "rate(5 minutes)",
                "StaleMinutes": 15,
                "DownAfterChecks": DOWN_AFTER,
                "RepeatMinutes": 60,
            },
        )
        sentinel.play_until(STOP)
        assert set_schedule(emu, "CollectMetricsFunction", enabled=False)
        sentinel.play_until(RESTART)
        set_schedule(emu, "CollectMetricsFunction", enabled=True)
        sentinel.play_until(THROTTLE)
        with primary_api_failing("us-east-1", "throttle") as failed:
            sentinel.play_until(LIFT)
        sentinel.play_until(END)
        yield Played(emu, sentinel, len(failed))


def test_healthy_primary_no_announcement_and_every_check_ran(played: Played) -> None:
    checks = played.sentinel.checks
    assert len(checks) == (END - T0) // INTERVAL
    assert all(check.delivered for check in checks)
    assert all(at > STOP for at, _ in played.sentinel.decisions)


def test_stopped_primary_announced_within_the_bound_repeated_hourly_recovered_once(
    played: Played,
) -> None:
    stop_phase = [(at, kind) for at, kind in played.sentinel.decisions if at <= THROTTLE]
    kinds = [kind for _, kind in stop_phase]
    assert kinds == ["down", "still_down", "recovered"]
    down_at, repeat_at, recovered_at = (at for at, _ in stop_phase)
    # The last cycle ran at STOP itself (the schedule stopped after it).
    assert STOP < down_at <= STOP + BOUND
    assert repeat_at - down_at == timedelta(minutes=60)
    # The first cycle after the restart runs at RESTART + 5; its metric is in at the next check.
    assert RESTART < recovered_at <= RESTART + 2 * INTERVAL


def test_throttled_primary_region_announced_naming_it_and_recovered(played: Played) -> None:
    throttle_phase = [(at, kind) for at, kind in played.sentinel.decisions if at > THROTTLE]
    assert [kind for _, kind in throttle_phase] == ["down", "recovered"]
    down_at, recovered_at = (at for at, _ in throttle_phase)
    assert down_at == THROTTLE + DOWN_AFTER * INTERVAL
    assert LIFT < recovered_at <= LIFT + 2 * INTERVAL
    assert played.throttled_requests > 0
    # botocore retried each throttled call (standard mode: at most 20 s between attempts);
    # the emulator noted those waits instead of sleeping them (emulator/backoff.py)
    assert played.emu.backoff_waits
    assert all(0 <= wait <= 20 for wait in played.emu.backoff_waits)
    down = played.sentinel.announcements[3]
    assert "CloudWatch in us-east-1 throttled" in down["message"]
    assert "Rate exceeded" in down["message"]


def test_each_announcement_went_to_the_topic_and_to_slack(played: Played) -> None:
    subjects = [a["subject"] for a in played.sentinel.announcements]
    assert subjects == [
        "[CRITICAL] Vigil vigil in us-east-1 has stopped evaluating",
        "[CRITICAL] Vigil vigil in us-east-1 is still not evaluating",
        "[RESOLVED] Vigil vigil in us-east-1 is evaluating again",
        "[CRITICAL] Vigil vigil in us-east-1 has stopped evaluating",
        "[RESOLVED] Vigil vigil in us-east-1 is evaluating again",
    ]
    headers = [post["blocks"][0]["text"]["text"] for post in played.sentinel.slack_posts]
    assert headers == subjects


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("throttle", Failure.THROTTLED),
        ("server_error", Failure.SERVER_ERROR),
        ("access_denied", Failure.ACCESS_DENIED),
        ("timeout", Failure.TIMEOUT),
    ],
)
def test_each_fault_of_the_primary_region_reaches_the_sentinel_classified(
    fault: Fault, expected: Failure
) -> None:
    # Through botocore's real parsing and retries, with the sentinel's client configuration.
    with mock_aws(config=MOTO_CONFIG), hermetic_aws_environ():
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1", config=PRIMARY_CONFIG)
        heartbeat = PrimaryHeartbeat(cloudwatch, "vigil-CollectMetricsFunction-abc")
        with (
            primary_api_failing("us-east-1", fault) as failed,
            pytest.raises(Exception) as raised,  # noqa: PT011 - classified below
        ):
            heartbeat.latest(T0, timedelta(hours=1))
    assert classify(raised.value).failure is expected
    assert failed
