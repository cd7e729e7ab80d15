"""Outage correlation: suspect an AWS outage from Vigil's own signals, confirm it with AWS
Health, mute the per-resource alerts it explains, and release them when it ends.

One outage per AWS service and region (pk ``OUTAGE#<service>#<region>``)::

    (none) --min_resources of one service+region breach--> suspected --Health issue--> confirmed
    (none) --Health issue opens for a watched service--------------------------------> confirmed
    suspected --fewer than min_resources breach--> resolved

    confirmed --the confirming Health issue closes--> resolved

Evidence accumulates while an outage is open: every resource that breached, with its
latest numbers, and the accounts they belong to. One evaluation may carry the breaches of
several accounts (a minute of every member's metrics, ADR 51), so a resource is an account's
resource: ``orders-api`` failing in two accounts is two resources, and a regional outage across
accounts is one outage naming them (ADR 52).

The service of a signal is the first part of its kind (``lambda.errors`` -> ``lambda``); the
service of a Health event is its service code in lower case (``LAMBDA`` -> ``lambda``).
"""

import hashlib
import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Protocol

from pydantic import AwareDatetime, Field

from vigil.alerting.messages import account_label, publishable
from vigil.alerting.outbox import OutboxEntry
from vigil.core.clock import iso
from vigil.core.model import (
    Alert,
    ChatPayload,
    Contract,
    HealthEvent,
    Notification,
    NotifyReason,
    RunbookStart,
    Severity,
)
from vigil.rules.base import Breach, plural
from vigil.rules.health import OutageConfig
from vigil.rules.organization import ACCOUNT_NAME_LABEL

MAX_LISTED = 20
MAX_MUTED_LISTED = 2_000
"""Muted alerts an outage lists (about 46 KB of fingerprints); beyond, it counts them."""
MAX_EVIDENCE = 1_000
"""Evidence an outage keeps (about 170 KB; 265 KB with 64-character function names in accounts
with 50-character names, the longest Lambda and Organizations allow); a message lists the first
``MAX_LISTED``."""
MAX_ACCOUNTS = 100
"""Accounts an outage lists (about 8 KB with their names); beyond, it counts them."""
MAX_ACCOUNTS_NAMED = 5
"""Accounts a message names; the rest are counted ("and 3 more accounts")."""


class OutageState(StrEnum):
    SUSPECTED = "suspected"
    CONFIRMED = "confirmed"
    RESOLVED = "resolved"


class OutageEvidence(Contract):
    resource: str
    kind: str
    summary: str
    account: str = Field(
        default="",
        description="The resource's account; empty in evidence stored before outages named"
        " accounts, which reads as the outage's own account.",
    )
    account_name: str = Field(default="", description="Its name in Organizations, if known.")


class OutageAccount(Contract):
    """An account whose resources an outage saw failing."""

    id: str
    name: str = ""

    @property
    def label(self) -> str:
        return account_label(self.id, self.name)


