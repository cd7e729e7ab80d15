"""A fake Route 53 Application Recovery Controller data plane (``route53-recovery-cluster``).

moto has no ARC. The failover runner (``vigil.adapters.failover.ArcRoutingControls``) talks to
a cluster's regional endpoints, ``https://<id>.route53-recovery-cluster.<region>.amazonaws.com/v1``;
while :meth:`FakeRoutingControls.installed` is active those requests (JSON protocol,
``ToggleCustomerAPI.*``) are answered in process: ``GetRoutingControlState`` and
``UpdateRoutingControlState`` on the routing controls a test registered with :meth:`add`
(others: ``ResourceNotFoundException``), and every request to an endpoint listed in
``down`` answers HTTP 500 ``InternalServerException`` (the runner then tries the next
endpoint). Every request is recorded in ``requests``.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from emulator._aws import JsonAnswer, json_service

_ENDPOINT = re.compile(
    r"^(https://[a-z0-9]+\.route53-recovery-cluster\.[a-z0-9-]+\.amazonaws\.com/v1)/?$"
)
_HEADERS = {"Content-Type": "application/x-amz-json-1.0"}


@dataclass
class ArcRequest:
    endpoint: str
    operation: str
    body: dict[str, Any]
    status: int


@dataclass
class FakeRoutingControls:
    states: dict[str, str] = field(default_factory=dict)
    down: set[str] = field(default_factory=set)
    """Endpoint URLs (``https://...amazonaws.com/v1``) that answer HTTP 500."""
    requests: list[ArcRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, routing_control_arn: str, state: str = "Off") -> None:
        with self._lock:
            self.states[routing_control_arn] = state

    def answer(self, endpoint: str, target: str, body: dict[str, Any]) -> tuple[int, str]:
        operation = target.rsplit(".", 1)[-1]
        status, text = self._answer(endpoint, operation, body)
        with self._lock:
            self.requests.append(ArcRequest(endpoint, operation, body, status))
        return status, text

    def _answer(self, endpoint: str, operation: str, body: dict[str, Any]) -> tuple[int, str]:
        if endpoint in self.down:
            return 500, _error("InternalServerException", "the cluster endpoint is unavailable")
        arn = str(body.get("RoutingControlArn", ""))
        with self._lock:
            known = arn in self.states
            if operation == "GetRoutingControlState" and known:
                return 200, json.dumps(
                    {
                        "RoutingControlArn": arn,
                        "RoutingControlState": self.states[arn],
                        "RoutingControlName": arn.rsplit("/", 1)[-1],
                    }
                )
            if operation == "UpdateRoutingControlState" and known:
                state = body.get("RoutingControlState")
                if state not in ("On", "Off"):
                    return 400, _error("ValidationException", f"invalid state {state!r}")
                self.states[arn] = str(state)
                return 200, "{}"
        if operation in ("GetRoutingControlState", "UpdateRoutingControlState"):
            return 404, _error("ResourceNotFoundException", f"routing control {arn} not found")
        return 400, _error("InvalidAction", f"the emulator does not fake {operation}")

    @contextlib.contextmanager
    def installed(self) -> Iterator[FakeRoutingControls]:
        def answer(match: re.Match[str], target: str, body: dict[str, Any]) -> JsonAnswer:
            status, text = self.answer(match.group(1), target, body)
            return status, _HEADERS, text

        with json_service(_ENDPOINT.match, answer):
            yield self


def _error(code: str, message: str) -> str:
    return json.dumps({"__type": code, "message": message})
