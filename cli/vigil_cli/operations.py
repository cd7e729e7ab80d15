"""What ``vigil runbook``, ``incidents``, ``notify`` and ``config check`` do, given adapters.

Each function returns what to print (a :class:`~vigil_cli.output.Listing` or
:class:`~vigil_cli.output.Document`: text, and JSON for ``-o json``); the command line
(``main.py``) parses, builds the adapters from one boto3 session, reads the wall clock once and
maps errors to exit codes.
"""

import json
import re
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from vigil.adapters.incident_store import ApprovalStore, IncidentStore
from vigil.adapters.topic import AlertsTopic
from vigil.adapters.views import TableViews
from vigil.adapters.workflow import TaskCallback
from vigil.alerting.messages import publishable
from vigil.core.clock import iso
from vigil.core.errors import VigilError
from vigil.core.model import ChatPayload, Notification, NotifyReason, Severity
from vigil.rules.document import ApproversConfig, RulesConfig
from vigil.rules.routing import Route
from vigil.runbook.gate import (
    Approval,
    ApprovalState,
    NotAuthorizedError,
    decide,
    refusal_notice,
)
from vigil.runbook.incident import (
    ExecutionsPort,
    Incident,
    IncidentAlreadyOpen,
    IncidentStorePort,
    RunbookInput,
    parse_request,
    scope_holder,
)
from vigil_cli.approvers import command_authorization
from vigil_cli.output import Document, Listing

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
MAX_REQUESTED_BY = 128


class UnknownIncidentError(VigilError):
    """No incident has this id."""


@dataclass(frozen=True)
class StartRequest:
    service: str
    region: str
    reason: str
    severity: str
    live: bool
    plan: str | None
    requested_by: str | None
    failover_on_our_side: bool = False


def runbook_input(request: StartRequest) -> RunbookInput:
    """The workflow's input, validated exactly as its first step will (InvalidRunbookInput)."""
    raw: dict[str, Any] = {
        "service": request.service,
        "region": request.region,
        "reason": request.reason,
        "severity": request.severity,
        "dry_run": not request.live,
        "failover_on_our_side": request.failover_on_our_side,
        "source": "manual",
    }
    if request.plan is not None:
        raw["failover_plan"] = request.plan
    if request.requested_by is not None:
        raw["requested_by"] = request.requested_by
    return parse_request(raw)


def identity_name(arn: str) -> str:
    """A caller ARN as ``requested_by`` (at most 128 characters): whole when it fits, else
    the part after the account (``assumed-role/Role/session``), clipped."""
    if len(arn) <= MAX_REQUESTED_BY:
        return arn
    return arn.split(":", 5)[-1][:MAX_REQUESTED_BY]


def execution_name(given: str | None, request: RunbookInput, *, now: datetime) -> str:
    """``--name``, checked, or ``manual-<service>-<region>-<UTC time>``; it is the incident id."""
    if given is not None:
        if not EXECUTION_NAME.fullmatch(given):
            raise VigilError(
                f"--name {given!r}: use 1 to 80 letters, digits, '-' or '_' (it becomes the"
                " execution name and the incident id)"
            )
        return given
    return f"manual-{request.service}-{request.region}-{now:%Y%m%dT%H%M%SZ}"[:80]


def console_link(execution_arn: str) -> str:
    region = execution_arn.split(":")[3]
    return (
        f"https://{region}.console.aws.amazon.com/states/home?region={region}"
        f"#/v2/executions/details/{execution_arn}"
    )


def refuse_second_incident(
    request: RunbookInput,
    *,
    name: str,
    incidents: IncidentStorePort,
    executions: ExecutionsPort | None,
) -> None:
    """:class:`IncidentAlreadyOpen`, naming the incident, when the service and region already
    have another one open (the workflow's first step would refuse the start the same way);
    the same name again is left to Step Functions (Idempotency, docs/runbook.md)."""
    holder = scope_holder(
        request.service, request.region, incidents=incidents, executions=executions
    )
    if holder is not None and holder.incident_id != name:
        raise IncidentAlreadyOpen(holder)