class Outage(Contract):
    version: Literal[1] = 1
    service: str
    region: str
    account: str
    state: OutageState
    incident: str = Field(description="Idempotent name of this outage's runbook execution.")
    opened_at: AwareDatetime
    confirmed_at: AwareDatetime | None = None
    resolved_at: AwareDatetime | None = None
    last_seen: AwareDatetime
    last_batch: str
    evidence: list[OutageEvidence] = Field(default_factory=list)
    health_arn: str | None = None
    health_event_type: str | None = None
    health_text: str = ""
    muted: list[str] = Field(
        default_factory=list,
        description=f"Fingerprints of muted alerts, the first {MAX_MUTED_LISTED} of them.",
    )
    muted_count: int | None = Field(
        default=None, description="How many alerts it muted, when more than are listed."
    )
    evidence_counts: tuple[int, int] | None = Field(
        default=None,
        description=f"(signals, resources) of the evidence, when more than the {MAX_EVIDENCE}"
        " kept.",
    )
    accounts: list[OutageAccount] = Field(
        default_factory=list,
        description=f"The accounts of the failing resources, the first {MAX_ACCOUNTS} seen.",
    )
    account_count: int | None = Field(
        default=None,
        description="How many accounts, when more than are listed (at least as many as any"
        " one batch showed).",
    )
    revision: int = 0

    @property
    def signals(self) -> int:
        return self.evidence_counts[0] if self.evidence_counts else len(self.evidence)

    @property
    def resources(self) -> int:
        if self.evidence_counts:
            return self.evidence_counts[1]
        return len({(e.account or self.account, e.resource) for e in self.evidence})

    @property
    def spanned(self) -> list[OutageAccount]:
        """The accounts listed; for an outage stored before outages listed them, its own
        account when it has evidence."""
        if self.accounts or not self.evidence:
            return self.accounts
        return [OutageAccount(id=self.account)]

    @property
    def account_total(self) -> int:
        return self.account_count if self.account_count is not None else len(self.spanned)

    @property
    def muted_total(self) -> int:
        return self.muted_count if self.muted_count is not None else len(self.muted)

    def with_muted(self, fingerprints: list[str]) -> "Outage":
        """This outage having muted ``fingerprints`` too. The list is bounded, so that the
        item stays far below DynamoDB's 400 KB whatever the storm (ADR 28); the count is not.
        """
        listed = dict.fromkeys(self.muted)
        new = [fp for fp in fingerprints if fp not in listed]
        if not new:
            return self
        total = self.muted_total + len(new)
        merged = [*self.muted, *new][:MAX_MUTED_LISTED]
        return self.model_copy(
            update={"muted": merged, "muted_count": total if total > len(merged) else None}
        )

    @property
    def is_open(self) -> bool:
        return self.state is not OutageState.RESOLVED

    def explains(self, alert: Alert, config: OutageConfig) -> bool:
        """Whether this open outage explains (and so mutes) a per-resource alert."""
        labels = alert.labels
        return (
            self.is_open
            and config.inhibit
            and labels.kind in config.kinds
            and service_of(labels.kind) == self.service
            and labels.region == self.region
        )


class OutageStorePort(Protocol):
    def get(self, service: str, region: str) -> Outage | None: ...

    def open_outages(self) -> list[Outage]: ...

    def save(
        self, before: Outage | None, after: Outage, outbox: Sequence[OutboxEntry] = ()
    ) -> None:
        """Write ``after`` if ``before`` is still stored, with the notifications it decided."""
        ...


class OutageChange(StrEnum):
    SUSPECTED = "suspected"
    CONFIRMED = "confirmed"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class OutageStep:
    before: Outage | None
    after: Outage
    change: OutageChange | None


def service_of(kind: str) -> str:
    return kind.split(".", 1)[0]


def incident_name(service: str, region: str, opened_at: datetime) -> str:
    return f"outage-{service}-{region}-{opened_at:%Y%m%dT%H%M}Z"


