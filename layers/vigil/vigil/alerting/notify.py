"""Route alert events into notification groups and flush the groups that are due.

Each group is read, advanced (``vigil.alerting.grouping``) and written conditionally on the revision
read, like an alert: two evaluations racing on one group cannot both make it speak, and the
loser decides again from what the winner wrote. The write carries the group's notification
into the outbox in the same transaction (``vigil.alerting.outbox``), so a decided message is never
lost. A group that already spoke for this batch hands back the notification it stored.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from vigil.alerting.grouping import (
    Event,
    Group,
    flushed,
    overflow_part,
    pending_reason,
    record,
    settle,
)
from vigil.alerting.messages import (
    DIGEST_LINES,
    MAX_MESSAGES,
    GroupMessage,
    Runbooks,
    addressed,
    digest,
    group_message,
    group_notification,
    runbook_lookup,
)
from vigil.alerting.outbox import OutboxEntry, OutboxPort
from vigil.core.errors import ConflictError
from vigil.core.model import Alert, Notification, NotifyReason, SignalBatch
from vigil.rules.document import RulesConfig
from vigil.rules.kinds import COST_KINDS
from vigil.rules.routing import Destination, destinations, label_values

logger = Logger(child=True)

MAX_CONFLICT_RETRIES = 3


class GroupStorePort(Protocol):
    def get(self, group_id: str) -> Group | None: ...

    def open_groups(self) -> list[Group]: ...

    def save(
        self, before: Group | None, after: Group, outbox: Sequence[OutboxEntry] = ()
    ) -> None: ...


class AlertReader(Protocol):
    def get_many(self, fingerprints: Sequence[str]) -> dict[str, Alert]: ...


@dataclass
class _Plan:
    receiver: str
    send_resolved: bool
    destination: Destination | None = None
    key: str = ""
    events: list[Event] = field(default_factory=list)


def repeat_for(kind: str, rules: RulesConfig) -> timedelta:
    """The repeat interval a route that sets none uses: the cost rule's for cost alerts."""
    minutes = (
        rules.cost.repeat_interval_minutes if kind in COST_KINDS else rules.repeat_interval_minutes
    )
    return timedelta(minutes=minutes)


def notify_groups(
    events: list[tuple[Alert, NotifyReason]],
    *,
    batch: SignalBatch,
    rules: RulesConfig,
    groups: GroupStorePort,
    alerts: AlertReader,
    outbox: OutboxPort,
    stack: str,
    room: int = MAX_MESSAGES,
    quiet: Sequence[Alert] = (),
) -> list[Notification]:
    """The notifications of every group this batch touched, and of every open group due.

    Each group that speaks is committed with its notification in the outbox. When more than
    ``room`` groups speak at once (a storm), the most severe ``room`` are rendered and sent;
    the others are committed as heard and named in one digest, which goes to the outbox
    first (its id is the batch's, so a retried evaluation writes the same digest once).
    ``quiet`` alerts resolved without a word: each leaves its groups unannounced.
    """
    plans: dict[str, _Plan] = {}
    seen = {alert.fingerprint: alert for alert, _ in events}
    routed = [(alert, reason, False) for alert, reason in events]
    routed += [(alert, NotifyReason.RESOLVED, True) for alert in quiet]
    for alert, reason, silent in routed:
        values = label_values(alert.labels, alert.severity, alert.tags)
        repeat = repeat_for(alert.labels.kind, rules)
        for destination in destinations(rules.routing, values, repeat_interval=repeat):
            for receiver in destination.receivers:
                group_id = destination.group_id(receiver, values)
                plan = plans.setdefault(
                    group_id,
                    _Plan(receiver, rules.routing.receiver(receiver).send_resolved, destination),
                )
                plan.key = destination.group_key(values)
                plan.events.append(Event(alert.fingerprint, reason, alert.severity, silent))
    for group in groups.open_groups():
        plans.setdefault(group.group_id, _Plan(group.receiver, group.send_resolved))
    context = _Context(batch, rules, groups, alerts, seen, stack, runbook_lookup(rules, batch))
    notifications: list[Notification] = []
    decisions: list[_Decision] = []
    queue = list(plans.items())
    while queue:
        group_id, plan = queue.pop()
        decided, spilled = _decide(group_id, plan, context)
        if isinstance(decided, Notification):
            notifications.append(decided)  # a retried evaluation: the same message again
        elif decided is not None:
            decisions.append(decided)
        if spilled:
            part = replace(plan, events=spilled)
            queue.append((overflow_part(group_id), part))
    speaking = sorted(
        ((d, d.message) for d in decisions if d.message is not None),
        key=lambda pair: -pair[1].severity.rank,
    )
    rest = speaking[max(room, 0) :]
    folded = {id(d) for d, _ in rest}
    if folded:
        listed = [message.headline for _, message in rest[:DIGEST_LINES]]
        root = [rules.routing.receiver(name) for name in rules.routing.route.receivers or []]
        summary = digest(listed, total=len(rest), stack=stack, batch_id=batch.batch_id)
        addressed_digests = [addressed(summary, r) for r in root]
        outbox.put([OutboxEntry.decided_by(n, batch) for n in addressed_digests])
        logger.info("flood control", extra={"folded": len(folded), "sent": room})
    else:
        addressed_digests = []
    for decision in decisions:
        notification = _commit(decision, context, fold=id(decision) in folded)
        if notification is not None:
            notifications.append(notification)
    return notifications + addressed_digests