def start_runbook(
    client: "SFNClient", state_machine_arn: str, request: RunbookInput, *, name: str
) -> Document:
    """Start the OutageRunbook."""
    arn = client.start_execution(
        stateMachineArn=state_machine_arn,
        name=name,
        input=request.model_dump_json(exclude_none=True),
    )["executionArn"]
    mode = "live" if not request.dry_run else "dry run: no failover is executed; --live for one"
    text = "\n".join(
        [
            f"started incident {name} ({mode})",
            f"execution: {arn}",
            f"console:   {console_link(arn)}",
        ]
    )
    return Document(
        text,
        {
            "incident_id": name,
            "execution_arn": arn,
            "console": console_link(arn),
            "dry_run": request.dry_run,
            "service": request.service,
            "affected_region": request.region,
        },
    )


def _anyone(approval: Approval) -> None:
    """No approvers check: IAM alone authorizes the caller."""


def decide_approval(
    incident_id: str,
    *,
    approve: bool,
    actor: str,
    comment: str | None,
    now: datetime,
    store: ApprovalStore,
    callback: TaskCallback,
    caller_arn: str | None = None,
    approvers: ApproversConfig | None = None,
    announce: Callable[[Notification], None] | None = None,
    stack: str = "vigil",
) -> Document:
    """Decide as ``actor``. With ``approvers`` and the ``caller_arn``, only a caller listed
    in ``approvers.iam_principals`` decides a live failover (vigil_cli.approvers); a refusal
    is recorded on the gate, handed to ``announce`` as its channel notice, and raised."""
    checked = approvers is not None and caller_arn is not None
    try:
        decided = decide(
            incident_id,
            approve=approve,
            actor=actor,
            now=now,
            store=store,
            callback=callback,
            comment=comment,
            authorize=command_authorization(caller_arn, approvers)
            if caller_arn is not None and approvers is not None
            else _anyone,
            principal=caller_arn if checked else None,
            live_approvals=approvers.live_approvals if approvers is not None else 1,
            via="command",
        )
    except NotAuthorizedError as exc:
        if exc.refusal is not None and announce is not None:
            gate = store.get(incident_id)
            announce(
                refusal_notice(
                    incident_id,
                    exc.refusal,
                    stack=stack,
                    plan=gate.plan if gate else None,
                    dry_run=gate.dry_run if gate else None,
                )
            )
        raise
    data = {
        "incident_id": incident_id,
        "state": decided.state.value,
        "plan": decided.plan,
        "dry_run": decided.dry_run,
        "decided_by": actor,
        "at": iso(now),
    }
    if decided.state is ApprovalState.PENDING:
        return Document(
            f"first approval of failover {decided.plan} of incident {incident_id} recorded as"
            f" {actor} at {iso(now)}; a live failover needs a second, different approver",
            data,
        )
    mode = " (dry run)" if decided.dry_run else " (live)"
    return Document(
        f"{decided.state.value} failover {decided.plan}{mode} of incident {incident_id}"
        f" as {actor} at {iso(now)}",
        data,
    )


def list_incidents(
    views: TableViews, *, everything: bool, severities: Collection[str] = ()
) -> Listing:
    incidents = views.incidents()
    shown = [
        i
        for i in incidents
        if (everything or i.status == "open")
        and (not severities or i.request.severity.value in severities)
    ]
    rows = [
        (
            i.incident_id,
            i.status,
            i.phase.value,
            iso(i.opened_at),
            f"{i.request.service}/{i.request.region}",
            i.request.severity.value,
            "dry run" if i.request.dry_run else "live",
            i.request.reason,
        )
        for i in shown
    ]
    return Listing(
        ("ID", "STATUS", "PHASE", "OPENED", "SCOPE", "SEVERITY", "MODE", "REASON"),
        rows,
        empty="No incidents." if everything else "No open incidents (--all lists resolved ones).",
    )


