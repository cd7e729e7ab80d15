"""The runbook's approval gate: a failover waits for a person to approve or decline it.

The OutageRunbook workflow parks on a ``.waitForTaskToken`` task; that task records an
:class:`Approval` (the token, the plan, when it lapses) with :func:`request_approval`.
A person decides from ``vigil runbook approve|decline`` or a Slack button; both call
:func:`decide`, which claims the pending approval with a conditional write *before* it
answers the workflow, so two people pressing at once cannot both win, and a lapsed or
already-decided approval is refused with a message that says who decided and when.

Every answer to the workflow is a task *success* whose output carries the decision
(``approved`` or ``declined``); the workflow branches on it. A gate that is not answered
in time fails with ``States.Timeout`` on the workflow side, which records it with
:func:`expire` and escalates instead of proceeding.

A person who may not decide the gate is refused before anything is claimed; the refusal (who,
when, what they tried, why) is recorded on the approval, the last :data:`MAX_REFUSALS_KEPT`
with a count of all, so :func:`timeline_entries` can put them in the incident's timeline,
and :func:`refusal_notice` announces it in the channel (ADR 32).
"""

from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal, Protocol

from pydantic import AwareDatetime, Field

from vigil.alerting.messages import warning_notice
from vigil.core.clock import iso
from vigil.core.errors import ConflictError, VigilError
from vigil.core.model import Contract, Notification

MAX_REFUSALS_KEPT = 20
"""Refusals kept on an approval record (the newest); ``refusal_count`` counts them all."""


class ApprovalState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"
    EXPIRED = "expired"


class UnknownApprovalError(VigilError):
    """No approval was ever requested for the incident."""


class ApprovalClosedError(VigilError):
    """The approval was already decided, or lapsed, before this decision arrived."""


class Refusal(Contract):
    """A decision refused because the person may not make it (ADR 32)."""

    at: AwareDatetime
    by: str
    """The person as the decision would have named them (``ana (Slack U1)``, an ARN)."""
    principal: str
    """The identity checked: a Slack user id or the caller's AWS ARN."""
    action: Literal["approve", "decline"]
    via: Literal["slack", "command"]
    reason: str


class NotAuthorizedError(VigilError):
    """The person is not among the approvers the rules config names for this gate.

    ``refusal`` is what was recorded on the approval (or could not be: ``recorded`` False).
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.refusal: Refusal | None = None
        self.recorded = False


class MembershipUnknownError(NotAuthorizedError):
    """Whether the person is an approver could not be checked (a Slack user group's members
    could not be read): refused, never assumed (fail closed)."""


class Approval(Contract):
    version: Literal[1] = 1
    incident_id: str
    token: Annotated[str, Field(min_length=1, repr=False)]
    """The Step Functions task token; never shown in messages or logs."""
    plan: str
    dry_run: bool
    requested_at: AwareDatetime
    expires_at: AwareDatetime
    state: ApprovalState = ApprovalState.PENDING
    decided_by: str | None = None
    decided_at: AwareDatetime | None = None
    comment: str | None = None
    first_approver: str | None = None
    """Who approved first, when a live failover needs two approvers (``approvers.live_approvals``);
    the principal (Slack user id or ARN) that must not approve again."""
    first_approved_by: str | None = None
    refusals: list[Refusal] = Field(default_factory=list)
    """The newest refusals (at most :data:`MAX_REFUSALS_KEPT`), oldest first."""
    refusal_count: int = 0
    """Every refusal recorded, including those no longer kept."""
    revision: int = 0

    def with_refusal(self, refusal: Refusal) -> "Approval":
        """The record with ``refusal`` added (kept bounded); unchanged if already recorded
        (the same press delivered twice)."""
        if refusal in self.refusals:
            return self
        kept = [*self.refusals, refusal][-MAX_REFUSALS_KEPT:]
        return self.model_copy(update={"refusals": kept, "refusal_count": self.refusal_count + 1})

    def closed_reason(self) -> str:
        """Why a new decision is refused, for the person who tried."""
        if self.state is ApprovalState.EXPIRED:
            return f"the approval for incident {self.incident_id} lapsed at {iso(self.expires_at)}"
        when = iso(self.decided_at) if self.decided_at else "earlier"
        return (
            f"incident {self.incident_id} was already {self.state.value}"
            f" by {self.decided_by or 'someone'} at {when}"
        )


class ApprovalStorePort(Protocol):
    def get(self, incident_id: str) -> Approval | None: ...

    def save(self, before: Approval | None, after: Approval) -> Approval:
        """Write ``after`` if the stored revision is still ``before``'s (ConflictError)."""
        ...


