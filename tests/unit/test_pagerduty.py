"""The PagerDuty receiver and acknowledgements (issue 16, ADR 44).

Event shapes from PagerDuty's developer docs: "Send an Alert Event" (Events API v2: routing_key,
event_action trigger/acknowledge/resolve, dedup_key, payload summary/source/severity...,
202 Accepted, 400 invalid event, 429 rate limited) and "Verifying Signatures" (webhooks v3:
``X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the raw body>``, several comma-separated while
a secret rotates). The webhook body follows PagerDuty's v3 ``incident.acknowledged`` example
(event: id, event_type, resource_type, occurred_at, agent, data: the incident with its
``incident_key``).
"""

import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.factories import T0, batch, error_signal, minutes
from tests.fakes import MemoryAlertStore
from tests.schemas import problems
from tests.unit.test_chat_claims import FakeChat, FakeClock, MemoryLog, NoThreads
from tests.unit.test_chat_misconfigured import FakePorts
from vigil.alerting.acknowledge import ACKNOWLEDGEMENT, NothingAcknowledged, acknowledge_target
from vigil.alerting.grouping import Group
from vigil.channels.delivery import Destination, deliver, destinations
from vigil.channels.pagerduty import (
    MAX_SUMMARY,
    IncidentEvent,
    NotAnIncidentEvent,
    incident_event,
    pagerduty_event,
    signature_valid,
)
from vigil.core.errors import ConfigError
from vigil.core.model import ChatPayload, Notification
from vigil.evaluation.pipeline import evaluate
from vigil.rules.document import RulesConfig
from vigil.rules.routing import Receiver

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefghijkl"  # 32 characters, as PagerDuty's keys


def _rules(*, send_resolved: bool = True) -> RulesConfig:
    return RulesConfig.from_json(
        json.dumps(
            {
                "lambda_errors": {"for_minutes": 0},
                "routing": {
                    "receivers": [
                        {
                            "name": "oncall",
                            "slack": "webhook_url",
                            "pagerduty": "pagerduty_payments",
                            "send_resolved": send_resolved,
                        }
                    ],
                    "route": {
                        "receivers": ["oncall"],
                        "group_by": ["kind"],
                        "group_wait": "0s",
                        "group_interval": "5m",
                        "repeat_interval": "1h",
                    },
                },
            }
        )
    )


def _cycle(
    store: MemoryAlertStore, rules: RulesConfig, at: datetime, **bad: tuple[int, int]
) -> list[Notification]:
    """One evaluation; ``bad`` maps a function to (errors, invocations)."""
    signals = [
        error_signal(name, invocations=inv, errors=err, at=at) for name, (err, inv) in bad.items()
    ]
    return evaluate(
        batch(at, *signals), rules=rules, store=store, routing=store.routing, stack="vigil"
    ).notifications


def _payload(notification: Notification) -> ChatPayload:
    return ChatPayload.model_validate_json(json.loads(notification.message)["lambda"])


def _sent(payload: ChatPayload) -> dict[str, Any]:
    """The event as the adapter sends it (it adds the routing key)."""
    event = {"routing_key": ROUTING_KEY, **pagerduty_event(payload)}
    assert problems("pagerduty", event) == []
    return event


def _group(store: MemoryAlertStore) -> Group:
    (group,) = [g for g in store.groups.items.values() if g.is_open]
    return group


# ----------------------------------------------------------------- events API v2


def test_a_group_triggers_then_resolves_its_incident_under_one_dedup_key() -> None:
    store, rules = MemoryAlertStore(), _rules()
    (fired,) = _cycle(store, rules, T0, orders=(5, 10))
    trigger = _sent(_payload(fired))
    assert trigger["event_action"] == "trigger"
    assert trigger["dedup_key"] == _group(store).group_id
    body = trigger["payload"]
    assert body["severity"] == "critical"
    assert (body["source"], body["component"], body["class"]) == (
        "orders",
        "orders",
        "lambda.errors",
    )
    assert body["group"] == "123456789012/us-east-1"
    assert body["custom_details"]["alerts"][0]["resource"] == "orders"
    assert trigger["links"], "the console links of the message travel as links"
    assert json.loads(fired.channels) == ["slack", "pagerduty"]

    (resolved,) = _cycle(store, rules, T0 + minutes(10), orders=(0, 10))
    assert _sent(_payload(resolved)) == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": trigger["dedup_key"],
    }


