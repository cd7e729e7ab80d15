"""Run the real handler code when a deployed Lambda function is invoked in moto.

moto's ``LambdaFunction.invoke`` is what Step Functions ``lambda:invoke`` tasks, SNS
subscriptions and the Lambda ``Invoke`` API all reach (with ``use_docker=False`` moto answers
with a canned payload instead). :meth:`LambdaRuntime.installed` patches it, and the
``lambda-simple`` backend's ``invoke``, for the duration of the emulator; functions the runtime
does not manage (workload functions of a scenario, functions a test created) keep moto's
behaviour.

Per managed function the runtime behaves like one warm Lambda execution environment:

* **Cold start.** The handler module (``Handler: app.lambda_handler`` -> ``app.py`` in the
  ``CodeUri`` folder) is imported once under a unique module name. The layer folders and the
  code folder are on ``sys.path`` during the import and every call, and the modules they
  provide (``vigil``, ``app``, ...) plus ``aws_lambda_powertools`` are kept *per function*:
  they are swapped in and out of ``sys.modules`` around each call, so module-level state
  (caches, Powertools' cold-start flag, settings read at import) is not shared between
  functions, as it is not on AWS.
* **Configuration updates.** When the function's environment variables change (an
  ``UpdateFunctionConfiguration``, as a stack update makes), the warm environment is retired
  and the next call is a cold start, as on AWS.
* **Environment.** While the handler runs, ``os.environ`` holds the function's configured
  ``Environment`` as moto stored it (CloudFormation already resolved it) plus the Lambda
  runtime variables (``AWS_REGION``, ``AWS_LAMBDA_FUNCTION_NAME``, fake credentials,
  ``POWERTOOLS_TRACE_DISABLED=true``, ...). Runs are serialised with one ``RLock``: the
  environment is process-global and Step Functions executes in worker threads.
* **Context.** :class:`FakeLambdaContext` (function name, ARN with the real account and region,
  request id, memory, remaining time).
* **Logs.** Everything the handler writes to stdout/stderr or through ``logging`` is captured
  per function (:class:`FunctionLog`), framed by ``START``/``END``/``REPORT`` lines, and also
  written to the function's CloudWatch Logs group in moto.
* **Results.** The JSON result is returned as Lambda does; an exception becomes
  ``{"errorMessage", "errorType", "stackTrace"}`` with the ``x-amz-function-error`` header, so
  Step Functions sees ``errorType`` as the error name. A run longer than the function's
  ``Timeout`` is reported as ``Sandbox.Timedout`` after the fact (Python cannot pre-empt the
  handler). The run is measured in the CPU time of the handler's thread: the handler waits on
  no network here, and wall time would count the other workflows, test workers and coverage
  sharing the machine (a handler that sleeps past its timeout is not caught). ``REPORT`` shows
  the wall time, as Lambda does.
* **Asynchronous invocations** (SNS deliveries, ``InvocationType=Event``, schedules): on error
  the event is retried twice (or ``MaximumRetryAttempts`` of the function's event invoke
  config), immediately rather than after Lambda's 1- and 2-minute back-off; then it goes to the
  function's ``DeadLetterConfig`` target and/or the ``OnFailure`` destination in moto, and an
  :class:`AsyncFailure` is recorded.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import io
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO, cast
from unittest import mock

from botocore.exceptions import ClientError
from moto.awslambda.models import LambdaFunction
from moto.awslambda.utils import get_backend
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.exceptions import JsonRESTError

from emulator._aws import (
    ACCOUNT_ID,
    FAKE_CREDENTIALS,
    REGION,
    client,
    parse_arn,
    restore_environ,
    swap_environ,
)
from emulator.errors import EmulatorError

log = logging.getLogger(__name__)

DEFAULT_ISOLATED_MODULES: tuple[str, ...] = ("aws_lambda_powertools",)
_ENV_PREFIXES_OWNED_BY_LAMBDA = ("AWS_", "POWERTOOLS_", "LAMBDA_", "_HANDLER", "_X_AMZN")


# ---------------------------------------------------------------------------- records
@dataclass(frozen=True)
class FunctionSpec:
    """What the runtime needs to run one deployed function's code."""

    logical_id: str
    function_name: str
    code_dir: Path
    handler: str
    layer_paths: tuple[Path, ...] = ()
    runtime: str | None = None
    dead_letter_arn: str | None = None


@dataclass(frozen=True)
class LogLine:
    sim_time: datetime
    request_id: str
    stream: str
    """``stdout``, ``stderr``, ``logging`` or ``runtime`` (START/END/REPORT, errors)."""
    text: str


