"""The Lambda error lines of a CloudWatch Logs subscription payload, and the function they
came from.

The payload is decoded, the function named from its log group, and each log event that
records an error read into an `ErrorLine`.

The formats read, with their sources, are listed in docs/rules.md ("Error tracking", "What
counts as an error line"). Parsing is forward-compatible: a field AWS adds is ignored, and a
line that carries an error marker but no shape this module knows still yields an
``ErrorLine`` of type ``Error`` with its first line as the message, so no error is lost.
Everything read from a log line is untrusted text; it is capped here and escaped per channel
at render time (ADR 33).
"""

import base64
import binascii
import json
import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field

from vigil.core.errors import InvalidEventError
from vigil.core.events import parse_model

MAX_MESSAGE: Final = 500
MAX_FRAMES: Final = 20
MAX_ERROR_TYPE: Final = 200
# A subscription delivers at most 1 MB of log events per batch (CloudWatch Logs quotas); a
# payload that inflates far beyond that is refused rather than decompressed into memory.
MAX_DECODED_BYTES: Final = 8 * 1024 * 1024

# The CloudWatch Logs filter pattern of Vigil's subscription: an OR (`?`) of quoted terms
# (docs/rules.md, "What counts as an error line"). Terms are case-sensitive and match whole
# words or phrases of the message; every line `error_lines` accepts contains one of them,
# and the START, END, REPORT and INFO lines of a healthy invocation contain none.
FILTER_TERMS: Final = (
    "ERROR",  # [ERROR] (Python), \tERROR\t (Node.js), "level":"ERROR" (JSON formats)
    "FATAL",  # Node.js console.fatal, the JSON log format's FATAL level
    "CRITICAL",  # Python logging.critical in text and JSON, Powertools
    "errorType",  # the runtimes' JSON error records, JSON platform records with an error
    "Task timed out",  # <timestamp> <request id> Task timed out after 3.00 seconds
    "timeout",  # REPORT ... Status: timeout; platform records "status":"timeout"
    "Error Type",  # REPORT ... Status: error  Error Type: Runtime.OutOfMemory
    "Runtime exited",  # RequestId: ... Error: Runtime exited with error: signal: killed
    "Process exited before completing request",  # older runtimes' crash line
)
FILTER_PATTERN: Final = " ".join(f'?"{term}"' for term in FILTER_TERMS)

ERROR_LEVELS: Final = frozenset({"ERROR", "FATAL", "CRITICAL"})
_TIMED_OUT: Final = "Task timed out"
_EXIT_ERROR: Final = "Runtime.ExitError"
_FALLBACK_TYPE: Final = "Error"


class LogEvent(BaseModel):
    """One log event of a subscription batch: ``timestamp`` in milliseconds since the epoch."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    timestamp: int
    message: str


class LogBatch(BaseModel):
    """A ``DATA_MESSAGE`` of a CloudWatch Logs subscription, once decoded. Fields AWS may add
    later are ignored; the ones Vigil reads are required."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    message_type: str = Field(alias="messageType")
    owner: str
    log_group: Annotated[str, Field(alias="logGroup", min_length=1)]
    log_stream: str = Field(alias="logStream")
    subscription_filters: tuple[str, ...] = Field(alias="subscriptionFilters", default=())
    log_events: tuple[LogEvent, ...] = Field(alias="logEvents")


@dataclass(frozen=True, slots=True)
class ErrorLine:
    """One error a function logged. ``frames`` are ``path:line in function``, outermost call
    first (Python's order; Node.js stacks are reversed to match), at most the innermost 20;
    ``message`` is at most 500 characters."""

    timestamp: datetime
    error_type: str
    message: str
    frames: tuple[str, ...]
    request_id: str | None
    trace_id: str | None


