"""Typed, versioned data contracts shared by collectors, the evaluator and the notifiers.

Every contract that crosses a process boundary (a Step Functions payload, an SNS message,
a DynamoDB item) is a pydantic model with ``extra="forbid"`` and a ``version`` field, so a
malformed or future payload fails with a message that names the field instead of being
half-understood.
"""

import hashlib
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

CONTRACT_VERSION: Final = 1


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Labels(Contract):
    """What identifies one alert condition; its fingerprint is a hash of these."""

    kind: Annotated[str, Field(min_length=1, pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")]
    resource: Annotated[str, Field(min_length=1)]
    account: Annotated[str, Field(pattern=r"^\d{12}$")]
    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")]

    @property
    def fingerprint(self) -> str:
        canonical = "\x1f".join((self.kind, self.resource, self.account, self.region))
        return hashlib.sha256(canonical.encode()).hexdigest()[:20]


class ErrorGroup(Contract):
    """One kind of error a Lambda function raised, as error tracking keeps it: every error line
    of the same fingerprint (exception type plus normalised frames or message) counted together
    (docs/rules.md, "Error tracking")."""

    fingerprint: Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]
    error_type: Annotated[str, Field(min_length=1, max_length=200)]
    message: Annotated[str, Field(max_length=500)]
    count: Annotated[int, Field(ge=0)]
    first_seen: AwareDatetime
    last_seen: AwareDatetime
    request_id: Annotated[str, Field(max_length=100)] | None = None
    trace_id: Annotated[str, Field(max_length=100)] | None = None
    new: bool = Field(
        default=False,
        description="Not seen for this function in `errors.new_type_days` before this one.",
    )


def _empty(value: object) -> bool:
    return not value


class Signal(Contract):
    """One observation from a collector, before any rule has judged it."""

    source: Literal["metrics", "cost", "health", "logs", "alarms"]
    labels: Labels
    value: float
    unit: str
    window_seconds: Annotated[int, Field(gt=0)]
    observed_at: AwareDatetime
    samples: dict[str, float] = Field(
        default_factory=dict,
        description="Raw counts behind the value, e.g. invocations and errors.",
    )
    context: dict[str, str] = Field(
        default_factory=dict,
        description="What a human needs beside the numbers, e.g. the day or top usage types.",
    )
    tags: dict[str, str] = Field(
        default_factory=dict,
        # Left out when empty: an untagged signal serialises as it did before tags existed.
        exclude_if=lambda tags: not tags,
        description="The resource's tags that per-resource overrides read (vigil.rules.overrides)"
        " and that its alerts carry as labels (rules `tags.labels`).",
    )
    errors: list[ErrorGroup] = Field(
        default_factory=list,
        exclude_if=_empty,
        max_length=5,
        description="The function's top tracked errors behind a Lambda errors signal.",
    )


class HealthEvent(Contract):
    """One AWS Health event, normalised from an ``aws.health`` EventBridge event or the API.

    ``arn`` with ``last_updated`` identifies a version of the event; ``service`` is AWS's
    code (``LAMBDA``), ``region`` an AWS region or ``global``.
    """

    arn: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:health:")]
    service: Annotated[str, Field(min_length=1, max_length=100)]
    event_type_code: Annotated[str, Field(min_length=1, max_length=100)]
    # category, status, scope and actionability are open-ended: AWS adds values (ADR 30).
    category: Annotated[str, Field(min_length=1, max_length=255)]
    region: Annotated[str, Field(pattern=r"^(global|[a-z]{2}(-[a-z]+)+-\d)$")]
    account: Annotated[str, Field(pattern=r"^\d{12}$")] | None = None
    status: Annotated[str, Field(min_length=1, max_length=50)]
    scope: Annotated[str, Field(max_length=50)] | None = None
    actionability: Annotated[str, Field(max_length=50)] | None = None
    start_time: AwareDatetime | None = None
    end_time: AwareDatetime | None = None
    last_updated: AwareDatetime
    description: str = ""
    affected_entities: list[str] = Field(default_factory=list)
    affected_entity_count: Annotated[int, Field(ge=0)] | None = Field(
        default=None,
        description=(
            "How many entities are affected when more than are listed (vigil.health.events)."
        ),
    )
    entities_digest: str | None = Field(
        default=None, description="A hash of every affected entity when not all are listed."
    )

    @property
    def service_key(self) -> str:
        """The service as the first part of Vigil's signal kinds (``LAMBDA`` -> ``lambda``)."""
        return self.service.lower()

    @property
    def entity_count(self) -> int:
        """Every affected entity, listed or not."""
        if self.affected_entity_count is None:
            return len(self.affected_entities)
        return self.affected_entity_count


class Scope(Contract):
    """Where a batch's collection looked for some of its covered kinds: one account in one
    region. A batch merged from several accounts and regions (Organization mode, ADR 51)
    speaks for those kinds only where it looked, so that an account not collected this minute
    keeps its alerts instead of resolving them on no news."""

    account: Annotated[str, Field(pattern=r"^\d{12}$")]
    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")]
    kinds: list[str]


class SignalBatch(Contract):
    """Everything one collection cycle saw.

    ``covered_kinds`` lists the kinds this batch speaks for: an active alert of a covered
    kind with no breaching signal in the batch has cleared. Collectors send only the
    signals worth judging (non-zero counts), so a healthy account makes a small batch.
    ``scopes``, when a covered kind is in one, narrows what the batch speaks for to the alerts
    of that kind whose account and region a scope names (empty: every alert of the kind).
    ``health_events`` carries the AWS Health events of a ``health`` batch.
    """

    version: Literal[1] = CONTRACT_VERSION
    batch_id: Annotated[str, Field(min_length=1, max_length=80)]
    source: Literal["metrics", "cost", "health", "logs", "alarms"]
    collected_at: AwareDatetime
    covered_kinds: list[str]
    signals: list[Signal]
    health_events: list[HealthEvent] = Field(default_factory=list)
    scopes: list[Scope] = Field(default_factory=list)

    def scope_of(self, kind: str) -> frozenset[tuple[str, str]] | None:
        """The (account, region) pairs this batch speaks for about ``kind``; ``None`` when
        it speaks for every alert of the kind."""
        pairs = frozenset((s.account, s.region) for s in self.scopes if kind in s.kinds)
        return pairs or None


class BatchRef(Contract):
    """A signal batch held in the batch bucket, passed to the Evaluate workflow by reference.

    A batch too large for a workflow input (a storm: thousands of failing resources) travels
    this way, so that no payload limit decides whether an alert is sent (ADR 28).
    """

    version: Literal[1] = CONTRACT_VERSION
    batch_id: Annotated[str, Field(min_length=1, max_length=80)]
    bucket: Annotated[str, Field(min_length=3)]
    key: Annotated[str, Field(min_length=1)]
    bytes: Annotated[int, Field(ge=0)]
    signals: Annotated[int, Field(ge=0)]


class AlertState(StrEnum):
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


class NotifyReason(StrEnum):
    FIRING = "firing"
    ESCALATED = "escalated"
    REPEAT = "repeat"
    RESOLVED = "resolved"


class Evidence(Contract):
    """The numbers a human needs to judge an alert: value against threshold, over a window."""

    value: float
    threshold: float
    unit: str
    window_seconds: int
    observed_at: AwareDatetime
    summary: str
    samples: dict[str, float] = Field(default_factory=dict)
    errors: list[ErrorGroup] = Field(
        default_factory=list,
        exclude_if=_empty,
        max_length=5,
        description="The top tracked errors behind a Lambda errors alert, most frequent first.",
    )

    @property
    def window_text(self) -> str:
        """``5 min`` or ``1 day``: how long the observation window is."""
        days, rest = divmod(self.window_seconds, 86_400)
        if days and not rest:
            return f"{days} day" if days == 1 else f"{days} days"
        return f"{self.window_seconds // 60} min"

    def describe_value(self) -> str:
        """``2.00% (threshold 0.10%)``: the value against its threshold, in its unit."""
        if self.unit == "Count" and self.threshold == 0:
            return f"{format_amount(self.value, self.unit)} (any one alerts)"
        if self.unit == ALARM_STATE:
            return format_amount(self.value, self.unit)
        threshold = format_amount(self.threshold, self.unit)
        return f"{format_amount(self.value, self.unit)} (threshold {threshold})"


ALARM_STATE: Final = "alarm state"
"""The unit of a CloudWatch alarm's signal: 1 in ALARM, 0 in OK (``vigil.alarms``)."""


def format_amount(value: float, unit: str) -> str:
    """``2.00%``, ``$1,234.50``, ``1,200`` or ``3 ms``: a value in its unit, as messages show it."""
    if unit == ALARM_STATE:
        return "ALARM" if value >= 1 else "OK"
    if unit == "Percent":
        return f"{value:.2f}%"
    if unit == "USD":
        return f"${value:,.2f}"
    return f"{value:,.0f}" if unit == "Count" else f"{value:g} {unit}"


class Alert(Contract):
    """The lifecycle of one condition, as stored in DynamoDB."""

    version: Literal[1] = CONTRACT_VERSION
    labels: Labels
    state: AlertState
    severity: Severity
    first_seen: AwareDatetime
    last_seen: AwareDatetime
    fired_at: AwareDatetime | None = None
    resolved_at: AwareDatetime | None = None
    last_notified: AwareDatetime | None = None
    last_reason: NotifyReason | None = None
    notify_count: int = 0
    evidence: Evidence
    last_batch: str
    revision: int = 0
    tags: dict[str, str] = Field(
        default_factory=dict,
        # Left out when empty: an alert without tag labels stores as it did before they existed.
        exclude_if=lambda tags: not tags,
        description="Labels from the resource's tags (rules `tags.labels`); not in the"
        " fingerprint.",
    )

    @property
    def fingerprint(self) -> str:
        return self.labels.fingerprint


class Link(Contract):
    """A link a notification shows apart from its text: a console page, a runbook."""

    label: str
    url: str


class AlertView(Contract):
    """One alert as a notification carries it."""

    fingerprint: str
    labels: Labels
    state: AlertState
    severity: Severity
    evidence: Evidence
    first_seen: AwareDatetime
    fired_at: AwareDatetime | None
    resolved_at: AwareDatetime | None
    links: list[Link] = Field(
        description="The runbook first when the config names one, then the console links."
    )
    at: AwareDatetime | None = Field(
        default=None,
        exclude_if=_empty,
        description="The notification's time (its evaluation's): how long it has fired.",
    )
    error_links: dict[str, list[Link]] = Field(
        default_factory=dict,
        exclude_if=_empty,
        description="Each tracked error's links (a sample trace, its log lines), by the error"
        " group's fingerprint.",
    )
    account_name: str = Field(
        default="",
        exclude_if=_empty,
        description="The account's name in the Organization (Organization mode, ADR 50).",
    )

    @property
    def timing(self) -> str:
        """Since when and for how long, in the notification's time: ``since 2026-11-02 09:10
        UTC, firing for 25 min``; ``resolved 2026-11-02 10:00 UTC after 40 min``."""
        since = f"since {_moment(self.first_seen)}"
        began = self.fired_at or self.first_seen
        if self.state is AlertState.RESOLVED and self.resolved_at is not None:
            return (
                f"resolved {_moment(self.resolved_at)} after {_duration(self.resolved_at - began)}"
            )
        if self.at is None:
            return since
        if self.state is AlertState.PENDING or self.fired_at is None:
            return f"{since}, pending for {_duration(self.at - self.first_seen)}"
        return f"{since}, firing for {_duration(self.at - began)}"

    def error_lines(self, message_chars: int = 160) -> list[str]:
        """One line per tracked error, most frequent first: type, count, first seen, ``new``
        and the sample message cut to ``message_chars`` (plain text, escaped per channel)."""
        lines = []
        for group in self.evidence.errors:
            message = " ".join(group.message.split())
            if len(message) > message_chars:
                message = message[: message_chars - 3] + "..."
            new = " NEW" if group.new else ""
            times = "time" if group.count == 1 else "times"
            lines.append(
                f"{group.error_type}{new}: {group.count:,} {times}, first seen"
                f" {_moment(group.first_seen)}" + (f": {message}" if message else "")
            )
        return lines


def _moment(moment: datetime) -> str:
    """``2026-11-02 09:10 UTC``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _duration(span: timedelta) -> str:
    """``25 min``, ``2 h 5 min``, ``3 d 4 h``; ``less than a minute``."""
    minutes = max(int(span.total_seconds()) // 60, 0)
    if not minutes:
        return "less than a minute"
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


class ChatAction(Contract):
    """An interactive button (Slack ``actions`` block); the receiving endpoint gets
    ``action_id`` and ``value`` back when someone presses it."""

    action_id: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,255}$")]
    text: Annotated[str, Field(min_length=1, max_length=75)]
    value: Annotated[str, Field(min_length=1, max_length=2000)]
    style: Literal["primary", "danger"] | None = None


class ChatPayload(Contract):
    """The structured body the chat function receives (the ``lambda`` key of the SNS message)."""

    version: Literal[1] = CONTRACT_VERSION
    notification_id: str
    category: str
    reason: NotifyReason
    severity: Severity
    title: str
    text: str
    stack: str
    alerts: list[AlertView]
    receiver: str | None = Field(
        default=None,
        description="The receiver (docs/rules.md, Routing); none: the root route's receivers.",
    )
    group_id: str | None = Field(
        default=None,
        description="The notification group it speaks for (threads a chat conversation).",
    )
    actions: list[ChatAction] = Field(default_factory=list, max_length=5)
    links: list[Link] = Field(
        default_factory=list,
        description="Links of the notification itself, apart from ``text`` (ADR 33).",
    )
    command: str | None = Field(
        default=None,
        # Left out when none: a payload without one serialises as it did before.
        exclude_if=lambda command: command is None,
        max_length=2000,
        description="Shell commands to copy, one a line, apart from ``text``: each channel"
        " shows them as code (ADR 33).",
    )


class Notification(Contract):
    """What the Evaluate workflow publishes to SNS, one item of its Map state."""

    notification_id: str
    subject: Annotated[str, Field(max_length=99)]
    message: str = Field(description="SNS MessageStructure=json document: default/email/lambda.")
    severity: Severity
    status: Literal["firing", "resolved"]
    category: str
    receiver: str = ""
    channels: str = Field(
        default="[]",
        description="The receiver's channels as a JSON array (an SNS String.Array attribute).",
    )


class EvaluationSummary(Contract):
    batch_id: str
    signals: int
    breaches: int
    transitions: dict[str, int]
    changes: list[str] = Field(
        default_factory=list,
        description="Up to 20 lines like 'orders-api lambda.errors: none->pending'.",
    )
    notifications: int
    muted: int = Field(default=0, description="Alert notifications an open outage muted.")
    silenced: int = Field(default=0, description="Alert notifications a silence muted.")
    inhibited: int = Field(default=0, description="Alert notifications an inhibit rule muted.")


class RunbookStart(Contract):
    """An outage runbook execution the Evaluate workflow starts; ``name`` makes it idempotent."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,80}$")]
    input: str = Field(description="The runbook input document (docs/runbook.md), as JSON.")


class EvaluationResult(Contract):
    notifications: list[Notification]
    summary: EvaluationSummary
    runbooks: list[RunbookStart] = Field(default_factory=list)
