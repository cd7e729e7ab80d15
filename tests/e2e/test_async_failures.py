"""Asynchronous delivery failures, through the real template.

Given the async-failures scenario, dropped events warn, a failed destination delivery pages,
and each resolves on the next clean window; only the cycles with a non-zero account sum read
per-function metrics.
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
def async_failures() -> Iterator[Emulator]:
    yield from play_scenario("async-failures")


def test_dropped_events_warn_a_lost_event_pages_and_both_resolve(async_failures: Emulator) -> None:
    assert emails(async_failures) == [
        ("09:15", "[WARNING] Lambda async delivery failures firing: orders-worker"),
        ("09:20", "[RESOLVED] Lambda async delivery failures resolved: orders-worker"),
        ("09:25", "[CRITICAL] Lambda async delivery failures firing: orders-worker"),
        ("09:30", "[RESOLVED] Lambda async delivery failures resolved: orders-worker"),
    ]
    lost = async_failures.mailbox.emails[2]
    assert "1 destination delivery failure" in lost.body
    assert "those events are lost" in lost.body


def test_only_cycles_with_async_failures_read_per_function_metrics(
    async_failures: Emulator,
) -> None:
    cycles = collector_cycles(async_failures)
    drilled = [c["batch_id"][-5:-1] for c in cycles if c["drilled"]]

    assert drilled == ["0915", "0925"]
    assert {c["metrics_requested"] for c in cycles if not c["drilled"] and not c["swept"]} == {
        LAMBDA_FAST_PATH + STACK_METRICS
    }
