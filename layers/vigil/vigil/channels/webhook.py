"""The generic JSON webhook payload, ``vigil.webhook/v1`` (docs/rules.md, "JSON webhook").

A receiver with ``webhook`` gets one POST per notification with this document; its JSON
Schema is ``docs/schemas/webhook-v1.schema.json``. The ``schema`` field names the version: a
change that removes or retypes a field gets a new version, added fields do not.
``notification_id`` is stable across redeliveries, so a consumer can de-duplicate on it.
Texts are plain (no chat markup) and links travel apart, in ``links`` (ADR 33).
"""

from typing import Any

from vigil.core.clock import iso
from vigil.core.model import AlertView, ChatPayload, NotifyReason

WEBHOOK_SCHEMA = "vigil.webhook/v1"


def webhook_payload(payload: ChatPayload) -> dict[str, Any]:
    return {
        "schema": WEBHOOK_SCHEMA,
        "notification_id": payload.notification_id,
        "group_id": payload.group_id,
        "receiver": payload.receiver,
        "stack": payload.stack,
        "category": payload.category,
        "status": "resolved" if payload.reason is NotifyReason.RESOLVED else "firing",
        "reason": payload.reason.value,
        "severity": payload.severity.value,
        "title": payload.title,
        "text": payload.text,
        "links": [{"label": link.label, "url": link.url} for link in payload.links],
        "alerts": [_alert(alert) for alert in payload.alerts],
        **({"command": payload.command} if payload.command else {}),
    }


def _alert(alert: AlertView) -> dict[str, Any]:
    labels, ev = alert.labels, alert.evidence
    return {
        "fingerprint": alert.fingerprint,
        "labels": {
            "kind": labels.kind,
            "resource": labels.resource,
            "account": labels.account,
            "region": labels.region,
        },
        "state": alert.state.value,
        "severity": alert.severity.value,
        "value": ev.value,
        "threshold": ev.threshold,
        "unit": ev.unit,
        "window_seconds": ev.window_seconds,
        "observed_at": iso(ev.observed_at),
        "summary": ev.summary,
        "first_seen": iso(alert.first_seen),
        "fired_at": iso(alert.fired_at) if alert.fired_at else None,
        "resolved_at": iso(alert.resolved_at) if alert.resolved_at else None,
        "links": [{"label": link.label, "url": link.url} for link in alert.links],
        "notified_at": iso(alert.at) if alert.at else None,
        "errors": [
            {
                "fingerprint": group.fingerprint,
                "error_type": group.error_type,
                "message": group.message,
                "count": group.count,
                "first_seen": iso(group.first_seen),
                "last_seen": iso(group.last_seen),
                "new": group.new,
                "request_id": group.request_id,
                "trace_id": group.trace_id,
                "links": [
                    {"label": link.label, "url": link.url}
                    for link in alert.error_links.get(group.fingerprint, [])
                ],
            }
            for group in ev.errors
        ],
    }
