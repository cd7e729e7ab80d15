"""The outage runbook's steps: open, assess, confirm, approve, fail over, monitor, resolve.

The OutageRunbook workflow (statemachines/outage_runbook.asl.json) calls one step per state;
each step loads the incident record, does its part, appends to the timeline, saves the
record, republishes the status page and returns what the workflow needs next (a choice and
the notification to publish). docs/runbook.md describes the phases for the on-call engineer.

The input a person gives when starting the runbook by hand (console, CLI) is documented in
docs/runbook.md; anything else fails the first step with ``InvalidRunbookInput`` naming
each wrong field, and the execution ends with that message as its cause.

The incident record, the input and the ports are in :mod:`vigil.runbook.incident`, the
report written at the end in :mod:`vigil.runbook.report`.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from vigil.alerting.messages import publishable
from vigil.channels.buttons import APPROVE, DECLINE
from vigil.core.clock import iso
from vigil.core.errors import ConflictError, VigilError
from vigil.core.model import (
    ChatAction,
    ChatPayload,
    Notification,
    NotifyReason,
    Severity,
)
from vigil.health.outages import OutageState
from vigil.runbook.failover import (
    ActionRecord,
    ActionRunner,
    FailoverPlan,
    failback_guidance,
    run_plan,
)
from vigil.runbook.gate import ApprovalStorePort, expire, request_approval, timeline_entries
from vigil.runbook.incident import (
    Assessment,
    Decision,
    HealthNote,
    HealthPort,
    Incident,
    IncidentAlreadyOpen,
    Phase,
    PublicUpdate,
    ReportStorePort,
    RunbookInput,
    RunbookPorts,
    RunbookStepError,
    ScopeLock,
    ScopeTakenError,
    SignalsPort,
    TimelineEntry,
    TopicPort,
    load,
    lock_is_stale,
    mode_of,
    parse_request,
    scope_of,
)
from vigil.runbook.report import incident_duration, incident_report
from vigil.runbook.status_page import incident_keys

MONITORING = "We are monitoring the situation."
"""End-user wording names no AWS service or region: the status page names the components."""


def _save(
    incident: Incident, ports: RunbookPorts, now: datetime, *, close: bool = False
) -> Incident:
    if close:
        request = incident.request
        ports.incidents.close(
            incident.incident_id,
            incident.model_dump_json(),
            service=request.service,
            region=request.region,
        )
    else:
        ports.incidents.save(incident.incident_id, incident.model_dump_json())
    _publish(incident, ports, now)
    return incident


def _publish(incident: Incident, ports: RunbookPorts, now: datetime) -> None:
    """The incident's own page from its record, and the index of the recent incidents,
    newest opened first (this one as just written, the others as stored)."""
    recent = [
        Incident.model_validate_json(body)
        for body in ports.incidents.recent(ports.status_page_incidents)
    ]
    index = [incident if i.incident_id == incident.incident_id else i for i in recent]
    if incident not in index:
        index.insert(0, incident)
    ports.status_page.publish(incident, index, now=now)


def _notice(
    incident: Incident,
    *,
    ports: RunbookPorts,
    key: str,
    title: str,
    lines: list[str],
    next_steps: list[str],
    severity: Severity | None = None,
    resolved: bool = False,
    actions: list[ChatAction] | None = None,
    command: str | None = None,
) -> Notification:
    """One stakeholder message: email text and the chat payload, with next steps and the
    commands to run (indented in the email, a code block in chat). Both say first whether
    the run is a dry run or live."""
    level = severity or incident.request.severity
    body = [
        title,
        "",
        f"Incident:  {incident.incident_id}",
        f"Scope:     {scope_of(incident)}",
        _mode_line(incident),
        f"Phase:     {incident.phase.value} (status page: {incident.phase.public})",
        *_preview_lines(incident, ports),
        "",
        *lines,
    ]
    if next_steps:
        body += ["", "Next steps:", *(f"- {step}" for step in next_steps)]
    if command:
        body += ["", *(f"    {line}" for line in command.splitlines())]
    body += ["", "--", f"Vigil ({ports.stack}) - docs/runbook.md"]
    text = "\n".join(body) + "\n"
    chat = ChatPayload(
        notification_id=f"incident-{incident.incident_id}-{key}",
        category="outage",
        reason=NotifyReason.RESOLVED if resolved else NotifyReason.FIRING,
        severity=level,
        title=title,
        text="\n".join(
            [
                _mode_line(incident),
                *_preview_lines(incident, ports),
                *lines,
                *(["In Slack, the buttons below answer too."] if actions else []),
                *(f"Next: {s}" for s in next_steps),
            ]
        )[:2900],
        stack=ports.stack,
        alerts=[],
        actions=actions or [],
        command=command,
    )
    return publishable(chat, text=text, status="resolved" if resolved else "firing")


def _preview_lines(incident: Incident, ports: RunbookPorts) -> list[str]:
    """A dry run's status page is a private preview (ADR 46): where to read it."""
    if not incident.request.dry_run:
        return []
    link = (
        ports.status_preview(incident.incident_id)
        if ports.status_preview
        else incident_keys(incident.incident_id, preview=True)[0]
    )
    return [f"Preview:   {link} (status page of this dry run; never published)"]