def show_incident(
    incident_id: str, *, incidents: IncidentStore, approvals: ApprovalStore
) -> Document:
    body = incidents.get(incident_id)
    if body is None:
        raise UnknownIncidentError(f"no incident has the id {incident_id!r} (vigil incidents list)")
    incident = Incident.model_validate_json(body)
    request = incident.request
    approval = approvals.get(incident_id)
    lines = [
        f"Incident:  {incident.incident_id}",
        f"Status:    {incident.status} (phase {incident.phase.value},"
        f" updated {iso(incident.last_update)})",
        f"Opened:    {iso(incident.opened_at)}",
        f"Scope:     {request.service} in {request.region} ({request.severity.value})",
        f"Reason:    {request.reason}",
        f"Mode:      {'dry run' if request.dry_run else 'live'}",
        f"Failover:  {request.failover_plan or 'none planned'}",
        f"Started:   {request.source}"
        + (f" by {request.requested_by}" if request.requested_by else ""),
        f"Approval:  {_approval_text(approval)}",
        *(
            [f"Report:    {incident.report_url or incident.report_key}"]
            if incident.report_key
            else []
        ),
        "",
        "Timeline:",
        *[f"  {iso(entry.at)}  {entry.phase:<10} {entry.text}" for entry in incident.timeline],
    ]
    data = {
        "incident": incident.model_dump(mode="json", by_alias=True),
        "approval": approval.model_dump(mode="json", by_alias=True) if approval else None,
    }
    return Document("\n".join(lines), data)


def _approval_text(approval: Approval | None) -> str:
    if approval is None:
        return "none requested"
    if approval.decided_at is not None:
        comment = f" ({approval.comment})" if approval.comment else ""
        return (
            f"{approval.state.value} by {approval.decided_by} at {iso(approval.decided_at)}"
            f"{comment}"
        )
    return f"{approval.state.value}, lapses at {iso(approval.expires_at)}"


def send_test(topic: AlertsTopic, *, severity: Severity, stack: str, now: datetime) -> Document:
    """Publish a test notification the way the workflows publish theirs."""
    notification_id = f"test-{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    title = f"[{severity.value.upper()}] Vigil test notification"
    text = "\n".join(
        [
            title,
            "",
            f"Sent with `vigil notify test` at {iso(now)} to check delivery; nothing is wrong.",
            "It travelled the alerts topic like an alert: email and chat filters applied.",
            "",
            "--",
            f"Vigil ({stack}) - notification {notification_id}",
        ]
    )
    chat = ChatPayload(
        notification_id=notification_id,
        category="test",
        reason=NotifyReason.FIRING,
        severity=severity,
        title=title,
        text=f"Sent with `vigil notify test` at {iso(now)}; nothing is wrong.",
        stack=stack,
        alerts=[],
    )
    # Like the runbook's announcements: for email and chat, to the root route's receivers.
    notification = publishable(chat, text=text + "\n", status="firing").model_copy(
        update={"channels": json.dumps(["email", "slack"])}
    )
    message_id = topic.publish(notification)
    return Document(
        f"published {notification_id} ({severity.value}) as SNS message {message_id}",
        {"notification_id": notification_id, "severity": severity.value, "message_id": message_id},
    )


def read_config(path: str) -> RulesConfig:
    """A rules config file, validated as every function validates it at cold start; an error
    names the field with its line and column (exit 2)."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise VigilError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    return RulesConfig.from_json(text, source=path)


def check_config(path: str) -> Listing:
    """``vigil config check FILE``: :func:`read_config`, and what the config holds."""
    rules = read_config(path)
    routing = rules.routing
    routes = _count_routes(routing.route.routes)
    return Listing(
        ("Section", "Count"),
        [
            ("receivers", str(len(routing.receivers))),
            ("routes", str(routes)),
            ("inhibit_rules", str(len(routing.inhibit_rules))),
            ("time_intervals", str(len(routing.time_intervals))),
            ("overrides", str(len(rules.overrides))),
        ],
    )


def _count_routes(routes: list[Route]) -> int:
    return sum(1 + _count_routes(route.routes) for route in routes)
