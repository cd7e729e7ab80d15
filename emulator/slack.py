"""A local stand-in for Slack incoming webhooks.

:class:`SlackServer` listens on ``127.0.0.1`` on a free port (one thread per request), records
every POST (path, raw body, parsed JSON, time, the status it answered) and answers ``200 ok``
like Slack does. Tests can script the next answers, e.g. ``server.fail_next(2, status=429,
retry_after=1)`` or ``server.fail_next(1, status=500)``, to exercise retries.

Its :attr:`SlackServer.webhook_url` has Slack's shape
(``http://127.0.0.1:PORT/services/T000/B000/XXXX``); the emulator stores it in the stack's
Slack secret so the real ``notify_chat`` handler posts here.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WEBHOOK_PATH = "/services/T000/B000/XXXX"

# What Slack's webhook endpoint answers for each status (api.slack.com, "Handling errors").
_DEFAULT_BODIES = {
    200: "ok",
    400: "invalid_payload",
    403: "action_prohibited",
    404: "no_service",
    410: "channel_is_archived",
    429: "rate_limited",
    500: "rollup_error",
    503: "service_unavailable",
}


@dataclass(frozen=True)
class SlackPost:
    """One POST the server received."""

    path: str
    body: str
    payload: Any
    """The body parsed as JSON, or ``None`` when it is not JSON."""
    received_at: datetime
    """Wall-clock time (UTC)."""
    sim_time: datetime | None
    """The emulator's simulated time when the post arrived, if a clock was attached."""
    status: int
    """The status the server answered (200 unless scripted otherwise)."""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def delivered(self) -> bool:
        return self.status == 200

    @property
    def title(self) -> str:
        """A one-line summary: the header block, else ``text``, else the first section."""
        return summarize_payload(self.payload) if self.payload is not None else self.body[:120]


@dataclass(frozen=True)
class _Scripted:
    status: int
    body: str
    retry_after: int | None


def summarize_payload(payload: Any) -> str:
    """The human title of a Slack message payload (Block Kit or plain ``text``)."""
    if not isinstance(payload, dict):
        return str(payload)[:120]
    blocks = payload.get("blocks")
    if not blocks:
        attachments = payload.get("attachments")
        if isinstance(attachments, list) and attachments and isinstance(attachments[0], dict):
            blocks = attachments[0].get("blocks")
    if isinstance(blocks, list):
        for kind in ("header", "section"):
            for block in blocks:
                if isinstance(block, dict) and block.get("type") == kind:
                    text = block.get("text")
                    if isinstance(text, dict) and isinstance(text.get("text"), str):
                        return str(text["text"]).splitlines()[0][:160]
    text = payload.get("text")
    if isinstance(text, str) and text:
        return text.splitlines()[0][:160]
    return json.dumps(payload)[:120]


class SlackServer:
    """Records webhook POSTs; see the module docstring."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        sim_clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._host = host
        self._sim_clock = sim_clock
        self._lock = threading.Lock()
        self._posts: list[SlackPost] = []
        self._script: list[_Scripted] = []
        self._listeners: list[Callable[[SlackPost], None]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> SlackServer:
        if self._server is not None:
            return self
        server = ThreadingHTTPServer((self._host, 0), self._handler_class())
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="emulator-slack", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SlackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ addresses
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the Slack server is not running: call start() first")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def webhook_url(self) -> str:
        return self.base_url + WEBHOOK_PATH

    # ------------------------------------------------------------------ scripting
    def fail_next(
        self, count: int = 1, *, status: int = 500, retry_after: int | None = None
    ) -> None:
        """Answer the next ``count`` POSTs with ``status`` (and ``Retry-After`` if given)."""
        self.respond_next(count, status=status, retry_after=retry_after)

    def respond_next(
        self,
        count: int = 1,
        *,
        status: int,
        body: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Queue ``count`` scripted answers; after them the server answers ``200 ok`` again."""
        if count < 0:
            raise ValueError("count must be >= 0")
        answer = _Scripted(
            status, body if body is not None else _DEFAULT_BODIES.get(status, "error"), retry_after
        )
        with self._lock:
            self._script.extend([answer] * count)

    def on_post(self, listener: Callable[[SlackPost], None]) -> None:
        """Call ``listener`` (from the server's thread) for every POST."""
        self._listeners.append(listener)

    # ------------------------------------------------------------------ results
    @property
    def posts(self) -> list[SlackPost]:
        """Every POST so far, failed (scripted) ones included; see :attr:`delivered`."""
        with self._lock:
            return list(self._posts)

    @property
    def delivered(self) -> list[SlackPost]:
        """The POSTs answered with 200."""
        return [p for p in self.posts if p.delivered]

    def clear(self) -> None:
        with self._lock:
            self._posts.clear()
            self._script.clear()

    def wait_for(self, count: int, *, timeout: float = 10.0) -> list[SlackPost]:
        """Wait until at least ``count`` POSTs arrived; raise ``TimeoutError`` otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            posts = self.posts
            if len(posts) >= count:
                return posts
            time.sleep(0.02)
        raise TimeoutError(
            f"expected {count} Slack POST(s) within {timeout}s, got {len(self.posts)}"
        )

    # ------------------------------------------------------------------ internals
    def _record(self, path: str, body: str, headers: dict[str, str]) -> _Scripted:
        try:
            payload: Any = json.loads(body) if body else None
        except json.JSONDecodeError:
            payload = None
        with self._lock:
            answer = self._script.pop(0) if self._script else _Scripted(200, "ok", None)
            post = SlackPost(
                path=path,
                body=body,
                payload=payload,
                received_at=datetime.now(UTC),
                sim_time=self._sim_clock() if self._sim_clock else None,
                status=answer.status,
                headers=headers,
            )
            self._posts.append(post)
        for listener in list(self._listeners):
            listener(post)
        return answer

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "emulator-slack/1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8", errors="replace")
                answer = owner._record(self.path, raw, dict(self.headers.items()))
                data = answer.body.encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(data)))
                if answer.retry_after is not None:
                    self.send_header("Retry-After", str(answer.retry_after))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self.send_response(405)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return  # keep test and demo output clean

        return Handler