def _tag(incident: Incident) -> str:
    return incident.request.severity.value.upper()


def _mode(incident: Incident) -> str:
    """``[DRY RUN]`` or ``[LIVE]``, in the title of every message about the failover."""
    return "[DRY RUN]" if incident.request.dry_run else "[LIVE]"


def _mode_line(incident: Incident) -> str:
    if incident.request.dry_run:
        return "Mode:      DRY RUN - no change will be made"
    return "Mode:      LIVE - an approved failover changes routing"


def _with_refusals(incident: Incident, ports: RunbookPorts) -> Incident:
    """The incident with the gate's refused decisions in its timeline (ADR 32).

    Refusals are recorded on the approval by the Slack endpoint and the command, never on the
    incident (its workflow alone writes it); the step after the gate copies them in once.
    """
    if ports.approvals is None:
        return incident
    approval = ports.approvals.get(incident.incident_id)
    if approval is None:
        return incident
    known = {(entry.at, entry.text) for entry in incident.timeline}
    added = [
        TimelineEntry(at=at, phase=Phase.APPROVAL.value, text=text)
        for at, text in timeline_entries(approval)
        if (at, text) not in known
    ]
    if not added:
        return incident
    return incident.model_copy(
        update={"timeline": sorted([*incident.timeline, *added], key=lambda e: e.at)}
    )


# ---------------------------------------------------------------------------- open
def open_incident(
    raw_input: object,
    *,
    incident_id: str,
    started_at: datetime,
    ports: RunbookPorts,
    execution_arn: str | None = None,
) -> tuple[Incident, Notification]:
    """Validate, record with the scope lock (idempotently: a retried step finds its own
    record) and announce; :class:`IncidentAlreadyOpen` when another incident of the same
    service and region is open."""
    request = parse_request(raw_input, ports.plans)
    incident = Incident(
        incident_id=incident_id,
        status="open",
        opened_at=started_at,
        updated_at=started_at,
        request=request,
        timeline=[
            TimelineEntry(
                at=started_at,
                phase=Phase.OPEN.value,
                text=f"Runbook started ({request.source}"
                + (f" by {request.requested_by}" if request.requested_by else "")
                + f"): {request.reason}",
            )
        ],
        updates=[
            PublicUpdate(
                at=started_at,
                phase=Phase.OPEN,
                text="We are investigating a problem affecting our service. Next update as"
                " soon as we know more.",
            )
        ],
    )
    if not _record(incident, ports, execution_arn):
        existing = ports.incidents.get(incident_id)
        if existing is not None:
            incident = Incident.model_validate_json(existing)
    _publish(incident, ports, started_at)
    notification = _notice(
        incident,
        ports=ports,
        key="open",
        title=f"[{_tag(incident)}] Outage runbook started: {scope_of(incident)}",
        lines=[
            f"Reason:    {request.reason}",
            f"Failover:  {request.failover_plan or 'none planned'}",
            f"Opened:    {iso(incident.opened_at)}",
        ],
        next_steps=["Vigil assesses signals and AWS Health now; the next message says more."],
    )
    return incident, notification


