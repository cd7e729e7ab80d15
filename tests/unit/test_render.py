"""Untrusted text renders inertly in every channel, and every link is clickable (ADR 33).

The rules checked, with their sources:

- Slack: ``&``, ``<`` and ``>`` are control characters and must be written ``&amp;``,
  ``&lt;``, ``&gt;``; ``<!channel>``, ``<!here>``, ``<@U...>``, ``<#C...>`` and
  ``<url|label>`` are the markup they open (api.slack.com/reference/surfaces/formatting,
  "Escaping text", "Linking to URLs", "Mentioning users", "Special mentions"). A section's
  text is at most 3,000 characters and a field's 2,000 (api.slack.com/reference/block-kit/
  blocks, "Section"); slack_sdk's Block Kit models check those limits.
- Teams: an Adaptive Card ``TextBlock`` renders a CommonMark subset, ``**bold**``,
  ``_italic_``, lists and ``[Title](url)`` (learn.microsoft.com/adaptive-cards/
  authoring-cards/text-features, "Markdown (Commonmark subset)"); Teams applies it to
  ``TextBlock`` text and to facts (learn.microsoft.com/microsoftteams/platform/
  task-modules-and-cards/cards/cards-format); CommonMark's backslash escape makes a
  punctuation character literal (spec.commonmark.org, "Backslash escapes").
"""

import json
import re
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from tests.factories import T0, batch, error_signal
from tests.fakes import MemoryAlertStore
from tests.schemas import problems
from tests.unit.test_health import health_event
from vigil.channels.chatbot import chatbot_notification
from vigil.channels.render import slack_clip, slack_link, slack_text, teams_link
from vigil.channels.slack import slack_message
from vigil.channels.teams import teams_message
from vigil.channels.webhook import webhook_payload
from vigil.core.model import ChatPayload, Link, Notification
from vigil.evaluation.pipeline import evaluate
from vigil.health.events import HealthChange, console_link, health_notification
from vigil.rules.document import RulesConfig

HOSTILE = [
    "<!channel>",
    "<!here> hi",
    "<https://evil.example|click>",
    "<@U123> and <#C123>",
    "fish & chips &amp; &lt;b&gt;",
    "*bold* _it_ ~s~ `code`",
    "[x](https://evil.example) **b**",
    "back\\slash `",
    "@channel @here #general",
]
SLACK_MARKUP = re.compile(r"<[!@#]|<https?:|<mailto:")


def _notification(resource: str) -> Notification:
    rules = RulesConfig.from_json('{"lambda_errors": {"for_minutes": 0}}')
    store = MemoryAlertStore()
    result = evaluate(
        batch(T0, error_signal(resource, invocations=100_000, errors=2_000)),
        rules=rules,
        store=store,
        routing=store.routing,
        stack="vigil",
    )
    return result.notifications[0]


def _payload(notification: Notification) -> ChatPayload:
    return ChatPayload.model_validate_json(json.loads(notification.message)["lambda"])


def _mrkdwn_texts(message: dict[str, Any]) -> list[str]:
    """Every text Slack parses as mrkdwn: the top-level ``text`` and the blocks' mrkdwn."""
    texts = [message["text"]]
    for block in message["blocks"]:
        objects = [block.get("text"), *block.get("fields", []), *block.get("elements", [])]
        texts += [o["text"] for o in objects if isinstance(o, dict) and o.get("type") == "mrkdwn"]
    return texts


def _assert_valid_slack(message: dict[str, Any]) -> None:
    for block in message["blocks"]:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()  # raises on a text over its limit


def _assert_slack_escaped(text: str) -> None:
    """Only entities follow ``&``; no ``<`` opens markup other than Vigil's own links."""
    assert re.fullmatch(r"([^&]|&(amp|lt|gt);)*", text, flags=re.S), text
    assert not SLACK_MARKUP.search(text.replace("<https://health.aws.amazon.com/", "")), text


def _teams_texts(message: dict[str, Any]) -> list[str]:
    card = message["attachments"][0]["content"]
    texts = []
    for element in card["body"]:
        if element["type"] == "TextBlock":
            texts.append(element["text"])
        texts += [fact["value"] for fact in element.get("facts", [])]
    return texts


def _assert_teams_inert(text: str) -> None:
    unescaped = re.sub(r"\\.", "", text)  # what is left once escapes are taken out
    assert not re.search(r"[*_`~<>&\\]|\]\(", unescaped), text  # & would start an entity


