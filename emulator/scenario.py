"""Scenario files: the account Vigil watches, minute by minute.

A scenario is a YAML file (built-ins live in ``emulator/scenarios/``)::

    name: outage-demo
    description: What the scenario shows.
    start: 2025-03-14T09:00:00Z        # UTC
    duration: 2h                       # or  end: 2025-03-14T11:00:00Z
    cycle: rate(5 minutes)             # optional: the collection schedule (template parameter
                                       # CollectSchedule); default: the template's
    seed: 7                            # optional, for jitter
    parameters:                        # optional template parameter overrides
      RulesConfig: {repeat_interval_minutes: 30}   # a mapping is sent as compact JSON
    workloads:                         # plain Lambda functions created in moto
      - function: fleet-{n}            # optional ``copies``: that many alike functions,
        copies: 500                    # fleet-001 ... fleet-500
        phases: [{from: 0m, invocations_per_minute: 10}]
      - function: orders-api
        description: optional
        phases:                        # offsets from start; whole minutes
          - {from: 0m, to: 20m, invocations_per_minute: 20000}
          - {from: 20m, to: 80m, invocations_per_minute: 20000, error_rate: 0.02}
          - {from: 80m, invocations_per_minute: 20000}

Phase fields: ``from`` (default: the previous phase's ``to``, or 0), ``to`` (default: the next
phase's ``from``, or the end), ``invocations_per_minute`` (default 0), either ``error_rate``
(0..1) or ``errors_per_minute`` (absolute), ``throttles_per_minute`` (default 0) and ``jitter``
(0..1: invocations vary by up to that fraction, deterministically from ``seed``). Phases of a
workload must not overlap; minutes outside every phase have no traffic (and, as on AWS, no
datapoints). Durations read ``90``, ``90m``, ``1h30m``, ``2h`` (minutes if no unit).

Error lines: a phase may say what its errors log with ``exceptions`` (default: none, and then
the workload's errors log nothing). Each error of a minute becomes one log line of the
function's log group, assigned to one exception by ``weight`` (default 1), deterministically
from ``seed``; :mod:`emulator.logs` renders and delivers them to the log group's
subscriptions::

    exceptions:
      - {type: KeyError, message: "'user_id'", weight: 3}   # format: python (default)
      - {type: ValueError, message: bad amount, format: powertools}
      - {format: timeout}                                   # "Task timed out after 3.00 seconds"

``format`` is ``python`` (the Python runtime's unhandled-exception text), ``logging`` (a
``logger.exception`` line of the runtime's text format), ``json`` (the runtime's record in the
JSON log format), ``powertools`` (a Powertools Logger exception record) or ``timeout`` (Lambda's
time-out line; no ``type`` or ``message``).

A scenario may also describe the account's bill, which the emulator's Cost Explorer
(:mod:`emulator.cost_explorer`) answers from::

    costs:
      history_days: 90                 # the bill starts this many days before ``start``
      services:                        # fields of emulator.cost_series.ServiceSeries
        - {name: AWS Lambda, base: 100, weekend_factor: 0.6, noise: 0.05,
           spikes: {2026-11-24: 3.0}, usage_types: {USE1-Lambda-GB-Second-ARM: 1}}
        - {name: Amazon Bedrock, base: 45, first_day: 2026-11-24}
      anomalies:                       # what AWS Cost Anomaly Detection reports
        - {service: AWS Lambda, day: 2026-11-24, impact_usd: 180}

An optional ``health:`` section plays AWS Health events and sets how the Health API answers
(see :mod:`emulator.health`).

The Lambda dials: a phase may give ``concurrency`` (the function's peak concurrent executions
in each minute; the emulator publishes the account's sum as ``ConcurrentExecutions`` and
``ClaimedAccountConcurrency``, without dimensions, as Lambda does) and
``async_dropped_per_minute``, ``dead_letter_errors_per_minute``,
``destination_failures_per_minute`` (the function's asynchronous delivery failures). The
function's own ``ConcurrentExecutions`` (dimension ``FunctionName``) is published too. A
workload may give ``reserved_concurrency`` (``PutFunctionConcurrency`` when it is created). An
optional ``lambda_account:`` section sets what ``GetAccountSettings`` answers (see
:mod:`emulator.lambda_account`).

Durations: a workload may give ``timeout`` (seconds, 1 to 900: the function's configured
time-out, set when it is created; Lambda's and moto's default is 3) and a phase ``duration_ms``
(the slowest invocation of each minute, in milliseconds, at most the time-out): the emulator
publishes it as the function's ``Duration`` (dimension ``FunctionName``) and the minute's
slowest over every function as the account's (no dimensions), in minutes with invocations only.
A phase may add ``typical_duration_ms``: then one invocation of the minute takes
``duration_ms`` and every other one that long, published as one ``Values``/``Counts`` datum, so
a percentile (``p99``) tells an outlier from a slow function.
A workload without ``duration_ms`` publishes no ``Duration``.

SQS queues: an optional ``queues:`` section creates queues in moto and acts on them at
simulated minutes (offsets from ``start``, like phases); :mod:`emulator.queues` carries it out::

    queues:
      - name: orders-dlq
        retention: 20m                 # MessageRetentionPeriod; default 4 days (SQS's)
        dlq_for: orders                # also create queue ``orders``, whose RedrivePolicy names
                                       # this one as its dead-letter queue (maxReceiveCount 5)
        put: {12m: 3}                  # messages sent at these offsets (as if redriven)
        purge: [30m]                   # PurgeQueue at these offsets (before that minute's put)

S3 buckets with request metrics, Step Functions state machines, API Gateway APIs and service
quotas: an optional ``edge:`` section (see :mod:`emulator.edge`). CloudWatch alarms and their
state changes, delivered as EventBridge events: an optional ``alarms:`` section (see
:mod:`emulator.alarms`).

Invalid input raises :class:`~emulator.errors.ScenarioError` naming the file and the field.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from emulator.alarms import AlarmScenario, parse_alarms
from emulator.clock import ScheduleExpressionError, parse_duration, parse_expression
from emulator.cost_series import DEFAULT_ACCOUNT, ServiceSeries
from emulator.data_dials import DataSpec, parse_data
from emulator.edge import EdgeScenario, parse_edge
from emulator.errors import ScenarioError
from emulator.health import HealthScenario, parse_health
from emulator.lambda_account import LambdaAccount, parse_lambda_account

SCENARIO_DIR = Path(__file__).parent / "scenarios"

_TOP_LEVEL = {
    "organization",
    "name",
    "description",
    "start",
    "duration",
    "end",
    "cycle",
    "seed",
    "parameters",
    "workloads",
    "costs",
    "health",
    "lambda_account",
    "queues",
    "edge",
    "tables",
    "streams",
    "alarms",
}
_QUEUE_KEYS = {"name", "retention", "dlq_for", "received", "put", "purge"}
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
# SQS's default MessageRetentionPeriod, and its bounds (1 minute to 14 days).
_DEFAULT_RETENTION = timedelta(days=4)
_RETENTION_BOUNDS = (timedelta(minutes=1), timedelta(days=14))
_WORKLOAD_KEYS = {"function", "description", "reserved_concurrency", "timeout", "phases", "copies"}
_PHASE_KEYS = {
    "from",
    "to",
    "invocations_per_minute",
    "error_rate",
    "errors_per_minute",
    "throttles_per_minute",
    "jitter",
    "concurrency",
    "async_dropped_per_minute",
    "dead_letter_errors_per_minute",
    "destination_failures_per_minute",
    "duration_ms",
    "typical_duration_ms",
    "exceptions",
}
_EXCEPTION_KEYS = {"type", "message", "weight", "format"}
ERROR_FORMATS = ("python", "logging", "json", "powertools", "timeout")
"""How an exception of a phase is logged (rendered by :mod:`emulator.logs`)."""
_ERROR_TYPE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,127}$")
_MAX_MESSAGE = 1000
# Lambda's time-out bounds and default, in seconds (moto's default too).
_TIMEOUT_BOUNDS = (1, 900)
_DEFAULT_TIMEOUT = 3
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Traffic:
    invocations: int
    errors: int
    throttles: int
    concurrency: int = 0
    async_dropped: int = 0
    dead_letter_errors: int = 0
    destination_failures: int = 0
    duration_ms: int = 0
    """The slowest invocation of the minute (0: no ``Duration`` published)."""
    typical_duration_ms: int = 0
    """Every other invocation of the minute (0: each one published at ``duration_ms``)."""


@dataclass(frozen=True)
class ExceptionSpec:
    """One kind of error a phase's failed invocations log (see the module docstring)."""

    type: str
    """The exception class name (``KeyError``); empty for ``timeout``."""
    message: str
    weight: float = 1.0
    format: str = "python"


