"""The incident: its record, the runbook's input, the scope lock, and the ports the steps use.

One runbook runs per service and region: the incident record and its scope lock
(:class:`ScopeLock`) are written together, and a second start for a scope that has an open
incident fails the first step with ``IncidentAlreadyOpen`` naming that incident. A lock whose
incident is closed or missing, or whose execution has ended, is taken over.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal, Protocol

from pydantic import AwareDatetime, Field, ValidationError

from vigil.core.clock import iso
from vigil.core.errors import InvalidRunbookInput, VigilError, describe_validation
from vigil.core.model import (
    Alert,
    Contract,
    HealthEvent,
    Notification,
    Severity,
)
from vigil.health.outages import Outage, OutageState
from vigil.runbook.failover import (
    ActionRecord,
    FailoverPlans,
)
from vigil.runbook.gate import ApprovalStorePort

MAX_LISTED = 20


class RunbookInput(Contract):
    service: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,40}$", examples=["lambda"])]
    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$", examples=["us-east-1"])]
    severity: Severity = Severity.CRITICAL
    reason: Annotated[str, Field(min_length=3, max_length=500)]
    dry_run: bool = True
    failover_plan: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")] | None = None
    failover_on_our_side: bool = False
    """Offer the failover even when AWS Health shows no issue (off: our-side problems rarely
    go away by moving regions; see docs/runbook.md, "Confirm")."""
    requested_by: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    source: Literal["manual", "vigil"] = "manual"


class Phase(StrEnum):
    OPEN = "open"
    ASSESS = "assess"
    CONFIRM = "confirm"
    APPROVAL = "approval"
    FAILOVER = "failover"
    MONITOR = "monitor"
    RESOLVED = "resolved"
    HANDED_OVER = "handed_over"

    @property
    def public(self) -> str:
        """What end users read on the status page (statuspage-style wording)."""
        return _PUBLIC[self]


_PUBLIC = {
    Phase.OPEN: "Investigating",
    Phase.ASSESS: "Investigating",
    Phase.CONFIRM: "Identified",
    Phase.APPROVAL: "Identified",
    Phase.FAILOVER: "Mitigating",
    Phase.MONITOR: "Monitoring",
    Phase.RESOLVED: "Resolved",
    Phase.HANDED_OVER: "Monitoring",
}


class TimelineEntry(Contract):
    at: AwareDatetime
    phase: str
    text: str


class PublicUpdate(Contract):
    """One end-user update on the status page (no resource names, no people)."""

    at: AwareDatetime
    phase: Phase
    text: str


class HealthNote(Contract):
    arn: str
    event_type_code: str
    status: str
    region: str
    last_updated: AwareDatetime
    description: str


class Assessment(Contract):
    at: AwareDatetime
    aws_confirmed: bool
    health_events: list[HealthNote]
    health_source: str
    """Where the Health verdict came from (the API, or Vigil's outage record without it)."""
    outage_state: str | None
    open_alerts: list[str]
    affected_resources: list[str]

    @property
    def recovered(self) -> bool:
        return (
            not self.aws_confirmed
            and self.outage_state in (None, OutageState.RESOLVED.value)
            and not self.open_alerts
        )

    def signature(self) -> str:
        """Changes when anything a stakeholder would care about changes."""
        material = {
            "aws": self.aws_confirmed,
            "events": sorted(
                (e.arn, e.status, e.last_updated.isoformat()) for e in self.health_events
            ),
            "outage": self.outage_state,
            "alerts": sorted(self.open_alerts),
        }
        return hashlib.sha256(json.dumps(material).encode()).hexdigest()[:16]

    def lines(self) -> list[str]:
        health = (
            "; ".join(
                f"{e.event_type_code} ({e.status}): {e.description}" for e in self.health_events
            )
            or "no open issue"
        )
        alerts = ", ".join(self.open_alerts[:MAX_LISTED]) or "none"
        more = len(self.open_alerts) - MAX_LISTED
        return [
            f"AWS Health:  {health} [{self.health_source}]",
            f"Outage:      {self.outage_state or 'no outage record'}",
            f"Open alerts: {alerts}" + (f" (+{more} more)" if more > 0 else ""),
            f"Affected:    {len(self.affected_resources)} of our resources",
        ]


class Decision(Contract):
    decision: Literal["approved", "declined", "expired"]
    by: str | None = None
    at: AwareDatetime
    comment: str | None = None


class Incident(Contract):
    version: Literal[1] = 1
    incident_id: str
    status: Literal["open", "resolved", "handed_over"]
    phase: Phase = Phase.OPEN
    opened_at: AwareDatetime
    updated_at: AwareDatetime | None = None
    resolved_at: AwareDatetime | None = None
    request: RunbookInput
    timeline: list[TimelineEntry]
    updates: list[PublicUpdate] = Field(default_factory=list)
    assessment: Assessment | None = None
    affected_resources: list[str] = Field(default_factory=list)
    """Every resource any assessment found affected, for the report."""
    aws_confirmed: bool | None = None
    decision: Decision | None = None
    actions: list[ActionRecord] = Field(default_factory=list)
    escalations: list[str] = Field(default_factory=list)
    last_posted_at: AwareDatetime | None = None
    last_signature: str | None = None
    checks: int = 0
    report_key: str | None = None
    report_url: str | None = None

    @property
    def last_update(self) -> datetime:
        return self.updated_at or self.opened_at

    def advanced(
        self,
        phase: Phase,
        now: datetime,
        text: str,
        *,
        public: str | None = None,
        **changes: object,
    ) -> "Incident":
        """A copy in ``phase`` with a timeline entry (and an end-user update)."""
        timeline = [*self.timeline, TimelineEntry(at=now, phase=phase.value, text=text)]
        updates = self.updates
        if public is not None:
            updates = [*updates, PublicUpdate(at=now, phase=phase, text=public)]
        return self.model_copy(
            update={
                "phase": phase,
                "updated_at": now,
                "timeline": timeline,
                "updates": updates,
                **changes,
            }
        )


class ScopeLock(Contract):
    """The one open incident of a service and region, kept beside the incident records."""

    service: str
    region: str
    incident_id: str
    opened_at: AwareDatetime
    source: Literal["manual", "vigil"] = "manual"
    requested_by: str | None = None
    execution_arn: str | None = None

    @classmethod
    def of(cls, incident: "Incident", execution_arn: str | None = None) -> "ScopeLock":
        request = incident.request
        return cls(
            service=request.service,
            region=request.region,
            incident_id=incident.incident_id,
            opened_at=incident.opened_at,
            source=request.source,
            requested_by=request.requested_by,
            execution_arn=execution_arn,
        )

    @property
    def opener(self) -> str:
        return self.source + (f" by {self.requested_by}" if self.requested_by else "")


class IncidentAlreadyOpen(VigilError):
    """The service and region already have an open incident; its runbook is the one to follow.

    The class name is the workflow's error name (``OpenIncident`` -> ``RefuseSecondIncident``)."""

    def __init__(self, holder: ScopeLock) -> None:
        self.holder = holder
        super().__init__(
            f"{holder.service} in {holder.region} already has an open incident:"
            f" {holder.incident_id}, opened {iso(holder.opened_at)} ({holder.opener});"
            " one runbook runs per service and region: follow that one"
            f" (vigil incidents show {holder.incident_id}), or stop its execution before"
            " starting another; see docs/runbook.md"
        )


class ScopeTakenError(VigilError):
    """The scope lock names another incident (``holder``; ``None`` if it vanished since)."""

    def __init__(self, holder: ScopeLock | None) -> None:
        self.holder = holder
        super().__init__(
            f"scope held by incident {holder.incident_id}" if holder else "scope lock changed"
        )


class IncidentStorePort(Protocol):
    def open(
        self,
        incident_id: str,
        body: str,
        *,
        opened_at: datetime,
        lock: ScopeLock | None = None,
        replacing: str | None = None,
    ) -> bool:
        """Record a new incident and take its scope lock in one transaction; ``False`` when
        the record exists (a retried step). The lock must be free, already this incident's,
        or held by ``replacing`` (a stale holder); else :class:`ScopeTakenError`."""
        ...

    def get(self, incident_id: str) -> str | None: ...

    def save(self, incident_id: str, body: str) -> None: ...

    def close(self, incident_id: str, body: str, *, service: str, region: str) -> None:
        """Write the closed record and release the scope lock (if still this incident's)
        in one transaction."""
        ...

    def scope_lock(self, service: str, region: str) -> ScopeLock | None: ...

    def recent(self, limit: int) -> list[str]:
        """Bodies of the most recently opened incidents, newest first."""
        ...


class StatusPagePort(Protocol):
    def publish(self, incident: Incident, index: list[Incident], *, now: datetime) -> None:
        """The incident's own page (from its record only) and the index of ``index``."""
        ...


class ExecutionsPort(Protocol):
    def running(self, execution_arn: str) -> bool | None:
        """Whether the execution still runs; ``None`` when that cannot be told."""
        ...


class ReportStorePort(Protocol):
    def store(self, incident_id: str, markdown: str, document: str) -> tuple[str, str]:
        """Store the report; return its key and a link for people."""
        ...


class SignalsPort(Protocol):
    def open_alerts(self, service: str, region: str) -> list[Alert]: ...

    def outage(self, service: str, region: str) -> Outage | None: ...


class HealthPort(Protocol):
    def open_issues(self, service: str, region: str, *, now: datetime) -> list[HealthEvent]:
        """Open AWS Health issues for the service in the region; raises VigilError when
        the Health API cannot answer."""
        ...


class TopicPort(Protocol):
    def publish(self, notification: Notification) -> None: ...


@dataclass(frozen=True)
class RunbookPorts:
    incidents: IncidentStorePort
    status_page: StatusPagePort
    stack: str
    plans: FailoverPlans
    status_page_incidents: int = 10
    executions: ExecutionsPort | None = None
    """Tells a lock of a stopped or failed execution from a live one (None: not asked)."""
    approvals: ApprovalStorePort | None = None
    """The gate's record, read after it closes for the refused decisions (None: not read)."""
    status_preview: Callable[[str], str] | None = None
    """A link to a dry run's status page preview, given its incident id (None: the key)."""


class RunbookStepError(VigilError):
    """A step was asked about an incident that does not exist (or is not in its record)."""


# ---------------------------------------------------------------------------- helpers
def parse_request(raw: object, plans: FailoverPlans | None = None) -> RunbookInput:
    if not isinstance(raw, dict):
        raise InvalidRunbookInput(
            f"runbook input must be a JSON object, got {type(raw).__name__}; see docs/runbook.md"
        )
    try:
        request = RunbookInput.model_validate(raw)
    except ValidationError as exc:
        raise InvalidRunbookInput(
            f"invalid runbook input: {describe_validation(exc, show_input=True)};"
            " see docs/runbook.md"
        ) from exc
    if plans is not None and request.failover_plan and not plans.get(request.failover_plan):
        known = ", ".join(sorted(plans.plans)) or "none are configured (FailoverPlans)"
        raise InvalidRunbookInput(
            f"invalid runbook input: failover_plan: no plan named {request.failover_plan!r};"
            f" known plans: {known}; see docs/runbook.md"
        )
    return request


def parse_decision(raw: object) -> Decision:
    """The gate's answer (``vigil.runbook.gate.decide``'s SendTaskSuccess output)."""
    try:
        return Decision.model_validate(raw)
    except ValidationError as exc:
        raise RunbookStepError(f"approval answer: {describe_validation(exc)}") from exc


def load(incident_id: str, ports: RunbookPorts) -> Incident:
    body = ports.incidents.get(incident_id)
    if body is None:
        raise RunbookStepError(f"incident {incident_id} has no record")
    return Incident.model_validate_json(body)


def lock_is_stale(
    lock: ScopeLock, *, incidents: IncidentStorePort, executions: ExecutionsPort | None
) -> bool:
    """A lock no live runbook holds: its incident is missing or closed, or its execution has
    ended (stopped, failed, timed out) with the incident still open."""
    body = incidents.get(lock.incident_id)
    if body is None or Incident.model_validate_json(body).status != "open":
        return True
    if lock.execution_arn and executions is not None:
        return executions.running(lock.execution_arn) is False
    return False


def scope_holder(
    service: str,
    region: str,
    *,
    incidents: IncidentStorePort,
    executions: ExecutionsPort | None = None,
) -> ScopeLock | None:
    """The open incident holding a service and region, or ``None`` when it is free (or
    its lock is stale). The ``vigil`` command asks before it starts a runbook; the open
    step's transaction is what guarantees it."""
    lock = incidents.scope_lock(service, region)
    if lock is None or lock_is_stale(lock, incidents=incidents, executions=executions):
        return None
    return lock


def scope_of(incident: Incident) -> str:
    return f"{incident.request.service} in {incident.request.region}"


def mode_of(incident: Incident) -> str:
    return "DRY RUN - no change will be made" if incident.request.dry_run else "live"
