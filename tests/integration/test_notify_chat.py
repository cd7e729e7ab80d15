"""notify_chat against a Slack webhook served on 127.0.0.1 and secrets in moto.

Slack's answers come from its documentation: incoming webhooks (api.slack.com, "Sending
messages using incoming webhooks", "Handling errors": 404 ``no_service``, 403
``invalid_token``) and the Web API (api.slack.com/methods/chat.postMessage: ``invalid_auth``);
Lambda's retry timing from docs.aws.amazon.com/lambda/latest/dg/invocation-async.html (a first
retry after about a minute, with the same SNS ``Timestamp``).
"""

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest

from emulator.slack import BOT_CHANNEL, SlackPost, SlackServer
from tests.factories import T0, batch, error_signal
from tests.fakes import MemoryAlertStore
from tests.integration.conftest import TABLE, FakeContext
from tests.schemas import problems
from tests.unit.test_chat_claims import FakeClock
from vigil.adapters.delivery_log import DeliveryLog
from vigil.channels.delivery import CLAIM_LEASE
from vigil.core.errors import ChatDeliveryError, InvalidEventError
from vigil.evaluation.pipeline import evaluate
from vigil.rules.document import RulesConfig

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
        batch(T0, error_signal("nightly-report", invocations=1, errors=1)),
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


def test_a_server_error_that_persists_fails_the_invocation_and_releases_the_claim(
    table: str, load_handler: Loader, slack: SlackServer
) -> None:
    app = _handler(load_handler, _secret(slack.webhook_url))
    slack.fail_next(4, status=502)
    event = _sns_event(_chat_message())

    with pytest.raises(ChatDeliveryError):
        app.lambda_handler(event, FakeContext("chat"))
    retry = app.lambda_handler(event, FakeContext("chat"))  # Lambda's retry

    assert [post.status for post in slack.posts] == [502] * 4 + [200]  # 1 try + 3 retries
    assert retry == {"outcomes": {"posted": 1}}


def test_two_deliveries_of_one_message_at_the_same_moment_post_once(
    table: str, load_handler: Loader, slack: SlackServer
) -> None:
    # Given SNS delivers one message to two invocations at once: the second arrives while
    # the first one's post is on its way to Slack
    app = _handler(load_handler, _secret(slack.webhook_url))
    event = _sns_event(_chat_message())
    second: list[object] = []

    def concurrent_copy(post: SlackPost) -> None:
        if not second:
            second.append(app.lambda_handler(event, FakeContext("chat")))

    slack.on_post(concurrent_copy)

    # When the first delivery runs
    first = app.lambda_handler(event, FakeContext("chat"))

    # Then Slack got one post: the copy found the live claim and skipped
    assert first == {"outcomes": {"posted": 1}}
    assert second == [{"outcomes": {"in-flight": 1}}]
    assert len(slack.posts) == 1


