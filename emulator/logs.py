"""Lambda error lines, played from a scenario and delivered like CloudWatch Logs subscriptions.

moto stores subscription filters but has no account-level policies and plays no log lines of
the scenario's workload functions. :class:`LogSubscriptions` fills in:

* **The lines.** Each error of a workload's minute whose phase declares ``exceptions``
  (:mod:`emulator.scenario`) is one log event of ``/aws/lambda/<function>``, rendered as the
  Python runtime logs it (:func:`render_line`): ``python`` is the runtime's unhandled-exception
  text (``log_error`` of ``awslambdaric/bootstrap.py``: ``[ERROR] KeyError: 'user_id'``, a
  ``Traceback`` whose indentation is no-break spaces, one event, no request id), ``logging`` a
  ``logger.exception`` line of the runtime's text format (``[ERROR]\\t<time>\\t<request id>\\t
  ...``), ``json`` the runtime's record in the JSON log format (``timestamp``, ``level``,
  ``errorMessage``, ``errorType``, ``requestId``, ``stackTrace``), ``powertools`` a Powertools
  Logger exception record (``"level":"ERROR"``, ``exception``, ``exception_name``,
  ``xray_trace_id``) and ``timeout`` Lambda's ``<time> <request id> Task timed out after 3.00
  seconds``. Request ids (UUIDs) and X-Ray trace ids (``1-<8 hex: epoch seconds>-<24 hex>``)
  come from the scenario's seed. The ``n`` events of minute ``m`` are at ``m + (2k + 1) * 30 s
  / n`` (``k = 0 .. n-1``), in order.
* **The subscriptions.** The account's subscription filter policy (``PutAccountPolicy``,
  ``DescribeAccountPolicies``, ``DeleteAccountPolicy`` answered in process; the stack's
  ``AWS::Logs::AccountPolicy`` is put through them by :mod:`emulator.cfn_shims`), with its
  ``selectionCriteria`` (only ``LogGroupName NOT IN [...]``) and its ``FilterPattern``; and the
  filters moto holds on the log group (``PutSubscriptionFilter``, which needs the log group:
  the workloads' groups are created with the workloads, as Lambda creates them on first run).
  Only Lambda destinations are delivered to. One account policy of that type per account, as
  AWS allows.
* **Filter patterns.** :class:`FilterPattern` implements the subset Vigil uses and refuses the
  rest: the empty pattern (every line); space-separated terms, plain or double-quoted (``\\"``
  inside quotes), that must all occur (AND); or terms that all start with ``?``, one of which
  must occur (OR). A term matches a line that contains it, case-sensitively. JSON (``{ }``),
  space-delimited (``[ ]``), regular-expression (``% %``), exclusion (``-term``) and mixed
  AND/OR patterns raise :class:`~emulator.errors.EmulatorError`.
* **Delivery.** The lines of minute ``m`` are delivered at ``m + 1 min + 5 s``
  (:data:`DELIVERY_DELAY`): after the metrics of minute ``m`` are in CloudWatch (the clock writes
  them on reaching ``m + 1 min``) and after any schedule firing at ``m + 1 min``. On AWS a line
  is delivered within seconds of being logged, before its minute's metrics are complete; the
  emulator delivers a whole minute at once, a little later, so a handler can read the metrics
  of that minute. Each destination gets ``{"awslogs": {"data": base64(gzip(json))}}`` with
  ``messageType: DATA_MESSAGE``, ``owner``, ``logGroup``, ``logStream``
  (``YYYY/MM/DD/[$LATEST]<32 hex>``), ``subscriptionFilters: [<policy or filter name>]`` and
  ``logEvents: [{id, timestamp, message}]``, as an asynchronous invocation through the
  emulator's runtime (retries and dead-letter queue included). Batches: at most
  :data:`MAX_BATCH_EVENTS` events and :data:`MAX_BATCH_BYTES` bytes of uncompressed JSON (AWS
  documents no batch size for a Lambda destination; these are ``PutLogEvents``' limits), and
  an invocation event of at most :data:`MAX_INVOKE_BYTES` (Lambda's asynchronous payload
  quota). Before a subscription's first data message its destination gets one
  ``CONTROL_MESSAGE`` (AWS sends such messages "mainly for checking if the destination is
  reachable"; the text is modelled on the Kinesis one), so that a scenario without error
  lines invokes nothing.

Every delivery is a :class:`LogDelivery` in ``emu.log_subscriptions.deliveries`` and a ``logs``
timeline entry ("error stream: 2 lines of batch-job"). Lines that the stack's own handlers log
are not played here: moto delivers them, unfiltered, to filters on their own log groups (none
should exist: the account policy leaves Vigil's log groups out, and the discovery subscribes
watched functions only).
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import json
import random
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

from moto.core.botocore_stubber import BotocoreStubber
from moto.logs.models import logs_backends

from emulator._aws import ACCOUNT_ID, REGION, JsonAnswer, client, parse_arn
from emulator.errors import EmulatorError
from emulator.scenario import ExceptionSpec, Scenario, Workload

DELIVERY_DELAY = timedelta(seconds=5)
"""How long after the end of a minute its lines are delivered."""
MAX_BATCH_EVENTS = 10_000
"""Events in one delivery at most (``PutLogEvents``' batch limit)."""
MAX_BATCH_BYTES = 1_048_576
"""Uncompressed JSON of one delivery at most (``PutLogEvents``' batch size limit)."""
MAX_INVOKE_BYTES = 262_144
"""The invocation event (``{"awslogs": ...}``) at most: Lambda's asynchronous payload quota."""
SUBSCRIPTION_POLICY = "SUBSCRIPTION_FILTER_POLICY"
CONTROL_TEXT = "CWL CONTROL MESSAGE: Checking health of destination Lambda function."

_LOGS_URL = re.compile(r"^https://logs\.([a-z0-9-]+)\.amazonaws\.com/?$")
_TARGET_PREFIX = "Logs_20140328."
_SELECTION = re.compile(r"^\s*LogGroupName\s+NOT\s+IN\s+(\[.*\])\s*$", re.DOTALL)
_TERM = re.compile(r'(\??)(?:"((?:[^"\\]|\\.)*)"|([^\s"]+))')
_DEFAULT_TIMEOUT = 3


# ---------------------------------------------------------------------------- filter patterns
@dataclass(frozen=True)
class FilterPattern:
    """The subset of CloudWatch Logs' filter pattern syntax the emulator plays (module
    docstring); :meth:`parse` refuses the rest."""

    text: str
    terms: tuple[str, ...]
    any_term: bool
    """``?`` terms: one must occur; otherwise every term must."""

    @classmethod
    def parse(cls, text: str) -> FilterPattern:
        stripped = text.strip()
        if not stripped:
            return cls(text, (), False)
        if stripped[0] in "{[" or "%" in stripped:
            raise EmulatorError(
                f"filter pattern {text!r}: JSON, space-delimited and regular-expression patterns"
                ' are not played by the emulator (only terms: `ERROR`, `"Task timed out"`,'
                " `?a ?b`)"
            )
        terms: list[str] = []
        optional: list[bool] = []
        position = 0
        while position < len(stripped):
            if stripped[position].isspace():
                position += 1
                continue
            match = _TERM.match(stripped, position)
            if match is None or match.end() == position:
                raise EmulatorError(f"filter pattern {text!r}: cannot read it at {position}")
            term = (
                re.sub(r"\\(.)", r"\1", match.group(2))
                if match.group(2) is not None
                else match.group(3)
            )
            if match.group(3) is not None and term.startswith("-"):
                raise EmulatorError(
                    f"filter pattern {text!r}: exclusions (-term) are not played by the emulator"
                )
            terms.append(term)
            optional.append(match.group(1) == "?")
            position = match.end()
        if any(optional) and not all(optional):
            raise EmulatorError(
                f"filter pattern {text!r}: mixing ?terms and plain terms is not played by the"
                " emulator"
            )
        return cls(text, tuple(terms), all(optional))

    def matches(self, message: str) -> bool:
        if not self.terms:
            return True
        found = (term in message for term in self.terms)
        return any(found) if self.any_term else all(found)


# ---------------------------------------------------------------------------- lines
@dataclass(frozen=True)
class LogEvent:
    id: str
    timestamp: int
    """Milliseconds since the epoch."""
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "timestamp": self.timestamp, "message": self.message}


