"""The outage runbook's steps: validate a start request and open the incident.

The input a person gives when starting the runbook by hand (console, CLI) is documented in
docs/runbook.md; anything else fails the first step with ``InvalidRunbookInput`` naming
each wrong field, and the execution ends with that message as its cause.
"""

from datetime import datetime
from typing import Annotated, Literal, Protocol

from pydantic import AwareDatetime, Field, ValidationError

from vigil.clock import iso
from vigil.errors import InvalidRunbookInput, describe_validation
from vigil.model import ChatPayload, Contract, Notification, NotifyReason, Severity
from vigil.notifications import publishable


class RunbookInput(Contract):
    service: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,40}$", examples=["lambda"])]
    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$", examples=["us-east-1"])]
    severity: Severity = Severity.CRITICAL
    reason: Annotated[str, Field(min_length=3, max_length=500)]
    dry_run: bool = True
    failover_plan: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")] | None = None
    requested_by: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    source: Literal["manual", "vigil"] = "manual"


class TimelineEntry(Contract):
    at: AwareDatetime
    phase: str
    text: str


class Incident(Contract):
    version: Literal[1] = 1
    incident_id: str
    status: Literal["open", "resolved"]
    opened_at: AwareDatetime
    request: RunbookInput
    timeline: list[TimelineEntry]


class IncidentStorePort(Protocol):
    def open(self, incident_id: str, body: str, *, opened_at: datetime) -> bool: ...

    def get(self, incident_id: str) -> str | None: ...


def parse_request(raw: object) -> RunbookInput:
    if not isinstance(raw, dict):
        raise InvalidRunbookInput(
            f"runbook input must be a JSON object, got {type(raw).__name__}; see docs/runbook.md"
        )
    try:
        return RunbookInput.model_validate(raw)
    except ValidationError as exc:
        raise InvalidRunbookInput(
            f"invalid runbook input: {describe_validation(exc, show_input=True)};"
            " see docs/runbook.md"
        ) from exc


def open_incident(
    raw_input: object,
    *,
    incident_id: str,
    started_at: datetime,
    store: IncidentStorePort,
    stack: str,
) -> tuple[Incident, Notification]:
    """Validate, record (idempotently: a retried step finds its own record) and announce."""
    request = parse_request(raw_input)
    incident = Incident(
        incident_id=incident_id,
        status="open",
        opened_at=started_at,
        request=request,
        timeline=[
            TimelineEntry(
                at=started_at,
                phase="open",
                text=f"Runbook started ({request.source}"
                + (f" by {request.requested_by}" if request.requested_by else "")
                + f"): {request.reason}",
            )
        ],
    )
    if not store.open(incident_id, incident.model_dump_json(), opened_at=started_at):
        existing = store.get(incident_id)
        if existing is not None:
            incident = Incident.model_validate_json(existing)
    return incident, _announcement(incident, stack=stack)


def _announcement(incident: Incident, *, stack: str) -> Notification:
    request = incident.request
    mode = "DRY RUN - no failover will be executed" if request.dry_run else "live"
    title = (
        f"[{request.severity.value.upper()}] Outage runbook started:"
        f" {request.service} in {request.region}"
    )
    lines = [
        title,
        "",
        f"Incident:  {incident.incident_id}",
        f"Service:   {request.service}",
        f"Region:    {request.region}",
        f"Reason:    {request.reason}",
        f"Mode:      {mode}",
        f"Failover:  {request.failover_plan or 'none planned'}",
        f"Opened:    {iso(incident.opened_at)}",
        "",
        "Next: confirm with AWS Health, tell your users, and follow docs/runbook.md.",
        "",
        "--",
        f"Vigil ({stack})",
    ]
    text = "\n".join(lines) + "\n"
    chat = ChatPayload(
        notification_id=f"incident-{incident.incident_id}",
        category="outage",
        reason=NotifyReason.FIRING,
        severity=request.severity,
        title=title,
        text=f"{request.reason} ({mode}). Incident `{incident.incident_id}`.",
        stack=stack,
        alerts=[],
    )
    return publishable(chat, text=text, status="firing")