# ---------------------------------------------------------------------------- decisions
def suspicion(
    current: Outage | None,
    breaches: list[Breach],
    *,
    service: str,
    region: str,
    now: datetime,
    batch_id: str,
    config: OutageConfig,
    lift: bool = True,
) -> OutageStep | None:
    """Apply one evaluation's breaches of one service and region to its outage.

    The breaches may come from several accounts; a resource is an account's resource, so
    ``min_resources`` counts (account, resource) pairs across every account of the region.
    ``lift=False`` when the evaluation did not read every account the outage spans (a target
    of the collect workflow failed, ADR 51): too few breaches then say nothing, and a
    suspected outage stays open.
    """
    evidence = [
        OutageEvidence(
            resource=b.labels.resource,
            kind=b.labels.kind,
            summary=b.evidence.summary,
            account=b.labels.account,
            account_name=(b.tags or {}).get(ACCOUNT_NAME_LABEL, ""),
        )
        for b in sorted(
            breaches, key=lambda b: (b.labels.account, b.labels.resource, b.labels.kind)
        )
    ]
    resources = {(e.account, e.resource) for e in evidence}
    enough = len(resources) >= config.min_resources
    if current is None or not current.is_open:
        if not enough:
            return None
        opened = Outage(
            service=service,
            region=region,
            account=evidence[0].account,
            state=OutageState.SUSPECTED,
            incident=incident_name(service, region, now),
            opened_at=now,
            last_seen=now,
            last_batch=batch_id,
            revision=current.revision if current else 0,
            **_bounded(evidence),
            **_spanning(None, evidence),
        )
        return OutageStep(current, opened, OutageChange.SUSPECTED)
    if current.state is OutageState.SUSPECTED and not enough and lift:
        return OutageStep(current, _resolved(current, now, batch_id), OutageChange.RESOLVED)
    if not evidence:
        return None
    earlier = [
        e if e.account else e.model_copy(update={"account": current.account})
        for e in current.evidence
    ]
    merged = {(e.account, e.resource, e.kind): e for e in [*earlier, *evidence]}
    updated = current.model_copy(
        update={
            "last_seen": now,
            "last_batch": batch_id,
            **_bounded([merged[key] for key in sorted(merged)], at_least=current),
            **_spanning(current, evidence),
        }
    )
    return OutageStep(current, updated, None)


def _bounded(evidence: list[OutageEvidence], at_least: Outage | None = None) -> dict[str, Any]:
    """The evidence an outage keeps: the first ``MAX_EVIDENCE``, and the counts of all (at
    least what the outage counted before) when there are more."""
    signals = max(len(evidence), at_least.signals if at_least else 0)
    resources = max(
        len({(e.account, e.resource) for e in evidence}), at_least.resources if at_least else 0
    )
    capped = signals > MAX_EVIDENCE or (at_least is not None and at_least.evidence_counts)
    return {
        "evidence": evidence[:MAX_EVIDENCE],
        "evidence_counts": (signals, resources) if capped else None,
    }


def _spanning(current: Outage | None, evidence: list[OutageEvidence]) -> dict[str, Any]:
    """The accounts an outage lists once ``evidence`` (all of it, not only what the outage
    keeps) is in: those it listed, then the new ones, the first ``MAX_ACCOUNTS`` seen, each
    with its latest known name; and how many when more. An account beyond the list may have
    been counted before, so the count is at least the larger of what the outage counted and
    what this evidence shows."""
    listed = {a.id: a for a in (current.spanned if current else [])}
    unlisted: set[str] = set()
    for e in evidence:
        known = listed.get(e.account)
        if known is None and len(listed) >= MAX_ACCOUNTS:
            unlisted.add(e.account)
        elif known is None or (e.account_name and e.account_name != known.name):
            listed[e.account] = OutageAccount(id=e.account, name=e.account_name)
    total = max(len(listed) + len(unlisted), current.account_total if current else 0)
    return {
        "accounts": list(listed.values()),
        "account_count": total if total > len(listed) else None,
    }