def test_the_summary_is_cut_to_pagerdutys_1024_characters() -> None:
    store, rules = MemoryAlertStore(), _rules()
    (fired,) = _cycle(store, rules, T0, orders=(5, 10))
    long = _payload(fired).model_copy(update={"title": "x" * 5000})
    assert len(_sent(long)["payload"]["summary"]) == MAX_SUMMARY


def test_top_error_fingerprints_go_in_custom_details() -> None:
    store, rules = MemoryAlertStore(), _rules()
    (fired,) = _cycle(store, rules, T0, orders=(5, 10))
    payload = _payload(fired)
    view = payload.alerts[0]
    errors = [
        {
            "fingerprint": f"{i:016x}",
            "error_type": "KeyError",
            "message": f"m{i}",
            "count": i,
            "first_seen": T0.isoformat(),
            "last_seen": T0.isoformat(),
        }
        for i in (3, 7, 1, 5, 4)
    ]
    evidence = view.evidence.model_validate({**view.evidence.model_dump(), "errors": errors})
    payload = payload.model_copy(
        update={"alerts": [view.model_copy(update={"evidence": evidence})]}
    )
    listed = _sent(payload)["payload"]["custom_details"]["alerts"][0]["top_errors"]
    assert [e["count"] for e in listed] == [7, 5, 4, 3, 1]
    assert listed[0]["fingerprint"] == f"{7:016x}"


def test_a_receiver_with_pagerduty_must_send_resolutions() -> None:
    with pytest.raises(ConfigError, match="pagerduty needs send_resolved"):
        _rules(send_resolved=False)
    assert Receiver(name="p", pagerduty="pd").channels == ["pagerduty"]


# ----------------------------------------------------------------- acknowledge


def test_an_acknowledged_group_stops_repeating_and_pagerduty_is_told() -> None:
    store, rules = MemoryAlertStore(), _rules()
    _cycle(store, rules, T0, orders=(5, 10))
    fingerprint = _group(store).firing[0]
    (done,) = acknowledge_target(
        store.groups,
        fingerprint,
        by="alice",
        via="cli",
        now=T0 + minutes(3),
        routing=rules.routing,
        stack="vigil",
        comment="looking",
    )
    assert (done.outcome, done.by, done.firing) == ("acknowledged", "alice", 1)
    ack = _group(store).acknowledged
    assert ack is not None
    assert (ack.via, ack.comment, ack.severity.value) == (
        "cli",
        "looking",
        "critical",
    )
    (told,) = [e for e in store.outbox.pending() if e.notification.category == ACKNOWLEDGEMENT]
    assert json.loads(told.notification.channels) == ["pagerduty"]
    assert _sent(_payload(told.notification)) == {
        "routing_key": ROUTING_KEY,
        "event_action": "acknowledge",
        "dedup_key": _group(store).group_id,
    }
    # past repeat_interval (1h) the group stays quiet
    for step in (61, 130, 250):
        assert _cycle(store, rules, T0 + minutes(step), orders=(5, 10)) == []


def test_without_acknowledgement_the_group_repeats() -> None:
    store, rules = MemoryAlertStore(), _rules()
    _cycle(store, rules, T0, orders=(5, 10))
    (repeat,) = _cycle(store, rules, T0 + minutes(61), orders=(5, 10))
    assert "still firing" in repeat.subject


