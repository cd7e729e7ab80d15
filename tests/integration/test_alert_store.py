from datetime import timedelta

import boto3
import pytest

from tests.factories import T0, error_signal, minutes
from vigil.adapters.alert_store import AlertStore
from vigil.adapters.delivery_log import DeliveryLog
from vigil.adapters.incident_store import IncidentStore
from vigil.alerting.lifecycle import step
from vigil.channels.delivery import CLAIM_LEASE, ClaimState
from vigil.core.errors import ConflictError
from vigil.core.model import AlertState
from vigil.rules.document import RulesConfig
from vigil.rules.kinds import judge

RULES = RulesConfig()


def _firing(store: AlertStore):  # type: ignore[no-untyped-def]
    breach = judge(error_signal("nightly-report", invocations=1, errors=1), RULES)
    transition = step(None, breach, now=T0, batch_id="b1", rules=RULES)
    store.save(transition.before, transition.after)
    return transition.after


def test_an_alert_round_trips_and_is_listed_as_active(table: str) -> None:
    store = AlertStore(boto3.client("dynamodb"), table, retention=timedelta(days=30))
    alert = _firing(store)

    stored = store.get(alert.fingerprint)

    assert stored is not None
    assert stored.state is AlertState.FIRING
    assert stored.revision == 1
    assert store.active("lambda.errors") == [alert.fingerprint]
    assert store.active("lambda.throttles") == []


def test_a_write_based_on_a_stale_read_is_refused(table: str) -> None:
    store = AlertStore(boto3.client("dynamodb"), table, retention=timedelta(days=30))
    alert = _firing(store)
    stale = store.get(alert.fingerprint)
    resolved = step(stale, None, now=T0 + minutes(5), batch_id="b2", rules=RULES)
    store.save(resolved.before, resolved.after)

    with pytest.raises(ConflictError):
        store.save(resolved.before, resolved.after)
    with pytest.raises(ConflictError):
        store.save(None, alert)  # a second "new" alert with the same fingerprint


def test_a_resolved_alert_leaves_the_active_index_and_expires(table: str) -> None:
    client = boto3.client("dynamodb")
    store = AlertStore(client, table, retention=timedelta(days=30))
    alert = _firing(store)
    resolved = step(
        store.get(alert.fingerprint), None, now=T0 + minutes(5), batch_id="b2", rules=RULES
    )
    store.save(resolved.before, resolved.after)

    item = client.get_item(
        TableName=table, Key={"pk": {"S": f"ALERT#{alert.fingerprint}"}, "sk": {"S": "STATE"}}
    )["Item"]

    assert store.active("lambda.errors") == []
    assert "gsi1pk" not in item
    assert int(item["ttl"]["N"]) == int((T0 + minutes(5) + timedelta(days=30)).timestamp())


def test_a_cleared_pending_alert_is_deleted(table: str) -> None:
    store = AlertStore(boto3.client("dynamodb"), table, retention=timedelta(days=30))
    breach = judge(error_signal("orders-api", invocations=100_000, errors=500), RULES)
    pending = step(None, breach, now=T0, batch_id="b1", rules=RULES)
    store.save(pending.before, pending.after)
    cleared = step(
        store.get(pending.after.fingerprint), None, now=T0 + minutes(5), batch_id="b2", rules=RULES
    )

    store.save(cleared.before, cleared.after)

    assert store.get(pending.after.fingerprint) is None


def test_deliveries_and_incidents_are_recorded_once(table: str) -> None:
    client = boto3.client("dynamodb")
    deliveries = DeliveryLog(client, table, retention=timedelta(days=30))
    incidents = IncidentStore(client, table)

    deliveries.record("n1", "slack", at=T0)

    assert deliveries.claim("n1", "slack", at=T0, lease=CLAIM_LEASE).state is ClaimState.DELIVERED
    assert deliveries.claim("n1", "teams", at=T0, lease=CLAIM_LEASE).state is ClaimState.CLAIMED
    assert incidents.open("i1", '{"a": 1}', opened_at=T0)
    assert not incidents.open("i1", '{"a": 2}', opened_at=T0)
    assert incidents.get("i1") == '{"a": 1}'


def test_a_storm_is_read_and_written_a_hundred_alerts_a_call_and_a_lost_race_is_named(
    table: str,
) -> None:
    client = boto3.client("dynamodb")
    store = AlertStore(client, table, retention=timedelta(days=30))
    fired = [
        step(
            None,
            judge(error_signal(f"fn-{i:03d}", invocations=1, errors=1), RULES),
            now=T0,
            batch_id="b1",
            rules=RULES,
        ).after
        for i in range(250)
    ]
    calls: list[str] = []
    client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))

    assert store.save_many([(None, alert) for alert in fired]) == []
    stored = store.get_many([a.fingerprint for a in fired if a] + ["not-stored"])

    assert calls == ["TransactWriteItems"] * 3 + ["BatchGetItem"] * 3
    assert len(stored) == 250
    # Another evaluation moves one alert meanwhile: that one is named, the others written.
    first = stored[fired[0].fingerprint]  # type: ignore[union-attr]
    store.save(first, first.model_copy(update={"notify_count": 5}))
    later = [(a, a.model_copy(update={"last_seen": T0 + minutes(5)})) for a in stored.values()]
    lost = store.save_many(later[:120])
    assert lost == [first.fingerprint]
    revisions = store.get_many(list(stored))
    assert [revisions[fp].revision for fp in list(stored)[:120]] == [2] * 120