OPEN_ATTEMPTS = 3


def _record(incident: Incident, ports: RunbookPorts, execution_arn: str | None) -> bool:
    """Write the record and take the scope lock; ``False`` when the record exists."""
    lock = ScopeLock.of(incident, execution_arn)
    replacing: str | None = None
    for _ in range(OPEN_ATTEMPTS):
        try:
            return ports.incidents.open(
                incident.incident_id,
                incident.model_dump_json(),
                opened_at=incident.opened_at,
                lock=lock,
                replacing=replacing,
            )
        except ScopeTakenError as taken:
            holder = taken.holder
            if holder is not None and holder.incident_id == incident.incident_id:
                return False  # a concurrent attempt of this same step wrote it
            if holder is not None and not lock_is_stale(
                holder, incidents=ports.incidents, executions=ports.executions
            ):
                raise IncidentAlreadyOpen(holder) from None
            replacing = holder.incident_id if holder else None
    raise ConflictError(
        f"incident {incident.incident_id}: the lock of {scope_of(incident)} kept changing"
    )


# ---------------------------------------------------------------------------- assess
def assess_signals(
    request: RunbookInput,
    *,
    now: datetime,
    signals: SignalsPort,
    health: HealthPort,
) -> Assessment:
    """Current signals for the service and region: Vigil's alerts and outage record, and
    AWS Health (the API; without it, the outage record's Health confirmation)."""
    alerts = signals.open_alerts(request.service, request.region)
    outage = signals.outage(request.service, request.region)
    outage_open = outage is not None and outage.is_open
    try:
        events = health.open_issues(request.service, request.region, now=now)
        source = "AWS Health API"
        notes = [
            HealthNote(
                arn=e.arn,
                event_type_code=e.event_type_code,
                status=e.status,
                region=e.region,
                last_updated=e.last_updated,
                description=e.description[:300],
            )
            for e in events
        ]
        confirmed = bool(notes)
        entities = [entity for e in events for entity in e.affected_entities]
    except VigilError as exc:
        source = f"Health API unavailable ({exc}); from Vigil's outage record"
        confirmed = outage_open and outage is not None and outage.state is OutageState.CONFIRMED
        notes = []
        if confirmed and outage is not None and outage.health_arn:
            notes = [
                HealthNote(
                    arn=outage.health_arn,
                    event_type_code=outage.health_event_type or "unknown",
                    status="open",
                    region=request.region,
                    last_updated=outage.confirmed_at or outage.last_seen,
                    description=outage.health_text[:300],
                )
            ]
        entities = []
    resources = {a.labels.resource for a in alerts} | set(entities)
    if outage_open and outage is not None:
        resources |= {e.resource for e in outage.evidence}
    return Assessment(
        at=now,
        aws_confirmed=confirmed,
        health_events=notes,
        health_source=source,
        outage_state=outage.state.value if outage else None,
        open_alerts=sorted(
            f"{a.labels.kind} {a.labels.resource} ({a.severity.value})" for a in alerts
        ),
        affected_resources=sorted(resources),
    )


def assess(
    incident_id: str,
    *,
    now: datetime,
    ports: RunbookPorts,
    signals: SignalsPort,
    health: HealthPort,
) -> Incident:
    incident = load(incident_id, ports)
    found = assess_signals(incident.request, now=now, signals=signals, health=health)
    verdict = "AWS Health confirms an issue" if found.aws_confirmed else "AWS Health shows no issue"
    incident = incident.advanced(
        Phase.ASSESS,
        now,
        f"Assessed: {verdict}; {len(found.open_alerts)} open alerts;"
        f" {len(found.affected_resources)} affected resources; outage record"
        f" {found.outage_state or 'none'}",
        assessment=found,
        affected_resources=_union(incident, found),
        aws_confirmed=found.aws_confirmed,
        last_signature=found.signature(),
    )
    return _save(incident, ports, now)