def test_a_second_acknowledgement_keeps_the_first_author() -> None:
    store, rules = MemoryAlertStore(), _rules()
    _cycle(store, rules, T0, orders=(5, 10))
    group_id = _group(store).group_id
    args: dict[str, Any] = {"routing": rules.routing, "stack": "vigil"}
    acknowledge_target(store.groups, group_id, by="alice", via="slack", now=T0, **args)
    (again,) = acknowledge_target(
        store.groups, group_id, by="bob", via="pagerduty", now=T0 + minutes(1), **args
    )
    assert (again.outcome, again.by) == ("already", "alice")


def test_pagerdutys_own_acknowledgement_is_not_sent_back() -> None:
    store, rules = MemoryAlertStore(), _rules()
    _cycle(store, rules, T0, orders=(5, 10))
    before = len(store.outbox.pending())
    acknowledge_target(
        store.groups,
        _group(store).group_id,
        by="Earline Greenholt (PagerDuty)",
        via="pagerduty",
        now=T0,
        routing=rules.routing,
        stack="vigil",
    )
    assert len(store.outbox.pending()) == before


def test_a_new_firing_member_ends_the_acknowledgement_and_repeats_resume() -> None:
    store, rules = MemoryAlertStore(), _rules()
    _cycle(store, rules, T0, orders=(5, 10))
    acknowledge_target(
        store.groups,
        _group(store).group_id,
        by="alice",
        via="cli",
        now=T0,
        routing=rules.routing,
        stack="vigil",
    )
    (joined,) = _cycle(store, rules, T0 + minutes(10), orders=(5, 10), billing=(5, 10))
    assert _sent(_payload(joined))["event_action"] == "trigger"
    assert _group(store).acknowledged is None
    (repeat,) = _cycle(store, rules, T0 + minutes(71), orders=(5, 10), billing=(5, 10))
    assert "still firing" in repeat.subject


def test_a_severity_above_the_acknowledged_one_ends_it() -> None:
    store, rules = MemoryAlertStore(), _rules()
    _cycle(store, rules, T0, orders=(50, 10000))  # 0.5 %: warning
    assert _group(store).severity.value == "warning"
    acknowledge_target(
        store.groups,
        _group(store).group_id,
        by="alice",
        via="cli",
        now=T0,
        routing=rules.routing,
        stack="vigil",
    )
    assert _cycle(store, rules, T0 + minutes(61), orders=(50, 10000)) == []
    (escalated,) = _cycle(store, rules, T0 + minutes(70), orders=(5, 10))
    assert _sent(_payload(escalated))["payload"]["severity"] == "critical"
    assert _group(store).acknowledged is None


def test_acknowledging_what_does_not_fire_is_refused() -> None:
    store, rules = MemoryAlertStore(), _rules()
    with pytest.raises(NothingAcknowledged, match="no open group"):
        acknowledge_target(
            store.groups, "nope", by="a", via="cli", now=T0, routing=rules.routing, stack="v"
        )


# ----------------------------------------------------------------- delivery


def test_an_acknowledgement_reaches_pagerduty_only_and_a_notice_never_does() -> None:
    rules = _rules()
    base = ChatPayload(
        notification_id="n1",
        category="alert",
        reason="firing",
        severity="critical",
        title="t",
        text="",
        stack="vigil",
        alerts=[],
        receiver="oncall",
        group_id="g1",
    )
    pager = Destination("pagerduty", "pagerduty_payments")
    slack = Destination("slack", "webhook_url")
    assert destinations(rules.routing, base) == [slack, pager]
    ack = base.model_copy(update={"category": ACKNOWLEDGEMENT})
    assert destinations(rules.routing, ack) == [pager]
    notice = base.model_copy(update={"category": "self-watch", "group_id": None})
    assert destinations(rules.routing, notice) == [slack]


# ----------------------------------------------------------------- webhooks v3