def health_update(
    current: Outage | None,
    event: HealthEvent,
    *,
    now: datetime,
    batch_id: str,
    config: OutageConfig,
) -> OutageStep | None:
    """Apply a Health issue to the outage of its service and region."""
    watched = {service_of(kind) for kind in config.kinds}
    if event.category != "issue" or event.service_key not in watched or event.region == "global":
        return None
    if event.status == "closed":
        if current is not None and current.is_open and current.health_arn == event.arn:
            closed = _resolved(current, now, batch_id).model_copy(
                update={"health_text": event.description.strip() or current.health_text}
            )
            return OutageStep(current, closed, OutageChange.RESOLVED)
        return None
    if event.status != "open":
        return None
    aws: dict[str, object] = {
        "health_arn": event.arn,
        "health_event_type": event.event_type_code,
        "health_text": event.description.strip(),
        "last_seen": now,
        "last_batch": batch_id,
    }
    if current is None or not current.is_open:
        opened = Outage(
            service=event.service_key,
            region=event.region,
            account=event.account or "000000000000",
            state=OutageState.CONFIRMED,
            incident=incident_name(event.service_key, event.region, now),
            opened_at=now,
            confirmed_at=now,
            last_seen=now,
            last_batch=batch_id,
            health_arn=event.arn,
            health_event_type=event.event_type_code,
            health_text=event.description.strip(),
            revision=current.revision if current else 0,
        )
        return OutageStep(current, opened, OutageChange.CONFIRMED)
    if current.state is OutageState.SUSPECTED:
        confirmed = current.model_copy(
            update={**aws, "state": OutageState.CONFIRMED, "confirmed_at": now}
        )
        return OutageStep(current, confirmed, OutageChange.CONFIRMED)
    return OutageStep(current, current.model_copy(update=aws), None)


def _resolved(outage: Outage, now: datetime, batch_id: str) -> Outage:
    return outage.model_copy(
        update={
            "state": OutageState.RESOLVED,
            "resolved_at": now,
            "last_seen": now,
            "last_batch": batch_id,
        }
    )


# ---------------------------------------------------------------------------- runbook
def runbook_start(outage: Outage) -> RunbookStart:
    """The runbook input for an outage (the runbook validates it: docs/runbook.md)."""
    document = {
        "service": outage.service,
        "region": outage.region,
        "severity": Severity.CRITICAL.value,
        "reason": _reason(outage),
        "dry_run": True,
        "source": "vigil",
        "requested_by": "vigil-outage-correlation",
    }
    return RunbookStart(name=outage.incident, input=json.dumps(document, separators=(",", ":")))


def _reason(outage: Outage) -> str:
    reason = (
        f"AWS outage {outage.state.value}: {outage.service} in {outage.region}"
        + (f" ({outage.health_event_type})" if outage.health_event_type else "")
        + (f"; {_resources(outage)} resources failing" if outage.evidence else "")
        + (f" in {outage.account_total} accounts" if outage.account_total > 1 else "")
    )
    return reason[:500]


def start_command(outage: Outage, *, stack: str, runbook_arn: str) -> str:
    """The ``vigil`` command that starts the runbook for ``outage`` by hand (docs/runbook.md,
    "Started by Vigil"): a dry run named after the incident, so running it twice, or by two
    people, starts one execution. The stack's region (the global ``--region``, read from the
    state machine's ARN) comes before ``runbook``; the outage's region is
    ``--affected-region``."""
    parts = ["vigil", "--stack", stack]
    arn = runbook_arn.split(":")
    if len(arn) > 3 and arn[2] == "states" and arn[3]:
        parts += ["--region", arn[3]]
    parts += [
        "runbook",
        "start",
        "--service",
        outage.service,
        "--affected-region",
        outage.region,
        "--name",
        outage.incident,
        "--reason",
        _reason(outage),
    ]
    return shlex.join(parts)


# ---------------------------------------------------------------------------- messages
@dataclass(frozen=True)
class Release:
    """What happened to the alerts an outage muted, when it ended."""

    still_firing: list[str]
    resolved_meanwhile: int


