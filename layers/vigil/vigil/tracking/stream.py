"""The error stream: one delivery of a function's error lines counted by fingerprint, its new
kinds of error found, and a quiet function's first errors judged at once (ADR 42).

CloudWatch Logs delivers the lines of one log group at a time, seconds after they are written.
For each delivery:

1. **Tally.** Every error line is counted in its minute; lines of one fingerprint form a group
   (count, first and last seen, a sample message, request id and trace id). At most
   ``error_tracking.groups_per_minute`` groups of a function are written a minute: the lines
   beyond are counted in their minute, not grouped. The writes of a delivery are bounded by
   the groups and minutes it holds, never by its lines.
2. **New types.** A group the store had not seen for the function in ``new_type_days`` is a new
   kind of error: a ``lambda.new_error_type`` signal, judged like any other.
3. **Wake.** A function with no open Lambda errors alert has its error rate judged now: the
   lines counted over the rule's window against its invocations. Invocations come from the
   volume the function had when last measured (kept an hour), and are read from CloudWatch
   (one metric) only when that estimate says the errors would breach, or there is none. A
   breach is sent to the Evaluate workflow at most once a window per function (a claim in the
   store); the next cycles watch the function and fire, repeat and resolve it on its metrics.

Everything is read and decided first, the evaluation started, and the counts written last: a
delivery retried after a failure (Lambda retries an asynchronous invocation twice) decides the
same, starts the same evaluation (its batch id is its function and time) and counts its lines
again (at least once). The time of a delivery is its latest line's timestamp.
"""

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from vigil.core.clock import floor_minute
from vigil.core.model import ErrorGroup, Labels, Signal, SignalBatch
from vigil.rules.document import RulesConfig
from vigil.rules.kinds import judge
from vigil.rules.lambda_dials import NEW_ERROR_TYPE_KIND
from vigil.tracking.fingerprint import fingerprint
from vigil.tracking.logs import ErrorLine

ERRORS_KIND = "lambda.errors"
ASYNC_ERRORS_KIND = "lambda.async_errors"
MAX_SIGNAL_GROUPS = 5
VOLUME_KEPT = timedelta(hours=1)
"""How long a measured volume stands in for a CloudWatch read."""


@dataclass(frozen=True)
class Tally:
    """One delivery of one function's error lines, counted."""

    function: str
    groups: list[ErrorGroup]
    """Most frequent first; at most the per-minute budget."""
    minutes: dict[datetime, int]
    """Every error line, grouped or not, by the minute it was written."""
    lines: int

    @property
    def now(self) -> datetime:
        return max(group.last_seen for group in self.groups)


def tally(function: str, lines: Sequence[ErrorLine], *, budget: int) -> Tally | None:
    """Count ``lines`` by fingerprint and minute; ``None`` when there is no line."""
    if not lines:
        return None
    by_print: dict[str, list[ErrorLine]] = {}
    for line in lines:
        by_print.setdefault(fingerprint(line), []).append(line)
    ordered = sorted(by_print.items(), key=lambda item: (-len(item[1]), item[0]))[:budget]
    groups = [_group(print_, found) for print_, found in ordered]
    minutes = Counter(floor_minute(line.timestamp) for line in lines)
    return Tally(function=function, groups=groups, minutes=dict(minutes), lines=len(lines))


def _group(print_: str, lines: list[ErrorLine]) -> ErrorGroup:
    # The sample is the latest line that names a trace, else the latest line.
    latest = max(lines, key=lambda line: (line.trace_id is not None, line.timestamp))
    return ErrorGroup(
        fingerprint=print_,
        error_type=latest.error_type,  # capped by vigil.tracking.logs
        message=latest.message,
        count=len(lines),
        first_seen=min(line.timestamp for line in lines),
        last_seen=max(line.timestamp for line in lines),
        request_id=latest.request_id,
        trace_id=latest.trace_id,
    )


@dataclass(frozen=True)
class Volume:
    """A function's invocations a minute, as last measured."""

    per_minute: float
    measured_at: datetime