def _rng(*parts: object) -> random.Random:
    return random.Random(":".join(str(p) for p in parts))


def request_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def trace_id(at: datetime, rng: random.Random) -> str:
    """An X-Ray trace id: ``1-<epoch seconds, 8 hex>-<96 random bits, 24 hex>``."""
    return f"1-{int(at.timestamp()):08x}-{rng.getrandbits(96):024x}"


def _frame(spec: ExceptionSpec) -> tuple[str, int, str, str]:
    """The in-app frame an exception is raised at (its line differs by type and message)."""
    digest = hashlib.sha256(f"{spec.type}:{spec.message}".encode()).digest()
    line = 10 + int.from_bytes(digest[:2], "big") % 190
    return "/var/task/app.py", line, "lambda_handler", "handle(event)"


def _stack(spec: ExceptionSpec) -> list[str]:
    """``traceback.format_list`` of the frame."""
    path, line, function, code = _frame(spec)
    return [f'  File "{path}", line {line}, in {function}\n    {code}\n']


def _nbsp_indent(line: str) -> str:
    stripped = line.lstrip(" ")
    return "\u00a0" * (len(line) - len(stripped)) + stripped


def _iso_ms(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def render_line(
    spec: ExceptionSpec,
    *,
    at: datetime,
    request: str,
    trace: str,
    function: str,
    timeout: int = _DEFAULT_TIMEOUT,
) -> str:
    """The log event one failed invocation writes (see the module docstring for the sources)."""
    summary = f"{spec.type}: {spec.message}" if spec.message else spec.type
    if spec.format == "timeout":
        return f"{_iso_ms(at)} {request} Task timed out after {timeout:.2f} seconds"
    if spec.format == "python":
        lines = [f"[ERROR] {summary}", "Traceback (most recent call last):"]
        for element in _stack(spec):
            lines += [_nbsp_indent(text) for text in element.splitlines()]
        return "\n".join(lines)
    if spec.format == "logging":
        trace_text = "".join(_stack(spec))
        return (
            f"[ERROR]\t{_iso_ms(at)}\t{request}\tcould not handle the event\n"
            f"Traceback (most recent call last):\n{trace_text}{summary}"
        )
    if spec.format == "json":
        record: dict[str, Any] = {
            "timestamp": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "level": "ERROR",
            "errorMessage": spec.message,
            "errorType": spec.type,
            "requestId": request,
            "stackTrace": _stack(spec),
        }
        return json.dumps(record)
    if spec.format == "powertools":
        _, line, name, _ = _frame(spec)
        stamp = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S,") + f"{at.microsecond // 1000:03d}"
        powertools: dict[str, Any] = {
            "level": "ERROR",
            "location": f"{name}:{line}",
            "message": "could not handle the event",
            "timestamp": f"{stamp}+0000",
            "service": function,
            "cold_start": False,
            "function_name": function,
            "function_memory_size": "128",
            "function_arn": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function}",
            "function_request_id": request,
            "exception": "Traceback (most recent call last):\n" + "".join(_stack(spec)) + summary,
            "exception_name": spec.type,
            "xray_trace_id": trace,
        }
        return json.dumps(powertools, separators=(",", ":"), ensure_ascii=False)
    raise EmulatorError(f"no error line format {spec.format!r}")


def log_stream(function: str, day: datetime, seed: int) -> str:
    """The Lambda log stream name of a function's execution environment on a day."""
    hexa = f"{_rng(seed, function, 'stream', day.date()).getrandbits(128):032x}"
    return f"{day:%Y/%m/%d}/[$LATEST]{hexa}"


def _event_id(seed: int, group: str, timestamp: int, index: int) -> str:
    digest = hashlib.sha256(f"{seed}:{group}:{timestamp}:{index}".encode()).digest()
    return f"{int.from_bytes(digest, 'big') % 10**56:056d}"


def minute_events(workload: Workload, scenario: Scenario, minute: datetime) -> list[LogEvent]:
    """The error lines ``workload`` logs in ``minute`` (none if its phase declares no
    ``exceptions``)."""
    offset = minute - scenario.start
    specs = workload.exceptions_at(offset)
    if not specs:
        return []
    count = workload.traffic(offset, scenario.seed).errors
    if not count:
        return []
    rng = _rng(scenario.seed, workload.function, minute.isoformat(), "errors")
    chosen = rng.choices(specs, weights=[s.weight for s in specs], k=count)
    group = f"/aws/lambda/{workload.function}"
    events: list[LogEvent] = []
    for index, spec in enumerate(chosen):
        at = minute + timedelta(milliseconds=(2 * index + 1) * 30_000 // count)
        stamp = int(at.timestamp() * 1000)
        message = render_line(
            spec,
            at=at,
            request=request_id(rng),
            trace=trace_id(at, rng),
            function=workload.function,
            timeout=workload.timeout or _DEFAULT_TIMEOUT,
        )
        events.append(LogEvent(_event_id(scenario.seed, group, stamp, index), stamp, message))
    return events


def has_lines(workload: Workload, scenario: Scenario, minute: datetime) -> bool:
    offset = minute - scenario.start
    return bool(workload.exceptions_at(offset) and workload.traffic(offset, scenario.seed).errors)


# ---------------------------------------------------------------------------- payloads
def encode(message: Mapping[str, Any]) -> dict[str, Any]:
    """The Lambda event of a CloudWatch Logs subscription: ``{"awslogs": {"data":
    base64(gzip(json))}}``."""
    raw = json.dumps(message, separators=(",", ":")).encode()
    data = base64.b64encode(gzip.compress(raw, mtime=0)).decode()
    return {"awslogs": {"data": data}}


def decode(event: Mapping[str, Any]) -> dict[str, Any]:
    """What a handler reads back from :func:`encode`'s event."""
    value = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    if not isinstance(value, dict):
        raise ValueError("not a CloudWatch Logs message")
    return value


def data_message(
    *, group: str, stream: str, subscription: str, events: list[LogEvent]
) -> dict[str, Any]:
    return {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT_ID,
        "logGroup": group,
        "logStream": stream,
        "subscriptionFilters": [subscription],
        "logEvents": [event.to_json() for event in events],
    }


def control_message(at: datetime) -> dict[str, Any]:
    return {
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [{"id": "", "timestamp": int(at.timestamp() * 1000), "message": CONTROL_TEXT}],
    }


def batches(
    events: list[LogEvent], envelope: Callable[[list[LogEvent]], dict[str, Any]]
) -> list[list[LogEvent]]:
    """Split ``events`` (in order) into deliveries within :data:`MAX_BATCH_EVENTS`,
    :data:`MAX_BATCH_BYTES` of JSON and :data:`MAX_INVOKE_BYTES` of invocation event."""
    base = len(json.dumps(envelope([]), separators=(",", ":")))
    out: list[list[LogEvent]] = []
    current: list[LogEvent] = []
    size = base
    for event in events:
        extra = len(json.dumps(event.to_json(), separators=(",", ":")).encode()) + 1
        if current and (len(current) >= MAX_BATCH_EVENTS or size + extra > MAX_BATCH_BYTES):
            out.append(current)
            current, size = [], base
        current.append(event)
        size += extra
    if current:
        out.append(current)
    return [piece for batch in out for piece in _within_invoke_limit(batch, envelope)]


def _within_invoke_limit(
    batch: list[LogEvent], envelope: Callable[[list[LogEvent]], dict[str, Any]]
) -> list[list[LogEvent]]:
    if len(batch) == 1 or len(json.dumps(encode(envelope(batch)))) <= MAX_INVOKE_BYTES:
        return [batch]
    half = len(batch) // 2
    return _within_invoke_limit(batch[:half], envelope) + _within_invoke_limit(
        batch[half:], envelope
    )


# ---------------------------------------------------------------------------- account policies
@dataclass(frozen=True)
class AccountPolicy:
    """An account policy as ``PutAccountPolicy`` stored it."""

    name: str
    type: str
    document: str
    scope: str
    selection_criteria: str
    updated: int

    def describe(self) -> dict[str, Any]:
        answer = {
            "policyName": self.name,
            "policyDocument": self.document,
            "lastUpdatedTime": self.updated,
            "policyType": self.type,
            "scope": self.scope,
            "accountId": ACCOUNT_ID,
        }
        if self.selection_criteria:
            answer["selectionCriteria"] = self.selection_criteria
        return answer

    @property
    def destination_arn(self) -> str:
        return str(json.loads(self.document)["DestinationArn"])

    @property
    def pattern(self) -> FilterPattern:
        return FilterPattern.parse(str(json.loads(self.document).get("FilterPattern", "")))

    @property
    def excluded(self) -> frozenset[str]:
        return excluded_log_groups(self.selection_criteria)

    def selects(self, group: str) -> bool:
        return group not in self.excluded


def excluded_log_groups(criteria: str) -> frozenset[str]:
    """The log groups of ``LogGroupName NOT IN ["a", "b"]`` (the only selection criteria the
    emulator plays; empty criteria select every log group)."""
    if not criteria.strip():
        return frozenset()
    match = _SELECTION.match(criteria)
    names: object = None
    if match:
        with contextlib.suppress(json.JSONDecodeError):
            names = json.loads(match.group(1))
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise EmulatorError(
            f"selection criteria {criteria!r}: the emulator plays only"
            ' LogGroupName NOT IN ["name", ...]'
        )
    return frozenset(names)


def _error(code: str, message: str) -> JsonAnswer:
    body = json.dumps({"__type": code, "message": message})
    return 400, {"Content-Type": "application/x-amz-json-1.1"}, body


# ---------------------------------------------------------------------------- delivery
@dataclass(frozen=True)
class LogDelivery:
    """One invocation of a subscription's destination."""

    at: datetime
    """Simulated time of the delivery."""
    message_type: str
    """``DATA_MESSAGE`` or ``CONTROL_MESSAGE``."""
    log_group: str
    """``""`` for a control message."""
    function: str
    """The workload whose lines these are (``""`` for a control message)."""
    subscription: str
    """The account policy's or the subscription filter's name."""
    destination_arn: str
    events: tuple[LogEvent, ...]
    payload_bytes: int
    """The uncompressed JSON of the message."""
    event_bytes: int
    """The invocation event (``{"awslogs": {"data": ...}}``) as JSON."""
    ok: bool
    """Whether an attempt of the asynchronous invocation succeeded."""
    request_ids: tuple[str, ...] = ()
    """The runtime's request id of each attempt (destinations the emulator runs)."""
    message: dict[str, Any] = field(default_factory=dict, repr=False)
    """The decoded message."""

    @property
    def event_count(self) -> int:
        return len(self.events)


class LogSubscriptions:
    """Plays the scenario's error lines and delivers them; see the module docstring."""

    def __init__(
        self,
        *,
        scenario: Scenario | None,
        start: datetime,
        now: Callable[[], datetime],
        invoke: Callable[[str, dict[str, Any]], tuple[bool, tuple[str, ...]]],
        region: str = REGION,
    ) -> None:
        self._scenario = scenario
        self._now = now
        self._invoke = invoke
        self._region = region
        self._lock = threading.Lock()
        self._policies: dict[str, AccountPolicy] = {}
        self._controlled: set[tuple[str, ...]] = set()
        self._listeners: list[Callable[[LogDelivery], None]] = []
        self._workloads = tuple(w for w in scenario.workloads if w.logs_errors) if scenario else ()
        self._next_minute = start.replace(second=0, microsecond=0)
        if scenario is not None:
            self._next_minute = max(self._next_minute, scenario.start)
        self.deliveries: list[LogDelivery] = []

    # ------------------------------------------------------------------ account policies API
    @property
    def policies(self) -> list[AccountPolicy]:
        with self._lock:
            return list(self._policies.values())

    def subscription_policy(self) -> AccountPolicy | None:
        return next((p for p in self.policies if p.type == SUBSCRIPTION_POLICY), None)

    def answer(self, target: str, body: dict[str, Any]) -> JsonAnswer:
        """``PutAccountPolicy``, ``DescribeAccountPolicies`` and ``DeleteAccountPolicy``."""
        operation = target.removeprefix(_TARGET_PREFIX)
        kind = str(body.get("policyType", ""))
        name = str(body.get("policyName", ""))
        with self._lock:
            if operation == "PutAccountPolicy":
                return self._put_policy(name, kind, body)
            if operation == "DescribeAccountPolicies":
                found = [
                    p.describe()
                    for p in self._policies.values()
                    if p.type == kind and (not name or p.name == name)
                ]
                return 200, {}, json.dumps({"accountPolicies": found})
            key = f"{kind}/{name}"
            if key not in self._policies:
                return _error("ResourceNotFoundException", f"no {kind} named {name}")
            del self._policies[key]
            return 200, {}, "{}"

    def _put_policy(self, name: str, kind: str, body: dict[str, Any]) -> JsonAnswer:
        document = str(body.get("policyDocument", ""))
        criteria = str(body.get("selectionCriteria", "") or "")
        if kind == SUBSCRIPTION_POLICY:
            taken = [p.name for p in self._policies.values() if p.type == kind and p.name != name]
            if taken:
                return _error(
                    "LimitExceededException",
                    f"the account already has a subscription filter policy ({taken[0]})",
                )
            try:
                parsed = json.loads(document)
                _, service, _, _, _ = parse_arn(str(parsed["DestinationArn"]))
                FilterPattern.parse(str(parsed.get("FilterPattern", "")))
                excluded_log_groups(criteria)
            except (ValueError, KeyError, TypeError, EmulatorError) as exc:
                return _error("InvalidParameterException", f"policyDocument: {exc}")
            if service != "lambda":
                return _error(
                    "InvalidParameterException",
                    "the emulator delivers subscriptions to Lambda functions only",
                )
        policy = AccountPolicy(
            name=name,
            type=kind,
            document=document,
            scope=str(body.get("scope") or "ALL"),
            selection_criteria=criteria,
            updated=int(self._now().timestamp() * 1000),
        )
        self._policies[f"{kind}/{name}"] = policy
        return 200, {}, json.dumps({"accountPolicy": policy.describe()})

    @contextlib.contextmanager
    def installed(self) -> Iterator[LogSubscriptions]:
        """Answer the account policy operations of CloudWatch Logs in process (moto lacks
        them); every other CloudWatch Logs request still reaches moto."""
        original = BotocoreStubber.process_request
        handled = {
            f"{_TARGET_PREFIX}{op}"
            for op in ("PutAccountPolicy", "DescribeAccountPolicies", "DeleteAccountPolicy")
        }
        subscriptions = self

        def process_request(stubber: BotocoreStubber, request: Any) -> Any:
            target = request.headers.get("X-Amz-Target", b"")
            target = target.decode() if isinstance(target, bytes) else str(target)
            if target not in handled or not _LOGS_URL.match(str(request.url)):
                return original(stubber, request)
            raw = request.body or b"{}"
            body = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
            return subscriptions.answer(target, body)

        with mock.patch.object(BotocoreStubber, "process_request", process_request):
            yield self

    # ------------------------------------------------------------------ log groups
    def create_log_groups(self) -> int:
        """Create ``/aws/lambda/<name>`` for every workload (Lambda creates a function's log
        group when it first runs), so ``PutSubscriptionFilter`` finds them."""
        if self._scenario is None:
            return 0
        backend = logs_backends[ACCOUNT_ID][self._region]
        for workload in self._scenario.workloads:
            backend.ensure_log_group(f"/aws/lambda/{workload.function}")
        return len(self._scenario.workloads)

    def _filters(self, group: str) -> list[tuple[str, str, FilterPattern]]:
        log_group = logs_backends[ACCOUNT_ID][self._region].groups.get(group)
        if log_group is None:
            return []
        return [
            (f.name, f.destination_arn, FilterPattern.parse(f.filter_pattern or ""))
            for f in log_group.subscription_filters.values()
        ]

    # ------------------------------------------------------------------ timing
    def on_delivery(self, listener: Callable[[LogDelivery], None]) -> None:
        self._listeners.append(listener)

    def _due(self, minute: datetime) -> datetime:
        return minute + timedelta(minutes=1) + DELIVERY_DELAY

    def next_delivery(self, until: datetime) -> datetime | None:
        """The first delivery time at or before ``until`` with lines to deliver (``None``:
        nothing until then). Minutes without lines are passed over for good."""
        scenario = self._scenario
        if scenario is None or not self._workloads:
            return None
        while self._next_minute < scenario.end and self._due(self._next_minute) <= until:
            minute = self._next_minute
            if any(has_lines(w, scenario, minute) for w in self._workloads):
                return self._due(minute)
            self._next_minute = minute + timedelta(minutes=1)
        return None

    def deliver_due(self, now: datetime) -> list[LogDelivery]:
        """Deliver the lines of every minute whose delivery time is at or before ``now``."""
        scenario = self._scenario
        done: list[LogDelivery] = []
        if scenario is None:
            return done
        while self._next_minute < scenario.end and self._due(self._next_minute) <= now:
            minute = self._next_minute
            for workload in self._workloads:
                events = minute_events(workload, scenario, minute)
                if events:
                    done += self._deliver_lines(self._due(minute), workload.function, events)
            self._next_minute = minute + timedelta(minutes=1)
        return done

    def _deliver_lines(
        self, at: datetime, function: str, events: list[LogEvent]
    ) -> list[LogDelivery]:
        assert self._scenario is not None
        group = f"/aws/lambda/{function}"
        stream = log_stream(
            function, at - DELIVERY_DELAY - timedelta(minutes=1), self._scenario.seed
        )
        destinations: list[tuple[tuple[str, ...], str, str, FilterPattern]] = []
        policy = self.subscription_policy()
        if policy is not None and policy.selects(group):
            destinations.append(
                (("policy", policy.name), policy.name, policy.destination_arn, policy.pattern)
            )
        for name, arn, pattern in self._filters(group):
            destinations.append((("filter", group, name), name, arn, pattern))
        done: list[LogDelivery] = []
        for key, name, arn, pattern in destinations:
            matched = [event for event in events if pattern.matches(event.message)]
            if not matched or parse_arn(arn)[1] != "lambda":
                continue
            if key not in self._controlled:
                self._controlled.add(key)
                done.append(
                    self._send(
                        at,
                        group="",
                        function="",
                        subscription=name,
                        arn=arn,
                        events=[],
                        message=control_message(at),
                    )
                )

            def envelope(part: list[LogEvent], name: str = name) -> dict[str, Any]:
                return data_message(group=group, stream=stream, subscription=name, events=part)

            for batch in batches(matched, envelope):
                done.append(
                    self._send(
                        at,
                        group=group,
                        function=function,
                        subscription=name,
                        arn=arn,
                        events=batch,
                        message=envelope(batch),
                    )
                )
        return done

    def _send(
        self,
        at: datetime,
        *,
        group: str,
        function: str,
        subscription: str,
        arn: str,
        events: list[LogEvent],
        message: dict[str, Any],
    ) -> LogDelivery:
        event = encode(message)
        ok, request_ids = self._invoke(arn, event)
        delivery = LogDelivery(
            at=at,
            message_type=str(message["messageType"]),
            log_group=group,
            function=function,
            subscription=subscription,
            destination_arn=arn,
            events=tuple(events),
            payload_bytes=len(json.dumps(message, separators=(",", ":")).encode()),
            event_bytes=len(json.dumps(event)),
            ok=ok,
            request_ids=request_ids,
            message=message,
        )
        self.deliveries.append(delivery)
        for listener in list(self._listeners):
            listener(delivery)
        return delivery


def invoke_destination(arn: str, event: dict[str, Any], region: str = REGION) -> None:
    """An asynchronous invoke of a destination the emulator does not run (moto answers)."""
    client("lambda", region).invoke(
        FunctionName=arn, InvocationType="Event", Payload=json.dumps(event).encode()
    )
