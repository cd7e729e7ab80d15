"""SlackUserGroups against a local stand-in for Slack's Web API (127.0.0.1, no network):
``usergroups.users.list`` as https://api.slack.com/methods/usergroups.users.list documents it
(``{"ok": true, "users": [...]}``, errors such as ``missing_scope`` and ``no_such_subteam``),
one attempt with a short timeout, answers cached for five minutes of the request's time."""

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from vigil.adapters.slack_bot import GROUP_CACHE, MembershipUnavailableError, SlackUserGroups
from vigil.adapters.stats import CallStats

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class FakeSlackApi:
    """Answers ``usergroups.users.list`` (form-encoded POST, as slack_sdk sends it) from
    ``groups``; ``errors`` per group, ``delay`` for all."""

    def __init__(self) -> None:
        self.groups: dict[str, list[str]] = {}
        self.errors: dict[str, str] = {}
        self.delay = 0.0
        self.requests: list[tuple[str, dict[str, list[str]], str | None]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                query = parse_qs(self.rfile.read(length).decode())
                path = urlsplit(self.path).path
                fake.requests.append((path, query, self.headers.get("Authorization")))
                time.sleep(fake.delay)
                group = query.get("usergroup", [""])[0]
                body: dict[str, Any]
                if group in fake.errors:
                    body = {"ok": False, "error": fake.errors[group]}
                elif group in fake.groups:
                    body = {"ok": True, "users": fake.groups[group]}
                else:
                    body = {"ok": False, "error": "no_such_subteam"}
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                # the client may have given up on a slow answer, as the time-out test wants
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"


@pytest.fixture
def api() -> Iterator[FakeSlackApi]:
    fake = FakeSlackApi()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()


def _groups(api: FakeSlackApi, timeout: float = 1.0) -> SlackUserGroups:
    return SlackUserGroups("xoxb-test", stats=CallStats(), api_url=api.url, timeout=timeout)


def test_members_are_read_with_the_bot_token_and_cached_for_five_minutes(
    api: FakeSlackApi,
) -> None:
    api.groups["S0ONCALL"] = ["U024BE7LH", "W123A4BC5"]
    groups = _groups(api)

    first = groups.members("S0ONCALL", now=NOW)
    cached = groups.members("S0ONCALL", now=NOW + GROUP_CACHE - timedelta(seconds=1))
    api.groups["S0ONCALL"] = ["U024BE7LH"]
    fresh = groups.members("S0ONCALL", now=NOW + GROUP_CACHE)

    assert first == cached == frozenset({"U024BE7LH", "W123A4BC5"})
    assert fresh == frozenset({"U024BE7LH"})
    assert len(api.requests) == 2
    path, query, auth = api.requests[0]
    assert (path, query, auth) == (
        "/api/usergroups.users.list",
        {"usergroup": ["S0ONCALL"]},
        "Bearer xoxb-test",
    )


@pytest.mark.parametrize("error", ["missing_scope", "invalid_auth", "plan_upgrade_required"])
def test_a_refused_lookup_is_unavailable_and_not_cached(api: FakeSlackApi, error: str) -> None:
    api.errors["S0ONCALL"] = error
    groups = _groups(api)

    with pytest.raises(MembershipUnavailableError, match=error):
        groups.members("S0ONCALL", now=NOW)
    del api.errors["S0ONCALL"]
    api.groups["S0ONCALL"] = ["U1"]

    assert groups.members("S0ONCALL", now=NOW) == frozenset({"U1"})


def test_an_unknown_group_is_unavailable(api: FakeSlackApi) -> None:
    with pytest.raises(MembershipUnavailableError, match="no_such_subteam"):
        _groups(api).members("S0GONE", now=NOW)


def test_a_slow_slack_is_given_one_short_attempt(api: FakeSlackApi) -> None:
    api.groups["S0ONCALL"] = ["U1"]
    api.delay = 0.6
    started = time.monotonic()

    with pytest.raises(MembershipUnavailableError, match="unreachable"):
        _groups(api, timeout=0.2).members("S0ONCALL", now=NOW)

    assert len(api.requests) == 1  # no retry
    assert time.monotonic() - started < 0.6
