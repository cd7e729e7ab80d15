"""Records, during the e2e scenarios, every AWS call each of the stack's functions makes.

``tests/e2e/test_iam_grants.py`` compares what was recorded with what template.yaml grants each
function's role. Recording rides on the scenarios the other e2e tests already play (nothing is
replayed): ``LambdaRuntime._run`` is wrapped to know, per thread, which function's handler is
running, and ``BaseClient._make_api_call`` to note the IAM action of each call the handler makes.
Calls the emulator makes on the handler's behalf while serving a call (moto, Step Functions
running a state machine) are not the handler's and are not recorded: only the outermost call of
a running handler counts. A handler replaced by a test (``code_dirs``) is not recorded either.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.client import BaseClient

from emulator import PROJECT_ROOT
from emulator.lambda_runtime import LambdaRuntime

# IAM service prefixes that differ from the API's signing name.
_IAM_PREFIX = {"monitoring": "cloudwatch", "tagging": "tag"}
# API operations authorised by an IAM action of another name.
_IAM_ACTION = {
    "s3:ListBuckets": "s3:ListAllMyBuckets",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:HeadObject": "s3:GetObject",
    "s3:ListBucketMetricsConfigurations": "s3:GetMetricsConfiguration",
    "apigateway:GetRestApis": "apigateway:GET",
    "apigateway:GetApis": "apigateway:GET",
    "dynamodb:TransactGetItems": "dynamodb:GetItem",
    # PublishBatch is authorised by sns:Publish (there is no sns:PublishBatch action).
    "sns:PublishBatch": "sns:Publish",
}
# TransactWriteItems is authorised per item, by the action each item performs:
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html
_TRANSACT_ITEM_ACTION = {
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
}


class CallRecorder:
    """The IAM actions each function (by logical id) was seen to use."""

    def __init__(self) -> None:
        self.calls: dict[str, set[str]] = defaultdict(set)
        self.modules: set[str] = set()
        self._local = threading.local()
        self._lock = threading.Lock()

    def _frames(self) -> list[list[Any]]:
        frames = getattr(self._local, "frames", None)
        if frames is None:
            frames = self._local.frames = []
        return frames

    def actions(self, client: BaseClient, operation: str, params: dict[str, Any]) -> list[str]:
        model = client.meta.service_model
        prefix = _IAM_PREFIX.get(model.signing_name, model.signing_name)
        if operation == "TransactWriteItems":
            return sorted(
                {
                    _TRANSACT_ITEM_ACTION[kind]
                    for item in params.get("TransactItems", [])
                    for kind in item
                }
            )
        action = f"{prefix}:{operation}"
        return [_IAM_ACTION.get(action, action)]

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        recorder = self
        original_run = LambdaRuntime._run
        original_call = BaseClient._make_api_call

        def run(runtime: LambdaRuntime, fn_model: Any, **kwargs: Any) -> Any:
            spec = runtime._functions[fn_model.function_name].spec
            real = spec.code_dir.resolve().is_relative_to(PROJECT_ROOT / "functions")
            frames = recorder._frames()
            frames.append([spec.logical_id if real else None, 0])
            try:
                return original_run(runtime, fn_model, **kwargs)
            finally:
                frames.pop()

        def make_api_call(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            frames = recorder._frames()
            frame = frames[-1] if frames else None
            if frame is None or frame[1] > 0:
                return original_call(client, operation, params)
            if frame[0] is not None:
                with recorder._lock:
                    recorder.calls[frame[0]].update(recorder.actions(client, operation, params))
            frame[1] += 1
            try:
                return original_call(client, operation, params)
            finally:
                frame[1] -= 1

        monkeypatch.setattr(LambdaRuntime, "_run", run)
        monkeypatch.setattr(BaseClient, "_make_api_call", make_api_call)


RECORDER = CallRecorder()


@pytest.fixture(scope="session", autouse=True)
def _record_aws_calls() -> Iterator[CallRecorder]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        RECORDER.install(monkeypatch)
        yield RECORDER


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the grant checks last, after every scenario of this session has been recorded."""
    RECORDER.modules = {item.path.name for item in items if "e2e" in item.path.parts}
    last = [item for item in items if item.path.name == "test_iam_grants.py"]
    items[:] = [item for item in items if item.path.name != "test_iam_grants.py"] + last


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Leave what was recorded for a reviewer: .pytest_cache/vigil/iam-calls.json."""
    cache = getattr(session.config, "cache", None)
    if RECORDER.calls and cache is not None:
        calls = {name: sorted(actions) for name, actions in sorted(RECORDER.calls.items())}
        cache.set("vigil/iam-calls", calls)
