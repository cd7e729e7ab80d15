"""The alert lifecycle, as a pure function of (stored alert, verdict, now).

    (none) --breach--> pending --for elapsed--> firing --clear--> resolved
               \\__________ for = 0 __________/      \\--repeat_interval--> notify again

A pending alert that clears is dropped without a word: it never fired. A batch older than
what the alert already saw changes nothing. Re-applying the same batch (``last_batch``)
changes nothing either, but hands back the notification that batch decided, with the same
notification id: if the first attempt's result was lost (a retried workflow task), the
notification still goes out, and the chat channel's delivery log drops the copy if it did
not get lost after all. A duplicate is better than a lost alert.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from vigil.alerting.messages import evidence_now
from vigil.core.model import Alert, AlertState, Labels, NotifyReason, Signal
from vigil.rules.base import Breach
from vigil.rules.document import RulesConfig
from vigil.rules.kinds import EVENT_KINDS
from vigil.rules.organization import account_label


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
    def labels(self) -> Labels:
        alert = self.after or self.before
        if alert is None:
            raise ValueError("a transition from no alert to no alert has no labels")
        return alert.labels

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
    calm: Signal | None = None,
) -> Transition:
    """Advance one alert by one evaluation. ``calm`` is the alert's signal its rule judged
    normal in this batch, if any: a resolved alert shows its value."""
    if current is not None and current.last_batch == batch_id:
        replayed = current.last_reason if current.last_notified == now else None
        return Transition(current, current, replayed)
    if current is not None and now < current.last_seen:
        return Transition(current, current, None)

    if breach is None:
        return _clear(current, now=now, batch_id=batch_id, rules=rules, calm=calm)

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
            tags=_tag_labels(current, breach, rules),
        )
        return _maybe_fire(current, pending, breach, now=now)

    updated = current.model_copy(
        update={
            "last_seen": now,
            "evidence": breach.evidence,
            "last_batch": batch_id,
            "severity": breach.severity,
            "tags": _tag_labels(current, breach, rules),
        }
    )
    if current.state is AlertState.PENDING:
        return _maybe_fire(current, updated, breach, now=now)

    escalated = breach.severity.rank > current.severity.rank
    repeat_every = timedelta(minutes=breach.repeat_minutes or rules.repeat_interval_minutes)
    repeat_due = current.last_notified is None or now - current.last_notified >= repeat_every
    if escalated:
        return Transition(
            current, _notified(updated, now, NotifyReason.ESCALATED), NotifyReason.ESCALATED
        )
    # Keep the highest severity seen while firing, so a dip does not re-escalate later.
    if breach.severity.rank < current.severity.rank:
        updated = updated.model_copy(update={"severity": current.severity})
    if repeat_due:
        return Transition(
            current, _notified(updated, now, NotifyReason.REPEAT), NotifyReason.REPEAT
        )
    return Transition(current, updated, None)


def _maybe_fire(
    before: Alert | None, pending: Alert, breach: Breach, *, now: datetime
) -> Transition:
    if now - pending.first_seen >= timedelta(seconds=breach.for_seconds):
        firing = pending.model_copy(update={"state": AlertState.FIRING, "fired_at": now})
        return Transition(before, _notified(firing, now, NotifyReason.FIRING), NotifyReason.FIRING)
    return Transition(before, pending, None)


def _clear(
    current: Alert | None,
    *,
    now: datetime,
    batch_id: str,
    rules: RulesConfig,
    calm: Signal | None,
) -> Transition:
    if current is None or current.state is AlertState.RESOLVED:
        return Transition(current, current, None)
    if current.state is AlertState.PENDING:
        return Transition(current, None, None)
    resolved = current.model_copy(
        update={
            "state": AlertState.RESOLVED,
            "resolved_at": now,
            # Vigil's own alerts name a problem, not a value: they keep it.
            "evidence": current.evidence
            if current.labels.kind.startswith("vigil.")
            else evidence_now(current, calm, at=now),
            "last_seen": now,
            "last_batch": batch_id,
        }
    )
    if rules.send_resolved and current.labels.kind not in EVENT_KINDS:
        return Transition(
            current, _notified(resolved, now, NotifyReason.RESOLVED), NotifyReason.RESOLVED
        )
    return Transition(current, resolved, None)


def _tag_labels(current: Alert | None, breach: Breach, rules: RulesConfig) -> dict[str, str]:
    """The alert's labels from its resource's tags: the allowlisted ones its breach's signal
    carried and its member account's name, or, from a signal that reads no tags, the ones it
    had."""
    if breach.tags is None:
        return dict(current.tags) if current is not None else {}
    return rules.tags.label_tags(breach.tags) | account_label(breach.tags)


def _notified(alert: Alert, now: datetime, reason: NotifyReason) -> Alert:
    return alert.model_copy(
        update={"last_notified": now, "last_reason": reason, "notify_count": alert.notify_count + 1}
    )
