"""What people read: email text, Slack blocks and console links."""

import json

from tests.factories import T0, batch, error_signal
from tests.fakes import MemoryAlertStore
from vigil.alerting.links import console_encode
from vigil.alerting.messages import ascii_subject
from vigil.channels.slack import slack_message
from vigil.core.model import ChatPayload, Notification
from vigil.evaluation.pipeline import evaluate
from vigil.rules.document import RulesConfig


def _notification(invocations: float, errors: float) -> Notification:
    rules = RulesConfig.from_json('{"lambda_errors": {"for_minutes": 0}}')
    store = MemoryAlertStore()
    result = evaluate(
        batch(T0, error_signal("orders-api", invocations=invocations, errors=errors)),
        rules=rules,
        store=store,
        routing=store.routing,
        stack="vigil",
    )
    return result.notifications[0]


def test_the_email_is_readable_plain_text() -> None:
    email = json.loads(_notification(100_000, 2_000).message)["email"]

    assert email.isascii()
    assert email.splitlines()[0] == "[CRITICAL] Lambda errors firing: orders-api"
    assert (
        "2,000 errors in 100,000 invocations over 5 min (2.00%), above the critical 1.00%." in email
    )
    assert "Value:      2.00% (threshold 1.00%)" in email
    assert "Window:     5 min ending 2026-11-02 09:00:00 UTC" in email
    assert "Logs Insights: https://us-east-1.console.aws.amazon.com/cloudwatch/" in email
    assert "<" not in email  # no markup


def test_the_slack_message_shows_severity_resource_value_window_and_links() -> None:
    payload = ChatPayload.model_validate_json(
        json.loads(_notification(100_000, 2_000).message)["lambda"]
    )
    message = slack_message(payload)
    blocks = message["blocks"]
    fields = [field["text"] for block in blocks for field in block.get("fields", [])]
    buttons = [
        el
        for block in blocks
        if block["type"] == "actions"
        for el in block["elements"]
        if "url" in el
    ]

    assert message["text"] == "[CRITICAL] Lambda errors firing: orders-api"
    assert blocks[0]["type"] == "header"
    assert "*Severity*\ncritical" in fields
    assert "*Resource*\n`orders-api`" in fields
    assert "*Value*\n2.00% (threshold 1.00%)" in fields
    assert "*Window*\n5 min ending 2026-11-02T09:00:00Z" in fields
    assert [button["text"]["text"] for button in buttons] == ["Metric", "Logs Insights", "Function"]
    assert all(
        button["url"].startswith("https://us-east-1.console.aws.amazon.com/") for button in buttons
    )


def test_subjects_are_ascii_and_short_enough_for_sns() -> None:
    subject = ascii_subject("[CRITICAL] Lambda errors firing: " + "ü" * 200)

    assert subject.isascii()
    assert len(subject) <= 99


def test_console_encoding_follows_the_cloudwatch_fragment_format() -> None:
    encoded = console_encode(
        {"metrics": [["AWS/Lambda", "Errors"]], "stacked": False, "period": 60}
    )

    assert encoded == "~(metrics~(~(~'AWS*2fLambda~'Errors))~stacked~false~period~60)"
