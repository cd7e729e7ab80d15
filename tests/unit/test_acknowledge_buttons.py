"""Acknowledging from Slack (the ``Acknowledge`` button) and from PagerDuty's signed webhook
(issue 16, ADR 44). The webhook body is PagerDuty's v3 ``incident.acknowledged`` example
(developer.pagerduty.com, "Webhooks v3 Overview", event payload: ``event.event_type``,
``event.agent``, ``event.data`` the incident with its ``incident_key``); the signature is as in
"Verifying Signatures" (``v1=`` HMAC-SHA256 of the raw body)."""

import base64
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes import LambdaFunctionUrlEvent

from tests.factories import T0, minutes
from tests.fakes import MemoryAlertStore, MemoryApprovalStore, RecordingCallback
from tests.unit.test_pagerduty import WEBHOOK_BODY, _cycle, _group, _rules
from tests.unit.test_slack_actions import SilenceBook, _press
from vigil.alerting.acknowledge import Acknowledged, Via, acknowledge_target
from vigil.channels.slack import slack_message
from vigil.core.model import ChatPayload
from vigil.rules.document import ApproversConfig, RulesConfig
from vigil.runbook.pagerduty_webhook import WebhookPorts, handle_webhook
from vigil.runbook.slack_actions import handle

SECRET = "pd-webhook-secret"


class _Acks:
    """The composition's ``Acknowledgements`` over the memory store."""

    def __init__(self, store: MemoryAlertStore, rules: RulesConfig, via: Via) -> None:
        self.store, self.rules, self.via = store, rules, via

    def acknowledge(self, group_id: str, *, by: str, now: datetime) -> list[Acknowledged]:
        return acknowledge_target(
            self.store.groups,
            group_id,
            by=by,
            via=self.via,
            now=now,
            routing=self.rules.routing,
            stack="vigil",
            alerts=False,
        )


def _firing() -> tuple[MemoryAlertStore, RulesConfig]:
    store, rules = MemoryAlertStore(), _rules()
    _cycle(store, rules, T0, orders=(5, 10))
    return store, rules


# ------------------------------------------------------------------ the Slack button


