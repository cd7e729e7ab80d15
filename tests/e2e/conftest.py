"""Records, during the e2e scenarios, every AWS call each of the stack's functions makes.

``tests/e2e/test_iam_grants.py`` compares what was recorded with what template.yaml grants each
function's role. Recording rides on the scenarios the other e2e tests already play (nothing is
replayed): ``LambdaRuntime._run`` is wrapped to know, per thread, which function's handler is
running, and ``BaseClient._make_api_call`` to note the IAM action of each call the handler makes.
Calls the emulator makes on the handler's behalf while serving a call (moto, Step Functions
running a state machine) are not the handler's and are not recorded: only the outermost call of
a running handler counts. A handler replaced by a test (``code_dirs``) is not recorded either.

The suite runs in parallel workers (pytest-xdist, ``--dist loadscope``): each worker records the
modules it plays, and writes what it has recorded so far to the session's shared folder
(``tests/conftest.py``: ``shared_dir``) as each of its e2e modules ends, one file per worker.
The grant checks read the union of those files once every e2e module of the session is in
(``recordings``; in a serial run, this process's own file).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import defaultdict
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient

from emulator import PROJECT_ROOT
from emulator.lambda_runtime import LambdaRuntime
from tests.conftest import shared_dir

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
    # The Invoke operation is authorised by lambda:InvokeFunction.
    "lambda:Invoke": "lambda:InvokeFunction",
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
        """The e2e modules (file names) this session runs, whichever worker runs them."""
        self.finished: set[str] = set()
        """The e2e modules this process has played to their end."""
        self.directory: Path | None = None
        self.worker = "main"
        self._local = threading.local()
        self._lock = threading.Lock()

    def finish_module(self, name: str) -> None:
        """Note that module ``name`` ended and write this process's recording so far."""
        self.finished.add(name)
        if self.directory is None:
            return
        with self._lock:
            recording = Recording(
                modules=set(self.finished),
                calls={name: set(actions) for name, actions in self.calls.items()},
            )
        recording.write(self.directory / f"{self.worker}.json")

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


@dataclass
class Recording:
    """What one or more processes recorded: the modules they finished, the calls seen."""

    modules: set[str] = field(default_factory=set)
    calls: dict[str, set[str]] = field(default_factory=dict)

    def write(self, path: Path) -> None:
        """Write to ``path`` whole or not at all (a reader never sees half a file)."""
        document = {
            "modules": sorted(self.modules),
            "calls": {name: sorted(actions) for name, actions in sorted(self.calls.items())},
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        partial.write_text(json.dumps(document, indent=1), encoding="utf-8")
        partial.replace(path)

    @classmethod
    def read_all(cls, directory: Path) -> Recording:
        """The union of every recording in ``directory``."""
        union = cls()
        for path in sorted(directory.glob("*.json")):
            document = json.loads(path.read_text(encoding="utf-8"))
            union.modules.update(document["modules"])
            for name, actions in document["calls"].items():
                union.calls.setdefault(name, set()).update(actions)
        return union


RECORDER = CallRecorder()
RECORDINGS = "iam-calls"
"""The shared folder's subfolder where each worker writes its recording."""


def recordings(config: pytest.Config, *, timeout: float = 900.0) -> Recording:
    """Every recording of this session, once each e2e module collected (but the grant checks
    themselves) has ended in some worker.

    Under ``--dist loadscope`` the grant checks' module is scheduled last, so the modules it
    waits for are all running or done in other workers, which never wait on it."""
    return wait_for_recordings(
        shared_dir(config) / RECORDINGS,
        RECORDER.modules - {"test_iam_grants.py"},
        timeout=timeout,
    )


def wait_for_recordings(
    directory: Path, awaited: set[str], *, timeout: float, poll: float = 0.2
) -> Recording:
    """The union of the recordings in ``directory`` once they cover the ``awaited`` modules;
    raises ``TimeoutError`` naming the modules still missing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        got = Recording.read_all(directory) if directory.is_dir() else Recording()
        if awaited <= got.modules:
            return got
        if time.monotonic() > deadline:
            missing = ", ".join(sorted(awaited - got.modules))
            raise TimeoutError(f"no recording after {timeout:g}s from the e2e modules {missing}")
        time.sleep(poll)


@pytest.hookimpl(trylast=True)  # after tests/conftest.py made the shared folder
def pytest_configure(config: pytest.Config) -> None:
    RECORDER.directory = shared_dir(config) / RECORDINGS
    RECORDER.worker = os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session", autouse=True)
def _record_aws_calls() -> Iterator[CallRecorder]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        RECORDER.install(monkeypatch)
        yield RECORDER


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the grant checks last, after every scenario of this session has been recorded
    (after tests/conftest.py has put the slowest modules first)."""
    last = [item for item in items if item.path.name == "test_iam_grants.py"]
    items[:] = [item for item in items if item.path.name != "test_iam_grants.py"] + last


def pytest_collection_finish(session: pytest.Session) -> None:
    """The e2e modules this session runs (after any deselection)."""
    RECORDER.modules = {item.path.name for item in session.items if "e2e" in item.path.parts}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    """When the last test of an e2e module has been torn down (its module-scoped deployment
    with it), the module is recorded as finished: in a worker its modules run one after the
    other, so the next item is in another module."""
    try:
        return (yield)
    finally:
        last_of_module = nextitem is None or nextitem.path != item.path
        if "e2e" in item.path.parts and last_of_module:
            RECORDER.finish_module(item.path.name)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Leave what was recorded for a reviewer: .pytest_cache/v/vigil/iam-calls (a serial run;
    in parallel, the grant checks leave the union)."""
    cache = getattr(session.config, "cache", None)
    if RECORDER.calls and cache is not None and RECORDER.worker == "main":
        calls = {name: sorted(actions) for name, actions in sorted(RECORDER.calls.items())}
        cache.set("vigil/iam-calls", calls)