SECRET = "whsec-test"
WEBHOOK_BODY = json.dumps(
    {
        "event": {
            "id": "5ac64822-4adc-4fda-ade0-410becf0de4f",
            "event_type": "incident.acknowledged",
            "resource_type": "incident",
            "occurred_at": "2026-11-02T09:05:00.000Z",
            "agent": {
                "html_url": "https://acme.pagerduty.com/users/PXPGF42",
                "id": "PXPGF42",
                "self": "https://api.pagerduty.com/users/PXPGF42",
                "summary": "Earline Greenholt",
                "type": "user_reference",
            },
            "client": None,
            "data": {
                "id": "PT4KHLK",
                "type": "incident",
                "self": "https://api.pagerduty.com/incidents/PT4KHLK",
                "html_url": "https://acme.pagerduty.com/incidents/PT4KHLK",
                "number": 1234,
                "status": "acknowledged",
                "incident_key": "oncall|abc",
                "created_at": "2026-11-02T09:00:00.000Z",
                "title": "The server is on fire.",
            },
        }
    }
).encode()


def _sign(body: bytes, secret: str) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_a_signature_of_the_raw_body_with_the_secret_is_valid() -> None:
    assert signature_valid(WEBHOOK_BODY, _sign(WEBHOOK_BODY, SECRET), SECRET)
    rotating = f"{_sign(WEBHOOK_BODY, 'old-secret')},{_sign(WEBHOOK_BODY, SECRET)}"
    assert signature_valid(WEBHOOK_BODY, rotating, SECRET)


@pytest.mark.parametrize(
    "header",
    [None, "", "v1=00", _sign(WEBHOOK_BODY, "other"), _sign(WEBHOOK_BODY + b" ", SECRET)],
)
def test_a_missing_or_wrong_signature_is_refused(header: str | None) -> None:
    assert not signature_valid(WEBHOOK_BODY, header, SECRET)


def test_no_secret_configured_refuses_everything() -> None:
    assert not signature_valid(WEBHOOK_BODY, _sign(WEBHOOK_BODY, ""), "")


def test_the_incident_key_names_the_group() -> None:
    assert incident_event(WEBHOOK_BODY) == IncidentEvent(
        "incident.acknowledged", "oncall|abc", "Earline Greenholt (PagerDuty)", "PT4KHLK"
    )


@pytest.mark.parametrize(
    "body", [b"not json", b"{}", b'{"event": {"event_type": "x", "data": {}}}']
)
def test_a_body_that_is_not_an_incident_event_is_refused(body: bytes) -> None:
    with pytest.raises(NotAnIncidentEvent):
        incident_event(body)


def test_timestamp_is_iso_8601() -> None:
    store, rules = MemoryAlertStore(), _rules()
    (fired,) = _cycle(store, rules, T0, orders=(5, 10))
    stamp = _sent(_payload(fired))["payload"]["timestamp"]
    assert datetime.fromisoformat(stamp) - T0 < timedelta(minutes=1)


def test_a_missing_routing_key_is_a_misconfiguration_slack_hears_of_and_pagerduty_never() -> None:
    rules = RulesConfig.from_json(
        json.dumps(
            {
                "routing": {
                    "receivers": [
                        {"name": "ops", "slack": "webhook_url", "pagerduty": "pd_missing"}
                    ],
                    "route": {"receivers": ["ops"]},
                }
            }
        )
    )
    slack = FakeChat()
    ports = FakePorts({"webhook_url": "https://hooks.slack.com/x"}, {"webhook_url": slack})
    payload = _payload_of_group()
    report = deliver(
        payload,
        routing=rules.routing,
        ports=ports,
        threads=NoThreads(),
        log=MemoryLog(),
        clock=FakeClock(T0),
        stack="vigil",
    )
    assert report.outcomes == ["posted", "misconfigured", "posted"]
    notice = str(slack.posts[-1]["text"])
    assert "vigil.config_invalid" in notice
    assert "PagerDuty integration" in json.dumps(slack.posts[-1])


def _payload_of_group() -> ChatPayload:
    return ChatPayload(
        notification_id="n1",
        category="alert",
        reason="firing",
        severity="critical",
        title="[CRITICAL] Lambda errors firing: orders-api",
        text="",
        stack="vigil",
        alerts=[],
        receiver="ops",
        group_id="ops|g1",
    )
