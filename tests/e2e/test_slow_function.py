"""A function's slowest invocation against its configured time-out, through the real template.

Given the slow-function scenario (report-builder with a 15 s time-out, checkout-api 10 s and
nightly-export 300 s answering fast), report-builder's slowest invocation crosses 80 % then 95 %
of its time-out and falls back: the alert warns, escalates and resolves. A healthy cycle reads
one Duration metric for the whole account and lists no function; a cycle whose account peak
reaches 80 % of the smallest time-out reads only the functions it could be near.
"""

from collections.abc import Iterator

import pytest

from emulator import Emulator
from tests.e2e.scenario_runs import (
    LAMBDA_FAST_PATH,
    STACK_METRICS,
    collector_cycles,
    emails,
    play_scenario,
)

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture(scope="module")
def slow() -> Iterator[Emulator]:
    yield from play_scenario("slow-function")


def test_a_function_near_its_time_out_warns_escalates_and_resolves(slow: Emulator) -> None:
    assert emails(slow) == [
        ("09:15", "[WARNING] Lambda duration near time-out firing: report-builder"),
        ("09:25", "[CRITICAL] Lambda duration near time-out escalated: report-builder"),
        ("09:40", "[RESOLVED] Lambda duration near time-out resolved: report-builder"),
    ]
    warning, critical = slow.mailbox.emails[0], slow.mailbox.emails[1]
    assert "slowest invocation 12.6 s of a 15 s time-out (84%) over 5 min" in warning.body
    assert "slowest invocation 14.4 s of a 15 s time-out (96%) over 5 min" in critical.body


def test_a_healthy_cycle_reads_one_duration_metric_and_a_slow_one_only_the_candidates(
    slow: Emulator,
) -> None:
    cycles = {c["batch_id"][-5:-1]: c for c in collector_cycles(slow)}

    # The scenario's 3 functions and the stack's 7, each with a time-out; the first cycle
    # discovers them.
    assert {c["resources"]["duration"] for c in cycles.values()} == {3 + 7}
    assert cycles["0905"]["discovered"]
    # 09:10 and 09:45: the account's slowest invocation (6 s) is below 80 % of the smallest
    # time-out (checkout-api's 10 s): one metric and no ListFunctions.
    for quiet in ("0910", "0945"):
        assert cycles[quiet]["metrics_by_stage"] == {
            "fast": LAMBDA_FAST_PATH + STACK_METRICS,
            "drill": 0,
            "sweep": 0,
        }
        assert "ListFunctions" not in cycles[quiet]["api_calls"]
    # 09:15 to 09:35: 12.6 s and 14.4 s reach 80 % of 10 s and of 15 s, not of nightly-export's
    # 300 s nor of the stack's functions' (30 s and more): two functions read.
    for slow_cycle in ("0915", "0920", "0925", "0930", "0935"):
        assert cycles[slow_cycle]["drilled"] == ["lambda.duration_timeout"]
        assert cycles[slow_cycle]["metrics_by_stage"]["drill"] == 2
    # 09:40: healthy again, but report-builder's alert is firing: it alone is read, and its
    # alert resolves on that evidence.
    assert cycles["0940"]["drilled"] == []
    assert cycles["0940"]["watched"] == 1
    assert cycles["0940"]["metrics_by_stage"]["drill"] == 1
