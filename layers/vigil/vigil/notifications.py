"""Turn alert transitions into notifications: one SNS message with a body per protocol.

Email subscribers get a plain-text body and an ASCII subject (SNS rejects other subjects);
the chat function gets the structured ``ChatPayload`` JSON. Severity, status and category
travel as message attributes so SNS filter policies can route on them.
"""

import hashlib
import json
from datetime import datetime

from vigil.clock import iso
from vigil.lifecycle import Transition
from vigil.links import cost_links, lambda_links
from vigil.model import (
    Alert,
    AlertState,
    AlertView,
    ChatPayload,
    Link,
    Notification,
    NotifyReason,
)
from vigil.rules import COST_KINDS, kind_title

_METRIC_BY_KIND = {"lambda.errors": "Errors", "lambda.throttles": "Throttles"}

_REASON_WORDS = {
    NotifyReason.FIRING: "firing",
    NotifyReason.ESCALATED: "escalated",
    NotifyReason.REPEAT: "still firing",
    NotifyReason.RESOLVED: "resolved",
}


def links_for(alert: Alert) -> list[Link]:
    if alert.labels.kind in COST_KINDS:
        return cost_links()
    metric = _METRIC_BY_KIND.get(alert.labels.kind)
    if metric is None:
        return []
    return lambda_links(alert.labels, metric=metric, window_end=alert.evidence.observed_at)


def view(alert: Alert) -> AlertView:
    return AlertView(
        fingerprint=alert.fingerprint,
        labels=alert.labels,
        state=alert.state,
        severity=alert.severity,
        evidence=alert.evidence,
        first_seen=alert.first_seen,
        fired_at=alert.fired_at,
        resolved_at=alert.resolved_at,
        links=links_for(alert),
    )


def title_for(alert: Alert, reason: NotifyReason) -> str:
    what = kind_title(alert.labels.kind)
    label = "RESOLVED" if reason is NotifyReason.RESOLVED else alert.severity.value.upper()
    return f"[{label}] {what} {_REASON_WORDS[reason]}: {alert.labels.resource}"


def notification_for(transition: Transition, *, stack: str, batch_id: str) -> Notification | None:
    """The notification a transition calls for, or ``None``."""
    alert, reason = transition.after, transition.notify
    if alert is None or reason is None:
        return None
    notification_id = hashlib.sha256(
        f"{alert.fingerprint}|{batch_id}|{reason.value}".encode()
    ).hexdigest()[:24]
    title = title_for(alert, reason)
    text = email_text(alert, reason, stack=stack)
    chat = ChatPayload(
        notification_id=notification_id,
        category="alert",
        reason=reason,
        severity=alert.severity,
        title=title,
        text=alert.evidence.summary,
        stack=stack,
        alerts=[view(alert)],
    )
    message = {
        "default": text,
        "email": text,
        "lambda": chat.model_dump_json(),
    }
    return Notification(
        notification_id=notification_id,
        subject=ascii_subject(title),
        message=json.dumps(message),
        severity=alert.severity,
        status="resolved" if reason is NotifyReason.RESOLVED else "firing",
        category="alert",
    )


def ascii_subject(title: str) -> str:
    """SNS subjects must be ASCII, without line breaks, under 100 characters."""
    cleaned = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in title)
    return cleaned if len(cleaned) <= 99 else cleaned[:96] + "..."


def email_text(alert: Alert, reason: NotifyReason, *, stack: str) -> str:
    labels, evidence = alert.labels, alert.evidence
    lines = [
        title_for(alert, reason),
        "",
        evidence.summary + ".",
        "",
        f"Resource:   {labels.resource}",
        f"Account:    {labels.account}",
        f"Region:     {labels.region}",
        f"Severity:   {alert.severity.value}",
        f"Value:      {evidence.describe_value()}",
        f"Window:     {evidence.window_text} ending {_hm(evidence.observed_at)}",
        f"First seen: {_hm(alert.first_seen)}",
    ]
    if alert.fired_at:
        lines.append(f"Firing at:  {_hm(alert.fired_at)}")
    if alert.state is AlertState.RESOLVED and alert.resolved_at:
        lines.append(f"Resolved:   {_hm(alert.resolved_at)}")
    links = links_for(alert)
    if links:
        lines += ["", *[f"{link.label}: {link.url}" for link in links]]
    lines += [
        "",
        "--",
        f"Vigil ({stack}) - alert {alert.fingerprint}, notification {alert.notify_count}",
    ]
    return "\n".join(lines) + "\n"


def _hm(moment: datetime) -> str:
    return iso(moment).replace("T", " ").replace("Z", " UTC")


# A Step Functions state carries at most 256 KiB; the evaluation's notifications must fit
# beside its summary.
NOTIFICATION_BUDGET_BYTES = 200_000
_DIGEST_LINES = 200


def fit_to_budget(
    notifications: list[Notification],
    *,
    stack: str,
    batch_id: str,
    budget: int = NOTIFICATION_BUDGET_BYTES,
) -> list[Notification]:
    """Keep the most severe notifications that fit; fold the rest into one digest.

    Nothing is lost: every alert is recorded in the table whatever happens here, and the
    digest names each notification it stands for.
    """
    ordered = sorted(notifications, key=lambda n: -n.severity.rank)
    kept: list[Notification] = []
    used = 0
    for index, notification in enumerate(ordered):
        size = len(notification.model_dump_json())
        if used + size > budget - 20_000:  # room for the digest itself
            return [*kept, _digest(ordered[index:], stack=stack, batch_id=batch_id)]
        kept.append(notification)
        used += size
    return notifications


def _digest(overflow: list[Notification], *, stack: str, batch_id: str) -> Notification:
    severity = max((n.severity for n in overflow), key=lambda sev: sev.rank)
    title = (
        f"[{severity.value.upper()}] {len(overflow)} more alert notifications from one evaluation"
    )
    listed = [f"- {n.subject}" for n in overflow[:_DIGEST_LINES]]
    if len(overflow) > _DIGEST_LINES:
        listed.append(f"- ...and {len(overflow) - _DIGEST_LINES} more")
    text = (
        "\n".join(
            [
                title,
                "",
                "Too many alerts changed state at once to send one by one:",
                "",
                *listed,
                "",
                "--",
                f"Vigil ({stack}) - evaluation {batch_id}",
            ]
        )
        + "\n"
    )
    notification_id = hashlib.sha256(f"digest|{batch_id}".encode()).hexdigest()[:24]
    chat = ChatPayload(
        notification_id=notification_id,
        category="alert",
        reason=NotifyReason.FIRING,
        severity=severity,
        title=title,
        text="\n".join(listed[:40]),
        stack=stack,
        alerts=[],
    )
    return Notification(
        notification_id=notification_id,
        subject=ascii_subject(title),
        message=json.dumps({"default": text, "email": text, "lambda": chat.model_dump_json()}),
        severity=severity,
        status="firing",
        category="alert",
    )