@pytest.mark.parametrize("name", HOSTILE)
def test_an_untrusted_resource_name_renders_inertly_in_every_channel(name: str) -> None:
    notification = _notification(name)
    payload = _payload(notification)

    slack = slack_message(payload)
    _assert_valid_slack(slack)
    for text in _mrkdwn_texts(slack):
        _assert_slack_escaped(text)
    mrkdwn = [o for b in slack["blocks"] for o in [b.get("text"), *b.get("fields", [])] if o]
    assert all(o["verbatim"] for o in mrkdwn if o["type"] == "mrkdwn")  # no bare @channel
    fields = [f["text"] for b in slack["blocks"] for f in b.get("fields", [])]
    shown = slack_text(name.replace("`", "ˋ"))
    assert f"*Resource*\n`{shown}`" in fields  # a code span: * _ ~ do not format

    teams = teams_message(payload)
    assert problems("teams", teams) == []
    for text in _teams_texts(teams):
        _assert_teams_inert(text)

    webhook = webhook_payload(payload)
    assert problems("webhook", webhook) == []
    assert webhook["alerts"][0]["labels"]["resource"] == name  # plain data, as given

    chatbot = chatbot_notification(payload)
    assert problems("chatbot", chatbot) == []
    for text in (chatbot["content"]["title"], chatbot["content"]["description"]):
        _assert_slack_escaped(text)
    assert chatbot["metadata"]["relatedResources"] == [name]

    email = json.loads(notification.message)["email"]
    assert f"Resource:   {name}" in email  # plain text: nothing is interpreted


def _health(description: str) -> tuple[Notification, ChatPayload]:
    event = health_event(description=description)
    notification = health_notification(event, HealthChange.NEW, stack="vigil")
    return notification, _payload(notification)


def test_the_health_link_is_clickable_in_every_channel() -> None:
    notification, payload = _health("Increased error rates & <!channel> <https://evil|click>.")
    url = console_link(health_event())

    section = slack_message(payload)["blocks"][1]["text"]["text"]
    assert section.endswith(f"\n<{url}|AWS Health event>")
    _assert_slack_escaped(section)
    assert "&amp; &lt;!channel&gt; &lt;https://evil|click&gt;" in section

    teams = teams_message(payload)
    assert problems("teams", teams) == []
    body = teams["attachments"][0]["content"]["body"][1]["text"]
    assert body.endswith(f"\n\n[AWS Health event]({url})")
    _assert_teams_inert(body.removesuffix(f"[AWS Health event]({url})"))

    webhook = webhook_payload(payload)
    assert problems("webhook", webhook) == []
    assert webhook["links"] == [{"label": "AWS Health event", "url": url}]
    assert "\nIncreased error rates & <!channel>" in webhook["text"]  # plain, as given

    chatbot = chatbot_notification(payload)
    assert problems("chatbot", chatbot) == []
    assert chatbot["content"]["nextSteps"] == [f"AWS Health event: {url}"]

    assert f"AWS Health: {url}" in json.loads(notification.message)["email"]


def test_a_long_description_of_ampersands_stays_within_slacks_limits_with_its_link() -> None:
    _, payload = _health("&" * 10_000)

    message = slack_message(payload)
    _assert_valid_slack(message)
    section = message["blocks"][1]["text"]["text"]

    assert len(section) <= 3000
    _assert_slack_escaped(section)
    assert section.endswith("&amp;…\n<" + console_link(health_event()) + "|AWS Health event>")
    assert problems("teams", teams_message(payload)) == []
    assert problems("webhook", webhook_payload(payload)) == []
    description = chatbot_notification(payload)["content"]["description"]
    assert len(description) <= 8000
    _assert_slack_escaped(description)


@pytest.mark.parametrize("limit", range(2, 40))
def test_a_cap_never_cuts_inside_an_escape(limit: int) -> None:
    escaped = slack_text("a<b>&" * 10)

    clipped = slack_clip(escaped, limit)

    assert len(clipped) <= limit
    _assert_slack_escaped(clipped)


def test_links_cannot_be_broken_out_of() -> None:
    hostile = Link(label="<!channel>|x>", url="https://a.example/p?q=1|<!here>&r=(2) x")

    assert slack_link(hostile) == (
        "<https://a.example/p?q=1%7C%3C!here%3E&amp;r=(2)%20x|&lt;!channel&gt;|x&gt;>"
    )
    assert teams_link(hostile) == (
        "[\\<!channel\\>|x\\>](https://a.example/p?q=1|%3C!here%3E&r=%282%29%20x)"
    )


def test_an_untrusted_self_watch_alarm_renders_inertly() -> None:
    payload = ChatPayload(
        notification_id="n1",
        category="self-watch",
        reason="firing",
        severity="critical",
        title="[ALARM] Vigil self-watch: <!channel>",
        text="<https://evil|x> & *y*",
        stack="vigil",
        alerts=[],
    )

    for text in _mrkdwn_texts(slack_message(payload)):
        _assert_slack_escaped(text)
    for text in _teams_texts(teams_message(payload)):
        _assert_teams_inert(text)