def _union(incident: Incident, found: Assessment) -> list[str]:
    return sorted(set(incident.affected_resources) | set(found.affected_resources))


# ---------------------------------------------------------------------------- confirm
def confirm(
    incident_id: str,
    *,
    aws_confirmed: bool,
    now: datetime,
    ports: RunbookPorts,
) -> tuple[Incident, Notification, bool]:
    """The AWS-confirmed or our-side branch: what to tell people, and whether to offer the
    failover (our side: only when the input asks for it with ``failover_on_our_side``)."""
    incident = load(incident_id, ports)
    request = incident.request
    plan = request.failover_plan
    assessment = incident.assessment
    lines = assessment.lines() if assessment else []
    if aws_confirmed:
        offer = plan is not None
        title = f"[{_tag(incident)}] AWS confirms an outage: {scope_of(incident)}"
        public = (
            "Our cloud provider has confirmed an issue that affects our service. We are"
            " working on it."
        )
        steps = [
            f"Failover plan {plan} waits for approval (next message)."
            if offer
            else "No failover plan is named: we wait for AWS to recover and watch it.",
            "Follow the AWS Health event; tell customers what the status page says.",
        ]
        why = "AWS Health has an open issue for this service and region."
    else:
        offer = plan is not None and request.failover_on_our_side
        title = f"[{_tag(incident)}] Our-side problem (AWS reports no issue): {scope_of(incident)}"
        public = "We have identified the problem and are working on a fix."
        steps = [
            "Look at our own changes first: recent deploys, configuration, quotas, dependencies.",
            (
                f"Failover plan {plan} waits for approval (requested with failover_on_our_side)."
                if offer
                else "Failover is not offered: AWS reports no issue, so moving regions rarely"
                " helps (start with failover_on_our_side=true to offer it)."
            ),
        ]
        why = "AWS Health has no open issue for this service and region."
    incident = incident.advanced(
        Phase.CONFIRM,
        now,
        ("AWS-confirmed" if aws_confirmed else "Our side only")
        + f": {why} Failover {'offered' if offer else 'not offered'}.",
        public=public,
    )
    _save(incident, ports, now)
    notification = _notice(
        incident,
        ports=ports,
        key="confirm",
        title=title,
        lines=[why, "", *lines],
        next_steps=steps,
    )
    return incident, notification, offer


# ---------------------------------------------------------------------------- approval
def request_gate(
    incident_id: str,
    *,
    token: str,
    now: datetime,
    timeout: timedelta,
    ports: RunbookPorts,
    approvals: ApprovalStorePort,
    topic: TopicPort,
) -> Incident:
    """Record the pending approval (with the workflow's task token) and ask for a decision:
    the ``vigil runbook approve|decline`` commands in every channel (email has no buttons),
    and Approve / Decline buttons in Slack."""
    incident = load(incident_id, ports)
    plan_name = incident.request.failover_plan
    plan = ports.plans.get(plan_name) if plan_name else None
    if plan_name is None or plan is None:
        raise RunbookStepError(f"incident {incident_id}: no failover plan to approve")
    approval = request_approval(
        incident_id,
        token=token,
        plan=plan_name,
        dry_run=incident.request.dry_run,
        now=now,
        timeout=timeout,
        store=approvals,
    )
    incident = incident.advanced(
        Phase.APPROVAL,
        now,
        f"Approval requested for failover plan {plan_name}"
        f" ({mode_of(incident)}); lapses at {iso(approval.expires_at)}",
    )
    _save(incident, ports, now)
    topic.publish(
        _notice(
            incident,
            ports=ports,
            key="approval",
            title=f"[{_tag(incident)}] {_mode(incident)} Approve failover {plan_name}?"
            f" {scope_of(incident)}",
            lines=[
                f"Plan:      {plan_name}: {plan.description}",
                *(f"Action:    {action.target()}" for action in plan.actions),
                f"Lapses:    {iso(approval.expires_at)} (then Vigil escalates, no failover)",
            ],
            next_steps=[
                "Approve or decline with the vigil command (docs/runbook.md, Approving or"
                " declining):",
            ]
            if incident.request.dry_run
            else [
                "Only an approver named in the rules config (approvers) may decide a live"
                " failover.",
                "Approve or decline with the vigil command (docs/runbook.md, Approving or"
                " declining):",
            ],
            command="\n".join(
                f"vigil --stack {ports.stack} runbook {verb} {incident_id}"
                for verb in ("approve", "decline")
            ),
            actions=[
                ChatAction(
                    action_id=APPROVE,
                    text="Approve failover",
                    value=incident_id,
                    style="primary",
                ),
                ChatAction(action_id=DECLINE, text="Decline", value=incident_id, style="danger"),
            ],
        )
    )
    return incident


