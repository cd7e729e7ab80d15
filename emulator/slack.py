"""A local stand-in for Slack incoming webhooks.

:class:`SlackServer` listens on ``127.0.0.1`` on a free port (one thread per request), records
every POST (path, raw body, parsed JSON, time, the status it answered) and answers ``200 ok``
like Slack does. Tests can script the next answers, e.g. ``server.fail_next(2, status=429,
retry_after=1)`` or ``server.fail_next(1, status=500)``, to exercise retries.

Its :attr:`SlackServer.webhook_url` has Slack's shape
(``http://127.0.0.1:PORT/services/T000/B000/XXXX``); the emulator stores it in the stack's
Slack secret so the real ``notify_chat`` handler posts here.

It also answers the two Web API methods a bot token uses, under :attr:`SlackServer.api_url`
(``/api/``, JSON bodies, as slack_sdk's ``WebClient`` sends them): ``chat.postMessage``
(a new message, or a reply when ``thread_ts`` is given; answers the message's ``ts``) and
``chat.update`` (edits the message ``ts`` of ``channel``; ``message_not_found`` otherwise).
Both need ``Authorization: Bearer`` :attr:`SlackServer.bot_token` (``invalid_auth``) and a
channel the bot is in, :attr:`SlackServer.bot_channels` (``not_in_channel``). Errors answer
HTTP 200 with ``{"ok": false, "error": ...}``, as Slack does; scripted answers
(``fail_next``) apply to these calls too. :attr:`SlackServer.messages` holds the channel's
messages as they stand, with their edits and thread replies.
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
API_PATH = "/api/"
BOT_TOKEN = "xoxb-0000-emulator"
BOT_CHANNEL = "C0EMULATOR"

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


@dataclass
class SlackMessage:
    """A message posted through the Web API, as it stands now."""

    channel: str
    ts: str
    text: str
    blocks: Any
    thread_ts: str | None
    edits: list[dict[str, Any]] = field(default_factory=list)
    """Each ``chat.update`` applied to it: the text and blocks before the edit."""


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
        self._messages: list[SlackMessage] = []
        self._sequence = 0
        self.bot_token = BOT_TOKEN
        self.bot_channels = {BOT_CHANNEL}
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

    @property
    def api_url(self) -> str:
        return self.base_url + API_PATH

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

    @property
    def messages(self) -> list[SlackMessage]:
        """Messages posted through the Web API, in posting order (replies included)."""
        with self._lock:
            return list(self._messages)

    def replies(self, ts: str) -> list[SlackMessage]:
        """The replies in the thread opened by the message ``ts``."""
        return [m for m in self.messages if m.thread_ts == ts]

    def clear(self) -> None:
        with self._lock:
            self._posts.clear()
            self._script.clear()
            self._messages.clear()

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
    def _api(self, method: str, payload: Any, headers: dict[str, str]) -> dict[str, Any]:
        """The Web API answer to one call that was not scripted to fail."""
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if auth != f"Bearer {self.bot_token}":
            return {"ok": False, "error": "invalid_auth"}
        if method not in {"chat.postMessage", "chat.update"}:
            return {"ok": False, "error": "unknown_method"}
        if not isinstance(payload, dict):
            return {"ok": False, "error": "invalid_arguments"}
        channel = str(payload.get("channel", ""))
        if channel not in self.bot_channels:
            return {"ok": False, "error": "not_in_channel"}
        text, blocks = str(payload.get("text", "")), payload.get("blocks")
        if not text and not blocks:
            return {"ok": False, "error": "no_text"}
        with self._lock:
            if method == "chat.update":
                ts = str(payload.get("ts", ""))
                found = next(
                    (m for m in self._messages if m.channel == channel and m.ts == ts), None
                )
                if found is None:
                    return {"ok": False, "error": "message_not_found"}
                found.edits.append({"text": found.text, "blocks": found.blocks})
                found.text, found.blocks = text, blocks
                return {"ok": True, "channel": channel, "ts": ts, "text": text}
            moment = self._sim_clock() if self._sim_clock else datetime.now(UTC)
            self._sequence += 1  # never reused, as Slack's ts are unique in a channel
            ts = f"{int(moment.timestamp())}.{self._sequence:06d}"
            thread = payload.get("thread_ts")
            message = SlackMessage(channel, ts, text, blocks, str(thread) if thread else None)
            self._messages.append(message)
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": text, "ts": ts}}

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
                headers = dict(self.headers.items())
                answer = owner._record(self.path, raw, headers)
                data, content_type = answer.body.encode(), "text/html"
                if self.path.startswith(API_PATH):
                    method = self.path[len(API_PATH) :].split("?", 1)[0]
                    try:
                        payload: Any = json.loads(raw) if raw else None
                    except json.JSONDecodeError:
                        payload = None
                    reply = (
                        owner._api(method, payload, headers)
                        if answer.status == 200
                        else {"ok": False, "error": answer.body}
                    )
                    data, content_type = json.dumps(reply).encode(), "application/json"
                self.send_response(answer.status)
                self.send_header("Content-Type", content_type)
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