def test_a_delivery_that_died_after_its_claim_is_posted_by_the_retry_after_the_lease(
    table: str, load_handler: Loader, slack: SlackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an invocation claimed the Slack post at 09:00:05 and was killed before posting
    app = _handler(load_handler, _secret(slack.webhook_url))
    message = _chat_message()
    notification_id = json.loads(message)["notification_id"]
    claimed_at = datetime(2026, 11, 2, 9, 0, 5, tzinfo=UTC)
    log = DeliveryLog(boto3.client("dynamodb"), TABLE, retention=timedelta(days=7))
    log.claim(notification_id, "slack", at=claimed_at, lease=CLAIM_LEASE)
    clock = FakeClock(claimed_at + timedelta(seconds=10))
    monkeypatch.setattr(app, "_wall_clock", clock)

    # When a copy arrives 10 s later, and Lambda's retry a minute after that
    early = app.lambda_handler(_sns_event(message), FakeContext("chat"))
    clock.advance(timedelta(minutes=1))
    retry = app.lambda_handler(_sns_event(message), FakeContext("chat"))

    # Then the copy skips while the claim may be live; the retry takes it over and posts once
    assert early == {"outcomes": {"in-flight": 1}}
    assert retry == {"outcomes": {"posted": 1}}
    assert len(slack.posts) == 1


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
        "AlarmName": "vigil-test-ChatDeadLettersAlarm-ABC",  # CloudFormation names it so
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
        slack.posts[0].payload["text"]
        == "[ALARM] Vigil self-watch: vigil-test-ChatDeadLettersAlarm-ABC"
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


def test_a_chatbot_receiver_without_the_topic_is_a_misconfigured_destination(
    table: str, load_handler: Loader, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = {"routing": {"receivers": [{"name": "default", "chatbot": True}]}}
    app = load_handler(
        "notify_chat", VIGIL_SLACK_SECRET_ARN=_chat_secret(), VIGIL_RULES=json.dumps(rules)
    )

    result = app.lambda_handler(_sns_event(_chat_message()), FakeContext("chat"))

    assert result == {"outcomes": {"misconfigured": 1}}
    assert '"Chat_misconfigured":[1.0]' in capsys.readouterr().out


def test_a_webhook_slack_refuses_for_good_is_named_in_slack_and_counted(
    table: str,
    load_handler: Loader,
    slack: SlackServer,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a receiver with a working Slack webhook and a Teams workflow that was deleted
    teams_url = slack.base_url + "/teams/deleted-flow-SECRET"
    secret = _chat_secret(slack_url=slack.webhook_url, teams_url=teams_url)
    rules = {
        "routing": {"receivers": [{"name": "default", "slack": "slack_url", "teams": "teams_url"}]}
    }
    app = load_handler("notify_chat", VIGIL_SLACK_SECRET_ARN=secret, VIGIL_RULES=json.dumps(rules))
    for status in (200, 404, 200, 404):  # Slack, Teams (gone: no_service), the notice, Teams
        slack.respond_next(1, status=status)
    event = _sns_event(_chat_message())

    # When the notification is delivered, and delivered again
    first = app.lambda_handler(event, FakeContext("chat"))
    again = app.lambda_handler(event, FakeContext("chat"))

    # Then Slack has the notification and one notice naming the receiver, key and fix; the
    # invocation succeeds (nothing to retry); the problem is counted every time
    assert first == {"outcomes": {"posted": 2, "misconfigured": 1}}
    assert again == {"outcomes": {"duplicate": 2, "misconfigured": 1}}
    titles = [p.payload["text"] for p in slack.posts if p.path != "/teams/deleted-flow-SECRET"]
    assert titles == [
        "[WARNING] Lambda errors firing: nightly-report",
        "[WARNING] Vigil self-watch: vigil.config_invalid: receiver default",
    ]
    notice = json.dumps(slack.posts[2].payload)
    assert "Teams workflow behind the chat secret key 'teams_url'" in notice
    assert "answered 404: no_service" in notice
    assert capsys.readouterr().out.count('"Chat_misconfigured":[1.0]') == 2
    assert "SECRET" not in notice  # never the URL
    assert not [r for r in caplog.records if "SECRET" in str(r.__dict__)]


def test_a_receiver_naming_a_key_the_secret_lacks_still_reaches_its_other_channels(
    table: str, load_handler: Loader, slack: SlackServer
) -> None:
    secret = _chat_secret(slack_url=slack.webhook_url)  # no "audit_url"
    rules = {
        "routing": {
            "receivers": [{"name": "default", "slack": "slack_url", "webhook": "audit_url"}]
        }
    }
    app = load_handler("notify_chat", VIGIL_SLACK_SECRET_ARN=secret, VIGIL_RULES=json.dumps(rules))

    result = app.lambda_handler(_sns_event(_chat_message()), FakeContext("chat"))

    assert result == {"outcomes": {"posted": 2, "misconfigured": 1}}
    notice = slack.posts[1].payload
    assert "'audit_url' is not in SlackWebhookSecret" in json.dumps(notice)


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
            batch(at, error_signal("nightly-report", invocations=1, errors=errors, at=at)),
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


def test_a_slack_bot_whose_token_slack_refuses_is_a_misconfigured_destination(
    table: str, load_handler: Loader, slack: SlackServer, caplog: pytest.LogCaptureFixture
) -> None:
    secret = _chat_secret(bot_token="xoxb-revoked", slack_api_url=slack.api_url)
    app = load_handler(
        "notify_chat", VIGIL_SLACK_SECRET_ARN=secret, VIGIL_RULES=json.dumps(BOT_RULES)
    )
    first, _, _ = _group_messages()

    result = app.lambda_handler(_sns_event(first), FakeContext("chat"))

    assert result == {"outcomes": {"misconfigured": 1}}  # no retry: it cannot help
    assert slack.messages == []
    (logged,) = [r for r in caplog.records if r.getMessage() == "chat destination misconfigured"]
    assert logged.__dict__["detail"] == f"Slack chat.postMessage in {BOT_CHANNEL}: invalid_auth"
    assert not [r for r in caplog.records if "xoxb-revoked" in str(r.__dict__)]


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
