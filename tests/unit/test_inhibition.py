"""Inhibition over every alert firing now, not only this evaluation's (issue 16, item 2;
ADR 43). Alertmanager inhibits by the alerts it holds, whatever sent them
(inhibit/inhibit.go, ``Inhibitor.Mutes`` reads its whole alert cache): a throttle alert fired
by an earlier evaluation inhibits an error alert firing now."""

import json
from collections.abc import Sequence
from datetime import timedelta

from tests.factories import ACCOUNT, REGION, T0, error_signal, throttle_signal
from tests.fakes import MemoryAlertStore
from vigil.core.errors import VigilError
from vigil.core.model import Alert, EvaluationResult, Signal, SignalBatch
from vigil.evaluation.pipeline import evaluate
from vigil.rules.document import RulesConfig

RULES = RulesConfig.from_json(
    json.dumps(
        {
            "lambda_errors": {"for_minutes": 0},
            "lambda_throttles": {"for_minutes": 0},
            "routing": {
                "inhibit_rules": [
                    {
                        "source_matchers": ['kind="lambda.throttles"'],
                        "target_matchers": ['kind="lambda.errors"'],
                        "equal": ["resource"],
                    }
                ]
            },
        }
    )
)


class RecordingStore(MemoryAlertStore):
    """Records the kinds each read of the firing alerts asked for; fails them when told."""

    def __init__(self, *, fail: bool = False) -> None:
        super().__init__()
        self.fail = fail
        self.reads: list[list[str]] = []

    def firing(self, kinds: Sequence[str], limit: int) -> list[Alert]:
        self.reads.append(list(kinds))
        if self.fail:
            raise VigilError("DynamoDB: ProvisionedThroughputExceededException")
        return super().firing(kinds, limit)


def _batch(at_minute: int, kind: str, *signals: Signal) -> SignalBatch:
    """One collector's batch covering one kind only, as the two kinds' batches may come apart."""
    at = T0 + timedelta(minutes=at_minute)
    return SignalBatch(
        batch_id=f"metrics-{ACCOUNT}-{REGION}-{kind}-{at:%H%M}",
        source="metrics",
        collected_at=at,
        covered_kinds=[kind],
        signals=list(signals),
    )


def _run(store: MemoryAlertStore, signal_batch: SignalBatch) -> EvaluationResult:
    return evaluate(signal_batch, rules=RULES, store=store, routing=store.routing, stack="vigil")


def _throttled_earlier(store: MemoryAlertStore) -> None:
    throttled = throttle_signal("orders-api", invocations=100, throttles=900)
    first = _run(store, _batch(0, "lambda.throttles", throttled))
    assert [n.subject for n in first.notifications] == [
        "[CRITICAL] Lambda throttles firing: orders-api"
    ]


def _errors_now() -> SignalBatch:
    at = T0 + timedelta(minutes=1)
    return _batch(
        1,
        "lambda.errors",
        error_signal("orders-api", invocations=1, errors=1, at=at),
        error_signal("search-api", invocations=1, errors=1, at=at),
    )


def test_an_alert_fired_by_an_earlier_evaluation_inhibits_one_firing_now() -> None:
    store = RecordingStore()
    _throttled_earlier(store)

    now = _run(store, _errors_now())

    # orders-api's errors share the resource with the firing throttle alert: inhibited.
    assert [n.subject for n in now.notifications] == ["[WARNING] Lambda errors firing: search-api"]
    assert now.summary.inhibited == 1
    # Only the kinds the rule's source side can match are read.
    assert store.reads == [["lambda.throttles"]]


def test_a_store_failure_inhibits_less_and_loses_no_notification() -> None:
    store = RecordingStore()
    _throttled_earlier(store)
    store.fail = True

    now = _run(store, _errors_now())

    assert sorted(n.subject for n in now.notifications) == [
        "[WARNING] Lambda errors firing: orders-api",
        "[WARNING] Lambda errors firing: search-api",
    ]
    assert now.summary.inhibited == 0
    assert store.reads == [["lambda.throttles"]]


def test_the_firing_alerts_are_read_only_when_a_rule_could_mute_a_notification() -> None:
    store = RecordingStore()

    first = _run(
        store, _batch(0, "lambda.throttles", throttle_signal("a", invocations=1, throttles=9))
    )

    assert len(first.notifications) == 1  # a throttle alert is no rule's target
    assert store.reads == []
