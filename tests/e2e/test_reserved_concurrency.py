"""A function's concurrency against its own reservation, through the real template.

Given the reserved-concurrency scenario (ledger-writer reserves 50, paused-job 0, checkout-api
none), ledger-writer's peak crosses 80 % then 90 % of its reservation and falls back: the alert
warns, escalates and resolves, while the account stays far from its limit. Only the reserved
function is read, one metric a cycle; GetFunctionConcurrency runs at discovery only.
"""

from collections.abc import Iterator

import pytest

from emulator import Emulator
from tests.e2e.scenario_runs import (
    LAMBDA_FAST_PATH,
    STACK_FUNCTIONS,
    STACK_METRICS,
    STACK_RESERVED_METRICS,
    collector_cycles,
    emails,
    play_scenario,
)

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture(scope="module")
def reserved() -> Iterator[Emulator]:
    yield from play_scenario("reserved-concurrency")


def test_a_function_near_its_reservation_warns_escalates_and_resolves(reserved: Emulator) -> None:
    assert emails(reserved) == [
        ("09:15", "[WARNING] Lambda reserved concurrency firing: ledger-writer"),
        ("09:25", "[CRITICAL] Lambda reserved concurrency escalated: ledger-writer"),
        ("09:40", "[RESOLVED] Lambda reserved concurrency resolved: ledger-writer"),
    ]
    critical = reserved.mailbox.emails[1]
    assert "peak concurrency 48 of the function's reserved 50 (96%)" in critical.body


def test_only_the_reserved_function_is_read_and_reservations_only_at_discovery(
    reserved: Emulator,
) -> None:
    cycles = collector_cycles(reserved)

    # The first cycle discovers (nothing stored yet): one request per function of the region,
    # the scenario's 3 and the stack's.
    assert cycles[0]["discovered"]
    assert cycles[0]["api_calls"]["GetFunctionConcurrency"] == 3 + STACK_FUNCTIONS
    assert all("GetFunctionConcurrency" not in c["api_calls"] for c in cycles[1:])
    # ledger-writer and the stack's SlackActionsFunction; paused-job (0) is not read.
    assert {c["resources"]["reserved"] for c in cycles} == {1 + STACK_RESERVED_METRICS}
    # The Lambda fast path, the stack's workflows and reserved function, and ledger-writer:
    # checkout-api, without a reservation, adds nothing.
    quiet = {c["metrics_requested"] for c in cycles if not c["swept"]}
    assert quiet == {LAMBDA_FAST_PATH + STACK_METRICS + 1}