def outage_notification(
    outage: Outage,
    change: OutageChange,
    *,
    stack: str,
    runbook: Literal["start", "suggest"],
    runbook_arn: str,
    release: Release | None = None,
) -> Notification:
    where = f"{outage.service} in {outage.region}"
    several = outage.account_total > 1
    if change is OutageChange.SUSPECTED:
        title = f"[CRITICAL] Suspected AWS outage: {where}"
        across = f" in {outage.account_total} accounts" if several else ""
        lead = (
            f"{outage.signals} signals across {_resources(outage)} resources{across} of"
            f" {outage.service} in {outage.region} are failing at once. AWS has not confirmed"
            " an issue yet."
        )
    elif change is OutageChange.CONFIRMED:
        title = f"[CRITICAL] AWS outage confirmed by AWS: {where}"
        lead = f"AWS Health reports an open issue ({outage.health_event_type}) for {where}."
    else:
        title = f"[RESOLVED] AWS outage over: {where}"
        lead = (
            "AWS Health closed the issue."
            if outage.health_arn
            else "Fewer resources are failing than the outage threshold; the suspicion is lifted."
        )
    lines = [title, "", lead]
    if outage.spanned:
        lines += ["", accounts_line(outage)]
    if outage.health_text and change is not OutageChange.SUSPECTED:
        lines += ["", "AWS says:", outage.health_text]
    lines += _evidence_lines(outage)
    if outage.muted:
        verb = "were" if change is OutageChange.RESOLVED else "are"
        lines += [
            "",
            f"{outage.muted_total} per-resource alert notifications {verb} muted while this"
            " outage is open (still recorded; released when it ends).",
        ]
    if release is not None:
        lines += [
            "",
            f"Released: {len(release.still_firing)} still firing (sent again now),"
            f" {release.resolved_meanwhile} resolved meanwhile.",
        ]
    opened = f"Opened:    {iso(outage.opened_at)}"
    command = None
    if change is OutageChange.RESOLVED:
        lines += ["", opened]
    else:
        lines += ["", f"Incident:  {outage.incident}", opened]
        if runbook == "start":
            lines.append("Runbook:   started automatically (dry run).")
        else:
            command = start_command(outage, stack=stack, runbook_arn=runbook_arn)
            lines.append("Runbook:   not started. To start it (a dry run), run:")
    email = [*lines, *(["", f"    {command}"] if command else [])]
    text = "\n".join([*email, "", "--", f"Vigil ({stack})"]) + "\n"
    notification_id = hashlib.sha256(
        f"outage|{outage.incident}|{change.value}".encode()
    ).hexdigest()[:24]
    chat = ChatPayload(
        notification_id=notification_id,
        category="outage",
        reason=NotifyReason.RESOLVED if change is OutageChange.RESOLVED else NotifyReason.FIRING,
        severity=Severity.CRITICAL,
        title=title,
        text="\n".join(lines[2:]),  # each channel caps it after escaping (ADR 33)
        stack=stack,
        alerts=[],
        command=command,
    )
    return publishable(
        chat, text=text, status="resolved" if change is OutageChange.RESOLVED else "firing"
    )


def _evidence_lines(outage: Outage) -> list[str]:
    """The first ``MAX_LISTED`` pieces of evidence; each with its account's latest known name
    (or its id) when the outage spans several."""
    if not outage.evidence:
        return []
    several = outage.account_total > 1
    names = {a.id: a.name for a in outage.spanned if a.name}
    lines = ["", "Evidence (Vigil's own signals):"]
    for e in outage.evidence[:MAX_LISTED]:
        account = e.account or outage.account
        where = f" ({names.get(account) or e.account_name or account})" if several else ""
        lines.append(f"  - {e.resource}{where} {e.kind}: {e.summary}")
    if outage.signals > MAX_LISTED:
        lines.append(f"  - ...and {outage.signals - MAX_LISTED} more")
    return lines


def accounts_line(outage: Outage) -> str:
    """The accounts an outage spans, by name with their id: every one up to
    ``MAX_ACCOUNTS_NAMED``, else the first ones and how many more."""
    listed, total = outage.spanned, outage.account_total
    if total == 1:
        return f"Account:   {listed[0].label}"
    named = [a.label for a in listed[:MAX_ACCOUNTS_NAMED]]
    more = total - len(named)
    return (
        f"Accounts ({total}): "
        + ", ".join(named)
        + (f" and {plural(more, 'more account')}" if more else "")
    )


def _resources(outage: Outage) -> int:
    return outage.resources
