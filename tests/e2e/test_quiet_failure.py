"""A small function failing inside a healthy account, through the real template.

Given a busy account whose aggregate error rate stays normal and a low-volume function that
fails three times from 09:30, no five-minute cycle drills into the functions; the hourly sweep finds
the error and alerts within the sweep period, and the next cycle resolves the alert.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from emulator import Emulator
from tests.e2e.scenario_runs import (
    LAMBDA_FAST_PATH,
    STACK_METRICS,
    collector_cycles,
    play_scenario,
)

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]

FAILED_AT = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def played() -> Iterator[Emulator]:
    yield from play_scenario("quiet-failure")


def test_the_sweep_finds_the_errors_within_an_hour_and_the_next_cycle_resolves_them(
    played: Emulator,
) -> None:
    sent = {email.subject: email.sent_at for email in played.mailbox.emails}
    fired = sent["[WARNING] Lambda errors firing: batch-job"]
    resolved = sent["[RESOLVED] Lambda errors resolved: batch-job"]

    assert timedelta(0) < fired - FAILED_AT <= timedelta(minutes=60 + 5 + 2)
    assert resolved - fired == timedelta(minutes=5)
    assert sorted(sent) == [
        "[RESOLVED] Lambda errors resolved: batch-job",
        "[WARNING] Lambda errors firing: batch-job",
    ]


def test_only_the_sweep_reads_per_function_metrics_in_a_healthy_account(played: Emulator) -> None:
    cycles = collector_cycles(played)
    swept = [cycle for cycle in cycles if cycle["swept"]]

    assert len(cycles) == 18
    assert all(cycle["drilled"] == [] for cycle in cycles)
    # The windows crossing 09:00 and 10:00: before the failure (nothing found), and after.
    assert [cycle["signals"] for cycle in swept] == [1, 2]  # search-api's normal 0.05 %, too
    # Quiet cycles: the Lambda fast path, plus the watched function after the alert. Without
    # the error stream, its function and reserved concurrency are not deployed: one metric less.
    stack = STACK_METRICS - 1
    quiet = sorted({c["metrics_requested"] for c in cycles if not c["swept"]})
    assert quiet == [LAMBDA_FAST_PATH + stack, LAMBDA_FAST_PATH + 2 + stack]
