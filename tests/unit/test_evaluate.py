import json

import pytest

from tests.factories import T0, batch, error_signal, minutes
from tests.fakes import MemoryAlertStore
from vigil.alerting.messages import MAX_MESSAGES
from vigil.core.errors import ConflictError
from vigil.core.model import ChatPayload
from vigil.evaluation.pipeline import evaluate
from vigil.rules.document import RulesConfig

RULES = RulesConfig()


def test_a_burst_notifies_once_then_resolves_once() -> None:
    store = MemoryAlertStore()
    subjects = []
    for cycle in range(8):
        at = T0 + minutes(5 * cycle)
        errors = 2_000 if cycle < 5 else 0
        signals = (
            [error_signal("orders-api", invocations=100_000, errors=errors, at=at)]
            if errors
            else []
        )
        result = evaluate(
            batch(at, *signals), rules=RULES, store=store, routing=store.routing, stack="vigil"
        )
        subjects += [n.subject for n in result.notifications]

    assert subjects == [
        "[CRITICAL] Lambda errors firing: orders-api",
        "[RESOLVED] Lambda errors resolved: orders-api",
    ]


def test_a_retried_evaluation_hands_back_the_same_notification_and_writes_nothing() -> None:
    store = MemoryAlertStore()
    same = batch(T0, error_signal("nightly-report", invocations=1, errors=1))

    first = evaluate(same, rules=RULES, store=store, routing=store.routing, stack="vigil")
    writes = store.writes
    second = evaluate(same, rules=RULES, store=store, routing=store.routing, stack="vigil")

    # The first attempt's result may have been lost: the retry re-emits the notification
    # under the same id, which the chat delivery log recognises as already delivered.
    assert [n.notification_id for n in second.notifications] == [
        n.notification_id for n in first.notifications
    ]
    assert store.writes == writes
    assert second.summary.transitions == {}


def test_a_retried_evaluation_of_a_quiet_batch_stays_quiet() -> None:
    store = MemoryAlertStore()
    signal = error_signal("nightly-report", invocations=1, errors=1)
    evaluate(batch(T0, signal), rules=RULES, store=store, routing=store.routing, stack="vigil")
    later = batch(T0 + minutes(5), signal)

    evaluate(later, rules=RULES, store=store, routing=store.routing, stack="vigil")
    replay = evaluate(later, rules=RULES, store=store, routing=store.routing, stack="vigil")

    assert replay.notifications == []


def test_a_lost_race_is_re_read_and_decided_again() -> None:
    store = MemoryAlertStore()
    store.conflicts_to_inject = 2

    store = MemoryAlertStore()
    result = evaluate(
        batch(T0, error_signal("nightly-report", invocations=1, errors=1)),
        rules=RULES,
        store=store,
        routing=store.routing,
        stack="vigil",
    )

    assert len(result.notifications) == 1
    assert store.writes == 1


def test_a_persistent_conflict_fails_the_evaluation_rather_than_guess() -> None:
    store = MemoryAlertStore()
    store.conflicts_to_inject = 10

    with pytest.raises(ConflictError):
        evaluate(
            batch(T0, error_signal("nightly-report", invocations=1, errors=1)),
            rules=RULES,
            store=store,
            routing=store.routing,
            stack="vigil",
        )


def test_the_notification_carries_a_body_per_protocol_and_routing_attributes() -> None:
    store = MemoryAlertStore()
    result = evaluate(
        batch(T0, error_signal("nightly-report", invocations=1, errors=1)),
        rules=RULES,
        store=store,
        routing=store.routing,
        stack="vigil-prod",
    )
    (notification,) = result.notifications
    message = json.loads(notification.message)
    chat = ChatPayload.model_validate_json(message["lambda"])

    assert set(message) == {"default", "email", "lambda"}
    assert notification.severity.value == "warning"
    assert notification.status == "firing"
    assert chat.alerts[0].labels.resource == "nightly-report"
    assert chat.notification_id == notification.notification_id
    assert [link.label for link in chat.alerts[0].links] == ["Metric", "Logs Insights", "Function"]


def test_signals_of_healthy_functions_do_not_create_alerts() -> None:
    store = MemoryAlertStore()
    result = evaluate(
        batch(T0, error_signal("search-api", invocations=100_000, errors=50)),
        rules=RULES,
        store=store,
        routing=store.routing,
        stack="vigil",
    )

    assert result.notifications == []
    assert store.items == {}
    assert result.summary.signals == 1
    assert result.summary.breaches == 0


def test_a_storm_sends_the_most_severe_messages_and_folds_the_rest_into_one_digest() -> None:
    store = MemoryAlertStore()
    storm = batch(
        T0, *[error_signal(f"fn-{index:03d}", invocations=1, errors=1) for index in range(120)]
    )

    result = evaluate(storm, rules=RULES, store=store, routing=store.routing, stack="vigil")

    digest = result.notifications[-1]
    folded = json.loads(digest.message)["email"].count("\n- [WARNING] Lambda errors firing")
    assert len(result.notifications) == MAX_MESSAGES + 1
    assert len(store.items) == 120  # every alert is recorded
    assert len(store.outbox.pending()) == MAX_MESSAGES + 1  # each committed for delivery
    assert digest.subject.endswith("more alert notifications from one evaluation")
    assert len(result.notifications) - 1 + folded == 120