def decode_subscription(data: str) -> LogBatch | None:
    """The batch in ``awslogs.data`` (base64 of gzip of JSON) of a subscription's Lambda
    event; ``None`` for a ``CONTROL_MESSAGE`` (CloudWatch Logs checking the destination)."""
    try:
        compressed = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidEventError("awslogs.data: not base64") from exc
    inflater = zlib.decompressobj(wbits=31)  # 31: a gzip header and trailer
    try:
        raw = inflater.decompress(compressed, MAX_DECODED_BYTES)
    except zlib.error as exc:
        raise InvalidEventError("awslogs.data: not gzip") from exc
    if inflater.unconsumed_tail:
        raise InvalidEventError(
            f"awslogs.data: more than {MAX_DECODED_BYTES} bytes once decompressed"
        )
    if not inflater.eof:
        raise InvalidEventError("awslogs.data: truncated gzip")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidEventError(f"awslogs.data: not JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise InvalidEventError(
            f"awslogs.data: expected a JSON object, got {type(document).__name__}"
        )
    message_type = document.get("messageType")
    if message_type == "CONTROL_MESSAGE":
        return None
    if message_type != "DATA_MESSAGE":
        raise InvalidEventError(
            f"awslogs.data: messageType {str(message_type)[:40]!r} is neither"
            " DATA_MESSAGE nor CONTROL_MESSAGE"
        )
    return parse_model(LogBatch, document, what="awslogs.data")


_LAMBDA_GROUP = re.compile(
    r"^/aws/lambda/(?:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)\.)?(?P<name>[\w-]{1,64})$"
)
_CUSTOM_STREAM = re.compile(r"^\d{4}/\d{2}/\d{2}/(?P<name>[\w-]{1,64})\[")


def function_of(log_group: str, log_stream: str | None = None) -> str | None:
    """The Lambda function whose log group (or, for a custom log group, log stream) this is.

    ``/aws/lambda/<name>`` is the default log group. Lambda@Edge replicas log to
    ``/aws/lambda/us-east-1.<name>`` in the region where they ran; function names have no
    dot, so the prefix is the function's home region (always us-east-1, where Lambda@Edge
    functions are created) and the name is what follows it. A custom log group (Lambda's
    advanced logging controls) may be shared by several functions: there Lambda names each
    log stream ``YYYY/MM/DD/<function_name>[<version>][<environment id>]`` (Lambda developer
    guide, "Configuring CloudWatch log groups"), so the stream tells the function. Any other
    group or stream: ``None``.
    """
    if match := _LAMBDA_GROUP.match(log_group):
        return match["name"]
    if log_stream and (match := _CUSTOM_STREAM.match(log_stream)):
        return match["name"]
    return None


def error_lines(batch: LogBatch) -> list[ErrorLine]:
    """Every log event of the batch that records an error, in the batch's order.

    Lambda's own outcome lines (``REPORT ... Status: timeout``, JSON ``platform.report`` and
    ``platform.runtimeDone`` records) repeat what the runtime already logged for the same
    request: one is kept per request id, and none when the batch holds another error line of
    that request.
    """
    found: list[tuple[ErrorLine, bool]] = []
    for event in batch.log_events:
        parsed = _parse(event.message, _time(event.timestamp))
        if parsed is not None:
            found.append(parsed)
    told = {line.request_id for line, platform in found if not platform and line.request_id}
    kept: list[ErrorLine] = []
    for line, platform in found:
        if platform and line.request_id:
            if line.request_id in told:
                continue
            told.add(line.request_id)
        kept.append(line)
    return kept


# --- one log event ---------------------------------------------------------------------------

