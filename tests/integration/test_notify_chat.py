"""notify_chat against a Slack webhook served on 127.0.0.1 and secrets in moto."""

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest

from emulator.slack import BOT_CHANNEL, SlackServer
from tests.factories import T0, batch, error_signal
from tests.fakes import MemoryAlertStore
from tests.integration.conftest import FakeContext
from tests.schemas import problems
from vigil.errors import ChatDeliveryError, InvalidEventError
from vigil.evaluate import evaluate
from vigil.rules import RulesConfig

Loader = Callable[..., ModuleType]


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer() as server:
        yield server


def _secret(url: str) -> str:
    arn: str = boto3.client("secretsmanager").create_secret(
        Name="vigil/slack", SecretString=json.dumps({"webhook_url": url})
    )["ARN"]
    return arn


def _sns_event(*messages: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:alerts:sub",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": f"m-{index}",
                    "TopicArn": "arn:aws:sns:us-east-1:123456789012:alerts",
                    "Subject": "subject",
                    "Message": message,
                    "Timestamp": "2026-11-02T09:00:05.000Z",
                    "SignatureVersion": "1",
                    "Signature": "x",
                    "SigningCertUrl": "x",
                    "UnsubscribeUrl": "x",
                    "MessageAttributes": {},
                },
            }
            for index, message in enumerate(messages)
        ]
    }


def _chat_message() -> str:
    store = MemoryAlertStore()
    result = evaluate(
        batch(T0, error_signal("nightly-report", invocations=3, errors=1)),
        rules=RulesConfig(),
        store=store,
        routing=store.routing,
        stack="vigil",
    )
    message: str = json.loads(result.notifications[0].message)["lambda"]
    return message


def _handler(load_handler: Loader, secret_arn: str) -> ModuleType:
    return load_handler("notify_chat", VIGIL_SLACK_SECRET_ARN=secret_arn)


def test_a_notification_is_posted_to_slack_once_even_if_redelivered(
    table: str, load_handler: Loader, slack: SlackServer
) -> None:
    app = _handler(load_handler, _secret(slack.webhook_url))
    event = _sns_event(_chat_message())

    first = app.lambda_handler(event, FakeContext("chat"))
    again = app.lambda_handler(event, FakeContext("chat"))

    assert first == {"outcomes": {"posted": 1}}
    assert again == {"outcomes": {"duplicate": 1}}
    (post,) = slack.posts
    assert post.payload["text"] == "[WARNING] Lambda errors firing: nightly-report"
    assert post.payload["blocks"][0]["type"] == "header"


def test_a_rate_limited_post_is_retried_after_retry_after(
    table: str, load_handler: Loader, slack: SlackServer
) -> None:
    app = _handler(load_handler, _secret(slack.webhook_url))
    slack.fail_next(1, status=429, retry_after=0)

    result = app.lambda_handler(_sns_event(_chat_message()), FakeContext("chat"))

    assert result == {"outcomes": {"posted": 1}}
    assert [post.status for post in slack.posts] == [429, 200]


def test_a_server_error_that_persists_fails_the_invocation_for_the_dead_letter_queue(
    table: str, load_handler: Loader, slack: SlackServer
) -> None:
    app = _handler(load_handler, _secret(slack.webhook_url))
    slack.fail_next(10, status=502)

    with pytest.raises(ChatDeliveryError):
        app.lambda_handler(_sns_event(_chat_message()), FakeContext("chat"))

    assert [post.status for post in slack.posts] == [502, 502, 502, 502]  # 1 try + 3 retries


def test_without_a_webhook_chat_delivery_is_skipped_with_a_warning(
    table: str, load_handler: Loader, slack: SlackServer
) -> None:
    app = _handler(load_handler, _secret(""))

    result = app.lambda_handler(_sns_event(_chat_message()), FakeContext("chat"))

    assert result == {"outcomes": {"not-configured": 1}}
    assert slack.posts == []


