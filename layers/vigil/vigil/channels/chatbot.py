"""Render a ``ChatPayload`` as an Amazon Q Developer (AWS Chatbot) custom notification.

Amazon Q Developer in chat applications posts to Slack, Teams or Chime whatever arrives on an
SNS topic it subscribes to, when the message follows its custom notification format:
``version`` ``"1.0"``, ``source`` ``"custom"``, an optional ``id``, ``content`` (``textType``
``client-markdown``, ``title``, ``description``, ``nextSteps``, ``keywords``) and optional
``metadata`` (``threadId``, ``summary``, ``eventType``, ``relatedResources``,
``additionalContext``). The text is rendered in the chat platform's own markdown. Notifications
that share a ``threadId`` are threaded when the channel's preferences allow it, so every
message of one notification group carries the group's id.

Amazon Q Developer posts the text to Slack as mrkdwn, so it is escaped as for Slack
(``vigil.channels.render``, ADR 33): no name mentions a channel or forges a link; links
are next steps.

The documented format names no length limits; the fields are kept short (the first alerts
in full, the rest counted) so a message stays far below SNS's 256 KiB.
"""

from typing import Any

from vigil.alerting.messages import alert_account
from vigil.channels.render import plain_link, slack_clip, slack_code, slack_text
from vigil.core.clock import iso
from vigil.core.model import AlertView, ChatPayload, NotifyReason, Severity

CHATBOT_VERSION = "1.0"
MAX_ALERTS = 10
MAX_NEXT_STEPS = 5
MAX_DESCRIPTION = 8000
MAX_TITLE = 250

_EMOJI = {
    Severity.CRITICAL: ":red_circle:",
    Severity.WARNING: ":large_orange_circle:",
    Severity.INFO: ":large_blue_circle:",
}


def chatbot_notification(payload: ChatPayload) -> dict[str, Any]:
    """The SNS message body Amazon Q Developer renders in the subscribed channels."""
    resolved = payload.reason is NotifyReason.RESOLVED
    emoji = ":white_check_mark:" if resolved else _EMOJI[payload.severity]
    lines = [slack_text(payload.text)]
    if payload.command:  # a code block: the chat platform shows it as typed
        lines += ["```", slack_text(payload.command.replace("`", "ˋ")), "```"]
    lines += [_alert_line(alert) for alert in payload.alerts[:MAX_ALERTS]]
    if len(payload.alerts) > MAX_ALERTS:
        lines.append(f"...and {len(payload.alerts) - MAX_ALERTS} more alerts")
    lines.append(f"_Vigil {slack_text(payload.stack)} · notification {payload.notification_id}_")
    links = [
        *payload.links,
        *(link for alert in payload.alerts for link in alert.links[:2]),
        *(
            link
            for alert in payload.alerts
            for links in alert.error_links.values()
            for link in links
        ),
        *(link for alert in payload.alerts for link in alert.links[2:]),
    ]
    steps = [plain_link(link) for link in links][:MAX_NEXT_STEPS]
    kinds = sorted({alert.labels.kind for alert in payload.alerts})
    keywords = [payload.severity.value, "resolved" if resolved else "firing", *kinds]
    context = {
        "stack": payload.stack,
        "category": payload.category,
        "severity": payload.severity.value,
        "reason": payload.reason.value,
        "notificationId": payload.notification_id,
    }
    if payload.receiver:
        context["receiver"] = payload.receiver
    return {
        "version": CHATBOT_VERSION,
        "source": "custom",
        "id": payload.notification_id,
        "content": {
            "textType": "client-markdown",
            "title": slack_clip(f"{emoji} {slack_text(payload.title)}", MAX_TITLE),
            "description": slack_clip("\n".join(lines), MAX_DESCRIPTION),
            "nextSteps": steps,
            "keywords": list(dict.fromkeys(keywords)),
        },
        "metadata": {
            "threadId": payload.group_id or payload.notification_id,
            "summary": _clip(payload.title, MAX_TITLE),
            "eventType": f"vigil.{payload.category}.{payload.reason.value}",
            "relatedResources": list(
                dict.fromkeys(alert.labels.resource for alert in payload.alerts)
            ),
            "additionalContext": context,
        },
    }


def _alert_line(alert: AlertView) -> str:
    """The alert in one line, then its tracked errors (their links are next steps)."""
    ev = alert.evidence
    line = (
        f"• *{alert.severity.value}* {slack_code(alert.labels.resource)} {alert.labels.kind}:"
        + slack_text(
            f" {ev.describe_value()} ({ev.window_text} ending {iso(ev.observed_at)},"
            f" {alert_account(alert)} / {alert.labels.region}, {alert.state.value};"
            f" {alert.timing})"
        )
    )
    return "\n".join([line, *(f"    ◦ {slack_text(error)}" for error in alert.error_lines())])


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