_LINES = re.compile(r"\r\n|\r|\n")
_TEXT_LEVEL = re.compile(r"^\[(?P<level>ERROR|CRITICAL|FATAL)\](?P<rest>.*)$", re.DOTALL)
_PY_LOGGER = re.compile(
    r"^\t(?P<ts>\d{4}-\d\d-\d\dT[\d:.]+Z?)\t(?P<rid>[^\t]*)\t(?P<msg>.*)$", re.DOTALL
)
_NODE_TEXT = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\dT[\d:.]+Z)\t(?P<rid>[^\t]*)\t(?P<level>[A-Z]+)\t(?P<rest>.*)$",
    re.DOTALL,
)
_TYPED = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::\s?(?P<msg>.*))?$", re.DOTALL)
# Without a message the runtime writes only the type: a capitalised (possibly dotted) name.
_BARE_TYPE = re.compile(r"^[A-Z]\w*(?:\.[A-Za-z_]\w*)*$")
_TIMEOUT = re.compile(
    r"^(?:\S+\s+)?(?:(?P<rid>[\w-]+)\s+)?Task timed out after (?P<secs>\d+(?:\.\d+)?) seconds"
)
_EXITED = re.compile(r"(?P<msg>Runtime exited[^\r\n]*|Process exited before completing request)")
_RUNTIME_TYPE = re.compile(r"\bRuntime\.\w+")
_REQUEST_ID = re.compile(r"RequestId: ?(?P<rid>[\w-]*)")
_REPORT = re.compile(r"^(?:INIT_|RESTORE_)?REPORT\b")
_STATUS = re.compile(r"\bStatus:\s*(?P<status>\w+)")
_ERROR_TYPE = re.compile(r"\bError Type:\s*(?P<type>[\w.]+)")
_DURATION = re.compile(r"\bDuration:\s*(?P<ms>\d+(?:\.\d+)?)\s*ms")
_MEMORY_USED = re.compile(r"\bMax Memory Used:\s*(?P<mb>\d+)\s*MB")
_MEMORY_SIZE = re.compile(r"\bMemory Size:\s*(?P<mb>\d+)\s*MB")
_JSON_ERROR_MARK = re.compile(
    r'"(?:level|log_level)"\s*:\s*"(?:ERROR|FATAL|CRITICAL)"|"errorType"\s*:'
)
_SAFE_ID = re.compile(r"^[\w-]{1,100}$")
_TRACE_ID = re.compile(r"(?:^|Root=)(?P<id>1-[0-9a-f]{8}-[0-9a-f]{24})(?:$|;)")


def _time(milliseconds: int) -> datetime:
    return datetime.fromtimestamp(milliseconds / 1000, tz=UTC)


def _parse(message: str, at: datetime) -> tuple[ErrorLine, bool] | None:
    """The error a message records, and whether it is one of Lambda's own outcome lines."""
    text = message.strip()
    if not text:
        return None
    if text.startswith("{"):
        return _json_line(text, at)
    if match := _TEXT_LEVEL.match(text):
        return _python_text(match["rest"], at), False
    if match := _NODE_TEXT.match(text):
        if match["level"] not in ERROR_LEVELS:
            return None
        return _node_text(match["rest"], _request_id(match["rid"]), at), False
    if _REPORT.match(text):
        report = _report_line(text, at)
        return (report, True) if report else None
    if match := _TIMEOUT.match(text):
        return _line(
            at,
            _TIMED_OUT,
            f"Task timed out after {match['secs']} seconds",
            request_id=_request_id(match["rid"]),
        ), False
    if match := _EXITED.search(text):
        found_type = _RUNTIME_TYPE.search(text[match.end() :])
        rid = _REQUEST_ID.search(text[: match.start()])
        return _line(
            at,
            found_type.group(0) if found_type else _EXIT_ERROR,
            match["msg"].strip(),
            request_id=_request_id(rid["rid"]) if rid else None,
        ), False
    return None