@dataclass(frozen=True)
class Invocation:
    """One run of a handler (each retry of an asynchronous event is its own run)."""

    function: str
    """Logical id in the template."""
    function_name: str
    request_id: str
    invocation_type: str
    """``RequestResponse`` or ``Event``."""
    source: str
    """``invoke`` (Lambda API, Step Functions tasks), ``sns``, ``schedule``, ``destination``."""
    attempt: int
    sim_time: datetime
    duration_ms: float
    cold_start: bool
    event: Any
    result: Any
    """The returned JSON value, or the error payload."""
    error_type: str | None = None

    @property
    def ok(self) -> bool:
        return self.error_type is None


@dataclass(frozen=True)
class AsyncFailure:
    """An asynchronous event that failed every attempt."""

    function: str
    function_name: str
    source: str
    sim_time: datetime
    attempts: int
    error_type: str
    error_message: str
    event: Any
    sent_to: tuple[str, ...]
    """ARNs of the dead-letter queue / OnFailure destination the event went to (may be empty:
    then the event is lost, as on AWS)."""


@dataclass(frozen=True)
class InvokeOutcome:
    request_id: str
    payload: bytes
    error: bool
    log_tail: str


class FunctionLog:
    """Captured output of one function, all invocations in order."""

    def __init__(self, logical_id: str, function_name: str) -> None:
        self.logical_id = logical_id
        self.function_name = function_name
        self._lock = threading.Lock()
        self._lines: list[LogLine] = []

    def extend(self, lines: list[LogLine]) -> None:
        with self._lock:
            self._lines.extend(lines)

    @property
    def lines(self) -> list[LogLine]:
        with self._lock:
            return list(self._lines)

    def text(self) -> str:
        return "\n".join(
            f"{line.sim_time.strftime('%Y-%m-%dT%H:%M:%SZ')}\t{line.request_id}\t{line.text}"
            for line in self.lines
        )

    def records(self) -> list[dict[str, Any]]:
        """The structured (JSON) log lines, e.g. Powertools Logger output and EMF metrics."""
        out: list[dict[str, Any]] = []
        for line in self.lines:
            if line.stream == "stdout" and line.text.startswith("{"):
                try:
                    value = json.loads(line.text)
                except json.JSONDecodeError:
                    continue
                if isinstance(value, dict):
                    out.append(value)
        return out

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.text() + "\n", encoding="utf-8")

    def __len__(self) -> int:
        with self._lock:
            return len(self._lines)


class FakeLambdaContext:
    """The attributes and method of Lambda's Python context object that handlers use."""

    def __init__(
        self,
        *,
        function_name: str,
        invoked_function_arn: str,
        memory_limit_in_mb: int,
        aws_request_id: str,
        log_group_name: str,
        log_stream_name: str,
        timeout_seconds: float,
        function_version: str = "$LATEST",
    ) -> None:
        self.function_name = function_name
        self.function_version = function_version
        self.invoked_function_arn = invoked_function_arn
        self.memory_limit_in_mb = memory_limit_in_mb
        self.aws_request_id = aws_request_id
        self.log_group_name = log_group_name
        self.log_stream_name = log_stream_name
        self.identity: Any = None
        self.client_context: Any = None
        self.tenant_id: str | None = None
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


# ---------------------------------------------------------------------------- output capture
class _Sink:
    """Collects one invocation's output as lines."""

    def __init__(self, request_id: str, now: Callable[[], datetime], echo: TextIO | None) -> None:
        self.request_id = request_id
        self._now = now
        self._echo = echo
        self._partial: dict[str, str] = {}
        self.lines: list[LogLine] = []

    def write(self, stream: str, text: str) -> None:
        buffered = self._partial.get(stream, "") + text
        *complete, rest = buffered.split("\n")
        self._partial[stream] = rest
        for line in complete:
            self.add(stream, line)

    def add(self, stream: str, text: str) -> None:
        line = LogLine(self._now(), self.request_id, stream, text.rstrip("\r"))
        self.lines.append(line)
        if self._echo is not None:
            self._echo.write(f"  | {text}\n")

    def close(self) -> None:
        for stream, rest in list(self._partial.items()):
            if rest:
                self.add(stream, rest)
        self._partial.clear()


_SINKS_LOCK = threading.Lock()
_SINKS: dict[int, list[_Sink]] = {}


def _current_sink(thread_id: int | None = None) -> _Sink | None:
    with _SINKS_LOCK:
        stack = _SINKS.get(threading.get_ident() if thread_id is None else thread_id)
        return stack[-1] if stack else None


