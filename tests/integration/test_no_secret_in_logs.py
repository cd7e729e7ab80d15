"""No secret in any log line at any level (issue 12, part 7).

The chat function posts through retries (429 and 5xx, for the webhook and the bot) with every
logger at DEBUG; neither the captured records nor stdout/stderr may contain the webhook URL,
the bot token or a signing secret kept in the same secret. slack_sdk logs the URL of each
request and retry (``slack_sdk/webhook/client.py``, ``slack_sdk/web/base_client.py``), and
botocore prints response bodies, a ``SecretString`` among them, at DEBUG
(``botocore/parsers.py``).
"""

import json
import logging
from collections.abc import Iterator

import boto3
import pytest

from emulator.slack import SlackServer
from tests.integration.conftest import FakeContext
from tests.integration.test_notify_chat import (
    BOT_RULES,
    Loader,
    _chat_message,
    _group_messages,
    _sns_event,
)

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer() as server:
        yield server


@pytest.fixture
def everything_at_debug(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    # caplog first: it restores the root level it found, so that must be the original one
    caplog.set_level(logging.DEBUG)
    loggers = [*map(logging.getLogger, list(logging.root.manager.loggerDict))]
    levels = [(log, log.level) for log in loggers]
    for log in loggers:
        log.setLevel(logging.DEBUG)
    yield
    for log, level in levels:
        log.setLevel(level)
    known = {log.name for log in loggers}
    for name in list(logging.root.manager.loggerDict):
        if name not in known:  # created during the test: back to inheriting their level
            logging.getLogger(name).setLevel(logging.NOTSET)


def _secret(**keys: str) -> str:
    arn: str = boto3.client("secretsmanager").create_secret(
        Name="vigil/chat-all", SecretString=json.dumps({**keys, "signing_secret": SIGNING_SECRET})
    )["ARN"]
    return arn


def _forget_setup(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
    caplog.clear()
    capfd.readouterr()


def _assert_no_secret(
    secrets: list[str], caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    out, err = capfd.readouterr()
    logged = "\n".join(
        [r.getMessage() + json.dumps(r.__dict__, default=str) for r in caplog.records]
    )
    assert caplog.records  # DEBUG logging did run
    for secret in secrets:
        assert secret not in logged
        assert secret not in out + err


@pytest.mark.usefixtures("table", "everything_at_debug")
def test_webhook_retries_at_debug_log_no_secret(
    load_handler: Loader,
    slack: SlackServer,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    app = load_handler("notify_chat", VIGIL_SLACK_SECRET_ARN=_secret(webhook_url=slack.webhook_url))
    slack.fail_next(1, status=429, retry_after=0)
    slack.fail_next(1, status=503)  # queued after the 429
    _forget_setup(caplog, capfd)  # creating the secret logged it, as a request of the test

    result = app.lambda_handler(_sns_event(_chat_message()), FakeContext("chat"))

    assert result == {"outcomes": {"posted": 1}}
    assert [post.status for post in slack.posts] == [429, 503, 200]
    _assert_no_secret([slack.webhook_url, SIGNING_SECRET], caplog, capfd)


@pytest.mark.usefixtures("table", "everything_at_debug")
def test_bot_retries_at_debug_log_no_secret(
    load_handler: Loader,
    slack: SlackServer,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    secret = _secret(webhook_url="", bot_token=slack.bot_token, slack_api_url=slack.api_url)
    app = load_handler(
        "notify_chat", VIGIL_SLACK_SECRET_ARN=secret, VIGIL_RULES=json.dumps(BOT_RULES)
    )
    slack.fail_next(1, status=429, retry_after=0)
    slack.fail_next(1, status=500)
    _forget_setup(caplog, capfd)

    result = app.lambda_handler(_sns_event(_group_messages()[0]), FakeContext("chat"))

    assert result == {"outcomes": {"posted": 1}}
    assert [p.status for p in slack.posts] == [429, 500, 200]
    _assert_no_secret([slack.bot_token, SIGNING_SECRET], caplog, capfd)
