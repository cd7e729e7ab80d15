"""Chat clients' retry back-off, without the wall-clock wait.

slack_sdk's retry handlers (the Slack webhook, the Web API client, the JSON webhook on a 5xx
or a connection error) sleep their back-off in real time between attempts: 0.5 s, 1 s, 2 s,
plus jitter. Simulated time does not move while a handler runs, so in the emulator that wait
changes nothing but the wall time of a scenario with a failing chat endpoint. While
:func:`installed` is active the handlers still compute and request each wait; it is noted in
``waits`` and returns at once. The attempts, their order and what each sends are unchanged.
(A ``Retry-After`` that Vigil's own JSON webhook handler honours is its own sleep, untouched.)
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any
from unittest.mock import patch

from slack_sdk.http_retry import handler as retry_handler


class _NoWaitTime:
    """``time`` as slack_sdk's retry handler module sees it, with ``sleep`` noted, not slept."""

    def __init__(self, waits: list[float]) -> None:
        self._waits = waits

    def sleep(self, seconds: float) -> None:
        self._waits.append(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@contextlib.contextmanager
def installed(waits: list[float]) -> Iterator[None]:
    with patch.object(retry_handler, "time", _NoWaitTime(waits)):
        yield