def test_a_malformed_message_fails_with_the_fields_named(
    table: str, load_handler: Loader, slack: SlackServer
) -> None:
    app = _handler(load_handler, _secret(slack.webhook_url))

    with pytest.raises(InvalidEventError) as caught:
        app.lambda_handler(_sns_event('{"version": 1, "title": 3}'), FakeContext("chat"))

    assert "chat notification: notification_id: Field required" in str(caught.value)
    assert slack.posts == []


def test_a_self_watch_alarm_from_cloudwatch_is_posted_too(
    table: str, load_handler: Loader, slack: SlackServer
) -> None:
    app = _handler(load_handler, _secret(slack.webhook_url))
    alarm = {
        "AlarmName": "vigil-ChatDeadLettersAlarm-ABC",
        "AlarmDescription": "Vigil chat deliveries failed after retries.",
        "AWSAccountId": "123456789012",
        "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:vigil-ChatDeadLetters",
        "NewStateValue": "ALARM",
        "NewStateReason": "Threshold Crossed: 1 datapoint [1.0] was greater than 0.0.",
        "StateChangeTime": "2026-11-02T09:00:00.000+0000",
        "Region": "US East (N. Virginia)",
        "OldStateValue": "OK",
        "Trigger": {"MetricName": "ApproximateNumberOfMessagesVisible"},
    }

    result = app.lambda_handler(_sns_event(json.dumps(alarm)), FakeContext("chat"))

    assert result == {"outcomes": {"posted": 1}}
    assert (
        slack.posts[0].payload["text"] == "[ALARM] Vigil self-watch: vigil-ChatDeadLettersAlarm-ABC"
    )


def test_a_receiver_with_teams_gets_an_adaptive_card_on_the_workflows_webhook(
    table: str, load_handler: Loader, slack: SlackServer
) -> None:
    secret = boto3.client("secretsmanager").create_secret(
        Name="vigil/chat",
        SecretString=json.dumps({"webhook_url": "", "teams_url": slack.webhook_url}),
    )["ARN"]
    rules = {"routing": {"receivers": [{"name": "default", "teams": "teams_url"}]}}
    app = load_handler("notify_chat", VIGIL_SLACK_SECRET_ARN=secret, VIGIL_RULES=json.dumps(rules))
    slack.respond_next(1, status=202, body="")  # what a Workflows webhook answers
    event = _sns_event(_chat_message())

    first = app.lambda_handler(event, FakeContext("chat"))
    again = app.lambda_handler(event, FakeContext("chat"))

    assert first == {"outcomes": {"posted": 1}}
    assert again == {"outcomes": {"duplicate": 1}}
    (post,) = slack.posts
    assert post.status == 202
    assert post.payload["type"] == "message"
    card = post.payload["attachments"][0]["content"]
    assert card["body"][0]["text"] == "[WARNING] Lambda errors firing: nightly-report"


def _chat_secret(**keys: str) -> str:
    arn: str = boto3.client("secretsmanager").create_secret(
        Name="vigil/chat-keys", SecretString=json.dumps({"webhook_url": "", **keys})
    )["ARN"]
    return arn


def _webhook_handler(load_handler: Loader, url: str) -> ModuleType:
    rules = {"routing": {"receivers": [{"name": "default", "webhook": "audit_url"}]}}
    return load_handler(
        "notify_chat",
        VIGIL_SLACK_SECRET_ARN=_chat_secret(audit_url=url),
        VIGIL_RULES=json.dumps(rules),
    )


def test_a_json_webhook_gets_the_v1_document_once_even_if_redelivered(
    table: str, load_handler: Loader, slack: SlackServer
) -> None:
    app = _webhook_handler(load_handler, slack.base_url + "/hooks/audit")
    slack.respond_next(1, status=204, body="")
    event = _sns_event(_chat_message())

    first = app.lambda_handler(event, FakeContext("chat"))
    again = app.lambda_handler(event, FakeContext("chat"))

    assert first == {"outcomes": {"posted": 1}}
    assert again == {"outcomes": {"duplicate": 1}}
    (post,) = slack.posts
    assert post.path == "/hooks/audit"
    assert post.headers["Content-Type"].startswith("application/json")
    assert problems("webhook", post.payload) == []
    assert post.payload["title"] == "[WARNING] Lambda errors firing: nightly-report"


