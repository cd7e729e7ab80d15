"""POST the ``vigil.webhook/v1`` document to a generic JSON webhook, with retries.

The same client as Slack's (slack_sdk's ``WebhookClient`` sends any JSON body): connection
errors and 5xx answers are retried with exponential backoff, 429 answers after the
``Retry-After`` seconds the server names (at most ``MAX_RETRY_AFTER_SECONDS``, an HTTP-date or a
missing header: the backoff). Any 2xx is success. What still fails raises
``ChatDeliveryError`` naming the status, so the chat function fails, Lambda retries the event
twice, and it ends in the chat dead-letter queue.
"""

import time

from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from vigil.adapters.slack import AnyServerErrorRetryHandler, SlackWebhook

MAX_RETRY_AFTER_SECONDS = 10


class _BoundedRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """Waits what ``Retry-After`` says when it is a number of seconds, within bounds."""

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        wait = self.interval_calculator.calculate_sleep_duration(state.current_attempt)
        headers = {k.lower(): v for k, v in (response.headers if response else {}).items()}
        named = (headers.get("retry-after") or [""])[0]
        if named.isdigit():
            wait = min(int(named), MAX_RETRY_AFTER_SECONDS)
        state.next_attempt_requested = True
        time.sleep(wait)
        state.increment_current_attempt()


def webhook_retry_handlers() -> list[RetryHandler]:
    return [
        ConnectionErrorRetryHandler(max_retry_count=2),
        _BoundedRateLimitRetryHandler(max_retry_count=3),
        AnyServerErrorRetryHandler(max_retry_count=3),
    ]


class JsonWebhook(SlackWebhook):
    platform = "JSON webhook"
    accepted = frozenset(range(200, 300))
    retry_handlers = staticmethod(webhook_retry_handlers)
