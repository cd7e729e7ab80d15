"""Send Events API v2 events to PagerDuty, retrying what is worth retrying.

The same client and retries as the JSON webhook (:mod:`vigil.adapters.webhook`): 429 after
its ``Retry-After`` (bounded), 5xx and connection errors with backoff. PagerDuty answers 202
when it has the event. A 400 (an event PagerDuty finds invalid, its ``errors`` say why) is
not retried: it raises ``ChatDeliveryError`` with PagerDuty's answer, the chat function
fails and the event ends in the chat dead-letter queue with that reason. The routing key is
a secret: it travels in the body, never in the URL, and is never logged.
"""

from typing import Any

from vigil.adapters.webhook import JsonWebhook
from vigil.channels.pagerduty import EVENTS_URL
from vigil.core.observability import http_logger


class PagerDutyEvents(JsonWebhook):
    platform = "PagerDuty Events API"
    accepted = frozenset({202})
    refused = frozenset({401, 403, 404})

    def __init__(self, routing_key: str, *, url: str = EVENTS_URL, timeout: int = 10) -> None:
        super().__init__(url, timeout=timeout)
        # slack_sdk logs each request's body at debug level: the routing key is in it
        self._client.logger = http_logger(url, routing_key)
        self._routing_key = routing_key

    def post(self, message: dict[str, Any]) -> None:
        super().post({"routing_key": self._routing_key, **message})
