"""Constants and small helpers shared by the emulator modules: account, region, fake
credentials, the moto configuration, and boto3 clients bound to the emulated region."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from unittest import mock

import boto3
from moto.core.botocore_stubber import BotocoreStubber
from moto.core.config import DefaultConfig

ACCOUNT_ID = "123456789012"
"""moto's default account: every ARN the emulator builds uses it."""

REGION = "us-east-1"

MOTO_CONFIG: DefaultConfig = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
"""The ``mock_aws(config=...)`` the emulator needs: Step Functions runs real ASL, Lambda does
not look for Docker (the emulator runs the handler code in-process instead)."""

FAKE_CREDENTIALS: dict[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
}

_UNSAFE_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ENDPOINT_URL",
    "AWS_CA_BUNDLE",
)


def fake_aws_environ(region: str = REGION) -> dict[str, str]:
    """The variables that make every boto3 client use fake credentials in ``region``."""
    return {**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": region, "AWS_REGION": region}


def swap_environ(values: Mapping[str, str], remove: Iterable[str] = ()) -> dict[str, str]:
    """Make ``os.environ`` hold ``values`` and none of ``remove``; return the previous copy.

    New values are written before stale keys are dropped, so a variable present before and
    after (the fake credentials, the region) is never missing for another thread.
    """
    saved = dict(os.environ)
    os.environ.update(values)
    for key in remove:
        if key not in values:
            os.environ.pop(key, None)
    return saved


def restore_environ(saved: Mapping[str, str]) -> None:
    """Undo :func:`swap_environ` (same ordering guarantee)."""
    os.environ.update(saved)
    for key in [k for k in os.environ if k not in saved]:
        os.environ.pop(key, None)


@contextmanager
def patched_environ(values: Mapping[str, str], remove: Iterable[str] = ()) -> Iterator[None]:
    """Set ``values`` (and drop ``remove``) in ``os.environ``; restore the exact previous
    environment afterwards."""
    saved = swap_environ(values, remove)
    try:
        yield
    finally:
        restore_environ(saved)


@contextmanager
def hermetic_aws_environ(region: str = REGION) -> Iterator[None]:
    """Fake credentials and region; no profile, config file or endpoint override that could
    point boto3 at a real account."""
    remove = tuple(k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")) + _UNSAFE_ENV
    with patched_environ(fake_aws_environ(region), remove=remove):
        yield


def client(service: str, region: str = REGION) -> Any:
    """A boto3 client for ``service`` in the emulated region (typed ``Any``: callers use the
    parts of the API they need and moto answers them)."""
    return boto3.client(service, region_name=region)  # type: ignore[call-overload]


def function_arn(name: str, region: str = REGION, account: str = ACCOUNT_ID) -> str:
    return f"arn:aws:lambda:{region}:{account}:function:{name}"


def parse_arn(arn: str) -> tuple[str, str, str, str, str]:
    """``(partition, service, region, account, resource)`` of an ARN."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise ValueError(f"not an ARN: {arn!r}")
    return parts[1], parts[2], parts[3], parts[4], parts[5]


JsonAnswer = tuple[int, dict[str, str], str]


@contextmanager
def json_service(
    matches: Callable[[str], Any], answer: Callable[[Any, str, dict[str, Any]], JsonAnswer]
) -> Iterator[None]:
    """Answer requests for an AWS JSON-protocol service that moto lacks, at the HTTP level.

    While active, a request whose URL ``matches`` (the match result is passed on) is
    answered by ``answer(match, target, body)`` (``target`` is the ``X-Amz-Target``
    operation) instead of moto; everything else goes to moto as before. Nests: each layer
    hands what it does not match to the one installed before it.
    """
    original = BotocoreStubber.process_request

    def process_request(stubber: BotocoreStubber, request: Any) -> Any:
        match = matches(str(request.url))
        if not match:
            return original(stubber, request)
        raw = request.body or b"{}"
        body = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else str(target)
        return answer(match, target, body)

    with mock.patch.object(BotocoreStubber, "process_request", process_request):
        yield


@contextmanager
def rest_service(
    matches: Callable[[str, str], Any], answer: Callable[[Any, dict[str, Any]], JsonAnswer]
) -> Iterator[None]:
    """Answer requests for a REST-JSON operation that moto lacks, at the HTTP level.

    The sibling of :func:`json_service` for REST-JSON APIs (Lambda, for one), which name the
    operation by method and path rather than by an ``X-Amz-Target`` header: a request for
    which ``matches(method, url)`` is true is answered by ``answer(match, body)``; everything
    else goes to the layer installed before (moto, or another fake). Nests the same way.
    """
    original = BotocoreStubber.process_request

    def process_request(stubber: BotocoreStubber, request: Any) -> Any:
        match = matches(str(request.method).upper(), str(request.url))
        if not match:
            return original(stubber, request)
        raw = request.body or b"{}"
        body = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        return answer(match, body)

    with mock.patch.object(BotocoreStubber, "process_request", process_request):
        yield
