"""Render a ``ChatPayload`` as a Microsoft Teams message: one Adaptive Card (schema 1.4).

A Teams Workflows webhook ("When a Teams webhook request is received", the replacement of
the retired Office 365 connectors) takes a Bot Framework ``message`` activity whose
attachment is the card. The card's required fields: ``type`` ``AdaptiveCard`` and
``version``; every ``TextBlock`` a ``text``, every ``FactSet`` fact a ``title`` and a
``value``, every ``Action.OpenUrl`` a ``url``. Teams renders a subset of Markdown in
``TextBlock`` text and in facts, so every text is escaped by ``vigil.channels.render`` (ADR 33)
and the notification's links are written ``[label](url)``.
"""

from typing import Any

from vigil.alerting.messages import alert_account
from vigil.channels.render import teams_body, teams_link, teams_text
from vigil.core.clock import iso
from vigil.core.model import AlertView, ChatPayload, NotifyReason, Severity

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"
MAX_ALERTS = 10
MAX_ACTIONS = 5

# TextBlock colours of the Adaptive Card host config: attention (red), warning, accent, good.
_COLOR = {
    Severity.CRITICAL: "attention",
    Severity.WARNING: "warning",
    Severity.INFO: "accent",
}

Element = dict[str, Any]


def teams_message(payload: ChatPayload) -> dict[str, Any]:
    """The webhook body: a ``message`` with one Adaptive Card attachment."""
    resolved = payload.reason is NotifyReason.RESOLVED
    body: list[Element] = [
        {
            "type": "TextBlock",
            "text": teams_text(payload.title),
            "size": "large",
            "weight": "bolder",
            "color": "good" if resolved else _COLOR[payload.severity],
            "wrap": True,
        },
        {"type": "TextBlock", "text": teams_body(payload.text, payload.links), "wrap": True},
    ]
    if payload.command:
        body += _command(payload.command)
    for alert in payload.alerts[:MAX_ALERTS]:
        body += _alert_elements(alert)
    if len(payload.alerts) > MAX_ALERTS:
        body.append(_note(f"...and {len(payload.alerts) - MAX_ALERTS} more alerts"))
    body.append(
        _note(f"Vigil {teams_text(payload.stack)} · notification {payload.notification_id}")
    )
    card: Element = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
        "msteams": {"width": "Full"},
    }
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card}],
    }


def _alert_elements(alert: AlertView) -> list[Element]:
    ev = alert.evidence
    facts = [
        ("Severity", alert.severity.value),
        ("Resource", alert.labels.resource),
        ("Value", ev.describe_value()),
        ("Window", f"{ev.window_text} ending {iso(ev.observed_at)}"),
        ("Account / region", f"{alert_account(alert)} / {alert.labels.region}"),
        ("State", alert.state.value),
        ("When", alert.timing),
    ]
    elements: list[Element] = [
        {
            "type": "FactSet",
            "separator": True,
            "facts": [{"title": title, "value": teams_text(value)} for title, value in facts],
        }
    ]
    if alert.evidence.errors:
        lines = [
            "- "
            + " · ".join(
                [teams_text(line)]
                + [teams_link(link) for link in alert.error_links.get(group.fingerprint, [])]
            )
            for group, line in zip(alert.evidence.errors, alert.error_lines(), strict=True)
        ]
        elements.append(
            {"type": "TextBlock", "text": "**Top errors**\n\n" + "\n".join(lines), "wrap": True}
        )
    if alert.links:
        elements.append(
            {
                "type": "ActionSet",
                "actions": [
                    {"type": "Action.OpenUrl", "title": link.label, "url": link.url}
                    for link in alert.links[:MAX_ACTIONS]
                ],
            }
        )
    return elements


def _command(command: str) -> list[Element]:
    """Commands in monospace, one ``TextBlock`` a line, so that a line stays a line whatever
    a client's Markdown does with line breaks; escaped as any text."""
    return [
        {
            "type": "TextBlock",
            "text": teams_text(line),
            "fontType": "monospace",
            "wrap": True,
            "spacing": "none",
        }
        for line in command.splitlines()
        if line.strip()
    ]


def _note(text: str) -> Element:
    return {"type": "TextBlock", "text": text, "size": "small", "isSubtle": True, "wrap": True}
