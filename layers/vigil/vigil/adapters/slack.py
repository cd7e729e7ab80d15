"""Post to a Slack incoming webhook with slack_sdk, retrying what is worth retrying.

429 answers are retried after the ``Retry-After`` the server names; 5xx answers and
connection errors with exponential backoff. What still fails raises ``ChatDeliveryError``,
so the Lambda fails, its asynchronous retries run, and the event ends in the dead-letter
queue: a message is never dropped silently. slack_sdk logs the URL of every request and retry;
the client's logger masks it (``vigil.core.observability.http_logger``), as the URL is the secret.

An answer that refuses the webhook itself (401, 403, 404, 410: Slack's ``invalid_token``,
``action_prohibited``, ``no_service``, ``channel_not_found``, ``channel_is_archived``;
api.slack.com, "Sending messages using incoming webhooks", "Handling errors") raises
``ChatDestinationRefused``: no retry can help, the URL in the chat secret must change.
"""

from typing import Any

from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.webhook import WebhookClient

from vigil.core.errors import ChatDeliveryError, ChatDestinationRefused
from vigil.core.observability import http_logger


class AnyServerErrorRetryHandler(ServerErrorRetryHandler):
    """slack_sdk's handler retries 500 and 503 only; a 502 or 504 is as transient."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code >= 500


def retry_handlers() -> list[RetryHandler]:
    return [
        ConnectionErrorRetryHandler(max_retry_count=2),
        RateLimitErrorRetryHandler(max_retry_count=2),
        AnyServerErrorRetryHandler(max_retry_count=3),
    ]


class SlackWebhook:
    platform = "Slack webhook"
    accepted = frozenset({200})
    refused = frozenset({401, 403, 404, 410})
    retry_handlers = staticmethod(retry_handlers)

    def __init__(self, url: str, *, timeout: int = 10) -> None:
        self._client = WebhookClient(
            url,
            timeout=timeout,
            retry_handlers=self.retry_handlers(),
            logger=http_logger(url),  # slack_sdk logs the URL of every request and retry
        )

    def post(self, message: dict[str, Any]) -> None:
        try:
            response = self._client.send_dict(message)
        except Exception as exc:  # slack_sdk raises urllib errors after its own retries
            raise ChatDeliveryError(f"{self.platform} unreachable: {exc}") from exc
        if response.status_code in self.accepted:
            return
        failure = (
            ChatDestinationRefused if response.status_code in self.refused else ChatDeliveryError
        )
        raise failure(
            f"{self.platform} answered {response.status_code}: {str(response.body)[:200]}"
        )
