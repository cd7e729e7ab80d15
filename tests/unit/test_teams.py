"""The Microsoft Teams message: a Workflows webhook body carrying one Adaptive Card 1.4.

The required fields are those of the published formats: the Bot Framework ``message`` with
an attachment of content type ``application/vnd.microsoft.card.adaptive``; the card's
``type`` and ``version``; ``text`` of a TextBlock, ``title``/``value`` of a fact, ``url`` of
an Action.OpenUrl (adaptivecards.io schema explorer).
"""

import json
from collections.abc import Iterator
from typing import Any

from tests.factories import T0, batch, error_signal
from tests.fakes import MemoryAlertStore
from vigil.channels.teams import teams_message
from vigil.core.model import ChatPayload
from vigil.evaluation.pipeline import evaluate
from vigil.rules.document import RulesConfig


def _payload(*resources: str, minutes: int = 0) -> ChatPayload:
    rules = RulesConfig.from_json(
        json.dumps(
            {
                "lambda_errors": {"for_minutes": 0},
                "routing": {"route": {"group_by": ["kind"], "group_wait": "0s"}},
            }
        )
    )
    store = MemoryAlertStore()
    signals = [error_signal(r, invocations=100_000, errors=2_000) for r in resources]
    result = evaluate(
        batch(T0, *signals), rules=rules, store=store, routing=store.routing, stack="vigil"
    )
    return ChatPayload.model_validate_json(json.loads(result.notifications[0].message)["lambda"])


def _elements(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in items:
        yield item
        yield from _elements(item.get("items", []))


def test_the_message_is_a_workflows_webhook_activity_with_one_adaptive_card() -> None:
    message = teams_message(_payload("orders-api"))

    assert message["type"] == "message"
    (attachment,) = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    card = attachment["content"]
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert isinstance(card["body"], list)
    json.dumps(message)  # plain JSON, nothing else


def test_every_element_has_its_required_fields() -> None:
    card = teams_message(_payload("orders-api"))["attachments"][0]["content"]
    elements = list(_elements(card["body"]))
    kinds = {element["type"] for element in elements}

    assert kinds <= {"TextBlock", "FactSet", "ActionSet"}
    for element in elements:
        if element["type"] == "TextBlock":
            assert isinstance(element["text"], str)
            assert element["text"]
        elif element["type"] == "FactSet":
            assert all(set(fact) == {"title", "value"} for fact in element["facts"])
            assert all(isinstance(v, str) for fact in element["facts"] for v in fact.values())
        else:
            assert all(action["type"] == "Action.OpenUrl" for action in element["actions"])
            assert all(action["url"].startswith("https://") for action in element["actions"])


def test_the_card_shows_title_severity_resource_value_window_and_links() -> None:
    card = teams_message(_payload("orders-api"))["attachments"][0]["content"]
    body = card["body"]
    facts = {f["title"]: f["value"] for e in body if e["type"] == "FactSet" for f in e["facts"]}
    actions = [a["title"] for e in body if e["type"] == "ActionSet" for a in e["actions"]]

    assert body[0]["text"] == "[CRITICAL] Lambda errors firing: orders-api"
    assert body[0]["color"] == "attention"
    assert facts["Severity"] == "critical"
    assert facts["Resource"] == "orders-api"
    assert facts["Value"] == "2.00% (threshold 1.00%)"
    assert facts["Window"] == "5 min ending 2026-11-02T09:00:00Z"
    assert actions == ["Metric", "Logs Insights", "Function"]
    assert body[-1]["text"].startswith("Vigil vigil · notification ")


def test_a_storm_lists_ten_alerts_and_counts_the_rest() -> None:
    payload = _payload(*(f"fn-{index:02}" for index in range(12)))
    body = teams_message(payload)["attachments"][0]["content"]["body"]

    assert len(payload.alerts) == 12
    assert sum(1 for element in body if element["type"] == "FactSet") == 10
    assert body[-2]["text"] == "...and 2 more alerts"
