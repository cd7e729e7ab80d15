"""The SQS failure rate (``sqs_failures``): messages moved to a dead-letter queue, as a share of
what its source queues' consumers received.

The cases are the issue's: the moves are the growth of the dead-letter queue's depth between
cycles (CloudWatch counts no redrive move: a dead-letter queue's ``NumberOfMessagesSent`` counts
only messages sent by hand, "Available CloudWatch metrics for Amazon SQS" in the SQS developer
guide), a shrink (purge, redrive) is no negative move, the first cycle has nothing to compare
with, several sources may share one dead-letter queue, and a healthy cycle reads no metric
more. The 10x load is 200 source queues redriving to 50 dead-letter queues.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.factories import T0, labels
from tests.fakes import StoredMetrics
from vigil.core.model import Severity, Signal
from vigil.dials.collect import Cycle, collect
from vigil.dials.resources import FunctionInfo, QueueDepth
from vigil.dials.sqs import REDRIVE, DeadLetterFamily, Redrive, moves_between, received
from vigil.rules.document import RulesConfig
from vigil.rules.kinds import judge, kind_title

RULES = RulesConfig()
# 10:07 with a 2-minute lag: the window is 10:00-10:05; each later cycle is 5 minutes on.
FIRST = datetime(2026, 11, 2, 10, 7, tzinfo=UTC)
SECOND = FIRST + timedelta(minutes=5)
THIRD = SECOND + timedelta(minutes=5)
URL = "https://sqs.us-east-1.amazonaws.com/123456789012/{}"


def moved(moves: float, receives: float, window_seconds: int = 300) -> Signal:
    return Signal(
        source="metrics",
        labels=labels("orders-dlq", "sqs.failure_rate"),
        value=round(moves / max(receives, moves) * 100, 4),
        unit="Percent",
        window_seconds=window_seconds,
        observed_at=T0,
        samples={"moves": moves, "receives": receives},
    )


def test_a_normal_share_of_moves_is_not_judged_a_failure() -> None:
    # One move in 1,000 receives is the normal 0.1 % itself.
    assert judge(moved(1, 1000), RULES) is None


def test_a_significant_share_below_the_critical_rate_warns_and_must_hold() -> None:
    breach = judge(moved(6, 1000), RULES)

    assert breach is not None
    assert (breach.severity, breach.for_seconds) == (Severity.WARNING, 300)
    assert breach.evidence.summary == (
        "6 moves in 1,000 receives over 5 min (0.60%), 1 expected at the normal 0.10%"
    )


def test_a_share_above_the_critical_rate_fires_at_once() -> None:
    breach = judge(moved(12, 1000), RULES)

    assert breach is not None
    # 12 is not improbable at the critical 1 % (10 expected): a warning, but at once.
    assert (breach.severity, breach.for_seconds) == (Severity.WARNING, 0)


def test_a_share_improbable_even_at_the_critical_rate_pages() -> None:
    breach = judge(moved(40, 1000), RULES)

    assert breach is not None
    assert (breach.severity, breach.for_seconds) == (Severity.CRITICAL, 0)
    assert breach.evidence.summary == (
        "40 moves in 1,000 receives over 5 min (4.00%), above the critical 1.00%"
    )


def test_a_move_without_receives_counts_as_one_in_one() -> None:
    # CloudWatch publishes the receives a minute or two late: the volume is at least the moves.
    breach = judge(moved(1, 0), RULES)

    assert breach is not None
    assert (breach.severity, breach.for_seconds) == (Severity.WARNING, 0)


def test_the_rule_can_be_switched_off_and_has_a_title() -> None:
    rules = RulesConfig.from_json('{"sqs_failures": {"enabled": false}}')

    assert judge(moved(12, 1000), rules) is None
    assert "sqs.failure_rate" not in rules.enabled_kinds
    assert kind_title("sqs.failure_rate") == "SQS messages moved to a dead-letter queue"


def reading(visible: int, at: datetime, sources: tuple[str, ...] = ("orders",)) -> Redrive:
    return Redrive(url=URL.format("orders-dlq"), sources=list(sources), visible=visible, at=at)


def test_growth_between_readings_is_the_moves_over_their_span() -> None:
    move = moves_between(reading(2, T0), reading(5, T0 + timedelta(minutes=5)))

    assert move is not None
    assert (move.queue, move.sources, move.moved) == ("orders-dlq", ["orders"], 3)
    assert (move.span.start, move.span.end) == (T0, T0 + timedelta(minutes=5))


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(None, reading(5, T0), id="the first cycle: nothing to compare with"),
        pytest.param(reading(5, T0), reading(5, T0 + timedelta(minutes=5)), id="no growth"),
        pytest.param(reading(9, T0), reading(2, T0 + timedelta(minutes=5)), id="purged"),
        pytest.param(reading(2, T0), reading(5, T0 + timedelta(minutes=65)), id="an hour's gap"),
        pytest.param(reading(2, T0), reading(5, T0), id="the same window again"),
    ],
)
def test_readings_with_nothing_to_judge(before: Redrive | None, after: Redrive) -> None:
    assert moves_between(before, after) is None


@dataclass
class FakeQueues:
    """Dead-letter queues with their depths and source queues, as discovery finds them."""

    visible: dict[str, int]
    redrive: dict[str, list[str]]

    def discover(self, lambda_targets: Iterable[str]) -> list[str]:
        return sorted(self.visible)

    def depths(self, urls: Iterable[str]) -> list[QueueDepth]:
        return [QueueDepth(url, self.visible[url], 345_600) for url in urls]

    def sources(self) -> dict[str, list[str]]:
        return {url: names for url, names in self.redrive.items() if url in self.visible}


@dataclass
class FakeState:
    queues: list[str] | None = None
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    def _count(self, api: str) -> None:
        self.calls[api] = self.calls.get(api, 0) + 1

    def dead_letter_queues(self) -> list[str] | None:
        self._count("GetItem")
        return self.queues

    def remember_dead_letter_queues(self, urls: list[str], *, at: datetime) -> None:
        self._count("PutItem")
        self.queues = urls

    def inventory(self, family: str) -> list[dict[str, Any]] | None:
        self._count("GetItem")
        return self.records.get(family)

    def remember_inventory(
        self, family: str, records: list[dict[str, Any]], *, at: datetime
    ) -> None:
        self._count("PutItem")
        self.records[family] = records


class FakeMetrics(StoredMetrics):
    """Stored datapoints, with a source queue's receives put a window at a time."""

    def receives(self, queue: str, start: datetime, per_minute: float) -> None:
        for minute in range(5):
            self.points.setdefault(received(queue), {})[start + timedelta(minutes=minute)] = (
                per_minute
            )


