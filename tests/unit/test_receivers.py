"""The Amazon Q Developer custom notification and the JSON webhook document, each checked
against its JSON Schema (tests/schemas, docs/schemas), as is the Teams Adaptive Card."""

import json

import pytest

from tests.factories import T0, batch, error_signal, minutes
from tests.fakes import MemoryAlertStore
from tests.schemas import problems
from vigil.alerting.alarms import chat_payload
from vigil.channels.chatbot import MAX_ALERTS, chatbot_notification
from vigil.channels.teams import teams_message
from vigil.channels.webhook import webhook_payload
from vigil.core.model import ChatPayload, NotifyReason
from vigil.evaluation.pipeline import evaluate
from vigil.rules.document import RulesConfig

_RULES = {
    "lambda_errors": {"for_minutes": 0},
    "routing": {"route": {"group_by": ["kind"], "group_wait": "0s", "group_interval": "1m"}},
}


def _payloads(*resources: str) -> tuple[ChatPayload, ChatPayload]:
    """The firing notification of a group of ``resources``, and its resolution."""
    rules = RulesConfig.from_json(json.dumps(_RULES))
    store = MemoryAlertStore()
    signals = [error_signal(r, invocations=100_000, errors=2_000) for r in resources]
    fired = evaluate(
        batch(T0, *signals), rules=rules, store=store, routing=store.routing, stack="vigil"
    )
    later = T0 + minutes(10)
    healthy = [error_signal(r, invocations=100_000, errors=0, at=later) for r in resources]
    resolved = evaluate(
        batch(later, *healthy), rules=rules, store=store, routing=store.routing, stack="vigil"
    )
    first, last = fired.notifications[0], resolved.notifications[0]
    return (
        ChatPayload.model_validate_json(json.loads(first.message)["lambda"]),
        ChatPayload.model_validate_json(json.loads(last.message)["lambda"]),
    )


@pytest.mark.parametrize("count", [1, 3, 25])
def test_chatbot_notifications_follow_the_custom_notification_format(count: int) -> None:
    resources = [f"fn-{i:02d}" for i in range(count)]
    for payload in _payloads(*resources):
        document = chatbot_notification(payload)

        assert problems("chatbot", document) == []
        assert document["version"] == "1.0"
        assert document["source"] == "custom"
        assert document["content"]["textType"] == "client-markdown"


def test_a_groups_chatbot_messages_share_one_thread_and_name_their_resources() -> None:
    fired, resolved = _payloads("orders-api", "billing-api")
    first, last = chatbot_notification(fired), chatbot_notification(resolved)

    assert first["metadata"]["threadId"] == last["metadata"]["threadId"] == fired.group_id
    assert first["metadata"]["relatedResources"] == ["orders-api", "billing-api"]
    assert first["metadata"]["eventType"] == "vigil.alert.firing"
    assert last["metadata"]["eventType"] == "vigil.alert.resolved"
    assert first["content"]["title"].startswith(":red_circle: [CRITICAL] Lambda errors: 2 firing")
    assert last["content"]["title"].startswith(":white_check_mark: [RESOLVED]")
    assert first["content"]["keywords"] == ["critical", "firing", "lambda.errors"]
    assert "`orders-api` lambda.errors: 2.00%" in first["content"]["description"]
    assert first["content"]["nextSteps"][0].startswith("Metric: https://")


def test_a_large_group_is_cut_to_the_first_alerts_and_counted() -> None:
    fired, _ = _payloads(*[f"fn-{i:02d}" for i in range(25)])
    description = chatbot_notification(fired)["content"]["description"]

    assert description.count("• ") == MAX_ALERTS
    assert f"...and {len(fired.alerts) - MAX_ALERTS} more alerts" in description


def test_a_self_watch_alarm_threads_on_its_own_notification() -> None:
    alarm = {
        "AlarmName": "vigil-ChatDeadLettersAlarm",
        "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:vigil-ChatDeadLetters",
        "NewStateValue": "ALARM",
        "NewStateReason": "Threshold Crossed",
        "StateChangeTime": "2026-11-02T09:00:00.000+0000",
        "Region": "US East (N. Virginia)",
    }
    payload = chat_payload(json.dumps(alarm), stack="vigil")
    document = chatbot_notification(payload)

    assert problems("chatbot", document) == []
    assert document["metadata"]["threadId"] == payload.notification_id
    assert document["metadata"]["relatedResources"] == []


@pytest.mark.parametrize("count", [1, 3])
def test_webhook_documents_follow_the_published_v1_schema(count: int) -> None:
    fired, resolved = _payloads(*[f"fn-{i}" for i in range(count)])
    first, last = webhook_payload(fired), webhook_payload(resolved)

    assert problems("webhook", first) == []
    assert problems("webhook", last) == []
    assert (first["schema"], first["status"], last["status"]) == (
        "vigil.webhook/v1",
        "firing",
        "resolved",
    )
    assert first["group_id"] == last["group_id"] == fired.group_id
    assert first["alerts"][0]["labels"]["resource"] == "fn-0"
    assert first["alerts"][0]["value"] == 2.0
    assert last["alerts"][0]["resolved_at"] is not None


def test_teams_cards_follow_the_adaptive_card_1_4_schema() -> None:
    for payload in _payloads("orders-api", "billing-api"):
        assert problems("teams", teams_message(payload)) == []


def test_the_schemas_catch_what_the_formats_forbid() -> None:
    fired, _ = _payloads("orders-api")
    chatbot = chatbot_notification(fired)
    chatbot["content"]["textType"] = "markdown"
    webhook = webhook_payload(fired)
    webhook["status"] = "ok"
    card = teams_message(fired)
    card["attachments"][0]["content"]["body"][0].pop("text")

    assert problems("chatbot", chatbot) == ["content/textType: 'client-markdown' was expected"]
    assert problems("webhook", webhook) == ["status: 'ok' is not one of ['firing', 'resolved']"]
    assert problems("teams", card)  # a TextBlock without text matches no element
    assert fired.reason is NotifyReason.FIRING
