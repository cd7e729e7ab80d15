"""A local stand-in for PagerDuty: the Events API v2 endpoint and its v3 webhooks.

:class:`PagerDutyServer` listens on ``127.0.0.1`` on a free port (one thread per request).
Every POST to :attr:`PagerDutyServer.events_url` is checked against the Events API v2 JSON
Schema (``tests/schemas/pagerduty-events-v2.schema.json``, written from PagerDuty's "Send an
Alert Event") and against :attr:`PagerDutyServer.routing_keys`: an invalid event is answered
400 ``{"status": "invalid event", "message": "Event object is invalid", "errors": [...]}`` and
recorded with its errors, a valid one 202 ``{"status": "success", "message": "Event
processed", "dedup_key": ...}``. Tests can script the next answers (``fail_next(1,
status=429)``) to exercise retries.

Valid events update :attr:`PagerDutyServer.incidents`, one per ``dedup_key``, as PagerDuty
does (developer.pagerduty.com, "Events API v2 Overview", "Alert de-duplication"): a trigger
opens an incident when none is open under the key (a resolved one is replaced by a new one),
and is added to the open one otherwise, which keeps its status (an acknowledged incident stays
acknowledged); ``acknowledge`` and ``resolve`` change an open incident and are ignored for a
key with none.

:meth:`PagerDutyServer.acknowledge_in_pagerduty` is a person acknowledging in PagerDuty: the
incident becomes acknowledged and the method returns the v3 webhook delivery PagerDuty would
send (``{"event": {"event_type": "incident.acknowledged", "agent", "data": the incident with
its incident_key}}``, developer.pagerduty.com "Webhooks v3 Overview") and its
``X-PagerDuty-Signature`` (``v1=`` HMAC-SHA256 of the body with
:attr:`PagerDutyServer.webhook_secret`, "Verifying Signatures").

Its URL goes in the stack's chat secret (``pagerduty_events_url``), with the routing key under
the key a receiver's ``pagerduty`` names, so the real ``notify_chat`` handler posts here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

SCHEMA = Path(__file__).parents[1] / "tests" / "schemas" / "pagerduty-events-v2.schema.json"
EVENTS_PATH = "/v2/enqueue"
ROUTING_KEY = "R0UT1NGKEYEMULATOR0000000000000a"
"""A routing key of PagerDuty's shape (32 characters)."""
WEBHOOK_SECRET = "pagerduty-emulator-webhook-secret"

Status = Literal["triggered", "acknowledged", "resolved"]


@dataclass(frozen=True)
class PagerDutyEvent:
    """One POST the server received, and what it answered."""

    body: Any
    status: int
    errors: tuple[str, ...]
    sim_time: datetime | None

    @property
    def action(self) -> str:
        return str(self.body.get("event_action")) if isinstance(self.body, dict) else ""

    @property
    def dedup_key(self) -> str:
        return str(self.body.get("dedup_key", "")) if isinstance(self.body, dict) else ""


@dataclass
class Incident:
    """An incident as PagerDuty keeps it under one dedup key."""

    id: str
    dedup_key: str
    status: Status
    title: str
    severity: str
    history: list[tuple[str, datetime | None]] = field(default_factory=list)
    """(event_action or a person's action, when) in order."""


