"""An SQS dead-letter queue filling and emptied, through the real template.

Given the dlq-filling scenario, three messages in orders-dlq warn, the oldest passing half the
20-minute retention pages, and the purge resolves the alert; the plain events queue, full all
along, is never watched. The three moves among orders' 500 receives are no failure rate
(``sqs_failures``): its receives are read once, in the cycle that sees orders-dlq grow.
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
def dlq() -> Iterator[Emulator]:
    yield from play_scenario("dlq-filling")


def test_a_filling_dead_letter_queue_warns_escalates_and_resolves_when_purged(
    dlq: Emulator,
) -> None:
    assert emails(dlq) == [
        ("09:15", "[WARNING] SQS dead-letter messages firing: orders-dlq"),
        ("09:25", "[CRITICAL] SQS dead-letter messages escalated: orders-dlq"),
        ("09:35", "[RESOLVED] SQS dead-letter messages resolved: orders-dlq"),
    ]
    warning, critical = dlq.mailbox.emails[0].body, dlq.mailbox.emails[1].body
    assert "3 messages in the dead-letter queue, the oldest 1 min old of a 20 min" in warning
    assert "the oldest 11 min old of a 20 min retention" in critical
    assert "about to be lost" in critical


def test_only_the_first_cycle_discovers_and_the_age_is_read_only_while_messages_wait(
    dlq: Emulator,
) -> None:
    cycles = collector_cycles(dlq)
    at = {c["batch_id"][-5:-1]: c for c in cycles}

    first = min(at)

    assert [t for t, c in at.items() if c["discovered"]] == [first]
    # orders-dlq, and the stack's CollectorDeadLetterQueue: the collector's on-failure destination.
    assert {c["dead_letter_queues"] for c in cycles} == {2}
    ordinary = [c for t, c in at.items() if t != first]
    assert all("ListQueues" not in c["api_calls"] for c in ordinary)
    assert {c["api_calls"]["GetQueueAttributes"] for c in ordinary} == {2}
    # The Lambda fast path, the stack's workflows and reserved function, plus the age of
    # orders-dlq's oldest message while it holds any, and orders' receives when it grew.
    metrics = {t: c["metrics_requested"] for t, c in at.items() if not c["swept"]}
    assert metrics["0915"] == LAMBDA_FAST_PATH + 1 + STACK_METRICS + 1
    assert {metrics[t] for t in ("0920", "0925", "0930")} == {LAMBDA_FAST_PATH + 1 + STACK_METRICS}
    assert {metrics[t] for t in ("0910", "0935", "0940")} == {LAMBDA_FAST_PATH + STACK_METRICS}