@dataclass(frozen=True)
class _Context:
    batch: SignalBatch
    rules: RulesConfig
    groups: GroupStorePort
    alerts: AlertReader
    seen: dict[str, Alert]
    stack: str
    runbooks: Runbooks


@dataclass(frozen=True)
class _Decision:
    """A group's next state, decided from ``current`` and not yet written."""

    group_id: str
    plan: _Plan
    current: Group | None
    group: Group
    message: GroupMessage | None


def _decide(
    group_id: str, plan: _Plan, ctx: _Context
) -> tuple[_Decision | Notification | None, list[Event]]:
    """Read the group and decide what it does now; a replayed batch gets back the message it
    decided, an older batch nothing. Also the events the group has no room for."""
    now = ctx.batch.collected_at
    current = ctx.groups.get(group_id)
    if current is not None and current.last_batch == ctx.batch.batch_id:
        spilled = [e for e in plan.events if e.fingerprint not in current.members]
        return current.last_notification, spilled if current.overflow else []
    if current is not None and now < current.updated_at:
        return None, []  # an older batch arriving late changes nothing
    group = _fresh(group_id, plan, current, now)
    if group is None:
        if current is None or not current.lingering:
            return None, []
        group = current.model_copy(update={"lingering": False})  # no longer listed
    group, spilled = record(group, plan.events, now=now)
    group = settle(group, now=now)
    reason = _due(group, ctx.rules, now)
    message = None
    if reason is not None:
        unseen = [fp for fp in group.members if fp not in ctx.seen]
        read = ctx.alerts.get_many(unseen) if unseen else {}
        members = {fp: ctx.seen.get(fp) or read.get(fp) for fp in group.members}
        present = {fp: alert for fp, alert in members.items() if alert is not None}
        replayed = {e.fingerprint: e.reason for e in plan.events}
        message = group_message(group, present, reason, event_reasons=replayed)
    if message is None and group == current:
        return None, spilled
    return _Decision(group_id, plan, current, group, message), spilled


def _commit(decision: _Decision, ctx: _Context, *, fold: bool) -> Notification | None:
    """Write the decided group with its notification (rendered unless folded into the
    digest); on a lost race, read again, decide again and send what that decides."""
    attempt = 0
    while True:
        attempt += 1
        notification = None
        after = decision.group
        if decision.message is not None:
            if not fold:
                notification = group_notification(
                    decision.message,
                    stack=ctx.stack,
                    batch_id=ctx.batch.batch_id,
                    receiver=ctx.rules.routing.receiver(decision.group.receiver),
                    now=ctx.batch.collected_at,
                    runbooks=ctx.runbooks,
                )
            after = flushed(
                decision.group,
                now=ctx.batch.collected_at,
                batch_id=ctx.batch.batch_id,
                notification=notification,
            )
        if after == decision.current:
            return None
        entries = [] if notification is None else [OutboxEntry.decided_by(notification, ctx.batch)]
        try:
            ctx.groups.save(decision.current, after, entries)
        except ConflictError:
            if attempt >= MAX_CONFLICT_RETRIES:
                raise
            logger.warning(
                "group changed concurrently, re-reading", extra={"group": decision.group_id}
            )
            # what spilled the first time spilled then too: the parts are decided on their own
            again, _ = _decide(decision.group_id, decision.plan, ctx)
            if not isinstance(again, _Decision):
                return again
            decision, fold = again, False
        else:
            if decision.message is not None and not fold:
                logger.info(
                    "group notifies",
                    extra={
                        "group": decision.group.key,
                        "reason": decision.message.group_reason,
                        "members": len(decision.group.members),
                    },
                )
            return notification


def _due(group: Group, rules: RulesConfig, now: datetime) -> NotifyReason | None:
    """Why the group speaks now, unless a time interval of its route mutes it."""
    reason = pending_reason(group, now=now)
    if reason is not None and rules.routing.muted(
        group.mute_time_intervals, group.active_time_intervals, now
    ):
        logger.info("group muted by a time interval", extra={"group": group.key})
        return None
    return reason


def _fresh(group_id: str, plan: _Plan, current: Group | None, now: datetime) -> Group | None:
    """The group to advance: the stored one, or a new one when none is open and an alert
    fires (a resolution alone opens no group)."""
    settings = plan.destination
    if current is not None and current.is_open:
        if settings is None:
            return current
        return current.model_copy(update={"send_resolved": plan.send_resolved, **_timing(settings)})
    if settings is None or not any(e.reason is not NotifyReason.RESOLVED for e in plan.events):
        return None
    return Group(
        group_id=group_id,
        receiver=plan.receiver,
        route=settings.route,
        key=plan.key,
        created_at=now,
        updated_at=now,
        revision=current.revision if current else 0,
        overflow=current.overflow if current else False,
        send_resolved=plan.send_resolved,
        **_timing(settings),
    )


def _timing(settings: Destination) -> dict[str, Any]:
    """What a group keeps of its route's settings, so that a later evaluation (a group due
    with no event of its own) decides with them."""
    return {
        "group_wait_seconds": int(settings.group_wait.total_seconds()),
        "group_interval_seconds": int(settings.group_interval.total_seconds()),
        "repeat_interval_seconds": int(settings.repeat_interval.total_seconds()),
        "for_seconds": int(settings.for_.total_seconds()),
        "keep_firing_for_seconds": int(settings.keep_firing_for.total_seconds()),
        "mute_time_intervals": settings.mute_time_intervals,
        "active_time_intervals": settings.active_time_intervals,
    }