class ErrorStorePort(Protocol):
    def seen(self, function: str, fingerprints: Sequence[str]) -> dict[str, ErrorGroup]:
        """The stored groups among ``fingerprints`` (one read)."""
        ...

    def record(self, tally: Tally, *, now: datetime, new_after: timedelta, budget: int) -> int:
        """Add the tally to the function's minutes and groups (those beyond the minute's
        ``budget`` of groups are counted in their minute only); the groups written."""
        ...

    def errors(self, function: str, start: datetime, end: datetime) -> dict[datetime, int]:
        """The function's error lines by minute in [start, end)."""
        ...

    def volume(self, function: str) -> Volume | None: ...

    def keep_volume(self, function: str, volume: Volume) -> None: ...

    def claim_wake(self, function: str, *, now: datetime, until: datetime, batch_id: str) -> bool:
        """Claim the function's judgement until ``until``; ``False`` when another batch's claim
        holds (the same batch, a retried delivery, claims again)."""
        ...


class InvocationsPort(Protocol):
    def invocations(self, function: str, start: datetime, end: datetime) -> dict[datetime, float]:
        """The function's ``Invocations`` by minute in [start, end) (published so far)."""
        ...


class EvaluationPort(Protocol):
    def start(self, batch: SignalBatch) -> str:
        """Start the evaluation of ``batch``, named by its id (idempotent)."""
        ...


class OpenAlertsPort(Protocol):
    def is_open(self, labels: Labels) -> bool:
        """Whether the alert of ``labels`` is pending or firing."""
        ...


@dataclass(frozen=True)
class StreamPorts:
    errors: ErrorStorePort
    invocations: InvocationsPort
    alerts: OpenAlertsPort
    evaluations: EvaluationPort
    async_protected: Callable[[], frozenset[str]] = frozenset
    """The functions whose failed async events are kept (read only when it matters)."""
    tag_labels: Callable[[], dict[str, str]] = dict
    """The function's tag labels (rules ``tags.labels``) as the last discovery stored them;
    read only when the delivery starts an evaluation (ADR 43)."""


@dataclass
class Delivery:
    """What one delivery did: the batch to evaluate (``None``: nothing to say) and counts."""

    function: str
    lines: int
    groups: int
    new_types: int
    batch: SignalBatch | None = None
    execution: str | None = None
    woken: bool = False
    volume_read: bool = False


def take_delivery(
    function: str,
    lines: Sequence[ErrorLine],
    *,
    rules: RulesConfig,
    ports: StreamPorts,
    account: str,
    region: str,
) -> Delivery | None:
    """Track one delivery of ``function``'s error lines; see the module docstring."""
    rule = rules.error_tracking
    counted = tally(function, lines, budget=rule.groups_per_minute) if rule.enabled else None
    if counted is None:
        return None
    now = counted.now
    new_after = timedelta(days=rule.new_type_days)
    stored = ports.errors.seen(function, [group.fingerprint for group in counted.groups])
    groups = [
        _as_known(group, stored.get(group.fingerprint), now, new_after) for group in counted.groups
    ]
    delivery = Delivery(
        function=function,
        lines=counted.lines,
        groups=0,
        new_types=sum(group.new for group in groups),
    )
    signals: list[Signal] = []
    labels = Labels(kind=ERRORS_KIND, resource=function, account=account, region=region)
    if rule.new_types and delivery.new_types:
        new = [group for group in groups if group.new][:MAX_SIGNAL_GROUPS]
        signals.append(
            Signal(
                source="logs",
                labels=labels.model_copy(update={"kind": NEW_ERROR_TYPE_KIND}),
                value=float(len(new)),
                unit="Count",
                window_seconds=60,
                observed_at=now,
                errors=new,
            )
        )
    if rule.wake and ERRORS_KIND in rules.enabled_kinds:
        if function in ports.async_protected():
            labels = labels.model_copy(update={"kind": ASYNC_ERRORS_KIND})
        if labels.kind in rules.enabled_kinds and not ports.alerts.is_open(labels):
            woken = _wake(
                counted, groups, labels, now=now, rules=rules, ports=ports, delivery=delivery
            )
            if woken is not None:
                signals.append(woken)
    if signals:
        # Judged without them above; carried so that the alert is routed by team from its first
        # notification (a stream signal without tags leaves the alert's labels as they are).
        tags = ports.tag_labels()
        if tags:
            signals = [signal.model_copy(update={"tags": tags}) for signal in signals]
        delivery.batch = SignalBatch(
            batch_id=batch_id_of(function, now),
            source="logs",
            collected_at=now,
            covered_kinds=[],
            signals=signals,
        )
        delivery.execution = ports.evaluations.start(delivery.batch)
    # Written once the evaluation is started: a delivery retried after a failure decides the
    # same (its groups still new, its wake its own) and starts the same evaluation.
    delivery.groups = ports.errors.record(
        counted, now=now, new_after=new_after, budget=rule.groups_per_minute
    )
    return delivery


