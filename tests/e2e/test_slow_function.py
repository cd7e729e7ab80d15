"""A function's durations against its configured time-out, through the real template.

Given the slow-function scenario (report-builder with a 15 s time-out, image-resizer 10 s with
one invocation a minute timing out for ten minutes, checkout-api 10 s and nightly-export 300 s
answering fast), report-builder's slowest invocation and p99 cross 80 % then 95 % of its
time-out and fall back: the alert warns, escalates and resolves; image-resizer's outliers warn
with the time-outs counted, and never page, since its p99 stays far below. A healthy cycle reads
one Duration metric for the whole account and lists no function; a cycle whose account peak
reaches 80 % of the smallest time-out reads only the functions it could be near, and the p99
and time-outs of those whose slowest invocation reached 80 % of their own.
"""

from collections.abc import Iterator

import pytest

from emulator import Emulator
from tests.e2e.scenario_runs import (
    LAMBDA_FAST_PATH,
    STACK_FUNCTIONS,
    STACK_METRICS,
    collector_cycles,
    emails,
    play_scenario,
)

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture(scope="module")
def slow() -> Iterator[Emulator]:
    yield from play_scenario("slow-function")


def _body(emu: Emulator, subject: str) -> str:
    return next(email.body for email in emu.mailbox.emails if email.subject == subject)


def test_a_function_near_its_time_out_warns_escalates_and_resolves(slow: Emulator) -> None:
    assert sorted(emails(slow)) == [
        ("09:15", "[WARNING] Lambda duration near time-out firing: image-resizer"),
        ("09:15", "[WARNING] Lambda duration near time-out firing: report-builder"),
        ("09:25", "[CRITICAL] Lambda duration near time-out escalated: report-builder"),
        ("09:30", "[RESOLVED] Lambda duration near time-out resolved: image-resizer"),
        ("09:40", "[RESOLVED] Lambda duration near time-out resolved: report-builder"),
    ]
    warning = _body(slow, "[WARNING] Lambda duration near time-out firing: report-builder")
    critical = _body(slow, "[CRITICAL] Lambda duration near time-out escalated: report-builder")
    assert "slowest invocation 12.6 s of a 15 s time-out (84%) over 5 min" in warning
    # Every invocation of report-builder is slow: its p99 is its slowest, and it pages.
    assert (
        "p99 14.4 s of a 15 s time-out (96%) over 5 min, at or above 95%; slowest invocation 14.4 s"
        in critical
    )


def test_an_outlier_that_times_out_warns_with_the_time_outs_counted_and_never_pages(
    slow: Emulator,
) -> None:
    # The measured blind spot: the slowest invocation alone paged on one outlier in
    # thousands; now the p99 (0.8 s of 10 s) decides, and the time-outs are counted.
    warning = _body(slow, "[WARNING] Lambda duration near time-out firing: image-resizer")
    assert (
        "slowest invocation 10 s of a 10 s time-out (100%) over 5 min, at or above 80%;"
        " p99 0.8 s (8%); 3 invocations reached the time-out" in warning
    )


def test_a_healthy_cycle_reads_one_duration_metric_and_a_slow_one_only_the_candidates(
    slow: Emulator,
) -> None:
    cycles = {c["batch_id"][-5:-1]: c for c in collector_cycles(slow)}

    # The scenario's 4 functions and the stack's, each with a time-out; the first cycle
    # discovers them.
    assert {c["resources"]["duration"] for c in cycles.values()} == {4 + STACK_FUNCTIONS}
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
    # 300 s nor of the stack's functions' (30 s and more): three functions read. Until 09:25
    # report-builder and image-resizer are slow for their own time-outs (2 more metrics each,
    # p99 and time-outs counted); from 09:30 report-builder only.
    drill = {"0915": 3 + 4, "0920": 3 + 4, "0925": 3 + 4, "0930": 3 + 2, "0935": 3 + 2}
    for slow_cycle, metrics in drill.items():
        assert cycles[slow_cycle]["drilled"] == ["lambda.duration_timeout"]
        assert cycles[slow_cycle]["metrics_by_stage"]["drill"] == metrics
    # 09:40: healthy again, but report-builder's alert is firing: it alone is read, and its
    # alert resolves on that evidence.
    assert cycles["0940"]["drilled"] == []
    assert cycles["0940"]["watched"] == 1
    assert cycles["0940"]["metrics_by_stage"]["drill"] == 1