def test_a_json_webhook_is_retried_on_429_and_5xx_with_backoff(
    table: str, load_handler: Loader, slack: SlackServer
) -> None:
    app = _webhook_handler(load_handler, slack.base_url + "/hooks/audit")
    slack.fail_next(1, status=429, retry_after=0)
    slack.fail_next(1, status=503)

    result = app.lambda_handler(_sns_event(_chat_message()), FakeContext("chat"))

    assert result == {"outcomes": {"posted": 1}}
    assert [post.status for post in slack.posts] == [429, 503, 200]


def test_a_json_webhook_that_keeps_failing_fails_the_invocation_naming_the_status(
    table: str, load_handler: Loader, slack: SlackServer
) -> None:
    app = _webhook_handler(load_handler, slack.base_url + "/hooks/audit")
    slack.fail_next(10, status=500)

    with pytest.raises(ChatDeliveryError, match="JSON webhook answered 500"):
        app.lambda_handler(_sns_event(_chat_message()), FakeContext("chat"))

    assert len(slack.posts) == 4  # 1 try + 3 retries, then Lambda's retries and the DLQ


def test_a_chatbot_receiver_publishes_a_custom_notification_to_the_chatbot_topic(
    table: str, load_handler: Loader
) -> None:
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="vigil-chatbot")["TopicArn"]
    queue = sqs.create_queue(QueueName="chatbot-channel")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn["Attributes"]["QueueArn"],
        Attributes={"RawMessageDelivery": "true"},
    )
    rules = {"routing": {"receivers": [{"name": "default", "chatbot": True}]}}
    app = load_handler(
        "notify_chat",
        VIGIL_SLACK_SECRET_ARN=_chat_secret(),
        VIGIL_CHATBOT_TOPIC_ARN=topic,
        VIGIL_RULES=json.dumps(rules),
    )
    event = _sns_event(_chat_message())

    first = app.lambda_handler(event, FakeContext("chat"))
    again = app.lambda_handler(event, FakeContext("chat"))

    assert first == {"outcomes": {"posted": 1}}
    assert again == {"outcomes": {"duplicate": 1}}
    (message,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    document = json.loads(message["Body"])
    assert problems("chatbot", document) == []
    assert document["content"]["title"].endswith("[WARNING] Lambda errors firing: nightly-report")


def test_a_chatbot_receiver_without_the_topic_is_skipped_with_a_warning(
    table: str, load_handler: Loader
) -> None:
    rules = {"routing": {"receivers": [{"name": "default", "chatbot": True}]}}
    app = load_handler(
        "notify_chat", VIGIL_SLACK_SECRET_ARN=_chat_secret(), VIGIL_RULES=json.dumps(rules)
    )

    result = app.lambda_handler(_sns_event(_chat_message()), FakeContext("chat"))

    assert result == {"outcomes": {"not-configured": 1}}


BOT_RULES = {
    "lambda_errors": {"for_minutes": 0},
    "routing": {
        "receivers": [{"name": "default", "slack_bot": "bot_token", "slack_channel": BOT_CHANNEL}],
        "route": {"group_by": ["kind"], "group_interval": "5m", "repeat_interval": "10m"},
    },
}


def _group_messages() -> list[str]:
    """A group's first message, a repeat 10 minutes later, and its resolution."""
    rules = RulesConfig.from_json(json.dumps(BOT_RULES))
    store = MemoryAlertStore()
    messages = []
    for minute, errors in ((0, 1), (10, 1), (15, 0)):
        at = T0 + timedelta(minutes=minute)
        result = evaluate(
            batch(at, error_signal("nightly-report", invocations=3, errors=errors, at=at)),
            rules=rules,
            store=store,
            routing=store.routing,
            stack="vigil",
        )
        messages += [json.loads(n.message)["lambda"] for n in result.notifications]
    return messages


def test_a_slack_bot_opens_a_thread_replies_in_it_and_edits_the_first_message(
    table: str, load_handler: Loader, slack: SlackServer
) -> None:
    secret = _chat_secret(bot_token=slack.bot_token, slack_api_url=slack.api_url)
    app = load_handler(
        "notify_chat", VIGIL_SLACK_SECRET_ARN=secret, VIGIL_RULES=json.dumps(BOT_RULES)
    )
    first, repeat, resolved = _group_messages()

    outcomes = [
        app.lambda_handler(_sns_event(message), FakeContext("chat"))["outcomes"]
        for message in (first, repeat, repeat, resolved)
    ]

    assert outcomes == [{"posted": 1}, {"threaded": 1}, {"duplicate": 1}, {"threaded": 1}]
    opening, *replies = slack.messages
    assert opening.thread_ts is None
    assert [r.thread_ts for r in replies] == [opening.ts, opening.ts]
    assert [r.text for r in replies] == [
        "[WARNING] Lambda errors still firing: nightly-report",
        "[RESOLVED] Lambda errors resolved: nightly-report",
    ]
    assert opening.text == "[RESOLVED] Lambda errors resolved: nightly-report"  # edited
    assert [e["text"] for e in opening.edits] == [
        "[WARNING] Lambda errors firing: nightly-report",
        "[WARNING] Lambda errors still firing: nightly-report",
    ]
    assert {p.path for p in slack.posts} == {"/api/chat.postMessage", "/api/chat.update"}


def test_a_slack_bot_refused_by_slack_fails_the_invocation_naming_the_error(
    table: str, load_handler: Loader, slack: SlackServer
) -> None:
    secret = _chat_secret(bot_token="xoxb-revoked", slack_api_url=slack.api_url)
    app = load_handler(
        "notify_chat", VIGIL_SLACK_SECRET_ARN=secret, VIGIL_RULES=json.dumps(BOT_RULES)
    )
    first, _, _ = _group_messages()

    with pytest.raises(
        ChatDeliveryError, match=f"Slack chat.postMessage in {BOT_CHANNEL}: invalid_auth"
    ):
        app.lambda_handler(_sns_event(first), FakeContext("chat"))

    assert slack.messages == []


def test_a_rate_limited_slack_bot_call_is_retried(
    table: str, load_handler: Loader, slack: SlackServer
) -> None:
    secret = _chat_secret(bot_token=slack.bot_token, slack_api_url=slack.api_url)
    app = load_handler(
        "notify_chat", VIGIL_SLACK_SECRET_ARN=secret, VIGIL_RULES=json.dumps(BOT_RULES)
    )
    slack.fail_next(1, status=429, retry_after=0)

    result = app.lambda_handler(_sns_event(_group_messages()[0]), FakeContext("chat"))

    assert result == {"outcomes": {"posted": 1}}
    assert [p.status for p in slack.posts] == [429, 200]
    assert len(slack.messages) == 1


def test_a_slack_bot_whose_opening_message_was_deleted_opens_a_new_thread(
    table: str, load_handler: Loader, slack: SlackServer
) -> None:
    secret = _chat_secret(bot_token=slack.bot_token, slack_api_url=slack.api_url)
    app = load_handler(
        "notify_chat", VIGIL_SLACK_SECRET_ARN=secret, VIGIL_RULES=json.dumps(BOT_RULES)
    )
    first, repeat, resolved = _group_messages()
    app.lambda_handler(_sns_event(first), FakeContext("chat"))
    slack.clear()  # the channel's messages are deleted

    outcomes = [
        app.lambda_handler(_sns_event(message), FakeContext("chat"))["outcomes"]
        for message in (repeat, resolved)
    ]

    assert outcomes == [{"threaded": 1}, {"posted": 1}]
    assert [(m.text, m.thread_ts is None) for m in slack.messages] == [
        ("[WARNING] Lambda errors still firing: nightly-report", False),
        ("[RESOLVED] Lambda errors resolved: nightly-report", True),
    ]
