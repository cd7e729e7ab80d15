"""Scenario files: the Lambda dial fields are validated and become traffic and metrics."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from emulator.errors import ScenarioError
from emulator.metric_index import extended_statistic
from emulator.metrics import (
    async_datums,
    concurrency_datums,
    duration_datums,
    function_concurrency_datums,
)
from emulator.scenario import Traffic, parse_scenario

START = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)


def _document(**extra: Any) -> dict[str, Any]:
    return {
        "name": "dials",
        "start": "2025-03-14T09:00:00Z",
        "duration": "10m",
        "workloads": [
            {
                "function": "worker",
                "phases": [
                    {
                        "from": "0m",
                        "invocations_per_minute": 10,
                        "concurrency": 40,
                        "async_dropped_per_minute": 2,
                        "destination_failures_per_minute": 1,
                    }
                ],
            }
        ],
        **extra,
    }


def test_phase_dials_become_the_traffic_of_each_minute() -> None:
    scenario = parse_scenario(_document(lambda_account={"concurrency_limit": 500}))

    traffic = scenario.workloads[0].traffic(timedelta(minutes=3), scenario.seed)

    assert traffic == Traffic(10, 0, 0, 40, 2, 0, 1)
    assert scenario.lambda_account.concurrency_limit == 500
    assert scenario.lambda_account.reserved_concurrency == 0


def test_reserved_concurrency_above_the_limit_is_refused_naming_the_field() -> None:
    document = _document(lambda_account={"concurrency_limit": 100, "reserved_concurrency": 200})

    with pytest.raises(ScenarioError, match="lambda_account"):
        parse_scenario(document)


def test_async_failures_are_per_function_and_concurrency_is_account_level() -> None:
    traffic = Traffic(10, 0, 0, 40, 2, 0, 1)

    assert [d["MetricName"] for d in async_datums("worker", START, traffic)] == [
        "AsyncEventsDropped",
        "DestinationDeliveryFailures",
    ]
    account = concurrency_datums(START, 40, reserved=100)
    assert {d["MetricName"]: (d["Value"], d["Dimensions"]) for d in account} == {
        "ConcurrentExecutions": (40.0, []),
        "ClaimedAccountConcurrency": (140.0, []),
    }
    assert concurrency_datums(START, 0, reserved=100) == []


def test_a_workload_reservation_is_read_and_its_concurrency_published_per_function() -> None:
    document = _document()
    document["workloads"][0]["reserved_concurrency"] = 50
    scenario = parse_scenario(document)

    assert scenario.workloads[0].reserved_concurrency == 50
    assert parse_scenario(_document()).workloads[0].reserved_concurrency is None
    [datum] = function_concurrency_datums("worker", START, 40)
    assert (datum["MetricName"], datum["Value"], datum["Dimensions"]) == (
        "ConcurrentExecutions",
        40.0,
        [{"Name": "FunctionName", "Value": "worker"}],
    )
    assert function_concurrency_datums("worker", START, 0) == []


def test_a_negative_reservation_is_refused_naming_the_field() -> None:
    document = _document()
    document["workloads"][0]["reserved_concurrency"] = -1

    with pytest.raises(ScenarioError, match=r"workloads\[0\]\.reserved_concurrency"):
        parse_scenario(document)


def _timed(timeout: object, duration_ms: int) -> dict[str, Any]:
    document = _document()
    document["workloads"][0]["phases"][0]["duration_ms"] = duration_ms
    if timeout is not None:
        document["workloads"][0]["timeout"] = timeout
    return document


def test_a_duration_profile_and_time_out_become_duration_datapoints() -> None:
    scenario = parse_scenario(_timed(15, 13_200))
    [worker] = scenario.workloads

    assert worker.timeout == 15
    assert worker.traffic(timedelta(minutes=3), scenario.seed).duration_ms == 13_200
    assert duration_datums("worker", START, 13_200) == [
        {
            "MetricName": "Duration",
            "Dimensions": [{"Name": "FunctionName", "Value": "worker"}],
            "Timestamp": START,
            "Unit": "Milliseconds",
            "Value": 13_200.0,
        }
    ]
    assert duration_datums(None, START, 13_200)[0]["Dimensions"] == []
    # A workload without a duration profile publishes no Duration at all.
    assert parse_scenario(_document()).workloads[0].traffic(timedelta(0), 0).duration_ms == 0
    assert duration_datums("worker", START, 0) == []


@pytest.mark.parametrize(
    ("timeout", "duration_ms", "field"),
    [
        (15, 15_001, r"phases\[0\]\.duration_ms"),  # Lambda stops an invocation at its time-out
        (None, 3_001, r"phases\[0\]\.duration_ms"),  # Lambda's default time-out is 3 s
        (901, 1_000, r"timeout"),  # at most 900 s
        (0, 0, r"timeout"),
    ],
)
def test_a_duration_beyond_the_time_out_or_a_time_out_out_of_bounds_is_refused(
    timeout: object, duration_ms: int, field: str
) -> None:
    with pytest.raises(ScenarioError, match=field):
        parse_scenario(_timed(timeout, duration_ms))


def test_a_typical_duration_publishes_every_invocation_so_that_percentiles_can_be_read() -> None:
    document = _timed(10, 10_000)
    document["workloads"][0]["phases"][0]["typical_duration_ms"] = 800
    scenario = parse_scenario(document)
    traffic = scenario.workloads[0].traffic(timedelta(minutes=1), scenario.seed)

    [datum] = duration_datums("worker", START, traffic.duration_ms, 800, 200)
    assert (datum["Values"], datum["Counts"]) == ([800.0, 10_000.0], [199, 1])
    assert "Value" not in datum
    # One invocation alone, or no typical duration: the slowest as a single value.
    assert duration_datums("worker", START, 10_000, 800, 1)[0]["Value"] == 10_000.0
    document["workloads"][0]["phases"][0]["typical_duration_ms"] = 10_001
    with pytest.raises(ScenarioError, match=r"phases\[0\]\.typical_duration_ms"):
        parse_scenario(document)


def test_percentiles_and_trimmed_counts_are_computed_where_moto_has_none() -> None:
    """moto 5.2 answers Sum, Average, Minimum, Maximum and SampleCount only; CloudWatch's
    percentile (nearest rank here) and trimmed count between absolute bounds (lower exclusive,
    upper inclusive, as its statistics definitions say) are the emulator's."""
    window = [800.0] * 995 + [10_000.0] * 5

    assert extended_statistic("p99", window) == 800.0
    assert extended_statistic("p99.5", window) == 800.0
    assert extended_statistic("p99.6", window) == 10_000.0
    assert extended_statistic("p50", [1.0, 2.0, 3.0]) == 2.0
    assert extended_statistic("TC(9900:20000)", window) == 5.0
    assert extended_statistic("TC(800:10000)", window) == 5.0  # 800 itself is excluded
    assert extended_statistic("Maximum", window) is None  # moto's own
