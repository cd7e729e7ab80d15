"""The error stream benchmark (benchmarks/error_stream.py) on its smallest case: a quiet
function's first eight error lines through the real handler on moto, counted request by
request, and the storm's deliveries within CloudWatch Logs' and Lambda's limits."""

import json
import math

import pytest

from benchmarks.error_stream import (
    STORM_DELIVERY_LINES,
    STORM_LINES,
    _deliveries,
    _sparse,
    _storm,
    play,
)
from emulator.logs import MAX_INVOKE_BYTES


@pytest.fixture(scope="module")
def sparse() -> dict[str, object]:
    volume, plan = _sparse()
    return play("sparse", volume, plan[:8])


def test_each_line_of_a_quiet_function_is_one_invocation_of_two_writes(
    sparse: dict[str, object],
) -> None:
    # One line a delivery: an UpdateItem for its minute and one for its group
    # (vigil.tracking.stream, "Tally").
    calls = sparse["api_calls"]
    assert isinstance(calls, dict)
    assert (sparse["invocations"], sparse["lines"]) == (8, 8)
    assert calls["UpdateItem"] == 2 * 8


def test_a_quiet_function_is_judged_until_its_alert_is_open(sparse: dict[str, object]) -> None:
    # The first line is a new type (one StartExecution) and is judged on the volume read from
    # CloudWatch (1 error in 50 invocations: no breach); the second breaches on the kept
    # volume, is read again, claimed and started; a minute later the alert is open (the
    # benchmark plays Evaluate) and the later lines are not judged.
    calls = sparse["api_calls"]
    assert isinstance(calls, dict)
    assert calls["Query"] == 2
    assert calls["GetMetricData"] == sparse["get_metric_data_metrics"] == 2
    assert calls["PutItem"] == 3  # the volume twice, the wake claim once
    assert calls["StartExecution"] == sparse["express_executions"] == 2


def test_the_cost_per_1000_lines_is_the_sum_of_its_items(sparse: dict[str, object]) -> None:
    items = sparse["usd_per_1000_lines_by_item"]
    assert isinstance(items, dict)
    assert sparse["usd_per_1000_lines"] == pytest.approx(sum(items.values()), abs=1e-4)


def test_a_storm_is_delivered_in_batches_within_the_limits() -> None:
    # At most 2,500 lines a delivery, each Lambda event within the 256 KB asynchronous payload
    # quota (emulator.logs.batches).
    _, plan = _storm(1)
    assert len(plan) == math.ceil(STORM_LINES / STORM_DELIVERY_LINES)
    events = _deliveries(plan[0])
    assert len(events) == 1
    assert len(json.dumps(events[0])) <= MAX_INVOKE_BYTES