@dataclass(frozen=True)
class Phase:
    start: timedelta
    end: timedelta
    invocations_per_minute: int
    error_rate: float | None
    errors_per_minute: int | None
    throttles_per_minute: int
    jitter: float
    dials: tuple[int, int, int, int] = (0, 0, 0, 0)
    """concurrency, async dropped, dead-letter errors, destination failures (per minute)."""
    duration_ms: int = 0
    typical_duration_ms: int = 0
    exceptions: tuple[ExceptionSpec, ...] = ()
    """What the phase's errors log (none: they log nothing)."""

    def covers(self, offset: timedelta) -> bool:
        return self.start <= offset < self.end


@dataclass(frozen=True)
class Workload:
    function: str
    description: str
    phases: tuple[Phase, ...]
    reserved_concurrency: int | None = None
    """``PutFunctionConcurrency`` on creation; ``None``: no reservation."""
    timeout: int | None = None
    """The configured time-out in seconds, on creation; ``None``: Lambda's default (3)."""

    @property
    def logs_errors(self) -> bool:
        """Whether any phase's errors log lines."""
        return any(phase.exceptions for phase in self.phases)

    def exceptions_at(self, offset: timedelta) -> tuple[ExceptionSpec, ...]:
        """What the errors of the minute starting ``offset`` log."""
        phase = next((p for p in self.phases if p.covers(offset)), None)
        return phase.exceptions if phase is not None else ()

    def traffic(self, offset: timedelta, seed: int) -> Traffic:
        """The traffic of the minute starting ``offset`` after the scenario start."""
        phase = next((p for p in self.phases if p.covers(offset)), None)
        if phase is None:
            return Traffic(0, 0, 0)
        invocations = phase.invocations_per_minute
        if phase.jitter and invocations:
            minute = int(offset.total_seconds() // 60)
            rng = random.Random(f"{seed}:{self.function}:{minute}")
            invocations = max(
                0, round(invocations * rng.uniform(1 - phase.jitter, 1 + phase.jitter))
            )
        if phase.error_rate is not None:
            errors = round(invocations * phase.error_rate)
        else:
            errors = min(invocations, phase.errors_per_minute or 0)
        return Traffic(
            invocations,
            errors,
            phase.throttles_per_minute,
            *phase.dials,
            duration_ms=phase.duration_ms if invocations else 0,
            typical_duration_ms=phase.typical_duration_ms if invocations else 0,
        )


@dataclass(frozen=True)
class QueueSpec:
    """One SQS queue of the scenario, and what happens to it minute by minute."""

    name: str
    retention: timedelta
    dlq_for: str | None
    puts: tuple[tuple[timedelta, int], ...]
    purges: tuple[timedelta, ...]
    received: int = 0
    """Messages the ``dlq_for`` source queue's consumers receive a minute (its
    ``NumberOfMessagesReceived``: the volume of ``sqs_failures``)."""

    def oldest(self, offset: timedelta) -> timedelta | None:
        """When the oldest message still queued at the end of minute ``offset`` was put."""
        purged = max((at for at in self.purges if at <= offset), default=None)
        puts = [
            at
            for at, count in self.puts
            if count and at <= offset and (purged is None or at >= purged)
        ]
        return min(puts, default=None)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    start: datetime
    end: datetime
    cycle: str | None
    seed: int
    parameters: dict[str, object]
    workloads: tuple[Workload, ...]
    source: Path | None = None
    costs: CostsSpec | None = None
    health: HealthScenario | None = None
    """AWS Health events and API behaviour (``emulator.health``)."""
    lambda_account: LambdaAccount = field(default_factory=LambdaAccount)
    """What ``GetAccountSettings`` answers (``emulator.lambda_account``)."""
    queues: tuple[QueueSpec, ...] = ()
    """SQS queues created in moto and filled or purged at given minutes (``emulator.queues``)."""
    edge: EdgeScenario = field(default_factory=EdgeScenario)
    """Buckets, state machines, APIs and service quotas (``emulator.edge``)."""
    data: DataSpec = field(default_factory=DataSpec)
    """DynamoDB tables and Kinesis streams, and their metrics (``emulator.data_dials``)."""
    alarms: AlarmScenario = field(default_factory=AlarmScenario)
    """CloudWatch alarms and their state changes (``emulator.alarms``)."""
    organization: Mapping[str, Any] | None = None
    """An Organization's member accounts and their workloads, as written: parsed by
    :mod:`emulator.organization` when the emulator starts (it needs the deployed stack)."""

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


def available_scenarios() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def scenario_path(name_or_path: str | Path) -> Path:
    """A built-in scenario's name, or a path to a YAML file."""
    candidate = Path(name_or_path)
    if candidate.suffix in {".yaml", ".yml"} or candidate.exists():
        if not candidate.is_file():
            raise ScenarioError(f"{candidate}: no such scenario file")
        return candidate
    builtin = SCENARIO_DIR / f"{name_or_path}.yaml"
    if not builtin.is_file():
        raise ScenarioError(
            f"no scenario {name_or_path!r}; built-in scenarios:"
            f" {', '.join(available_scenarios()) or 'none'} (or pass a path to a .yaml file)"
        )
    return builtin


def load_scenario(name_or_path: str | Path) -> Scenario:
    path = scenario_path(name_or_path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from exc
    return parse_scenario(document, source=path)


def _time(value: object, where: str) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ScenarioError(
                f"{where}: expected an ISO 8601 UTC time such as 2025-03-14T09:00:00Z,"
                f" got {value!r}"
            ) from None
    else:
        raise ScenarioError(f"{where}: expected an ISO 8601 UTC time, got {value!r}")
    if moment.tzinfo is None:
        raise ScenarioError(f"{where}: give the time in UTC with a Z suffix")
    moment = moment.astimezone(UTC)
    if moment.second or moment.microsecond:
        raise ScenarioError(f"{where}: must be on a whole minute")
    return moment


def _number(
    value: object, where: str, *, integer: bool, low: float = 0, high: float | None = None
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"{where}: expected a number, got {value!r}")
    if integer and not float(value).is_integer():
        raise ScenarioError(f"{where}: expected a whole number, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ScenarioError(f"{where}: must be {bound}, got {value!r}")
    return float(value)


def _unknown(keys: object, allowed: set[str], where: str) -> None:
    if not isinstance(keys, Mapping):
        raise ScenarioError(f"{where}: expected a mapping")
    extra = sorted(str(k) for k in set(keys) - allowed)
    if extra:
        raise ScenarioError(
            f"{where}: unknown field(s) {', '.join(extra)}; allowed: {', '.join(sorted(allowed))}"
        )


def parse_scenario(document: object, *, source: Path | None = None) -> Scenario:
    """Validate a parsed scenario document."""
    label = str(source) if source else "scenario"

    def fail(message: str) -> ScenarioError:
        return ScenarioError(f"{label}: {message}")

    try:
        return _parse(document, source)
    except ScenarioError as exc:
        raise fail(str(exc)) from None


def _parse(document: object, source: Path | None) -> Scenario:
    _unknown(document, _TOP_LEVEL, "(top level)")
    assert isinstance(document, Mapping)
    doc: Mapping[str, Any] = document
    for required in ("name", "start"):
        if required not in doc:
            raise ScenarioError(f"{required}: missing")
    name = doc["name"]
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        raise ScenarioError(f"name: use lower-case letters, digits and dashes, got {name!r}")
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise ScenarioError("description: expected text")
    start = _time(doc["start"], "start")
    if ("duration" in doc) == ("end" in doc):
        raise ScenarioError("duration/end: give exactly one of them")
    end = (
        start + parse_duration(doc["duration"], "duration")
        if "duration" in doc
        else _time(doc["end"], "end")
    )
    if end <= start:
        raise ScenarioError("end: must be after start")
    cycle = doc.get("cycle")
    if cycle is not None and not isinstance(cycle, str):
        raise ScenarioError(
            f"cycle: expected a schedule expression such as rate(5 minutes), got {cycle!r}"
        )
    if cycle is not None:
        try:
            parse_expression(cycle)
        except ScheduleExpressionError as exc:
            raise ScenarioError(f"cycle: {exc}") from None
    seed = doc.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ScenarioError(f"seed: expected a whole number, got {seed!r}")
    parameters = doc.get("parameters") or {}
    if not isinstance(parameters, Mapping):
        raise ScenarioError("parameters: expected a mapping of template parameter names")
    for key, value in parameters.items():
        if not isinstance(value, str | int | float | bool | list | dict):
            raise ScenarioError(f"parameters.{key}: unsupported value {value!r}")
    workloads_doc = doc.get("workloads") or []
    if not isinstance(workloads_doc, list):
        raise ScenarioError("workloads: expected a list")
    workloads: list[Workload] = []
    seen: set[str] = set()
    for index, item in enumerate(workloads_doc):
        for workload in _copies(item, f"workloads[{index}]", end - start):
            if workload.function in seen:
                raise ScenarioError(
                    f"workloads[{index}].function: {workload.function} is listed twice"
                )
            seen.add(workload.function)
            workloads.append(workload)
    return Scenario(
        name=name,
        description=description.strip(),
        start=start,
        end=end,
        cycle=cycle,
        seed=seed,
        parameters={str(k): v for k, v in parameters.items()},
        workloads=tuple(workloads),
        source=source,
        costs=_costs(doc.get("costs")),
        health=parse_health(doc.get("health"), end - start),
        lambda_account=parse_lambda_account(doc.get("lambda_account")),
        queues=_queues(doc.get("queues"), end - start),
        edge=parse_edge(doc.get("edge")),
        data=parse_data(doc.get("tables"), doc.get("streams"), workloads=seen),
        alarms=parse_alarms(doc.get("alarms"), end - start),
        organization=_mapping(doc.get("organization"), "organization"),
    )


def _mapping(document: object, where: str) -> Mapping[str, Any] | None:
    if document is None:
        return None
    if not isinstance(document, Mapping):
        raise ScenarioError(f"{where}: expected a mapping")
    return document


def parse_workloads(items: object, where: str, length: timedelta) -> list[Workload]:
    """The workloads of a list written as the scenario's ``workloads`` are."""
    if not isinstance(items, list):
        raise ScenarioError(f"{where}: expected a list")
    return [
        w for index, item in enumerate(items) for w in _copies(item, f"{where}[{index}]", length)
    ]


def _queues(document: object, length: timedelta) -> tuple[QueueSpec, ...]:
    if document is None:
        return ()
    if not isinstance(document, list):
        raise ScenarioError("queues: expected a list")
    specs: list[QueueSpec] = []
    names: set[str] = set()
    for index, item in enumerate(document):
        where = f"queues[{index}]"
        _unknown(item, _QUEUE_KEYS, where)
        assert isinstance(item, Mapping)
        spec = _queue(item, where, length)
        for name in (spec.name, spec.dlq_for):
            if name in names:
                raise ScenarioError(f"{where}: queue {name} is created twice")
            if name is not None:
                names.add(name)
        specs.append(spec)
    return tuple(specs)


def _queue(item: Mapping[str, Any], where: str, length: timedelta) -> QueueSpec:
    for key in ("name", "dlq_for"):
        value = item.get(key)
        if (value is not None or key == "name") and (
            not isinstance(value, str) or not _QUEUE_NAME.fullmatch(value)
        ):
            raise ScenarioError(
                f"{where}.{key}: an SQS queue name (letters, digits, - and _), got {value!r}"
            )
    retention = (
        parse_duration(item["retention"], f"{where}.retention")
        if "retention" in item
        else _DEFAULT_RETENTION
    )
    low, high = _RETENTION_BOUNDS
    if not low <= retention <= high:
        raise ScenarioError(f"{where}.retention: must be between 1m and 14 days")
    puts_doc = item.get("put") or {}
    if not isinstance(puts_doc, Mapping):
        raise ScenarioError(f"{where}.put: expected a mapping of offset to message count")
    puts = tuple(
        sorted(
            (
                _offset(at, f"{where}.put", length),
                int(_number(count, f"{where}.put.{at}", integer=True, low=1)),
            )
            for at, count in puts_doc.items()
        )
    )
    purges_doc = item.get("purge") or []
    if not isinstance(purges_doc, list):
        raise ScenarioError(f"{where}.purge: expected a list of offsets")
    purges = tuple(sorted(_offset(at, f"{where}.purge", length) for at in purges_doc))
    received = int(_number(item.get("received", 0), f"{where}.received", integer=True))
    if received and item.get("dlq_for") is None:
        raise ScenarioError(f"{where}.received: the receives of a dlq_for source queue")
    return QueueSpec(
        name=str(item["name"]),
        retention=retention,
        dlq_for=item.get("dlq_for"),
        puts=puts,
        purges=purges,
        received=received,
    )


def _offset(value: object, where: str, length: timedelta) -> timedelta:
    offset = parse_duration(value, where)
    if offset >= length:
        raise ScenarioError(f"{where}: {value} is not before the scenario's end")
    return offset


MAX_COPIES = 20_000


def _copies(item: object, where: str, length: timedelta) -> list[Workload]:
    """One workload, or ``copies`` of it: a fleet of functions that behave alike, named by
    ``function`` with ``{n}`` replaced by 1, 2, ... (zero-padded to the fleet's width)."""
    if not isinstance(item, Mapping) or "copies" not in item:
        return [_workload(item, where, length)]
    copies = int(_number(item["copies"], f"{where}.copies", integer=True, low=1))
    if copies > MAX_COPIES:
        raise ScenarioError(f"{where}.copies: at most {MAX_COPIES:,}, got {copies:,}")
    pattern = item.get("function")
    if not isinstance(pattern, str) or "{n}" not in pattern:
        raise ScenarioError(f"{where}.function: a fleet's name needs {{n}}, got {pattern!r}")
    width = len(str(copies))
    one = {k: v for k, v in item.items() if k != "copies"}
    first = _workload(one | {"function": pattern.replace("{n}", "1")}, where, length)
    return [
        replace(first, function=pattern.replace("{n}", f"{n:0{width}d}"))
        for n in range(1, copies + 1)
    ]


def _workload(item: object, where: str, length: timedelta) -> Workload:
    _unknown(item, _WORKLOAD_KEYS, where)
    assert isinstance(item, Mapping)
    function = item.get("function")
    if not isinstance(function, str) or not _FUNCTION_NAME.fullmatch(function):
        raise ScenarioError(
            f"{where}.function: a Lambda function name (letters, digits, - and _), got {function!r}"
        )
    description = item.get("description", "")
    if not isinstance(description, str):
        raise ScenarioError(f"{where}.description: expected text")
    phases_doc = item.get("phases")
    if not isinstance(phases_doc, list) or not phases_doc:
        raise ScenarioError(f"{where}.phases: expected a non-empty list")
    raw: list[tuple[str, Mapping[str, Any]]] = []
    for index, phase in enumerate(phases_doc):
        pwhere = f"{where}.phases[{index}]"
        _unknown(phase, _PHASE_KEYS, pwhere)
        assert isinstance(phase, Mapping)
        raw.append((pwhere, phase))
    phases: list[Phase] = []
    previous_end = timedelta(0)
    for index, (pwhere, phase) in enumerate(raw):
        start = parse_duration(phase["from"], f"{pwhere}.from") if "from" in phase else previous_end
        if "to" in phase:
            end = parse_duration(phase["to"], f"{pwhere}.to")
        elif index + 1 < len(raw) and "from" in raw[index + 1][1]:
            end = parse_duration(raw[index + 1][1]["from"], f"{where}.phases[{index + 1}].from")
        else:
            end = length
        if end <= start:
            raise ScenarioError(f"{pwhere}.to: must be after from")
        if start < previous_end:
            raise ScenarioError(f"{pwhere}.from: overlaps the previous phase")
        if end > length:
            raise ScenarioError(f"{pwhere}.to: after the end of the scenario")
        if "error_rate" in phase and "errors_per_minute" in phase:
            raise ScenarioError(f"{pwhere}: give error_rate or errors_per_minute, not both")
        invocations = int(
            _number(
                phase.get("invocations_per_minute", 0),
                f"{pwhere}.invocations_per_minute",
                integer=True,
            )
        )
        rate = (
            _number(phase["error_rate"], f"{pwhere}.error_rate", integer=False, high=1)
            if "error_rate" in phase
            else None
        )
        errors = (
            int(_number(phase["errors_per_minute"], f"{pwhere}.errors_per_minute", integer=True))
            if "errors_per_minute" in phase
            else None
        )
        if errors is not None and errors > invocations:
            raise ScenarioError(
                f"{pwhere}.errors_per_minute: {errors} is more than the {invocations} invocations"
            )
        phases.append(
            Phase(
                start=start,
                end=end,
                invocations_per_minute=invocations,
                error_rate=rate,
                errors_per_minute=errors,
                throttles_per_minute=int(
                    _number(
                        phase.get("throttles_per_minute", 0),
                        f"{pwhere}.throttles_per_minute",
                        integer=True,
                    )
                ),
                jitter=_number(phase.get("jitter", 0), f"{pwhere}.jitter", integer=False, high=1),
                dials=(
                    _whole(phase, "concurrency", pwhere),
                    _whole(phase, "async_dropped_per_minute", pwhere),
                    _whole(phase, "dead_letter_errors_per_minute", pwhere),
                    _whole(phase, "destination_failures_per_minute", pwhere),
                ),
                duration_ms=_whole(phase, "duration_ms", pwhere),
                typical_duration_ms=_whole(phase, "typical_duration_ms", pwhere),
                exceptions=_exceptions(phase.get("exceptions"), f"{pwhere}.exceptions"),
            )
        )
        previous_end = end
    reserved = item.get("reserved_concurrency")
    timeout = (
        int(
            _number(
                item["timeout"],
                f"{where}.timeout",
                integer=True,
                low=_TIMEOUT_BOUNDS[0],
                high=_TIMEOUT_BOUNDS[1],
            )
        )
        if "timeout" in item
        else None
    )
    for index, phase in enumerate(phases):
        if phase.typical_duration_ms > phase.duration_ms:
            raise ScenarioError(
                f"{where}.phases[{index}].typical_duration_ms: {phase.typical_duration_ms} is"
                f" longer than the slowest invocation's duration_ms {phase.duration_ms}"
            )
        if phase.duration_ms > (timeout or _DEFAULT_TIMEOUT) * 1000:
            raise ScenarioError(
                f"{where}.phases[{index}].duration_ms: {phase.duration_ms} is longer than the"
                f" {timeout or _DEFAULT_TIMEOUT} s time-out (Lambda stops an invocation there)"
            )
    return Workload(
        function=function,
        description=description.strip(),
        phases=tuple(phases),
        reserved_concurrency=(
            None
            if reserved is None
            else int(_number(reserved, f"{where}.reserved_concurrency", integer=True))
        ),
        timeout=timeout,
    )


def _exceptions(document: object, where: str) -> tuple[ExceptionSpec, ...]:
    if document is None:
        return ()
    if not isinstance(document, list) or not document:
        raise ScenarioError(f"{where}: expected a non-empty list of exceptions")
    specs: list[ExceptionSpec] = []
    for index, item in enumerate(document):
        ewhere = f"{where}[{index}]"
        _unknown(item, _EXCEPTION_KEYS, ewhere)
        assert isinstance(item, Mapping)
        form = item.get("format", "python")
        if form not in ERROR_FORMATS:
            raise ScenarioError(f"{ewhere}.format: one of {', '.join(ERROR_FORMATS)}, got {form!r}")
        weight = _number(item.get("weight", 1), f"{ewhere}.weight", integer=False)
        if weight <= 0:
            raise ScenarioError(f"{ewhere}.weight: must be more than 0, got {weight:g}")
        if form == "timeout":
            extra = sorted(key for key in ("type", "message") if key in item)
            if extra:
                raise ScenarioError(
                    f"{ewhere}.{extra[0]}: a timeout logs Lambda's own line; give no type or"
                    " message"
                )
            specs.append(ExceptionSpec(type="", message="", weight=weight, format=form))
            continue
        kind = item.get("type")
        if not isinstance(kind, str) or not _ERROR_TYPE.fullmatch(kind):
            raise ScenarioError(
                f"{ewhere}.type: an exception class name such as KeyError, got {kind!r}"
            )
        message = item.get("message", "")
        if not isinstance(message, str) or len(message) > _MAX_MESSAGE:
            raise ScenarioError(
                f"{ewhere}.message: expected text of at most {_MAX_MESSAGE} characters"
            )
        specs.append(ExceptionSpec(type=kind, message=message, weight=weight, format=form))
    return tuple(specs)


def _whole(phase: Mapping[str, Any], name: str, where: str) -> int:
    return int(_number(phase.get(name, 0), f"{where}.{name}", integer=True))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceSpec(_Strict):
    name: str = Field(min_length=1)
    base: float = Field(ge=0)
    weekend_factor: float = Field(default=1.0, ge=0)
    noise: float = Field(default=0.0, ge=0, le=1)
    growth_per_week: float = Field(default=0.0, ge=-0.5, le=1)
    first_day: date | None = None
    month_start_charge: float = Field(default=0.0, ge=0)
    spikes: dict[date, float] = Field(default_factory=dict)
    usage_types: dict[str, float] = Field(default_factory=dict)
    account: str = Field(default=DEFAULT_ACCOUNT, pattern=r"^\d{12}$")
    tags: dict[str, str] = Field(default_factory=dict)

    def series(self) -> ServiceSeries:
        return ServiceSeries(**self.model_dump())


class AnomalySpec(_Strict):
    service: str = Field(min_length=1)
    day: date
    impact_usd: float = Field(gt=0)


class CostsSpec(_Strict):
    history_days: int = Field(default=90, ge=0, le=400)
    services: list[ServiceSpec] = Field(default_factory=list)
    anomalies: list[AnomalySpec] = Field(default_factory=list)


def _costs(document: object) -> CostsSpec | None:
    if document is None:
        return None
    try:
        return CostsSpec.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            "costs." + ".".join(str(part) for part in err["loc"]) + f": {err['msg']}"
            for err in exc.errors()
        )
        raise ScenarioError(problems) from None