def _no_functions() -> list[FunctionInfo]:
    return []


def cycle(
    queues: FakeQueues,
    state: FakeState,
    metrics: FakeMetrics,
    now: datetime,
    rules: RulesConfig = RULES,
) -> Cycle:
    return collect(
        families=[DeadLetterFamily(queues=queues, state=state, functions=_no_functions)],
        metrics=metrics,
        rules=rules,
        now=now,
        account="123456789012",
        region="us-east-1",
    )


def failure_signals(result: Cycle) -> dict[str, Signal]:
    return {
        signal.labels.resource: signal
        for signal in result.batch.signals
        if signal.labels.kind == "sqs.failure_rate"
    }


def _shared_account() -> FakeQueues:
    """orders and orders-retry share orders-dlq; payments has its own; worker-dlq is a Lambda
    dead-letter queue (no source queue)."""
    return FakeQueues(
        visible={URL.format(name): 0 for name in ("orders-dlq", "payments-dlq", "worker-dlq")},
        redrive={
            URL.format("orders-dlq"): ["orders", "orders-retry"],
            URL.format("payments-dlq"): ["payments"],
        },
    )


def test_the_first_cycle_stores_the_depths_and_judges_nothing() -> None:
    queues, state, metrics = _shared_account(), FakeState(), FakeMetrics()
    queues.visible[URL.format("orders-dlq")] = 4

    result = cycle(queues, state, metrics, FIRST)

    assert failure_signals(result) == {}
    assert received("orders") not in metrics.asked
    assert state.records[REDRIVE] == [
        {
            "url": URL.format("orders-dlq"),
            "sources": ["orders", "orders-retry"],
            "visible": 4,
            "at": "2026-11-02T10:05:00Z",
        },
        {
            "url": URL.format("payments-dlq"),
            "sources": ["payments"],
            "visible": 0,
            "at": "2026-11-02T10:05:00Z",
        },
    ]


def test_a_shared_dead_letter_queue_is_judged_against_its_sources_summed_receives() -> None:
    queues, state, metrics = _shared_account(), FakeState(), FakeMetrics()
    cycle(queues, state, metrics, FIRST)
    queues.visible[URL.format("orders-dlq")] = 12
    span_start = FIRST.replace(minute=5)
    metrics.receives("orders", span_start, 150.0)
    metrics.receives("orders-retry", span_start, 50.0)
    metrics.asked.clear()

    result = cycle(queues, state, metrics, SECOND)

    [signal] = failure_signals(result).values()
    assert signal.labels.resource == "orders-dlq"
    assert signal.samples == {"moves": 12.0, "receives": 1000.0}
    assert signal.context == {"sources": "orders, orders-retry"}
    assert signal.window_seconds == 300
    # Only the grown queue's sources are read, in the drill round.
    assert [key for key in metrics.asked if key.metric == "NumberOfMessagesReceived"] == [
        received("orders"),
        received("orders-retry"),
    ]
    assert result.metrics_by_stage.get("drill") == 2
    breach = judge(signal, RULES)
    assert breach is not None
    assert (breach.severity, breach.for_seconds) == (Severity.WARNING, 0)


