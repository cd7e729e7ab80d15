"""Retry back-off, without the wall-clock wait: the chat clients' and the AWS SDK's.

slack_sdk's retry handlers (the Slack webhook, the Web API client, the JSON webhook on a 5xx
or a connection error) sleep their back-off in real time between attempts: 0.5 s, 1 s, 2 s,
plus jitter. botocore does the same between the attempts of an AWS call that was throttled or
failed with a 5xx (standard mode: up to three attempts, exponential back-off with jitter up to
20 s; ``Endpoint._needs_retry``). Simulated time does not move while a handler runs, so in the
emulator that wait changes nothing but the wall time of a scenario with a failing endpoint: a
region whose CloudWatch fails for 25 minutes slept 117 s of a 192 s scenario. While
:func:`installed` is active the clients still compute and request each wait; it is noted in
``waits`` and returns at once. The attempts, their order and what each sends are unchanged.
(A ``Retry-After`` that Vigil's own JSON webhook handler honours is its own sleep, untouched.)
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any
from unittest.mock import patch

from botocore import endpoint as botocore_endpoint
from slack_sdk.http_retry import handler as retry_handler


class _NoWaitTime:
    """``time`` as a retrying module sees it, with ``sleep`` noted, not slept."""

    def __init__(self, waits: list[float]) -> None:
        self._waits = waits

    def sleep(self, seconds: float) -> None:
        self._waits.append(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@contextlib.contextmanager
def installed(waits: list[float]) -> Iterator[None]:
    no_wait = _NoWaitTime(waits)
    with (
        patch.object(retry_handler, "time", no_wait),
        patch.object(botocore_endpoint, "time", no_wait),
    ):
        yield
