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
"""

from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal, Protocol

from pydantic import AwareDatetime, Field

from vigil.clock import iso
from vigil.errors import ConflictError, VigilError
from vigil.model import Contract


class ApprovalState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"
    EXPIRED = "expired"


class UnknownApprovalError(VigilError):
    """No approval was ever requested for the incident."""


class ApprovalClosedError(VigilError):
    """The approval was already decided, or lapsed, before this decision arrived."""


class NotAuthorizedError(VigilError):
    """The person is not among the approvers the rules config names for this gate."""


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
    revision: int = 0

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

    def check(approval: Approval) -> None:
        if approval.dry_run or principal in allowed:
            return
        who = "no approvers are configured" if not allowed else f"{principal} is not one of them"
        raise NotAuthorizedError(
            f"a live failover of incident {approval.incident_id} needs an approver named in"
            f" the rules config (approvers); {who}"
        )

    return check


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
) -> Approval:
    """Approve or decline the pending failover of ``incident_id`` as ``actor``.

    Raises :class:`UnknownApprovalError`, or :class:`ApprovalClosedError` when it was already
    decided or has lapsed (also when the workflow says so, e.g. its own time-out won), or what
    ``authorize`` raises for the pending gate (:class:`NotAuthorizedError`) before anything
    is written; the conditional write then claims exactly the gate that was checked.

    With ``live_approvals`` 2, the first approval of a live failover is recorded and the gate
    stays pending (the returned approval names ``first_approved_by``); only a second approval
    by another ``principal`` (default: the actor) answers the workflow. A decline needs one.
    """
    if not actor.strip():
        raise VigilError("a decision needs the name of the person making it")
    before = store.get(incident_id)
    if before is None:
        raise UnknownApprovalError(f"incident {incident_id} has no approval to decide")
    if before.state is not ApprovalState.PENDING:
        raise ApprovalClosedError(before.closed_reason())
    authorize(before)
    if now >= before.expires_at:
        lapsed = store.save(before, before.model_copy(update={"state": ApprovalState.EXPIRED}))
        raise ApprovalClosedError(lapsed.closed_reason())
    who = principal or actor
    if approve and not before.dry_run and live_approvals > 1:
        if before.first_approver is None:
            return _claim(
                store,
                before,
                {"first_approver": who, "first_approved_by": actor},
                incident_id=incident_id,
            )
        if before.first_approver == who:
            raise NotAuthorizedError(
                f"{actor} already approved incident {incident_id}; a live failover needs a"
                " second, different approver"
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
            raise ApprovalClosedError(
                f"incident {incident_id} changed while deciding (approved first by"
                f" {latest.first_approved_by}); try again"
            ) from exc
        reason = latest.closed_reason() if latest else f"incident {incident_id} changed"
        raise ApprovalClosedError(reason) from exc


def expire(incident_id: str, *, store: ApprovalStorePort) -> Approval | None:
    """Mark a still-pending approval as lapsed (the workflow's time-out branch)."""
    before = store.get(incident_id)
    if before is None or before.state is not ApprovalState.PENDING:
        return before
    return store.save(before, before.model_copy(update={"state": ApprovalState.EXPIRED}))
