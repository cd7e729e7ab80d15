"""The alert lifecycle, as a pure function of (stored alert, verdict, now).

    (none) --breach--> pending --for elapsed--> firing --clear--> resolved
               \\__________ for = 0 __________/      \\--repeat_interval--> notify again

A pending alert that clears is dropped without a word: it never fired. Re-applying the same
batch is a no-op (``last_batch``), and so is a batch older than what the alert already saw,
so a retried or late evaluation never notifies twice.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from vigil.model import Alert, AlertState, NotifyReason
from vigil.rules import Breach, RulesConfig


@dataclass(frozen=True)
class Transition:
    """What to store (``None``: delete) and what, if anything, to tell people."""

    before: Alert | None
    after: Alert | None
    notify: NotifyReason | None

    @property
    def changed(self) -> bool:
        return self.before != self.after

    @property
    def name(self) -> str:
        before = self.before.state.value if self.before else "none"
        after = self.after.state.value if self.after else "none"
        return f"{before}->{after}"


def step(
    current: Alert | None,
    breach: Breach | None,
    *,
    now: datetime,
    batch_id: str,
    rules: RulesConfig,
) -> Transition:
    """Advance one alert by one evaluation."""
    if current is not None and (current.last_batch == batch_id or now < current.last_seen):
        return Transition(current, current, None)

    if breach is None:
        return _clear(current, now=now, batch_id=batch_id, rules=rules)

    if current is None or current.state is AlertState.RESOLVED:
        pending = Alert(
            labels=breach.labels,
            state=AlertState.PENDING,
            severity=breach.severity,
            first_seen=now,
            last_seen=now,
            evidence=breach.evidence,
            last_batch=batch_id,
            revision=current.revision if current else 0,
        )
        return _maybe_fire(current, pending, breach, now=now)

    updated = current.model_copy(
        update={
            "last_seen": now,
            "evidence": breach.evidence,
            "last_batch": batch_id,
            "severity": breach.severity,
        }
    )
    if current.state is AlertState.PENDING:
        return _maybe_fire(current, updated, breach, now=now)

    escalated = breach.severity.rank > current.severity.rank
    repeat_due = current.last_notified is None or now - current.last_notified >= timedelta(
        minutes=rules.repeat_interval_minutes
    )
    if escalated or repeat_due:
        reason = NotifyReason.ESCALATED if escalated else NotifyReason.REPEAT
        return Transition(current, _notified(updated, now), reason)
    # Keep the highest severity seen while firing, so a dip does not re-escalate later.
    if breach.severity.rank < current.severity.rank:
        updated = updated.model_copy(update={"severity": current.severity})
    return Transition(current, updated, None)


def _maybe_fire(
    before: Alert | None, pending: Alert, breach: Breach, *, now: datetime
) -> Transition:
    if now - pending.first_seen >= timedelta(seconds=breach.for_seconds):
        firing = pending.model_copy(update={"state": AlertState.FIRING, "fired_at": now})
        return Transition(before, _notified(firing, now), NotifyReason.FIRING)
    return Transition(before, pending, None)


def _clear(
    current: Alert | None, *, now: datetime, batch_id: str, rules: RulesConfig
) -> Transition:
    if current is None or current.state is AlertState.RESOLVED:
        return Transition(current, current, None)
    if current.state is AlertState.PENDING:
        return Transition(current, None, None)
    resolved = current.model_copy(
        update={
            "state": AlertState.RESOLVED,
            "resolved_at": now,
            "last_seen": now,
            "last_batch": batch_id,
        }
    )
    if rules.send_resolved:
        return Transition(current, _notified(resolved, now), NotifyReason.RESOLVED)
    return Transition(current, resolved, None)


def _notified(alert: Alert, now: datetime) -> Alert:
    return alert.model_copy(update={"last_notified": now, "notify_count": alert.notify_count + 1})
