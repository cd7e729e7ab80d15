"""The firing alerts inhibition reads (ADR 43), on moto: one Query of the sparse active index
per kind, firing ones only (a pending alert inhibits nothing, as in Alertmanager, which only
holds alerts once they fire), bounded, and a failure as ``AlertsUnavailable``."""

from datetime import timedelta

import boto3
import pytest

from tests.factories import T0, error_signal, throttle_signal
from vigil.adapters.alert_store import AlertStore, AlertsUnavailable
from vigil.alerting.lifecycle import step
from vigil.core.model import AlertState, Signal
from vigil.rules.document import RulesConfig
from vigil.rules.kinds import judge

RULES = RulesConfig()


def _store(table: str) -> AlertStore:
    return AlertStore(boto3.client("dynamodb"), table, retention=timedelta(days=30))


def _save(store: AlertStore, signal: Signal) -> None:
    transition = step(None, judge(signal, RULES), now=T0, batch_id="b1", rules=RULES)
    store.save(transition.before, transition.after)


def test_only_firing_alerts_of_the_asked_kinds_are_read_at_most_the_limit(table: str) -> None:
    store = _store(table)
    for name in ("a", "b", "c"):
        _save(store, error_signal(name, invocations=1, errors=1))  # fires at once
    _save(store, error_signal("busy", invocations=100_000, errors=500))  # pending
    _save(store, throttle_signal("t", invocations=100, throttles=900))

    errors = store.firing(["lambda.errors"], 10)

    assert sorted(a.labels.resource for a in errors) == ["a", "b", "c"]
    assert all(a.state is AlertState.FIRING for a in errors)
    assert len(store.firing(["lambda.errors", "lambda.throttles"], 10)) == 4
    assert len(store.firing(["lambda.errors", "lambda.throttles"], 2)) == 2


def test_a_store_failure_is_alerts_unavailable(table: str) -> None:
    store = AlertStore(boto3.client("dynamodb"), f"{table}-missing", retention=timedelta(days=30))

    with pytest.raises(AlertsUnavailable):
        store.firing(["lambda.errors"], 10)


def test_a_storm_of_ten_times_the_load_is_a_few_queries(table: str) -> None:
    """10x the 50-function storm of tests/e2e/test_routing_receivers.py: 500 firing alerts of
    one kind are read in a few 1 MB pages."""
    client = boto3.client("dynamodb")
    queries: list[str] = []
    client.meta.events.register("before-call.dynamodb.Query", lambda **_: queries.append("Query"))
    store = AlertStore(client, table, retention=timedelta(days=30))
    transitions = [
        step(
            None,
            judge(error_signal(f"storm-{n:03d}", invocations=1, errors=1), RULES),
            now=T0,
            batch_id="b1",
            rules=RULES,
        )
        for n in range(500)
    ]
    assert store.save_many([(t.before, t.after) for t in transitions]) == []

    storm = store.firing(["lambda.errors", "lambda.throttles"], 2000)

    assert len(storm) == 500
    assert len(queries) == 2  # one page of errors (a body is about 0.6 KB), one of throttles