class TaskCallbackPort(Protocol):
    def answer(self, token: str, output: dict[str, object]) -> None:
        """Send the task its success output; ApprovalClosedError when the task is gone."""
        ...


def require_approver(principal: str, allowed: Collection[str]) -> Callable[[Approval], None]:
    """The check :func:`decide` runs on the pending gate: a dry run is open to anyone who
    reached the gate; a live failover only to ``principal`` listed in ``allowed``; an empty
    list refuses everyone until approvers are configured (ADR 32)."""
    return require_listed(principal, allowed.__contains__, configured=bool(allowed))


def require_listed(
    principal: str, is_listed: Callable[[str], bool], *, configured: bool
) -> Callable[[Approval], None]:
    """:func:`require_approver` with the membership test as a function: ``is_listed`` is
    asked only for a live gate, and may raise :class:`MembershipUnknownError` (refused)."""

    def check(approval: Approval) -> None:
        if approval.dry_run:
            return
        if not configured:
            who = "no approvers are configured"
        elif is_listed(principal):
            return
        else:
            who = f"{principal} is not one of them"
        raise NotAuthorizedError(
            f"a live failover of incident {approval.incident_id} needs an approver named in"
            f" the rules config (approvers); {who}"
        )

    return check


def _arn_parts(arn: str) -> tuple[str, str, str, str] | None:
    """(partition, account, kind, name) of an IAM user or role ARN or an STS assumed-role
    session ARN; the path is dropped (a role's or user's name is unique in its account)."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    _, partition, service, _, account, resource = parts
    kind, _, rest = resource.partition("/")
    if service == "iam" and kind in ("user", "role") and rest:
        return partition, account, kind, rest.rsplit("/", 1)[-1]
    if service == "sts" and kind == "assumed-role" and rest.count("/") >= 1:
        return partition, account, "role", rest.split("/", 1)[0]
    return None


def iam_principal_listed(caller_arn: str, listed: Collection[str]) -> bool:
    """Whether the caller (``sts:GetCallerIdentity``'s ARN) is one of the ``listed`` IAM
    users or roles (``approvers.iam_principals``).

    A user matches its own ARN. An assumed-role session
    (``arn:aws:sts::123456789012:assumed-role/Oncall/ana``) matches the role it assumed
    (``arn:aws:iam::123456789012:role/Oncall``, also with a path such as
    ``role/teams/Oncall``: the session ARN carries no path, and a role's name is unique in
    its account); the partition and the account must be the same. Anything else (a
    federated user, the root user) matches nothing.
    """
    caller = _arn_parts(caller_arn)
    return caller is not None and any(_arn_parts(arn) == caller for arn in listed)


def _anyone(approval: Approval) -> None:
    """Decisions from places that authenticate on their own (IAM for the CLI)."""


def request_approval(
    incident_id: str,
    *,
    token: str,
    plan: str,
    dry_run: bool,
    now: datetime,
    timeout: timedelta,
    store: ApprovalStorePort,
) -> Approval:
    """Record a pending approval; a retried invocation with the same token finds its own record.

    A new token replaces the stored one: Step Functions issues a token per task attempt and
    starts an attempt only after the previous one ended, so an older token (a gate step retried
    after a Lambda error, or the gate entered again for another failover) waits for nothing.
    A decision already made on a closed gate is kept in the incident's timeline, not here.
    """
    before = store.get(incident_id)
    if before is not None and before.token == token:
        return before
    return store.save(
        before,
        Approval(
            incident_id=incident_id,
            token=token,
            plan=plan,
            dry_run=dry_run,
            requested_at=now,
            expires_at=now + timeout,
        ),
    )


def decide(
    incident_id: str,
    *,
    approve: bool,
    actor: str,
    now: datetime,
    store: ApprovalStorePort,
    callback: TaskCallbackPort,
    comment: str | None = None,
    authorize: Callable[[Approval], None] = _anyone,
    principal: str | None = None,
    live_approvals: int = 1,
    via: Literal["slack", "command"] = "command",
) -> Approval:
    """Approve or decline the pending failover of ``incident_id`` as ``actor``.

    Raises :class:`UnknownApprovalError`, or :class:`ApprovalClosedError` when it was already
    decided or has lapsed (also when the workflow says so, e.g. its own time-out won), or what
    ``authorize`` raises for the pending gate (:class:`NotAuthorizedError`) before anything
    is written; the conditional write then claims exactly the gate that was checked.

    With ``live_approvals`` 2, the first approval of a live failover is recorded and the gate
    stays pending (the returned approval names ``first_approved_by``); only a second approval
    by another ``principal`` (default: the actor) answers the workflow. A decline needs one.

    A refusal (:class:`NotAuthorizedError`, also the same principal approving twice) is
    recorded on the approval before it is raised; the error carries it (``refusal``).
    """
    if not actor.strip():
        raise VigilError("a decision needs the name of the person making it")
    before = store.get(incident_id)
    if before is None:
        raise UnknownApprovalError(f"incident {incident_id} has no approval to decide")
    if before.state is not ApprovalState.PENDING:
        raise ApprovalClosedError(before.closed_reason())
    who = principal or actor

    def refused(exc: NotAuthorizedError) -> NotAuthorizedError:
        refusal = Refusal(
            at=now,
            by=actor,
            principal=who,
            action="approve" if approve else "decline",
            via=via,
            reason=str(exc),
        )
        exc.refusal = refusal
        exc.recorded = record_refusal(incident_id, refusal, store=store) is not None
        return exc

    try:
        authorize(before)
    except NotAuthorizedError as exc:
        raise refused(exc) from None
    if now >= before.expires_at:
        lapsed = store.save(before, before.model_copy(update={"state": ApprovalState.EXPIRED}))
        raise ApprovalClosedError(lapsed.closed_reason())
    if approve and not before.dry_run and live_approvals > 1:
        if before.first_approver is None:
            return _claim(
                store,
                before,
                {"first_approver": who, "first_approved_by": actor},
                incident_id=incident_id,
            )
        if before.first_approver == who:
            raise refused(
                NotAuthorizedError(
                    f"{actor} already approved incident {incident_id}; a live failover needs"
                    " a second, different approver"
                )
            )
        actor = f"{before.first_approved_by} and {actor}"
    state = ApprovalState.APPROVED if approve else ApprovalState.DECLINED
    claimed = _claim(
        store,
        before,
        {"state": state, "decided_by": actor, "decided_at": now, "comment": comment},
        incident_id=incident_id,
    )
    output: dict[str, object] = {
        "decision": state.value,
        "by": actor,
        "at": iso(now),
        "comment": comment,
    }
    try:
        callback.answer(claimed.token, output)
    except ApprovalClosedError:
        store.save(claimed, claimed.model_copy(update={"state": ApprovalState.EXPIRED}))
        raise ApprovalClosedError(
            f"the workflow of incident {incident_id} no longer waits for a decision"
            " (it timed out or ended)"
        ) from None
    except Exception:
        store.save(claimed, before)
        raise
    return claimed


def _claim(
    store: ApprovalStorePort, before: Approval, update: dict[str, object], *, incident_id: str
) -> Approval:
    """Write ``update`` over the pending ``before``; a lost race is told who won."""
    try:
        return store.save(before, before.model_copy(update=update))
    except ConflictError as exc:
        latest = store.get(incident_id)
        if latest is not None and latest.state is ApprovalState.PENDING:
            what = (
                f"approved first by {latest.first_approved_by}"
                if latest.first_approved_by
                else "a refusal was recorded"
            )
            raise ApprovalClosedError(
                f"incident {incident_id} changed while deciding ({what}); try again"
            ) from exc
        reason = latest.closed_reason() if latest else f"incident {incident_id} changed"
        raise ApprovalClosedError(reason) from exc


def expire(incident_id: str, *, store: ApprovalStorePort) -> Approval | None:
    """Mark a still-pending approval as lapsed (the workflow's time-out branch)."""
    before = store.get(incident_id)
    if before is None or before.state is not ApprovalState.PENDING:
        return before
    return store.save(before, before.model_copy(update={"state": ApprovalState.EXPIRED}))


def record_refusal(
    incident_id: str, refusal: Refusal, *, store: ApprovalStorePort, attempts: int = 3
) -> Approval | None:
    """Add ``refusal`` to the approval with a revision-conditional write, reading again after
    a concurrent write (up to ``attempts`` times); ``None`` if it could not be recorded."""
    for _ in range(attempts):
        before = store.get(incident_id)
        if before is None:
            return None
        after = before.with_refusal(refusal)
        if after is before:
            return before
        try:
            return store.save(before, after)
        except ConflictError:
            continue
    return None


def timeline_entries(approval: Approval) -> list[tuple[datetime, str]]:
    """The refusals recorded on ``approval`` as incident timeline lines, oldest first:
    ``(at, text)``; a first line counts those no longer kept."""
    entries = [
        (
            r.at,
            f"Refused to {r.action} failover {approval.plan} ({r.via}) for {r.by}: {r.reason}",
        )
        for r in approval.refusals
    ]
    dropped = approval.refusal_count - len(approval.refusals)
    if dropped > 0 and approval.refusals:
        entries.insert(
            0,
            (
                approval.refusals[0].at,
                f"{dropped} earlier refused decision(s) on failover {approval.plan} not kept",
            ),
        )
    return entries


def refusal_notice(
    incident_id: str,
    refusal: Refusal,
    *,
    stack: str,
    plan: str | None = None,
    dry_run: bool | None = None,
) -> Notification:
    """The channel notice of a refused decision (a warning, to chat only: SNS attribute
    ``channels`` ``["slack"]``). Names and reasons are plain text, escaped per channel when
    rendered (ADR 33); the id is derived from the refusal, so a retried notice posts once."""
    what = f"failover {plan}" if plan else "a failover"
    mode = "" if dry_run is None else (" (dry run)" if dry_run else " (live)")
    tag = "" if dry_run is None else ("[DRY RUN] " if dry_run else "[LIVE] ")
    title = f"[WARNING] {tag}Refused: {refusal.action} {what} of incident {incident_id}"
    lines = [
        f"Who:       {refusal.by}",
        f"Identity:  {refusal.principal}",
        f"Tried:     {refusal.action} {what}{mode} ({refusal.via})",
        f"When:      {iso(refusal.at)}",
        f"Why:       {refusal.reason}",
        "Nothing was decided; the gate still waits for an approver (docs/runbook.md,"
        " Who may decide).",
    ]
    return warning_notice(
        title,
        lines,
        key=f"refusal|{incident_id}|{refusal.principal}|{iso(refusal.at)}|{refusal.action}",
        stack=stack,
        category="outage",
        footer=f"Vigil ({stack}) - docs/runbook.md",
        chat_only=True,
    )
