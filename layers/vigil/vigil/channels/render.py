"""Text and links in each channel's own format, at render time (docs/architecture.md, ADR 33).

Notifications carry plain text and their links apart (``ChatPayload.text``, ``.links``);
every name in them may come from someone else (a function, an API, a tag, an AWS Health
description). Each channel escapes what it would interpret, then caps the length, never
inside an escape:

- Slack mrkdwn: ``&``, ``<`` and ``>`` are Slack's control characters and are written as
  ``&amp;``, ``&lt;``, ``&gt;`` (api.slack.com/reference/surfaces/formatting, "Escaping
  text"), so no text becomes ``<!channel>``, ``<@U...>``, ``<#C...>`` or a link; a link is
  ``<url|label>`` with its label escaped and ``|``, ``<``, ``>`` percent-encoded in the URL.
  Names are shown in code spans, where ``*``, ``_`` and ``~`` do not format, with a backtick
  shown as ``ˋ`` (Slack has no escape for it).
- Teams: an Adaptive Card ``TextBlock`` renders a CommonMark subset (bold, italic, lists,
  ``[label](url)``; learn.microsoft.com/adaptive-cards/authoring-cards/text-features), so
  its markup characters (``\\ ` * _ ~ < >``, ``&`` which would start an entity, and ``(``
  after ``]``, which would make a link) get CommonMark's backslash escape; a link is
  ``[label](url)`` with ``(``, ``)`` and spaces percent-encoded in the URL.
- Plain text (email, the JSON webhook's ``text``): as is; a link is ``label: url``.
"""

import re

from vigil.core.model import Link

SLACK_TEXT_LIMIT = 3000
"""Characters in a section's text (api.slack.com/reference/block-kit/blocks, section)."""

_SLACK = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_SLACK_URL = str.maketrans({"|": "%7C", "<": "%3C", ">": "%3E", " ": "%20", "&": "&amp;"})
_TEAMS = re.compile(r"[\\`*_~<>&]|(?<=\])\(")
_TEAMS_URL = str.maketrans({"(": "%28", ")": "%29", " ": "%20", "<": "%3C", ">": "%3E"})


def slack_text(text: str) -> str:
    return text.translate(_SLACK)


def slack_code(text: str) -> str:
    """A name as an inline code span: no mention, link or formatting."""
    return "`" + slack_text(text.replace("`", "ˋ")) + "`"


def slack_link(link: Link) -> str:
    return f"<{link.url.translate(_SLACK_URL)}|{slack_text(link.label)}>"


def slack_clip(escaped: str, limit: int) -> str:
    """Escaped mrkdwn within ``limit`` characters, never cut inside ``&amp;``."""
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: limit - 1]
    entity = cut.rfind("&")
    if entity > cut.rfind(";"):
        cut = cut[:entity]
    return cut + "…"


def slack_body(text: str, links: list[Link], limit: int = SLACK_TEXT_LIMIT) -> str:
    """Escaped text then its links, one a line, within ``limit``: the links are kept whole
    and the text cut, so every link stays clickable."""
    shown = [slack_link(link) for link in links if len(link.url) <= limit // 4]
    tail = "".join("\n" + item for item in shown)
    return slack_clip(slack_text(text), limit - len(tail)) + tail


def teams_text(text: str) -> str:
    return _TEAMS.sub(lambda match: "\\" + match.group(), text)


def teams_link(link: Link) -> str:
    return f"[{teams_text(link.label)}]({link.url.translate(_TEAMS_URL)})"


def teams_body(text: str, links: list[Link]) -> str:
    return "\n\n".join([teams_text(text), *(teams_link(link) for link in links)])


def plain_link(link: Link) -> str:
    return f"{link.label}: {link.url}"
