"""Render a ``ChatPayload`` as a Slack Block Kit message; every text escaped by
``vigil.channels.render`` (ADR 33), so no name mentions a channel or forges a link, and every mrkdwn
object ``verbatim``, so Slack does not turn a bare ``@channel``, ``#channel`` or URL into a
mention or link on its own (api.slack.com/reference/block-kit/composition-objects, "Text")."""

from typing import Any

from vigil.alerting.messages import alert_account
from vigil.channels.buttons import (
    ACKNOWLEDGE,
    SILENCE,
    SILENCE_BUTTON_DURATION,
    silence_button_value,
)
from vigil.channels.render import (
    SLACK_TEXT_LIMIT,
    slack_body,
    slack_clip,
    slack_code,
    slack_link,
    slack_text,
)
from vigil.core.clock import iso
from vigil.core.model import AlertView, ChatPayload, NotifyReason, Severity

_EMOJI = {
    Severity.CRITICAL: ":red_circle:",
    Severity.WARNING: ":large_orange_circle:",
    Severity.INFO: ":large_blue_circle:",
}

Block = dict[str, Any]


def slack_message(payload: ChatPayload) -> dict[str, Any]:
    """A self-contained incoming-webhook message: ``text`` fallback plus blocks."""
    emoji = (
        ":white_check_mark:"
        if payload.reason is NotifyReason.RESOLVED
        else _EMOJI[payload.severity]
    )
    blocks: list[Block] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _clip(payload.title, 150)},
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "verbatim": True,
                "text": f"{emoji} "
                + slack_body(payload.text, payload.links, limit=3000 - len(emoji) - 1),
            },
        },
    ]
    if payload.command:
        blocks.append(_command(payload.command))
    blocks += _alert_buttons(payload)
    for alert in payload.alerts[:10]:
        blocks += _alert_blocks(alert)
    if len(payload.alerts) > 10:
        blocks.append(_context(f"...and {len(payload.alerts) - 10} more alerts"))
    if payload.actions:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": action.text},
                        "action_id": action.action_id,
                        "value": action.value,
                        **({"style": action.style} if action.style else {}),
                    }
                    for action in payload.actions
                ],
            }
        )
    stack, notification = slack_code(payload.stack), slack_code(payload.notification_id)
    blocks.append(_context(f"Vigil {stack} · notification {notification}"))
    return {"text": slack_clip(slack_text(payload.title), 3000), "blocks": blocks}


def _alert_blocks(alert: AlertView) -> list[Block]:
    ev = alert.evidence
    fields = [
        ("Severity", alert.severity.value),
        ("Resource", slack_code(alert.labels.resource)),
        ("Value", slack_text(ev.describe_value())),
        ("Window", slack_text(f"{ev.window_text} ending {iso(ev.observed_at)}")),
        (
            "Account / region",
            slack_text(f"{alert_account(alert)} / {alert.labels.region}"),
        ),
        ("State", alert.state.value),
        ("When", slack_text(alert.timing)),
    ]
    blocks: list[Block] = [
        {"type": "divider"},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "verbatim": True, "text": f"*{name}*\n{slack_clip(value, 1900)}"}
                for name, value in fields
            ],
        },
    ]
    if alert.evidence.errors:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "verbatim": True, "text": _errors_text(alert)},
            }
        )
    buttons = [link for link in alert.links if len(link.url) <= 3000][:5]
    if buttons:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": _clip(link.label, 75)},
                        "url": link.url,
                        "action_id": f"link-{index}",
                    }
                    for index, link in enumerate(buttons)
                ],
            }
        )
    return blocks


def _errors_text(alert: AlertView) -> str:
    """The alert's tracked errors, one a line with their links, within a section's 3,000
    characters: a line that would not fit with its links is shown without them, and the
    lines that do not fit at all are counted."""
    text = "*Top errors*"
    lines = alert.error_lines()
    for index, (group, line) in enumerate(zip(alert.evidence.errors, lines, strict=True)):
        shown = "\n• " + slack_text(line)
        links = " · ".join(
            slack_link(link) for link in alert.error_links.get(group.fingerprint, [])
        )
        more = f"\n…and {len(lines) - index} more" if index < len(lines) else ""
        if links and len(text) + len(shown) + len(links) + 3 + len(more) <= SLACK_TEXT_LIMIT - 40:
            text += f"{shown} · {links}"
        elif len(text) + len(shown) <= SLACK_TEXT_LIMIT - 40:
            text += shown
        else:
            return text + more
    return text


def _alert_buttons(payload: ChatPayload) -> list[Block]:
    """``Silence 2h`` for what every alert of a firing message shares (docs/rules.md,
    "Silences"), and ``Acknowledge`` for a firing group's message (docs/rules.md,
    "Acknowledge"); handled by the Slack interactive endpoint."""
    if payload.reason is NotifyReason.RESOLVED or not payload.alerts:
        return []
    labels = [alert.labels for alert in payload.alerts]
    shared = {
        name: values.pop()
        for name in ("kind", "resource", "account", "region")
        if len(values := {getattr(label, name) for label in labels}) == 1
    }
    value = silence_button_value(shared, SILENCE_BUTTON_DURATION)
    buttons: list[Block] = []
    if shared and len(value) <= 2000:  # something in common, within Slack's value limit
        buttons.append(
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Silence 2h"},
                "action_id": SILENCE,
                "value": value,
            }
        )
    if payload.group_id and len(payload.group_id) <= 2000:
        buttons.append(
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Acknowledge"},
                "action_id": ACKNOWLEDGE,
                "value": payload.group_id,
            }
        )
    return [{"type": "actions", "elements": buttons}] if buttons else []


def _command(command: str) -> Block:
    """Commands as a preformatted rich text block. A rich text ``text`` element is shown as
    given: mentions, channels and links are elements of their own, not markup in the text,
    so it needs no escaping (api.slack.com/reference/block-kit/blocks, "Rich text"; ADR 33)."""
    return {
        "type": "rich_text",
        "elements": [
            {"type": "rich_text_preformatted", "elements": [{"type": "text", "text": command}]}
        ],
    }


def _context(text: str) -> Block:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "verbatim": True, "text": slack_clip(text, 2000)}],
    }


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