def _python_text(rest: str, at: datetime) -> ErrorLine:
    """``[ERROR] Type: message`` then ``Traceback ...`` (the runtime's unhandled error, one
    event with ``\\n`` or ``\\r`` between lines), or ``[ERROR]\\t<time>\\t<request id>\\t<message>``
    (the runtime's logging format for ``logger.error``, a traceback after it for
    ``logger.exception``)."""
    if logged := _PY_LOGGER.match(rest):
        frames, exc_type, exc_message = _python_traceback(logged["msg"])
        first = _first_line(logged["msg"])
        return _line(
            at,
            exc_type or _FALLBACK_TYPE,
            exc_message if exc_type else first,
            frames=frames,
            request_id=_request_id(logged["rid"]),
        )
    lines = _LINES.split(rest.strip())
    head: list[str] = []
    for text in lines:
        if text.startswith("Traceback (most recent call last)"):
            break
        head.append(text)
    frames, _, _ = _python_traceback(rest)
    typed = _TYPED.match("\n".join(head).strip())
    if typed is None or (typed["msg"] is None and not _BARE_TYPE.match(typed["type"])):
        return _line(at, _FALLBACK_TYPE, _first_line(rest), frames=frames)
    return _line(at, typed["type"], (typed["msg"] or "").strip(), frames=frames)


_PY_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+), in (?P<func>\S+)')
_PY_EXCEPTION = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::\s?(?P<msg>.*))?$")


def _python_traceback(text: str) -> tuple[list[str], str | None, str]:
    """The frames of the last traceback in ``text`` and the exception its last line names
    (its type without the module, as the runtime's ``[ERROR]`` line writes it)."""
    frames: list[str] = []
    exc_type: str | None = None
    exc_message = ""
    in_traceback = False
    for line in _LINES.split(text):
        if line.startswith("Traceback (most recent call last)"):
            frames, exc_type, exc_message, in_traceback = [], None, "", True
            continue
        if not in_traceback:
            continue
        if frame := _PY_FRAME.match(line):
            frames.append(f"{frame['path']}:{frame['line']} in {frame['func']}")
        elif line and not line[0].isspace() and (named := _PY_EXCEPTION.match(line)):
            exc_type = named["type"].rsplit(".", 1)[-1]
            exc_message = (named["msg"] or "").strip()
    return frames, exc_type, exc_message


def _node_text(rest: str, request_id: str | None, at: datetime) -> ErrorLine:
    """``ERROR\\tInvoke Error \\t{...}`` (also ``Uncaught Exception``, ``Unhandled Promise
    Rejection``): the runtime's error record after a tab; otherwise ``console.error`` text,
    a stack in it when an Error was logged."""
    label, tab, body = rest.partition("\t")
    if tab and body.lstrip().startswith("{"):
        try:
            record = json.loads(body)
        except json.JSONDecodeError:
            record = None
        if isinstance(record, dict):
            error = _error_fields(record)
            if error is not None:
                return _line(
                    at,
                    error.type or _FALLBACK_TYPE,
                    error.message,
                    frames=error.frames,
                    request_id=request_id,
                )
        return _line(at, _FALLBACK_TYPE, _first_line(label), request_id=request_id)
    lines = _LINES.split(rest.strip())
    frames = _node_frames(lines[1:])
    typed = _TYPED.match(lines[0]) if frames else None
    if typed:
        return _line(
            at,
            typed["type"],
            (typed["msg"] or "").strip(),
            frames=frames,
            request_id=request_id,
        )
    return _line(at, _FALLBACK_TYPE, lines[0], frames=frames, request_id=request_id)


def _report_line(text: str, at: datetime) -> ErrorLine | None:
    """``REPORT RequestId: ... Status: timeout`` or ``Status: error  Error Type: ...``: the
    outcome Lambda writes on the report line when the platform ended the invocation."""
    status = _STATUS.search(text)
    if status is None:
        return None
    rid = _REQUEST_ID.search(text)
    request_id = _request_id(rid["rid"]) if rid else None
    duration = _DURATION.search(text)
    if status["status"] == "timeout":
        return _line(
            at,
            _TIMED_OUT,
            _timed_out(float(duration["ms"]) if duration else None),
            request_id=request_id,
        )
    error_type = _ERROR_TYPE.search(text)
    if status["status"] != "error" or error_type is None:
        return None
    used, size = _MEMORY_USED.search(text), _MEMORY_SIZE.search(text)
    return _line(
        at,
        error_type["type"],
        _platform_message(
            error_type["type"], int(used["mb"]) if used else None, int(size["mb"]) if size else None
        ),
        request_id=request_id,
    )