def declined(
    incident_id: str, *, decision: Decision, now: datetime, ports: RunbookPorts
) -> tuple[Incident, Notification]:
    incident = _with_refusals(load(incident_id, ports), ports)
    who = decision.by or "someone"
    incident = incident.advanced(
        Phase.MONITOR,
        now,
        f"Failover declined by {who}" + (f": {decision.comment}" if decision.comment else ""),
        public=MONITORING,
        decision=decision,
    )
    _save(incident, ports, now)
    return incident, _notice(
        incident,
        ports=ports,
        key="declined",
        title=f"[{_tag(incident)}] {_mode(incident)} Failover declined by {who}:"
        f" {scope_of(incident)}",
        lines=[f"Comment:   {decision.comment or '-'}", "No change was made."],
        next_steps=["Vigil keeps watching AWS Health and our signals and posts updates."],
    )


def approval_expired(
    incident_id: str, *, now: datetime, ports: RunbookPorts, approvals: ApprovalStorePort
) -> tuple[Incident, Notification]:
    """Nobody decided in time: record it, page, and do NOT fail over."""
    approval = expire(incident_id, store=approvals)
    incident = _with_refusals(load(incident_id, ports), ports)
    lapsed_at = approval.expires_at if approval else now
    text = (
        f"Nobody decided on failover plan {incident.request.failover_plan} by"
        f" {iso(lapsed_at)}; the failover was NOT executed"
    )
    incident = incident.advanced(
        Phase.MONITOR,
        now,
        f"ESCALATED: {text}",
        public=MONITORING,
        decision=Decision(decision="expired", at=now),
        escalations=[*incident.escalations, text],
    )
    _save(incident, ports, now)
    return incident, _notice(
        incident,
        ports=ports,
        key="approval-expired",
        title=f"[PAGE] {_mode(incident)} Failover approval timed out: {scope_of(incident)}",
        severity=Severity.CRITICAL,
        lines=[text + "."],
        next_steps=[
            "A human decides now: run the plan's actions by hand (docs/runbook.md, Failover"
            " plans) or start a new runbook with the same failover_plan.",
            "Vigil keeps watching and posts updates.",
        ],
    )


# ---------------------------------------------------------------------------- failover
def failover(
    incident_id: str,
    *,
    decision: Decision,
    now: datetime,
    ports: RunbookPorts,
    runners: Mapping[str, ActionRunner],
) -> tuple[Incident, Notification, bool]:
    """Run (or preview, in a dry run) the approved plan; a failing action is recorded and
    escalated, and the runbook carries on to monitoring."""
    incident = _with_refusals(load(incident_id, ports), ports)
    name = incident.request.failover_plan
    plan = ports.plans.get(name) if name else None
    if name is None or plan is None:
        raise RunbookStepError(f"incident {incident_id}: no failover plan to run")
    records = run_plan(name, plan, dry_run=incident.request.dry_run, runners=runners, now=now)
    ok = all(r.ok for r in records)
    summary = "; ".join(r.detail for r in records)
    return _after_failover(
        incident,
        name=name,
        plan=plan,
        records=records,
        ok=ok,
        summary=summary,
        decision=decision,
        now=now,
        ports=ports,
    )