def test_a_firing_group_message_offers_acknowledge_with_its_group_id() -> None:
    store, rules = MemoryAlertStore(), _rules()
    (fired,) = _cycle(store, rules, T0, orders=(5, 10))
    chat = ChatPayload.model_validate_json(json.loads(fired.message)["lambda"])
    buttons = [
        element
        for block in slack_message(chat)["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    (ack,) = [b for b in buttons if b["action_id"] == "acknowledge_group"]
    assert ack["value"] == _group(store).group_id
    assert ack["text"]["text"] == "Acknowledge"


def test_the_button_acknowledges_the_group_as_the_person_who_pressed() -> None:
    store, rules = _firing()
    group_id = _group(store).group_id
    reply = handle(
        _press("acknowledge_group", group_id),
        now=T0 + minutes(4),
        approvals=MemoryApprovalStore(),
        callback=RecordingCallback(),
        silences=SilenceBook(),
        approvers=ApproversConfig(),
        acknowledgements=_Acks(store, rules, "slack"),
    )
    assert reply is not None
    assert "Acknowledged" in reply.text
    ack = _group(store).acknowledged
    assert ack is not None
    assert (ack.by, ack.via, ack.at) == ("ana (Slack U024BE7LH)", "slack", T0 + minutes(4))
    assert _cycle(store, rules, T0 + minutes(65), orders=(5, 10)) == []


def test_someone_the_approvers_do_not_list_is_refused_and_nothing_changes() -> None:
    store, rules = _firing()
    before = _group(store)
    reply = handle(
        _press("acknowledge_group", before.group_id),
        now=T0,
        approvals=MemoryApprovalStore(),
        callback=RecordingCallback(),
        silences=SilenceBook(),
        approvers=ApproversConfig(slack_users=["U0OTHER1"]),
        acknowledgements=_Acks(store, rules, "slack"),
    )
    assert reply is not None
    assert reply.refused
    assert reply.notice is not None
    assert "Refused: acknowledge" in reply.notice.subject
    assert _group(store) == before


def test_a_group_resolved_meanwhile_is_said_so() -> None:
    store, rules = _firing()
    group_id = _group(store).group_id
    _cycle(store, rules, T0 + minutes(10), orders=(0, 10))
    reply = handle(
        _press("acknowledge_group", group_id),
        now=T0 + minutes(11),
        approvals=MemoryApprovalStore(),
        callback=RecordingCallback(),
        silences=SilenceBook(),
        approvers=ApproversConfig(),
        acknowledgements=_Acks(store, rules, "slack"),
    )
    assert reply is not None
    assert reply.text.startswith(":warning:")


# ------------------------------------------------------------------ PagerDuty's webhook


def _webhook(body: bytes, signature: str | None) -> LambdaFunctionUrlEvent:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["x-pagerduty-signature"] = signature
    return LambdaFunctionUrlEvent(
        {
            "version": "2.0",
            "rawPath": "/pagerduty",
            "headers": headers,
            "requestContext": {"timeEpoch": int((T0 + minutes(5)).timestamp() * 1000)},
            "body": base64.b64encode(body).decode(),
            "isBase64Encoded": True,
        }
    )


def _sign(body: bytes, secret: str = SECRET) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _body_for(group_id: str, event_type: str = "incident.acknowledged") -> bytes:
    document: dict[str, Any] = json.loads(WEBHOOK_BODY)
    document["event"]["event_type"] = event_type
    document["event"]["data"]["incident_key"] = group_id
    return json.dumps(document).encode()


def _ports(store: MemoryAlertStore, rules: RulesConfig, secret: str = SECRET) -> WebhookPorts:
    return WebhookPorts(secret=lambda: secret, acknowledgements=_Acks(store, rules, "pagerduty"))


def test_a_signed_incident_acknowledged_acknowledges_the_group_of_its_dedup_key() -> None:
    store, rules = _firing()
    group_id = _group(store).group_id
    body = _body_for(group_id)
    pending = len(store.outbox.pending())
    answer = handle_webhook(_webhook(body, _sign(body)), ports=_ports(store, rules))
    assert (answer.status, answer.body) == (200, {"acknowledged": [group_id]})
    ack = _group(store).acknowledged
    assert ack is not None
    assert (ack.by, ack.via) == ("Earline Greenholt (PagerDuty)", "pagerduty")
    assert len(store.outbox.pending()) == pending, "PagerDuty is not told what it said"


def test_a_bad_or_missing_signature_is_401_and_changes_nothing() -> None:
    store, rules = _firing()
    before = _group(store)
    body = _body_for(before.group_id)
    for signature in (None, _sign(body, "guessed"), _sign(body + b"\n")):
        answer = handle_webhook(_webhook(body, signature), ports=_ports(store, rules))
        assert answer.status == 401
    unset = handle_webhook(_webhook(body, _sign(body, "")), ports=_ports(store, rules, secret=""))
    assert unset.status == 401
    assert _group(store) == before


def test_pagerdutys_resolve_does_not_resolve_or_acknowledge_vigils_group() -> None:
    store, rules = _firing()
    before = _group(store)
    body = _body_for(before.group_id, "incident.resolved")
    answer = handle_webhook(_webhook(body, _sign(body)), ports=_ports(store, rules))
    assert (answer.status, answer.body) == (200, {"ignored": "incident.resolved"})
    assert _group(store) == before


def test_an_incident_of_no_open_group_is_answered_200_and_ignored() -> None:
    store, rules = _firing()
    body = _body_for("someone-elses-key")
    answer = handle_webhook(_webhook(body, _sign(body)), ports=_ports(store, rules))
    assert answer.status == 200
    assert "ignored" in answer.body


def test_a_signed_body_that_is_no_incident_event_is_400() -> None:
    store, rules = _firing()
    body = b'{"event": {"event_type": "pagey.ping", "data": {}}}'
    assert handle_webhook(_webhook(body, _sign(body)), ports=_ports(store, rules)).status == 400