class _StreamRouter(io.TextIOBase):
    """Stands in for ``sys.stdout``/``sys.stderr`` while a handler runs.

    One instance per stream for the whole process, so a logging handler created during a cold
    start (Powertools Logger keeps the stream it saw) keeps writing to the *current* function's
    log. Writes from threads that are not running a handler go to the current
    ``sys.stdout``/``sys.stderr`` (or, while a handler runs, to the one it replaced).
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = name
        self.fallback: TextIO | None = None

    def write(self, s: str) -> int:
        sink = _current_sink()
        if sink is not None:
            sink.write(self._name, s)
            return len(s)
        # Not a handler's thread: write where this stream would go now (the current
        # sys.stdout/stderr, or the one a running handler replaced).
        target = getattr(sys, self._name, None)
        if target is None or isinstance(target, type(self)):
            target = self.fallback or getattr(sys, f"__{self._name}__", None)
        if target is None or isinstance(target, type(self)):
            return len(s)
        return int(target.write(s))

    def flush(self) -> None:
        target = self.fallback
        if target is not None and not isinstance(target, type(self)):
            with contextlib.suppress(Exception):
                target.flush()

    def close(self) -> None:
        # A process-wide singleton: never closed (io.IOBase.__del__ would close it at exit).
        return None

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def isatty(self) -> bool:
        return False


_STDOUT = _StreamRouter("stdout")
_STDERR = _StreamRouter("stderr")


class _LoggingRouter(logging.Handler):
    """Root-logger handler: records emitted by a thread that runs a handler go to its log,
    formatted like the Lambda Python runtime does."""

    def emit(self, record: logging.LogRecord) -> None:
        sink = _current_sink(record.thread)
        if sink is None:
            return
        captured, borrowed = _route_of(record.name)
        if captured:
            return
        try:
            if borrowed is not None:
                text = borrowed.format(record)
            else:
                stamp = datetime.fromtimestamp(record.created, UTC).strftime(
                    "%Y-%m-%dT%H:%M:%S.%fZ"
                )
                text = f"[{record.levelname}]\t{stamp}\t{sink.request_id}\t{record.getMessage()}"
                if record.exc_info:
                    text += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
            for line in text.split("\n"):
                sink.add("logging", line)
        except Exception:  # pragma: no cover - never let logging break a handler
            self.handleError(record)


def _route_of(logger_name: str) -> tuple[bool, logging.Handler | None]:
    """How a record of ``logger_name`` reaches output before the root logger.

    Returns ``(True, None)`` if a handler on the way already wrote it to a captured stream (e.g.
    a Powertools Logger, which also keeps its records away from the root handlers), else
    ``(False, handler)`` with the first stream handler on the way (one configured before the
    emulator ran, writing elsewhere), whose formatter the capture then borrows.
    """
    logger: logging.Logger | None = logging.getLogger(logger_name)
    root = logging.getLogger()
    borrowed: logging.Handler | None = None
    while logger is not None and logger is not root:
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler):
                if isinstance(handler.stream, _StreamRouter):
                    return True, None
                borrowed = borrowed or handler
        if not logger.propagate:
            break
        logger = logger.parent
    return False, borrowed


_ADOPTED: list[tuple[logging.StreamHandler[TextIO], TextIO]] = []
"""Powertools handlers pointed at the captured stdout while any handler runs (under
``_SINKS_LOCK``), with the stream each had."""


def _adopt_powertools_loggers() -> None:
    """Point Powertools loggers configured outside the emulator at the captured stdout.

    A Powertools ``Logger`` adds its stream handler once per logger name, with the
    ``sys.stdout`` of that moment, and keeps its records from the root logger. The logging
    registry is the process's, not a function's: a logger of the same service set up earlier
    in the process (a test that imported a handler directly) would keep writing to a stream
    the emulator never sees, and the function's logs would be lost. Adopted when the first
    handler starts running and given back when the last one ends (handlers run in threads).
    """
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if not isinstance(logger, logging.Logger) or not getattr(logger, "init", False):
            continue
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(
                handler.stream, _StreamRouter
            ):
                _ADOPTED.append((handler, handler.stream))
                handler.setStream(cast(TextIO, _STDOUT))


def _release_powertools_loggers() -> None:
    while _ADOPTED:
        handler, stream = _ADOPTED.pop()
        handler.setStream(stream)


@contextlib.contextmanager
def _capture(sink: _Sink) -> Iterator[None]:
    previous_out, previous_err = sys.stdout, sys.stderr
    if not isinstance(previous_out, _StreamRouter):
        _STDOUT.fallback = previous_out
    if not isinstance(previous_err, _StreamRouter):
        _STDERR.fallback = previous_err
    ident = threading.get_ident()
    with _SINKS_LOCK:
        if not _SINKS:
            _adopt_powertools_loggers()
        _SINKS.setdefault(ident, []).append(sink)
    sys.stdout, sys.stderr = cast(TextIO, _STDOUT), cast(TextIO, _STDERR)
    try:
        yield
    finally:
        for handler in logging.getLogger().handlers:
            with contextlib.suppress(Exception):
                handler.flush()
        with _SINKS_LOCK:
            stack = _SINKS.get(ident, [])
            if stack and stack[-1] is sink:
                stack.pop()
            if not stack:
                _SINKS.pop(ident, None)
            if not _SINKS:
                _release_powertools_loggers()
        sys.stdout, sys.stderr = previous_out, previous_err
        sink.close()


# ---------------------------------------------------------------------------- the runtime
@dataclass
class _Function:
    spec: FunctionSpec
    log: FunctionLog
    isolated: frozenset[str]
    module: ModuleType | None = None
    handler: Callable[..., Any] | None = None
    private_modules: dict[str, ModuleType] = field(default_factory=dict)
    log_stream: str = ""
    cold_starts: int = 0
    configuration: tuple[tuple[str, str], ...] = ()
    """The environment variables the warm environment started with."""


def _top_level_names(directory: Path) -> set[str]:
    names: set[str] = set()
    if not directory.is_dir():
        return names
    for entry in directory.iterdir():
        if entry.name.startswith((".", "_")) and entry.name != "__init__.py":
            continue
        if entry.is_dir() and entry.name.isidentifier():
            names.add(entry.name)
        elif entry.suffix == ".py" and entry.stem.isidentifier():
            names.add(entry.stem)
    return names


def layer_python_path(content_dir: Path) -> Path:
    """The folder of a layer that Lambda puts on ``sys.path`` (``python/`` if the layer has
    one, else the folder itself, which ``sam build`` turns into ``python/``)."""
    python = content_dir / "python"
    return python if python.is_dir() else content_dir


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    try:
        items = headers.items()
    except AttributeError:
        return None
    for key, value in items:
        if str(key).lower() == name:
            return str(value)
    return None


def _error_payload(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    frames = traceback.extract_tb(exc.__traceback__)
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": "",
        "stackTrace": list(traceback.format_list(frames)),
    }


class LambdaRuntime:
    """Runs the handlers of registered functions; see the module docstring."""

    def __init__(
        self,
        *,
        now: Callable[[], datetime],
        region: str = REGION,
        account_id: str = ACCOUNT_ID,
        isolated_modules: tuple[str, ...] = DEFAULT_ISOLATED_MODULES,
        echo: TextIO | None = None,
        lock_timeout: float = 60.0,
    ) -> None:
        self._now = now
        self.region = region
        self.account_id = account_id
        self._isolated_extra = frozenset(isolated_modules)
        self._echo = echo
        self._lock_timeout = lock_timeout
        self._lock = threading.RLock()
        self._records_lock = threading.Lock()
        self._functions: dict[str, _Function] = {}
        self._invocations: list[Invocation] = []
        self._failures: list[AsyncFailure] = []
        self._usage: Counter[tuple[str, datetime, str]] = Counter()
        self._invocation_listeners: list[Callable[[Invocation], None]] = []
        self._failure_listeners: list[Callable[[AsyncFailure], None]] = []
        self._clients: dict[str, Any] = {}
        self._env_keys: set[str] = set()

    # ------------------------------------------------------------------ registry
    def register(self, spec: FunctionSpec) -> None:
        isolated = set(self._isolated_extra) | _top_level_names(spec.code_dir)
        for layer in spec.layer_paths:
            isolated |= _top_level_names(layer)
        self._functions[spec.function_name] = _Function(
            spec=spec,
            log=FunctionLog(spec.logical_id, spec.function_name),
            isolated=frozenset(isolated),
        )

    def manages(self, function_name: str) -> bool:
        return function_name in self._functions

    @property
    def specs(self) -> dict[str, FunctionSpec]:
        """Function name -> spec of every managed function."""
        return {name: f.spec for name, f in self._functions.items()}

    @property
    def logs(self) -> dict[str, FunctionLog]:
        """Logical id -> captured log."""
        return {f.spec.logical_id: f.log for f in self._functions.values()}

    @property
    def invocations(self) -> list[Invocation]:
        with self._records_lock:
            return list(self._invocations)

    @property
    def failures(self) -> list[AsyncFailure]:
        with self._records_lock:
            return list(self._failures)

    def on_invocation(self, listener: Callable[[Invocation], None]) -> None:
        self._invocation_listeners.append(listener)

    def on_failure(self, listener: Callable[[AsyncFailure], None]) -> None:
        self._failure_listeners.append(listener)

    def drain_usage(self, before: datetime) -> dict[tuple[str, datetime], dict[str, int]]:
        """Per (function name, minute) counts of invocations and errors for minutes that
        start before ``before``; they are removed from the runtime (written once)."""
        out: dict[tuple[str, datetime], dict[str, int]] = {}
        with self._records_lock:
            for (name, minute, metric), count in list(self._usage.items()):
                if minute < before:
                    out.setdefault((name, minute), {"Invocations": 0, "Errors": 0})[metric] = count
                    del self._usage[(name, minute, metric)]
        return out

    # ------------------------------------------------------------------ patches
    @contextlib.contextmanager
    def installed(self) -> Iterator[LambdaRuntime]:
        """Patch moto so invocations of managed functions run their handler code."""
        runtime = self
        original_function_invoke = LambdaFunction.invoke
        original_simple_invoke = LambdaSimpleBackend.invoke

        def function_invoke(
            fn: LambdaFunction, body: str, request_headers: Any, response_headers: Any
        ) -> str | bytes:
            if not runtime.manages(fn.function_name):
                return original_function_invoke(fn, body, request_headers, response_headers)
            return runtime._api_invoke(fn, body, request_headers, response_headers)

        def simple_invoke(  # noqa: PLR0917 - moto's signature
            backend: LambdaSimpleBackend,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: Any,
        ) -> str | bytes | None:
            fn = backend.get_function(function_name, qualifier)
            if not runtime.manages(fn.function_name):
                return original_simple_invoke(
                    backend, function_name, qualifier, body, headers, response_headers
                )
            payload = runtime._api_invoke(fn, body, headers, response_headers, qualifier)
            response_headers["Content-Length"] = str(len(payload))
            return payload

        root = logging.getLogger()
        router = _LoggingRouter(level=logging.NOTSET)
        root.addHandler(router)
        try:
            with (
                mock.patch.object(LambdaFunction, "invoke", function_invoke),
                mock.patch.object(LambdaSimpleBackend, "invoke", simple_invoke),
            ):
                yield self
        finally:
            root.removeHandler(router)

    # ------------------------------------------------------------------ entry points
    def invoke(
        self,
        function_name: str,
        event: Any,
        *,
        source: str = "invoke",
        qualifier: str | None = None,
    ) -> InvokeOutcome:
        """Run the handler synchronously (``RequestResponse``)."""
        fn_model = self._moto_function(function_name)
        outcome, _ = self._run(
            fn_model,
            event=event,
            invocation_type="RequestResponse",
            source=source,
            attempt=1,
            qualifier=qualifier,
        )
        return outcome

    def invoke_async(self, function_name: str, event: Any, *, source: str) -> bool:
        """Lambda's asynchronous invocation: retries, then dead-letter/OnFailure. Returns
        whether an attempt succeeded."""
        fn_model = self._moto_function(function_name)
        function = self._functions[fn_model.function_name]
        config = self._event_invoke_config(fn_model)
        retries = int(config.get("MaximumRetryAttempts", 2))
        last: Invocation | None = None
        for attempt in range(1, retries + 2):
            outcome, last = self._run(
                fn_model,
                event=event,
                invocation_type="Event",
                source=source,
                attempt=attempt,
                qualifier=None,
            )
            if not outcome.error:
                success = (config.get("DestinationConfig") or {}).get("OnSuccess") or {}
                if success.get("Destination"):
                    self._send_destination(success["Destination"], fn_model, event, last, "Success")
                return True
        assert last is not None
        sent_to: list[str] = []
        error = last.result if isinstance(last.result, dict) else {}
        if function.spec.dead_letter_arn:
            self._send_dead_letter(function.spec.dead_letter_arn, event, last, error)
            sent_to.append(function.spec.dead_letter_arn)
        failure_dest = (config.get("DestinationConfig") or {}).get("OnFailure") or {}
        if failure_dest.get("Destination"):
            self._send_destination(
                failure_dest["Destination"], fn_model, event, last, "RetriesExhausted"
            )
            sent_to.append(failure_dest["Destination"])
        failure = AsyncFailure(
            function=function.spec.logical_id,
            function_name=fn_model.function_name,
            source=source,
            sim_time=self._now(),
            attempts=retries + 1,
            error_type=str(error.get("errorType", last.error_type)),
            error_message=str(error.get("errorMessage", "")),
            event=event,
            sent_to=tuple(sent_to),
        )
        with self._records_lock:
            self._failures.append(failure)
        for listener in list(self._failure_listeners):
            listener(failure)
        return False

    # ------------------------------------------------------------------ internals
    def _moto_function(self, name_or_arn: str, qualifier: str | None = None) -> Any:
        fn = get_backend(self.account_id, self.region).get_function(name_or_arn, qualifier)
        if not self.manages(fn.function_name):
            raise EmulatorError(f"{name_or_arn} is not a function deployed by the emulator")
        return fn

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = client(service, self.region)
        return self._clients[service]

    def _api_invoke(
        self,
        fn_model: Any,
        body: Any,
        request_headers: Any,
        response_headers: Any,
        qualifier: str | None = None,
    ) -> bytes:
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        try:
            event = json.loads(body) if body else {}
        except json.JSONDecodeError as exc:
            raise JsonRESTError(
                "InvalidRequestContentException",
                f"Could not parse request body into json: {exc}",
            ) from exc
        invocation_type = _header(request_headers, "x-amz-invocation-type") or "RequestResponse"
        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event":
            self.invoke_async(fn_model.function_name, event, source="invoke")
            return b""
        outcome, _ = self._run(
            fn_model,
            event=event,
            invocation_type="RequestResponse",
            source="invoke",
            attempt=1,
            qualifier=qualifier,
        )
        response_headers["x-amz-executed-version"] = "$LATEST"
        if outcome.error:
            response_headers["x-amz-function-error"] = "Unhandled"
        tail = outcome.log_tail.encode("utf-8")[-4096:]
        response_headers["x-amz-log-result"] = base64.b64encode(tail).decode("ascii")
        return outcome.payload

    def _event_invoke_config(self, fn_model: Any) -> dict[str, Any]:
        configs = getattr(fn_model, "event_invoke_config", None) or []
        return dict(configs[-1].config) if configs else {}

    @contextlib.contextmanager
    def _exclusive(self, function_name: str) -> Iterator[None]:
        if not self._lock.acquire(timeout=self._lock_timeout):
            raise EmulatorError(
                f"{function_name} waited {self._lock_timeout:.0f}s for another handler to finish."
                " Handlers run one at a time; a handler that waits for a workflow whose Lambda"
                " task must run meanwhile deadlocks the emulator."
            )
        try:
            yield
        finally:
            self._lock.release()

    def _environment(self, fn_model: Any, function: _Function, request_id: str) -> dict[str, str]:
        env = {str(k): str(v) for k, v in (fn_model.environment_vars or {}).items()}
        name = fn_model.function_name
        env.update(FAKE_CREDENTIALS)
        env.update(
            {
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_LAMBDA_FUNCTION_NAME": name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn_model.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": function.log_stream,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn_model.run_time or 'python3.13'}",
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "LAMBDA_TASK_ROOT": str(function.spec.code_dir),
                "LAMBDA_RUNTIME_DIR": str(function.spec.code_dir),
                "_HANDLER": function.spec.handler,
                "_X_AMZN_TRACE_ID": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};"
                "Parent=0000000000000000;Sampled=0",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "TZ": ":UTC",
            }
        )
        self._env_keys |= set(env)
        return env

    def _stale_env_keys(self) -> list[str]:
        return [
            k
            for k in os.environ
            if k in self._env_keys or k.startswith(_ENV_PREFIXES_OWNED_BY_LAMBDA)
        ]

    @contextlib.contextmanager
    def _modules(self, function: _Function) -> Iterator[None]:
        names = function.isolated

        def owned(module_name: str) -> bool:
            return module_name.split(".", 1)[0] in names

        saved = {k: v for k, v in list(sys.modules.items()) if owned(k)}
        for key in saved:
            sys.modules.pop(key, None)
        sys.modules.update(function.private_modules)
        saved_path = list(sys.path)
        sys.path[:0] = [str(function.spec.code_dir), *(str(p) for p in function.spec.layer_paths)]
        try:
            yield
        finally:
            function.private_modules = {k: v for k, v in list(sys.modules.items()) if owned(k)}
            for key in function.private_modules:
                sys.modules.pop(key, None)
            sys.modules.update(saved)
            sys.path[:] = saved_path

    def _load(self, function: _Function) -> Callable[..., Any]:
        """Import the handler module (the cold start)."""
        module_path, _, attribute = function.spec.handler.rpartition(".")
        if not module_path or not attribute:
            raise _RuntimeFailure(
                "Runtime.MalformedHandlerName",
                f"Bad handler '{function.spec.handler}': not enough values to unpack",
            )
        relative = module_path.replace(".", "/")
        candidates = [
            function.spec.code_dir / f"{relative}.py",
            function.spec.code_dir / relative / "__init__.py",
        ]
        source = next((c for c in candidates if c.is_file()), None)
        if source is None:
            raise _RuntimeFailure(
                "Runtime.ImportModuleError",
                f"Unable to import module '{module_path}': No module named '{module_path}'"
                f" (looked for {candidates[0]})",
            )
        unique = "emulator_function_" + "".join(
            c if c.isalnum() else "_" for c in function.spec.logical_id
        )
        spec = importlib.util.spec_from_file_location(unique, source)
        if spec is None or spec.loader is None:  # pragma: no cover - a .py file always loads
            raise _RuntimeFailure("Runtime.ImportModuleError", f"cannot load {source}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(unique, None)
            raise _RuntimeFailure(
                "Runtime.ImportModuleError",
                f"Unable to import module '{module_path}': {type(exc).__name__}: {exc}",
                exc,
            ) from exc
        handler = getattr(module, attribute, None)
        if not callable(handler):
            raise _RuntimeFailure(
                "Runtime.HandlerNotFound",
                f"Handler '{attribute}' missing on module '{module_path}'",
            )
        function.module = module
        function.handler = handler
        return cast(Callable[..., Any], handler)

    def _run(
        self,
        fn_model: Any,
        *,
        event: Any,
        invocation_type: str,
        source: str,
        attempt: int,
        qualifier: str | None,
    ) -> tuple[InvokeOutcome, Invocation]:
        function = self._functions[fn_model.function_name]
        request_id = str(uuid.uuid4())
        sim_time = self._now()
        sink = _Sink(request_id, self._now, self._echo)
        arn = fn_model.function_arn if not qualifier else f"{fn_model.function_arn}:{qualifier}"
        timeout = float(fn_model.timeout or 3)
        result: Any
        error_type: str | None = None
        with self._exclusive(fn_model.function_name):
            configuration = tuple(sorted((fn_model.environment_vars or {}).items()))
            if function.handler is not None and configuration != function.configuration:
                # UpdateFunctionConfiguration (a stack update) retires the warm environment
                function.handler, function.module, function.private_modules = None, None, {}
            function.configuration = configuration
            cold = function.handler is None
            if cold:
                function.cold_starts += 1
                stamp = sim_time.strftime("%Y/%m/%d")
                function.log_stream = f"{stamp}/[$LATEST]{uuid.uuid4().hex}"
            env = self._environment(fn_model, function, request_id)
            saved_env = swap_environ(env, self._stale_env_keys())
            init_ms = 0.0
            started = time.perf_counter()
            cpu_started = time.thread_time()
            try:
                with self._modules(function), _capture(sink):
                    sink.add("runtime", f"START RequestId: {request_id} Version: $LATEST")
                    try:
                        handler = function.handler
                        if handler is None:
                            init_started = time.perf_counter()
                            handler = self._load(function)
                            init_ms = (time.perf_counter() - init_started) * 1000
                            started = time.perf_counter()
                            cpu_started = time.thread_time()
                        context = FakeLambdaContext(
                            function_name=fn_model.function_name,
                            invoked_function_arn=arn,
                            memory_limit_in_mb=int(fn_model.memory_size),
                            aws_request_id=request_id,
                            log_group_name=f"/aws/lambda/{fn_model.function_name}",
                            log_stream_name=function.log_stream,
                            timeout_seconds=timeout,
                        )
                        value = handler(event, context)
                        try:
                            payload = json.dumps(value).encode("utf-8")
                            result = value
                        except (TypeError, ValueError) as exc:
                            raise _RuntimeFailure(
                                "Runtime.MarshalError",
                                f"Unable to marshal response: {exc}",
                            ) from exc
                    except _RuntimeFailure as failure:
                        result = failure.payload(request_id)
                        error_type = failure.error_type
                    except Exception as exc:
                        result = _error_payload(exc)
                        result["requestId"] = request_id
                        error_type = result["errorType"]
                        sink.add(
                            "runtime",
                            f"[ERROR] {error_type}: {exc}\nTraceback (most recent call last):\n"
                            + "".join(result["stackTrace"]).rstrip(),
                        )
                    except SystemExit as exc:
                        result = {
                            "errorMessage": f"RequestId: {request_id} Error: Runtime exited"
                            f" with error: exit status {exc.code}",
                            "errorType": "Runtime.ExitError",
                        }
                        error_type = "Runtime.ExitError"
                    duration = (time.perf_counter() - started) * 1000
                    cpu_seconds = time.thread_time() - cpu_started
                    if error_type is None and cpu_seconds > timeout:
                        result = {
                            "errorMessage": f"{sim_time.strftime('%Y-%m-%dT%H:%M:%SZ')}"
                            f" {request_id} Task timed out after {timeout:.2f} seconds",
                            "errorType": "Sandbox.Timedout",
                        }
                        error_type = "Sandbox.Timedout"
                    if error_type is not None:
                        payload = json.dumps(result).encode("utf-8")
                        if error_type.startswith(("Runtime.", "Sandbox.")):
                            sink.add("runtime", f"[ERROR] {error_type}: {result['errorMessage']}")
                    sink.add("runtime", f"END RequestId: {request_id}")
                    report = (
                        f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
                        f"Billed Duration: {max(1, int(duration + 0.999))} ms\t"
                        f"Memory Size: {int(fn_model.memory_size)} MB"
                    )
                    if cold:
                        report += f"\tInit Duration: {init_ms:.2f} ms"
                    sink.add("runtime", report)
            finally:
                restore_environ(saved_env)
            function.log.extend(sink.lines)
            self._write_cloudwatch_logs(fn_model.function_name, function.log_stream, sink.lines)
        invocation = Invocation(
            function=function.spec.logical_id,
            function_name=fn_model.function_name,
            request_id=request_id,
            invocation_type=invocation_type,
            source=source,
            attempt=attempt,
            sim_time=sim_time,
            duration_ms=duration,
            cold_start=cold,
            event=event,
            result=result,
            error_type=error_type,
        )
        minute = sim_time.replace(second=0, microsecond=0)
        with self._records_lock:
            self._invocations.append(invocation)
            self._usage[(fn_model.function_name, minute, "Invocations")] += 1
            self._usage[(fn_model.function_name, minute, "Errors")] += (
                0 if error_type is None else 1
            )
        for listener in list(self._invocation_listeners):
            listener(invocation)
        tail = "\n".join(line.text for line in sink.lines)
        return InvokeOutcome(request_id, payload, error_type is not None, tail), invocation

    def _write_cloudwatch_logs(self, function_name: str, stream: str, lines: list[LogLine]) -> None:
        if not lines:
            return
        logs = self._client("logs")
        group = f"/aws/lambda/{function_name}"
        now_ms = int(time.time() * 1000)
        try:
            try:
                logs.create_log_stream(logGroupName=group, logStreamName=stream)
            except ClientError as exc:
                code = exc.response["Error"]["Code"]
                if code == "ResourceNotFoundException":
                    logs.create_log_group(logGroupName=group)
                    logs.create_log_stream(logGroupName=group, logStreamName=stream)
                elif code != "ResourceAlreadyExistsException":
                    raise
            logs.put_log_events(
                logGroupName=group,
                logStreamName=stream,
                logEvents=[{"timestamp": now_ms, "message": line.text} for line in lines],
            )
        except ClientError as exc:  # pragma: no cover - best effort, like the real agent
            log.debug("could not write CloudWatch Logs for %s: %s", function_name, exc)

    def _send_dead_letter(
        self, target_arn: str, event: Any, last: Invocation, error: Mapping[str, Any]
    ) -> None:
        body = json.dumps(event)
        message = str(error.get("errorMessage", ""))[:1024]
        service = parse_arn(target_arn)[1]
        if service == "sqs":
            self._client("sqs").send_message(
                QueueUrl=self._queue_url(target_arn),
                MessageBody=body,
                MessageAttributes={
                    "RequestID": {"DataType": "String", "StringValue": last.request_id},
                    "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                    "ErrorMessage": {"DataType": "String", "StringValue": message or "-"},
                },
            )
        elif service == "sns":
            self._client("sns").publish(
                TopicArn=target_arn,
                Message=body,
                MessageAttributes={
                    "RequestID": {"DataType": "String", "StringValue": last.request_id},
                    "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                    "ErrorMessage": {"DataType": "String", "StringValue": message or "-"},
                },
            )
        else:
            raise EmulatorError(f"dead-letter target {target_arn}: only SQS and SNS are valid")

    def _send_destination(
        self, target_arn: str, fn_model: Any, event: Any, last: Invocation, condition: str
    ) -> None:
        record = {
            "version": "1.0",
            "timestamp": self._now().strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "requestContext": {
                "requestId": last.request_id,
                "functionArn": f"{fn_model.function_arn}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": last.attempt,
            },
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
            "responsePayload": last.result,
        }
        if not last.ok:
            record["responseContext"]["functionError"] = "Unhandled"
        body = json.dumps(record)
        service = parse_arn(target_arn)[1]
        if service == "sqs":
            self._client("sqs").send_message(QueueUrl=self._queue_url(target_arn), MessageBody=body)
        elif service == "sns":
            self._client("sns").publish(TopicArn=target_arn, Message=body)
        elif service == "lambda":
            name = parse_arn(target_arn)[4].split(":")[1]
            if self.manages(name):
                self.invoke_async(name, record, source="destination")
            else:
                self._client("lambda").invoke(
                    FunctionName=target_arn, InvocationType="Event", Payload=body
                )
        elif service == "events":
            self._client("events").put_events(
                Entries=[
                    {
                        "Source": "lambda",
                        "DetailType": f"Lambda Function Invocation Result - {condition}",
                        "Detail": body,
                        "EventBusName": target_arn,
                    }
                ]
            )
        else:
            raise EmulatorError(f"destination {target_arn}: unsupported service {service}")

    def _queue_url(self, queue_arn: str) -> str:
        _, _, _, account, name = parse_arn(queue_arn)
        response = self._client("sqs").get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)
        return str(response["QueueUrl"])


class _RuntimeFailure(Exception):
    """A failure of the Lambda runtime itself (import, handler name, marshalling)."""

    def __init__(self, error_type: str, message: str, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.cause = cause

    def payload(self, request_id: str) -> dict[str, Any]:
        trace: list[str] = []
        if self.cause is not None:
            trace = traceback.format_list(traceback.extract_tb(self.cause.__traceback__))
        return {
            "errorMessage": self.message,
            "errorType": self.error_type,
            "requestId": request_id,
            "stackTrace": trace,
        }