def _json_line(text: str, at: datetime) -> tuple[ErrorLine, bool] | None:
    try:
        record = json.loads(text)
    except json.JSONDecodeError:
        record = None
    if not isinstance(record, dict):
        if _JSON_ERROR_MARK.search(text):
            return _line(at, _FALLBACK_TYPE, _first_line(text)), False
        return None
    if isinstance(record.get("type"), str) and record["type"].startswith("platform."):
        platform = _platform_record(record, at)
        return (platform, True) if platform else None
    level = _string(record.get("level")) or _string(record.get("log_level"))
    error = _error_fields(record)
    if level is not None:
        if level.upper() not in ERROR_LEVELS:
            return None
    elif error is None or error.type is None:
        return None
    if error is None:
        error = _ErrorFields(None, _message_text(record.get("message")), [])
    return _line(
        at,
        error.type or _FALLBACK_TYPE,
        error.message,
        frames=error.frames,
        request_id=_request_id(
            _string(record.get("requestId"))
            or _string(record.get("function_request_id"))
            or _string(record.get("AWSRequestId"))
        ),
        trace_id=_trace_id(record),
    ), False


def _platform_record(record: Mapping[str, Any], at: datetime) -> ErrorLine | None:
    """A JSON system log record (``{"time", "type": "platform.report", "record": {...}}``)
    whose ``status`` is ``timeout``, or ``error`` with an ``errorType``."""
    body = record.get("record")
    if not isinstance(body, dict):
        return None
    status = body.get("status")
    metrics = body.get("metrics")
    if not isinstance(metrics, dict):
        metrics = {}
    request_id = _request_id(_string(body.get("requestId")))
    trace_id = _trace_id(body)
    if status == "timeout":
        duration = metrics.get("durationMs")
        return _line(
            at,
            _TIMED_OUT,
            _timed_out(float(duration) if isinstance(duration, int | float) else None),
            request_id=request_id,
            trace_id=trace_id,
        )
    error_type = _string(body.get("errorType"))
    if status != "error" or error_type is None:
        return None
    used, size = metrics.get("maxMemoryUsedMB"), metrics.get("memorySizeMB")
    return _line(
        at,
        error_type,
        _platform_message(
            error_type,
            used if isinstance(used, int) else None,
            size if isinstance(size, int) else None,
        ),
        request_id=request_id,
        trace_id=trace_id,
    )


@dataclass(frozen=True, slots=True)
class _ErrorFields:
    type: str | None
    message: str
    frames: list[str]


def _error_fields(record: Mapping[str, Any]) -> _ErrorFields | None:
    """The error a JSON record carries: the runtimes' ``errorType``/``errorMessage``/
    ``stackTrace`` (top level, or in ``message`` as Node.js writes a logged Error), or
    Powertools' ``exception_name``/``exception``/``stack_trace``."""
    nested = record.get("message")
    for source in (record, nested if isinstance(nested, dict) else None):
        if source is None:
            continue
        error_type = _string(source.get("errorType"))
        if error_type is not None:
            return _ErrorFields(
                error_type,
                _message_text(source.get("errorMessage")),
                _stack_frames(
                    source.get("stackTrace") or source.get("stack") or source.get("trace")
                ),
            )
    name = _string(record.get("exception_name"))
    exception = _string(record.get("exception"))
    if name is None and exception is None:
        return None
    frames, exc_type, exc_message = _python_traceback(exception or "")
    structured = record.get("stack_trace")
    if isinstance(structured, dict) and isinstance(structured.get("frames"), list):
        frames = [
            f"{frame.get('file')}:{frame.get('line')} in {frame.get('function')}"
            for frame in structured["frames"]
            if isinstance(frame, dict)
        ]
    message = exc_message if exc_type else _message_text(nested)
    return _ErrorFields(name or exc_type, message, frames)