def failover_error(
    incident_id: str, *, error: str, cause: str, now: datetime, ports: RunbookPorts
) -> tuple[Incident, Notification]:
    """The failover step itself failed (after retries): record and escalate."""
    incident = _with_refusals(load(incident_id, ports), ports)
    name = incident.request.failover_plan or "(none)"
    record = ActionRecord(
        at=now,
        plan=name,
        kind="step",
        target="failover step",
        dry_run=incident.request.dry_run,
        ok=False,
        detail=f"FAILED: {error}: {cause[:500]}",
    )
    plan = ports.plans.get(name)
    incident, notification, _ = _after_failover(
        incident,
        name=name,
        plan=plan,
        records=[record],
        ok=False,
        summary=record.detail,
        decision=incident.decision,
        now=now,
        ports=ports,
    )
    return incident, notification


def _after_failover(
    incident: Incident,
    *,
    name: str,
    plan: FailoverPlan | None,
    records: list[ActionRecord],
    ok: bool,
    summary: str,
    decision: Decision | None,
    now: datetime,
    ports: RunbookPorts,
) -> tuple[Incident, Notification, bool]:
    escalations = incident.escalations
    if not ok:
        escalations = [*escalations, f"Failover plan {name} failed: {summary}"]
    dry = incident.request.dry_run
    done = "previewed (dry run)" if dry else "executed"
    text = f"Failover plan {name} {done}: {summary}" if ok else f"ESCALATED: {summary}"
    public = (
        "We are moving traffic away from the affected location."
        if ok and not dry
        else "We are working on the problem."
    )
    incident = incident.advanced(
        Phase.FAILOVER,
        now,
        text,
        public=public,
        decision=decision or incident.decision,
        actions=[*incident.actions, *records],
        escalations=escalations,
    )
    _save(incident, ports, now)
    lines = [f"- {r.target}: {r.detail}" for r in records]
    if decision and decision.by:
        lines.insert(0, f"Approved by {decision.by} at {iso(decision.at)}")
    if ok:
        notification = _notice(
            incident,
            ports=ports,
            key="failover",
            title=f"[{_tag(incident)}] {_mode(incident)} Failover {name}"
            f" {'previewed' if dry else 'executed'}:"
            f" {scope_of(incident)}",
            lines=lines,
            next_steps=["Check that traffic moved; Vigil monitors until recovery."],
        )
    else:
        notification = _notice(
            incident,
            ports=ports,
            key="failover-failed",
            title=f"[PAGE] {_mode(incident)} Failover {name} FAILED: {scope_of(incident)}",
            severity=Severity.CRITICAL,
            lines=lines,
            next_steps=[
                "A human takes over the failover: see the failed action above and"
                " docs/runbook.md, Failover plans.",
                *(failback_guidance(name, plan, records) if plan else []),
                "Vigil keeps monitoring.",
            ],
        )
    return incident, notification, ok


# ---------------------------------------------------------------------------- monitor
@dataclass(frozen=True)
class MonitorVerdict:
    status: Literal["recovered", "expired", "watching"]
    notify: bool
    notification: Notification | None