def test_a_healthy_cycle_reads_no_received_messages() -> None:
    queues, state, metrics = _shared_account(), FakeState(), FakeMetrics()
    cycle(queues, state, metrics, FIRST)
    metrics.asked.clear()
    state.calls.clear()

    result = cycle(queues, state, metrics, SECOND)

    assert failure_signals(result) == {}
    assert metrics.asked == []
    # The stored queues and the last depths read, this cycle's depths written.
    assert state.calls == {"GetItem": 2, "PutItem": 1}


def test_a_purge_counts_no_moves_and_the_next_growth_starts_from_the_smaller_depth() -> None:
    queues, state, metrics = _shared_account(), FakeState(), FakeMetrics()
    queues.visible[URL.format("payments-dlq")] = 40
    cycle(queues, state, metrics, FIRST)
    queues.visible[URL.format("payments-dlq")] = 0  # purged
    purged = cycle(queues, state, metrics, SECOND)
    queues.visible[URL.format("payments-dlq")] = 3

    grown = cycle(queues, state, metrics, THIRD)

    assert failure_signals(purged) == {}
    assert failure_signals(grown)["payments-dlq"].samples["moves"] == 3.0


def test_a_retried_cycle_keeps_the_first_attempts_reading() -> None:
    queues, state, metrics = _shared_account(), FakeState(), FakeMetrics()
    cycle(queues, state, metrics, FIRST)
    queues.visible[URL.format("orders-dlq")] = 2
    cycle(queues, state, metrics, SECOND)
    queues.visible[URL.format("orders-dlq")] = 5
    retried = cycle(queues, state, metrics, SECOND + timedelta(seconds=40))
    queues.visible[URL.format("orders-dlq")] = 6

    after = cycle(queues, state, metrics, THIRD)

    assert failure_signals(retried) == {}
    # From the first attempt's 2: the retry's 3 moves are not lost.
    assert failure_signals(after)["orders-dlq"].samples["moves"] == 4.0


def test_with_sqs_dlq_off_the_depths_are_still_read_for_the_rate() -> None:
    rules = RulesConfig.from_json('{"sqs_dlq": {"enabled": false}}')
    queues, state, metrics = _shared_account(), FakeState(), FakeMetrics()
    cycle(queues, state, metrics, FIRST, rules)
    queues.visible[URL.format("payments-dlq")] = 2

    result = cycle(queues, state, metrics, SECOND, rules)

    assert [signal.labels.kind for signal in result.batch.signals] == ["sqs.failure_rate"]
    assert "ApproximateAgeOfOldestMessage" not in {key.metric for key in metrics.asked}


def test_with_sqs_failures_off_no_depth_is_stored() -> None:
    rules = RulesConfig.from_json('{"sqs_failures": {"enabled": false}}')
    queues, state, metrics = _shared_account(), FakeState(), FakeMetrics()
    cycle(queues, state, metrics, FIRST, rules)
    queues.visible[URL.format("payments-dlq")] = 2

    result = cycle(queues, state, metrics, SECOND, rules)

    assert REDRIVE not in state.records
    assert [signal.labels.kind for signal in result.batch.signals] == ["sqs.dlq_messages"]


def test_ten_times_the_load_reads_only_the_grown_queues_sources() -> None:
    # 200 source queues, four to each of 50 dead-letter queues; 5 of those grow.
    queues = FakeQueues(
        visible={URL.format(f"dlq-{d}"): 0 for d in range(50)},
        redrive={URL.format(f"dlq-{d}"): [f"src-{d}-{s}" for s in range(4)] for d in range(50)},
    )
    state, metrics = FakeState(), FakeMetrics()
    cycle(queues, state, metrics, FIRST)
    metrics.asked.clear()
    state.calls.clear()
    healthy = cycle(queues, state, metrics, SECOND)
    healthy_calls = dict(state.calls)
    for d in range(5):
        queues.visible[URL.format(f"dlq-{d}")] = 1
    state.calls.clear()

    failing = cycle(queues, state, metrics, THIRD)

    assert (healthy.metrics_by_stage.get("drill", 0), healthy_calls) == (
        0,
        {"GetItem": 2, "PutItem": 1},
    )
    # 5 grown queues x 4 sources, plus the 5 non-empty queues' oldest age on the fast path.
    assert failing.metrics_by_stage == {"fast": 5, "drill": 20, "sweep": 0}
    assert state.calls == {"GetItem": 2, "PutItem": 1}
    assert len(failure_signals(failing)) == 5
