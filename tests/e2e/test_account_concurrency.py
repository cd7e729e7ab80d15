"""Account concurrency against the real limit, through the real template.

Given the account-concurrency scenario (limit 1,000, 100 reserved), the claimed concurrency
crosses 80 % then 90 % of the limit and falls back: the alert warns, escalates and resolves,
with the limit from the emulator's GetAccountSettings fake asked once.
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
def concurrency() -> Iterator[Emulator]:
    yield from play_scenario("account-concurrency")


def test_concurrency_near_the_limit_warns_escalates_and_resolves(concurrency: Emulator) -> None:
    assert emails(concurrency) == [
        ("09:20", "[WARNING] Lambda account concurrency firing: account"),
        ("09:30", "[CRITICAL] Lambda account concurrency escalated: account"),
        ("09:45", "[RESOLVED] Lambda account concurrency resolved: account"),
    ]
    critical = concurrency.mailbox.emails[1]
    assert "peak concurrency 950 of the account limit 1,000 (95%)" in critical.body


def test_the_account_limit_is_asked_once_and_the_fast_path_stays_flat(
    concurrency: Emulator,
) -> None:
    cycles = collector_cycles(concurrency)

    assert concurrency.lambda_account.calls == 1
    assert sum(c["api_calls"].get("GetAccountSettings", 0) for c in cycles) == 1
    quiet = {c["metrics_requested"] for c in cycles if not c["swept"]}
    assert quiet == {LAMBDA_FAST_PATH + STACK_METRICS}
    assert all(c["drilled"] == [] for c in cycles)