def monitor(
    incident_id: str,
    *,
    now: datetime,
    ports: RunbookPorts,
    signals: SignalsPort,
    health: HealthPort,
    heartbeat: timedelta,
    max_duration: timedelta,
) -> tuple[Incident, MonitorVerdict]:
    """Re-check; post only when something changed or a heartbeat is due."""
    incident = load(incident_id, ports)
    found = assess_signals(incident.request, now=now, signals=signals, health=health)
    checks = incident.checks + 1
    signature = found.signature()
    changed = signature != incident.last_signature
    last_post = incident.last_posted_at or incident.last_update
    quiet: MonitorVerdict | None = None
    if found.recovered:
        quiet = MonitorVerdict("recovered", notify=False, notification=None)
    elif now - incident.opened_at >= max_duration:
        quiet = MonitorVerdict("expired", notify=False, notification=None)
    elif not (changed or now - last_post >= heartbeat):
        quiet = MonitorVerdict("watching", notify=False, notification=None)
    if quiet is not None:
        # Nothing to post now: record the check (recovery and hand-over post in their steps).
        incident = incident.model_copy(
            update={
                "assessment": found,
                "affected_resources": _union(incident, found),
                "checks": checks,
            }
        )
        ports.incidents.save(incident.incident_id, incident.model_dump_json())
        return incident, quiet
    what = "Signals changed" if changed else "Heartbeat: no change"
    incident = incident.advanced(
        Phase.MONITOR,
        now,
        f"{what}: AWS Health {'open' if found.aws_confirmed else 'clear'};"
        f" {len(found.open_alerts)} open alerts",
        public=MONITORING
        + (" Our cloud provider is still working on the issue." if found.aws_confirmed else ""),
        assessment=found,
        affected_resources=_union(incident, found),
        last_signature=signature,
        last_posted_at=now,
        checks=checks,
    )
    _save(incident, ports, now)
    notification = _notice(
        incident,
        ports=ports,
        key=f"monitor-{checks}",
        title=f"[{_tag(incident)}] Update ({what.lower()}): {scope_of(incident)}",
        lines=found.lines(),
        next_steps=[
            f"Next heartbeat in {int(heartbeat.total_seconds() // 60)} min if nothing"
            " changes before."
        ],
    )
    return incident, MonitorVerdict("watching", notify=True, notification=notification)


def finish(
    incident_id: str,
    *,
    outcome: Literal["resolved", "handed_over"],
    now: datetime,
    ports: RunbookPorts,
    reports: ReportStorePort,
) -> tuple[Incident, Notification]:
    """Recovery (resolve) or the maximum duration reached (hand over to humans): store the
    report, link it from the record and the message, update the status page."""
    incident = load(incident_id, ports)
    name = incident.request.failover_plan
    plan = ports.plans.get(name) if name else None
    resolved = outcome == "resolved"
    if resolved:
        phase, public = (
            Phase.RESOLVED,
            "This incident has been resolved: everything is working normally again.",
        )
        text = "Recovered: AWS Health clear, no open alerts, no open outage"
    else:
        phase, public = (
            Phase.HANDED_OVER,
            "We are still working on the problem.",
        )
        text = "ESCALATED: maximum duration reached without recovery; handed over to humans"
    escalations = incident.escalations if resolved else [*incident.escalations, text]
    incident = incident.advanced(
        phase,
        now,
        text,
        public=public,
        status=outcome,
        resolved_at=now if resolved else None,
        escalations=escalations,
    )
    report = incident_report(incident, plan, end=now)
    key, url = reports.store(incident_id, report, incident.model_dump_json())
    incident = incident.model_copy(update={"report_key": key, "report_url": url})
    _save(incident, ports, now, close=True)
    guidance = (
        failback_guidance(name, plan, incident.actions)
        if plan and name
        else ["No failover was made; nothing to fail back."]
    )
    if resolved:
        notification = _notice(
            incident,
            ports=ports,
            key="resolved",
            title=f"[RESOLVED] Outage over: {scope_of(incident)}",
            resolved=True,
            lines=[f"Duration:  {incident_duration(incident, now)}", f"Report:    {url}"],
            next_steps=[*guidance, "Review the report; hold the post-incident review."],
        )
    else:
        notification = _notice(
            incident,
            ports=ports,
            key="handed-over",
            title=f"[PAGE] Runbook handed over to humans: {scope_of(incident)}",
            severity=Severity.CRITICAL,
            lines=[
                f"No recovery after {incident_duration(incident, now)} (the maximum).",
                f"Report so far: {url}",
            ],
            next_steps=[
                "A human owns the incident now: keep the status page current by hand or"
                " start a new runbook.",
                *guidance,
            ],
        )
    return incident, notification