def _as_known(
    group: ErrorGroup, stored: ErrorGroup | None, now: datetime, new_after: timedelta
) -> ErrorGroup:
    """``group`` with what the store knew of it: new unless seen within ``new_after``."""
    if stored is None or stored.last_seen < now - new_after:
        return group.model_copy(update={"new": True})
    return group.model_copy(
        update={"count": group.count + stored.count, "first_seen": stored.first_seen}
    )


def batch_id_of(function: str, now: datetime) -> str:
    """A delivery's batch id: the same for a retried delivery, so that its evaluation and the
    notifications it decides are the same ones (idempotent), and its wake claim its own."""
    return f"logs-{function[:40]}-{now:%Y%m%dT%H%M%S}Z"


def _wake(
    counted: Tally,
    groups: list[ErrorGroup],
    labels: Labels,
    *,
    now: datetime,
    rules: RulesConfig,
    ports: StreamPorts,
    delivery: Delivery,
) -> Signal | None:
    """The function's error rate over the rule's window, when it breaches; else ``None``."""
    function = counted.function
    minutes = rules.collection.window_minutes
    end = floor_minute(now) + timedelta(minutes=1)
    start = end - timedelta(minutes=minutes)
    errors = dict(ports.errors.errors(function, start, end))
    for minute, count in counted.minutes.items():  # this delivery's lines: not written yet
        if start <= minute < end:
            errors[minute] = errors.get(minute, 0) + count
    known = ports.errors.volume(function)
    if known is not None and now - known.measured_at <= VOLUME_KEPT:
        estimate = _signal(
            labels,
            errors=errors,
            invocations=known.per_minute * minutes,
            now=now,
            minutes=minutes,
            groups=groups,
        )
        if judge(estimate, rules) is None:
            return None
    series = ports.invocations.invocations(function, start, end)
    delivery.volume_read = True
    if series:
        ports.errors.keep_volume(
            function, Volume(per_minute=sum(series.values()) / len(series), measured_at=now)
        )
    # A minute CloudWatch has not published yet had at least the invocations that failed.
    invocations = sum(
        max(series.get(minute, 0.0), float(errors.get(minute, 0))) for minute in {*series, *errors}
    )
    signal = _signal(
        labels, errors=errors, invocations=invocations, now=now, minutes=minutes, groups=groups
    )
    if judge(signal, rules) is None:
        return None
    until = end + timedelta(minutes=minutes)
    if not ports.errors.claim_wake(
        function, now=now, until=until, batch_id=batch_id_of(function, now)
    ):
        return None
    delivery.woken = True
    return signal


def _signal(
    labels: Labels,
    *,
    errors: dict[datetime, int],
    invocations: float,
    now: datetime,
    minutes: int,
    groups: list[ErrorGroup],
) -> Signal:
    count = float(sum(errors.values()))
    invocations = max(invocations, count)
    return Signal(
        source="logs",
        labels=labels,
        value=round((count / invocations if invocations else 1.0) * 100, 4),
        unit="Percent",
        window_seconds=minutes * 60,
        observed_at=now,
        samples={"errors": count, "invocations": invocations},
        errors=groups[:MAX_SIGNAL_GROUPS],
    )