class PagerDutyServer:
    """The Events API v2 endpoint and a webhook source; a context manager that serves."""

    def __init__(
        self,
        *,
        routing_keys: frozenset[str] = frozenset({ROUTING_KEY}),
        webhook_secret: str = WEBHOOK_SECRET,
        sim_clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.routing_keys = routing_keys
        self.webhook_secret = webhook_secret
        self._sim_clock = sim_clock
        self._lock = threading.Lock()
        self._events: list[PagerDutyEvent] = []
        self._incidents: dict[str, list[Incident]] = {}
        self._scripted: list[int] = []
        self._validator = Draft202012Validator(
            json.loads(SCHEMA.read_text()), format_checker=Draft202012Validator.FORMAT_CHECKER
        )
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ serving
    def start(self) -> PagerDutyServer:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> PagerDutyServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def events_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the PagerDuty emulator is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}{EVENTS_PATH}"

    def fail_next(self, count: int, *, status: int) -> None:
        """Answer the next ``count`` POSTs with ``status`` (429, 500...) before validating."""
        with self._lock:
            self._scripted += [status] * count

    # ------------------------------------------------------------------ what it holds
    @property
    def events(self) -> list[PagerDutyEvent]:
        with self._lock:
            return list(self._events)

    @property
    def invalid(self) -> list[PagerDutyEvent]:
        return [e for e in self.events if e.status == 400]

    @property
    def incidents(self) -> dict[str, Incident]:
        """The latest incident of each dedup key."""
        with self._lock:
            return {key: found[-1] for key, found in self._incidents.items()}

    # ------------------------------------------------------------------ a person in PagerDuty
    def acknowledge_in_pagerduty(
        self, dedup_key: str, *, who: str = "Earline Greenholt"
    ) -> tuple[str, str]:
        """Acknowledge the open incident of ``dedup_key`` as ``who``; the v3 webhook body
        PagerDuty sends about it, and its signature header value."""
        now = self._now()
        with self._lock:
            incident = self._incidents[dedup_key][-1]
            if incident.status == "triggered":
                incident.status = "acknowledged"
            incident.history.append((f"acknowledged by {who}", now))
        body = json.dumps(
            {
                "event": {
                    "id": str(uuid.uuid4()),
                    "event_type": "incident.acknowledged",
                    "resource_type": "incident",
                    "occurred_at": (now or datetime.now(UTC)).isoformat(),
                    "agent": {"id": "PXPGF42", "summary": who, "type": "user_reference"},
                    "client": None,
                    "data": {
                        "id": incident.id,
                        "type": "incident",
                        "number": 1,
                        "status": incident.status,
                        "incident_key": incident.dedup_key,
                        "title": incident.title,
                        "urgency": "high",
                    },
                }
            }
        )
        return body, self.sign(body)

    def sign(self, body: str, secret: str | None = None) -> str:
        key = (self.webhook_secret if secret is None else secret).encode()
        return "v1=" + hmac.new(key, body.encode(), hashlib.sha256).hexdigest()

    # ------------------------------------------------------------------ the endpoint
    def _now(self) -> datetime | None:
        return self._sim_clock() if self._sim_clock else None

    def _receive(self, raw: bytes) -> tuple[int, dict[str, Any]]:
        with self._lock:
            scripted = self._scripted.pop(0) if self._scripted else None
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode(errors="replace")
        if scripted is not None:
            self._log(PagerDutyEvent(body, scripted, ("scripted",), self._now()))
            return scripted, {"status": "error", "message": "scripted answer"}
        errors = self._errors(body)
        if errors:
            self._log(PagerDutyEvent(body, 400, tuple(errors), self._now()))
            return 400, {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": errors,
            }
        self._apply(body)
        self._log(PagerDutyEvent(body, 202, (), self._now()))
        return 202, {
            "status": "success",
            "message": "Event processed",
            "dedup_key": body["dedup_key"],
        }

    def _errors(self, body: Any) -> list[str]:
        problems = [
            f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
            for e in self._validator.iter_errors(body)
        ]
        if not problems and body["routing_key"] not in self.routing_keys:
            problems.append("routing_key: no integration has this routing key")
        if not problems and "dedup_key" not in body:
            problems.append("dedup_key: Vigil always sends one (the group id)")
        return problems

    def _apply(self, body: dict[str, Any]) -> None:
        key, action, now = body["dedup_key"], body["event_action"], self._now()
        with self._lock:
            found = self._incidents.setdefault(key, [])
            open_ = found[-1] if found and found[-1].status != "resolved" else None
            if action == "trigger":
                if open_ is None:
                    payload = body["payload"]
                    open_ = Incident(
                        id=f"Q{len(self._events):06d}",
                        dedup_key=key,
                        status="triggered",
                        title=payload["summary"],
                        severity=payload["severity"],
                    )
                    found.append(open_)
            elif open_ is not None and action == "acknowledge" and open_.status == "triggered":
                open_.status = "acknowledged"
            elif open_ is not None and action == "resolve":
                open_.status = "resolved"
            if open_ is not None:
                open_.history.append((action, now))
            elif not found:
                del self._incidents[key]

    def _log(self, event: PagerDutyEvent) -> None:
        with self._lock:
            self._events.append(event)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != EVENTS_PATH:
                    status, answer = 404, {"status": "error", "message": "not found"}
                else:
                    status, answer = server._receive(raw)
                encoded = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(encoded)))
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(encoded)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
