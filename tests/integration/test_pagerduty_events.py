"""The PagerDuty Events API v2 adapter against a local server (127.0.0.1).

Statuses and bodies from PagerDuty's "Send an Alert Event" reference: 202 ``{"status":
"success", "message": "Event processed", "dedup_key": ...}``; 400 ``{"status": "invalid
event", "message": "Event object is invalid", "errors": [...]}``; 429 when the service's rate
is exceeded (retry later); 5xx retried with backoff.
"""

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from vigil.adapters.pagerduty import PagerDutyEvents
from vigil.core.errors import ChatDeliveryError, ChatDestinationRefused

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefghijkl"


class _FakeEvents(BaseHTTPRequestHandler):
    """Answers each POST with the next status of ``answers`` (PagerDuty's bodies)."""

    answers: ClassVar[list[int]] = []
    bodies: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).bodies.append(json.loads(self.rfile.read(length)))
        status = type(self).answers.pop(0)
        body = {
            202: {"status": "success", "message": "Event processed", "dedup_key": "g1"},
            400: {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": ["'payload.summary' is missing or blank"],
            },
            429: {
                "status": "throttle event",
                "message": "Requests for this service are arriving too quickly.",
            },
            500: {"status": "error"},
        }[status]
        encoded = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(encoded)))
        if status == 429:
            self.send_header("Retry-After", "0")
        self.end_headers()
        self.wfile.write(encoded)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def events_url() -> Iterator[str]:
    _FakeEvents.answers, _FakeEvents.bodies = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeEvents)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v2/enqueue"
    server.shutdown()
    server.server_close()


def test_the_adapter_adds_the_routing_key_and_takes_202(events_url: str) -> None:
    _FakeEvents.answers = [202]
    PagerDutyEvents(ROUTING_KEY, url=events_url).post(
        {"event_action": "resolve", "dedup_key": "g1"}
    )
    assert _FakeEvents.bodies == [
        {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": "g1"}
    ]


def test_429_and_5xx_are_retried(events_url: str) -> None:
    _FakeEvents.answers = [429, 500, 202]
    PagerDutyEvents(ROUTING_KEY, url=events_url).post(
        {"event_action": "resolve", "dedup_key": "g1"}
    )
    assert len(_FakeEvents.bodies) == 3


def test_400_is_not_retried_and_fails_with_pagerdutys_reason(events_url: str) -> None:
    _FakeEvents.answers = [400]
    with pytest.raises(ChatDeliveryError, match=r"answered 400.*payload.summary") as failed:
        PagerDutyEvents(ROUTING_KEY, url=events_url).post({"event_action": "trigger"})
    assert not isinstance(failed.value, ChatDestinationRefused)
    assert ROUTING_KEY not in str(failed.value)
    assert len(_FakeEvents.bodies) == 1


def test_the_routing_key_never_reaches_the_debug_log(
    events_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    _FakeEvents.answers = [202]
    with caplog.at_level(logging.DEBUG, logger="slack_sdk"):
        PagerDutyEvents(ROUTING_KEY, url=events_url).post(
            {"event_action": "resolve", "dedup_key": "g1"}
        )
    assert "Sending a request" in caplog.text
    assert ROUTING_KEY not in caplog.text
