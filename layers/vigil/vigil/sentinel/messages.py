"""The sentinel's announcements as an SNS message and a Slack incoming-webhook payload.

Every name in them (the stack, an AWS Health event code, an error text from an API) is
untrusted and escaped for Slack at render time (``vigil.channels.render``, ADR 33); the SNS
message is plain text.
"""

from typing import Any

from vigil.channels.render import SLACK_TEXT_LIMIT, slack_clip, slack_code, slack_text
from vigil.sentinel.watch import Announcement

SUBJECT_LIMIT = 100
"""SNS ``Subject``: at most 100 printable ASCII characters."""

_HEADLINE = {
    "down": "[CRITICAL] Vigil {stack} in {region} has stopped evaluating",
    "still_down": "[CRITICAL] Vigil {stack} in {region} is still not evaluating",
    "recovered": "[RESOLVED] Vigil {stack} in {region} is evaluating again",
}

_WHAT_NOW = {
    "down": (
        "Alerts from this stack will not arrive until it recovers: watch the workloads"
        " directly, and start the outage runbook in the standby region if the region is"
        " failing (docs/runbook.md)."
    ),
    "still_down": "Alerts from this stack are still not arriving (docs/runbook.md).",
    "recovered": "Alerts from this stack flow again; check what fired while it was down.",
}


def headline(announcement: Announcement) -> str:
    return _HEADLINE[announcement.kind].format(
        stack=announcement.primary_stack, region=announcement.primary_region
    )


def subject(announcement: Announcement) -> str:
    text = "".join(c if 32 <= ord(c) < 127 else "?" for c in headline(announcement))
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 3] + "..."


def _since_line(announcement: Announcement) -> str | None:
    if announcement.down_since is None:
        return None
    if announcement.kind == "recovered":
        minutes = int((announcement.at - announcement.down_since).total_seconds() // 60)
        return f"Silent from {announcement.down_since:%Y-%m-%d %H:%M} UTC for {minutes} min."
    return f"Silent since {announcement.down_since:%Y-%m-%d %H:%M} UTC."


def plain_text(announcement: Announcement, sentinel: str) -> str:
    """The SNS message body (email)."""
    lines = [headline(announcement), ""]
    since = _since_line(announcement)
    if since:
        lines.append(since)
    lines += announcement.reasons
    lines += ["", _WHAT_NOW[announcement.kind], "", "--", f"Vigil sentinel ({sentinel})"]
    return "\n".join(lines)


def slack_payload(announcement: Announcement, sentinel: str) -> dict[str, Any]:
    """A Slack incoming-webhook payload (Block Kit, with ``text`` as the notification)."""
    title = headline(announcement)
    body = [f"*Stack* {slack_code(announcement.primary_stack)}"]
    body.append(f"*Region* {slack_code(announcement.primary_region)}")
    since = _since_line(announcement)
    if since:
        body.append(slack_text(since))
    body += [f"• {slack_text(reason)}" for reason in announcement.reasons]
    body += ["", slack_text(_WHAT_NOW[announcement.kind])]
    return {
        "text": slack_text(title),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": slack_clip("\n".join(body), SLACK_TEXT_LIMIT)},
            },
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"Vigil sentinel {slack_code(sentinel)}"}],
            },
        ],
    }
