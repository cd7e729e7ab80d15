"""The incident report (Markdown) written when a runbook ends."""

from datetime import datetime

from vigil.core.clock import iso
from vigil.runbook.failover import (
    FailoverPlan,
    failback_guidance,
)
from vigil.runbook.incident import Incident, mode_of


# ---------------------------------------------------------------------------- the end
def incident_duration(incident: Incident, end: datetime) -> str:
    minutes = int((end - incident.opened_at).total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def incident_report(incident: Incident, plan: FailoverPlan | None, *, end: datetime) -> str:
    """The incident report (Markdown): timeline, duration, affected resources, actions,
    who approved, failback guidance."""
    req = incident.request
    decision = incident.decision
    lines = [
        f"# Incident report: {incident.incident_id}",
        "",
        f"- Scope: {req.service} in {req.region} ({req.severity.value})",
        f"- Reason given: {req.reason}",
        f"- Started by: {req.source}" + (f" ({req.requested_by})" if req.requested_by else ""),
        f"- Opened: {iso(incident.opened_at)}",
        f"- Ended: {iso(end)} ({incident.status.replace('_', ' ')})",
        f"- Duration: {incident_duration(incident, end)}",
        f"- AWS-confirmed: {'yes' if incident.aws_confirmed else 'no'}",
        f"- Mode: {mode_of(incident)}",
        f"- Failover plan: {req.failover_plan or 'none'}",
        "- Decision: "
        + (
            f"{decision.decision}"
            + (f" by {decision.by}" if decision.by else "")
            + f" at {iso(decision.at)}"
            + (f" ({decision.comment})" if decision.comment else "")
            if decision
            else "none asked"
        ),
        "",
        "## Affected resources",
        "",
    ]
    lines += [f"- {r}" for r in incident.affected_resources] or ["- none recorded"]
    lines += ["", "## Actions", ""]
    lines += [f"- {iso(a.at)} {a.kind} {a.target}: {a.detail}" for a in incident.actions] or [
        "- none"
    ]
    if incident.escalations:
        lines += ["", "## Escalations", "", *(f"- {e}" for e in incident.escalations)]
    lines += ["", "## Timeline", ""]
    lines += [f"- {iso(t.at)} [{t.phase}] {t.text}" for t in incident.timeline]
    lines += ["", "## Failback", ""]
    lines += (
        failback_guidance(req.failover_plan, plan, incident.actions)
        if plan and req.failover_plan
        else ["No failover was planned; nothing to fail back."]
    )
    return "\n".join(lines) + "\n"
