"""PagerDuty: the Events API v2 event of a notification, and PagerDuty's signed webhooks.

Events API v2 (developer.pagerduty.com, "Events API v2 Overview" and "Send an Alert Event"):
one JSON POST to ``https://events.pagerduty.com/v2/enqueue`` with the integration's
``routing_key``, an ``event_action`` (``trigger``, ``acknowledge``, ``resolve``) and a
``dedup_key`` (at most 255 characters) that ties the three to one PagerDuty alert; a trigger
carries a ``payload`` (``summary`` at most 1,024 characters, ``source``, ``severity`` one of
``critical``, ``error``, ``warning``, ``info``; optional ``timestamp``, ``component``,
``group``, ``class``, ``custom_details``) and optional ``links`` (``href``, ``text``) and
``client``. PagerDuty answers 202 when it has the event, 400 when the event is invalid, 429
when rate limited.

Vigil's ``dedup_key`` is the notification group's id (stable while the group is open): a
group's notifications trigger, its resolution resolves, and its acknowledgement in Vigil
(a Slack button, ``vigil alerts ack``) acknowledges. The routing key lives in the chat
secret, so this module renders everything but it (the adapter adds it).

Webhooks v3 (developer.pagerduty.com, "Verifying Signatures"): PagerDuty signs the raw body
with each of the subscription's secrets, HMAC-SHA256, and sends
``X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...]`` (several while a secret rotates). Only
``incident.acknowledged`` acknowledges a Vigil group; PagerDuty resolving an incident does
not resolve a Vigil alert, whose condition Vigil measures itself (ADR 44).
"""

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vigil.alerting.acknowledge import ACKNOWLEDGEMENT
from vigil.core.model import AlertView, ChatPayload, NotifyReason, Severity

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"

MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255

_SEVERITY = {Severity.CRITICAL: "critical", Severity.WARNING: "warning", Severity.INFO: "info"}
"""Vigil's three severities onto PagerDuty's four (Vigil never sends ``error``)."""


def pagerduty_event(payload: ChatPayload) -> dict[str, Any]:
    """The Events API v2 event of ``payload``, without its ``routing_key``: an
    acknowledgement (category ``acknowledgement``) acknowledges, a resolution resolves,
    anything else triggers (again: PagerDuty adds it to the open alert of its dedup key)."""
    dedup_key = _dedup_key(payload)
    if payload.category == ACKNOWLEDGEMENT:
        return {"event_action": "acknowledge", "dedup_key": dedup_key}
    if payload.reason is NotifyReason.RESOLVED:
        return {"event_action": "resolve", "dedup_key": dedup_key}
    first = payload.alerts[0] if payload.alerts else None
    body: dict[str, Any] = {
        "summary": _clip(payload.title, MAX_SUMMARY),
        "source": first.labels.resource if first else f"vigil/{payload.stack}",
        "severity": _SEVERITY[payload.severity],
        "component": first.labels.resource if first else payload.stack,
        "group": f"{first.labels.account}/{first.labels.region}" if first else payload.stack,
        "class": first.labels.kind if first else payload.category,
        "custom_details": {
            "stack": payload.stack,
            "receiver": payload.receiver,
            "group_id": payload.group_id,
            "reason": payload.reason.value,
            "text": payload.text,
            "alerts": [_alert(alert) for alert in payload.alerts],
        },
    }
    if first is not None and first.at is not None:
        body["timestamp"] = first.at.isoformat()
    links = [*payload.links, *(link for alert in payload.alerts for link in alert.links)]
    unique = list(dict.fromkeys((link.url, link.label) for link in links))
    return {
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": body,
        "client": f"Vigil ({payload.stack})",
        "links": [{"href": url, "text": label} for url, label in unique],
    }


def _dedup_key(payload: ChatPayload) -> str:
    """The group id (a payload of no group: its notification id, an alert of its own)."""
    key = payload.group_id or payload.notification_id
    if len(key) <= MAX_DEDUP_KEY:
        return key
    return "vigil-" + hashlib.sha256(key.encode()).hexdigest()


def _alert(alert: AlertView) -> dict[str, Any]:
    # the evidence carries an alert's top error groups (at most five): most frequent first
    errors = sorted(alert.evidence.errors, key=lambda group: -group.count)
    return {
        "fingerprint": alert.fingerprint,
        "kind": alert.labels.kind,
        "resource": alert.labels.resource,
        "account": alert.labels.account,
        "region": alert.labels.region,
        "state": alert.state.value,
        "severity": alert.severity.value,
        "summary": alert.evidence.summary,
        "value": alert.evidence.value,
        "threshold": alert.evidence.threshold,
        "unit": alert.evidence.unit,
        "timing": alert.timing,
        "top_errors": [
            {
                "fingerprint": group.fingerprint,
                "error_type": group.error_type,
                "message": group.message,
                "count": group.count,
            }
            for group in errors
        ],
    }


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


SIGNATURE_HEADER = "X-PagerDuty-Signature"


def signature_valid(body: bytes, header: str | None, secret: str) -> bool:
    """Whether one of the header's ``v1=`` signatures is the HMAC-SHA256 of ``body`` with
    ``secret`` (compared in constant time). No header, no secret: not valid."""
    if not header or not secret:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    offered = [part.strip() for part in header.split(",")]
    return any(
        hmac.compare_digest(f"v1={expected}", signature)
        for signature in offered
        if signature.startswith("v1=")
    )


@dataclass(frozen=True)
class IncidentEvent:
    """What Vigil reads of a v3 webhook event about an incident."""

    event_type: str
    dedup_key: str
    by: str
    incident: str


class NotAnIncidentEvent(ValueError):
    """The body is not a v3 webhook event about an incident with a dedup key."""


def incident_event(body: bytes) -> IncidentEvent:
    """Read a v3 webhook body: ``{"event": {"event_type", "agent", "data": {incident}}}``;
    the incident's ``incident_key`` is the ``dedup_key`` its first event carried."""
    try:
        document = json.loads(body)
        event = document["event"]
        data = event["data"]
        event_type = str(event["event_type"])
        key = data.get("incident_key")
    except (ValueError, KeyError, TypeError) as exc:
        raise NotAnIncidentEvent(f"not a PagerDuty v3 webhook event: {exc}") from exc
    if not isinstance(key, str) or not key:
        raise NotAnIncidentEvent("the incident has no incident_key (dedup_key)")
    agent = event.get("agent") if isinstance(event.get("agent"), Mapping) else {}
    who = str(agent.get("summary") or agent.get("id") or "PagerDuty")
    return IncidentEvent(event_type, key, f"{who} (PagerDuty)", str(data.get("id", "")))
