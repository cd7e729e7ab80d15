"""A fake of the OAM API's ``ListSinks`` and ``ListAttachedLinks``, which moto does not implement,
answered from the sinks and links the emulator's CloudFormation created (:mod:`emulator.oam`).

OAM's API is REST-JSON (the OAM API Reference): ``POST /ListSinks`` and ``POST
/ListAttachedLinks`` with a JSON body. While :func:`installed` is active these requests are
answered as the account and region of the caller would be answered (the account from the
request's credentials as moto maps them, the region from the endpoint): ``ListSinks`` the
caller's sinks in that region, ``ListAttachedLinks`` the links naming the sink
``SinkIdentifier`` (``ResourceNotFoundException``, HTTP 404, when the caller has no such sink
there; ``MissingRequiredParameterException``, HTTP 400, without it). Both page by
``MaxResults`` (default :data:`PAGE`) and an opaque ``NextToken``. Every other OAM operation
still reaches moto, which answers none.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from typing import Any
from unittest import mock

from moto.core.botocore_stubber import BotocoreStubber
from moto.core.responses import BaseResponse
from moto.iam.models import get_account_id_from

from emulator._aws import JsonAnswer
from emulator.cfn_shims import OamLinkShim, OamSinkShim
from emulator.oam import resources

_OPERATION = re.compile(
    r"^https://oam\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<operation>ListSinks|ListAttachedLinks)$"
)
PAGE = 100
"""Items in one page when the request gives no ``MaxResults`` (ListSinks allows 1 to 100)."""


def _caller(request: Any) -> str:
    """The caller's account, resolved as moto resolves it (``get_current_account``)."""
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    headers = request.headers
    if "x-moto-account-id" in headers:
        value = headers["x-moto-account-id"]
        return value.decode() if isinstance(value, bytes) else str(value)
    authorization = headers.get("Authorization", b"")
    if isinstance(authorization, bytes):
        authorization = authorization.decode()
    match = BaseResponse.access_key_regex.search(str(authorization))
    return get_account_id_from(match.group("access_key") if match else "AKIAEXAMPLE")


def _error(status: int, code: str, message: str) -> JsonAnswer:
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": code}
    return status, headers, json.dumps({"Message": message})


def _page(items: list[dict[str, Any]], body: dict[str, Any], limit: int) -> JsonAnswer:
    token = str(body.get("NextToken") or "0")
    size = int(body.get("MaxResults") or PAGE)
    if not token.isdigit() or not 1 <= size <= limit:
        return _error(400, "InvalidParameterException", "NextToken or MaxResults is invalid")
    start = int(token)
    answer: dict[str, Any] = {"Items": items[start : start + size]}
    if start + size < len(items):
        answer["NextToken"] = str(start + size)
    return 200, {"Content-Type": "application/json"}, json.dumps(answer)


def _sinks(account: str, region: str) -> list[OamSinkShim]:
    return sorted(
        (
            r
            for r in resources()
            if isinstance(r, OamSinkShim)
            and (r.properties["account"], r.properties["region"]) == (account, region)
        ),
        key=lambda sink: sink.physical_resource_id,
    )


def answer(account: str, region: str, operation: str, body: dict[str, Any]) -> JsonAnswer:
    """The answer to ``operation`` with ``body`` from ``account`` in ``region``."""
    sinks = _sinks(account, region)
    if operation == "ListSinks":
        listed: list[dict[str, Any]] = [
            {
                "Arn": sink.physical_resource_id,
                "Id": sink.physical_resource_id.rsplit("/", 1)[-1],
                "Name": str(sink.properties.get("Name", "")),
            }
            for sink in sinks
        ]
        return _page(listed, body, 100)
    identifier = body.get("SinkIdentifier")
    if not identifier:
        return _error(400, "MissingRequiredParameterException", "SinkIdentifier is required")
    if identifier not in {sink.physical_resource_id for sink in sinks}:
        return _error(404, "ResourceNotFoundException", f"Sink {identifier} not found")
    links = sorted(
        (
            r
            for r in resources()
            if isinstance(r, OamLinkShim) and r.properties.get("SinkIdentifier") == identifier
        ),
        key=lambda link: link.physical_resource_id,
    )
    items: list[dict[str, Any]] = [
        {
            "LinkArn": link.physical_resource_id,
            "Label": str(link.properties["account"]),
            "ResourceTypes": list(link.properties.get("ResourceTypes") or []),
        }
        for link in links
    ]
    return _page(items, body, 1000)


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """``ListSinks`` and ``ListAttachedLinks`` answered from the emulator's stacks."""
    original = BotocoreStubber.process_request

    def process_request(stubber: BotocoreStubber, request: Any) -> Any:
        match = _OPERATION.match(str(request.url).split("?", 1)[0])
        if str(request.method).upper() != "POST" or not match:
            return original(stubber, request)
        raw = request.body or b"{}"
        body = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        return answer(_caller(request), match["region"], match["operation"], body)

    with mock.patch.object(BotocoreStubber, "process_request", process_request):
        yield