def _stack_frames(stack: object) -> list[str]:
    """Frames of a JSON stack: Python's ``traceback.format_list`` strings, Node.js's
    ``error.stack`` lines (innermost first, reversed here), or ``[path, line, function,
    code]`` lists (the Python runtime's older format)."""
    if isinstance(stack, str):
        stack = _LINES.split(stack)
    if not isinstance(stack, list):
        return []
    python: list[str] = []
    node_lines: list[str] = []
    for element in stack:
        if isinstance(element, str):
            if frame := _PY_FRAME.match(element):
                python.append(f"{frame['path']}:{frame['line']} in {frame['func']}")
            else:
                node_lines.append(element)
        elif isinstance(element, list) and len(element) >= 3:
            python.append(f"{element[0]}:{element[1]} in {element[2]}")
    return python or _node_frames(node_lines)


_NODE_FRAME = re.compile(
    r"^\s*at (?:async )?(?:(?P<func>.+?) \((?P<loc>[^()]*)\)|(?P<bare>\S+))\s*$"
)
_NODE_LOCATION = re.compile(r"^(?P<path>.+?):(?P<line>\d+)(?::\d+)?$")


def _node_frames(lines: Iterable[str]) -> list[str]:
    frames: list[str] = []
    for text in lines:
        match = _NODE_FRAME.match(text)
        if match is None:
            continue
        location = match["loc"] if match["loc"] is not None else match["bare"]
        function = match["func"] or "<anonymous>"
        path = location.removeprefix("file://")
        if place := _NODE_LOCATION.match(path):
            frames.append(f"{place['path']}:{place['line']} in {function}")
        else:
            frames.append(f"{path} in {function}")
    frames.reverse()
    return frames


# --- small helpers ---------------------------------------------------------------------------


def _line(
    at: datetime,
    error_type: str,
    message: str,
    *,
    frames: Sequence[str] = (),
    request_id: str | None = None,
    trace_id: str | None = None,
) -> ErrorLine:
    return ErrorLine(
        timestamp=at,
        error_type=(error_type.strip() or _FALLBACK_TYPE)[:MAX_ERROR_TYPE],
        message=message.strip()[:MAX_MESSAGE],
        frames=tuple(frame[:MAX_MESSAGE] for frame in frames[-MAX_FRAMES:]),
        request_id=request_id,
        trace_id=trace_id,
    )


def _first_line(text: str) -> str:
    for line in _LINES.split(text.strip()):
        if line.strip():
            return line.strip()
    return ""


def _string(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _message_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), default=str)[:MAX_MESSAGE]


def _request_id(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value if _SAFE_ID.match(value) else None


def _trace_id(record: Mapping[str, Any]) -> str | None:
    """The X-Ray trace id ``1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx``, from Powertools'
    ``xray_trace_id``, a ``traceId``, the ``_X_AMZN_TRACE_ID`` header value
    (``Root=...;Parent=...;Sampled=...``) or a platform record's ``tracing.value``."""
    tracing = record.get("tracing")
    candidates = (
        record.get("xray_trace_id"),
        record.get("traceId"),
        record.get("_X_AMZN_TRACE_ID"),
        tracing.get("value") if isinstance(tracing, dict) else None,
    )
    for value in candidates:
        if isinstance(value, str) and (match := _TRACE_ID.search(value.strip())):
            return match["id"]
    return None


def _timed_out(duration_ms: float | None) -> str:
    if duration_ms is None:
        return _TIMED_OUT
    return f"Task timed out after {duration_ms / 1000:.2f} seconds"


def _platform_message(error_type: str, used_mb: int | None, size_mb: int | None) -> str:
    if error_type == "Runtime.OutOfMemory" and used_mb is not None and size_mb is not None:
        return f"Out of memory: {used_mb} MB used of {size_mb} MB"
    return f"Invocation failed: {error_type}"
