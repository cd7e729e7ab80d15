"""Route alert events into notification groups and flush the groups that are due.

Each group is read, advanced (``vigil.grouping``) and written conditionally on the revision
read, like an alert: two evaluations racing on one group cannot both make it speak, and the
loser decides again from what the winner wrote. A group that already spoke for this batch
hands back the notification it stored, under the same id, so a retried evaluation re-sends
(and chat de-duplicates) rather than loses or doubles it.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from vigil.errors import ConflictError
from vigil.grouping import Event, Group, flushed, pending_reason, record, settle
from vigil.model import Alert, Notification, NotifyReason, SignalBatch
from vigil.notifications import group_notification
from vigil.routing import Destination, destinations, label_values
from vigil.rules import COST_KINDS, RulesConfig

logger = Logger(child=True)

MAX_CONFLICT_RETRIES = 3


class GroupStorePort(Protocol):
    def get(self, group_id: str) -> Group | None: ...

    def open_groups(self) -> list[Group]: ...

    def save(self, before: Group | None, after: Group) -> None: ...


class AlertReader(Protocol):
    def get(self, fingerprint: str) -> Alert | None: ...


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
    stack: str,
) -> list[Notification]:
    """The notifications of every group this batch touched, and of every open group due."""
    plans: dict[str, _Plan] = {}
    seen = {alert.fingerprint: alert for alert, _ in events}
    for alert, reason in events:
        values = label_values(alert.labels, alert.severity)
        repeat = repeat_for(alert.labels.kind, rules)
        for destination in destinations(rules.routing, values, repeat_interval=repeat):
            for receiver in destination.receivers:
                group_id = destination.group_id(receiver, values)
                plan = plans.setdefault(
                    group_id,
                    _Plan(receiver, rules.routing.receiver(receiver).send_resolved, destination),
                )
                plan.key = destination.group_key(values)
                plan.events.append(Event(alert.fingerprint, reason, alert.severity))
    for group in groups.open_groups():
        plans.setdefault(group.group_id, _Plan(group.receiver, group.send_resolved))
    notifications: list[Notification] = []
    for group_id, plan in plans.items():
        notification = _advance(
            group_id,
            plan,
            batch=batch,
            rules=rules,
            groups=groups,
            alerts=alerts,
            seen=seen,
            stack=stack,
        )
        if notification is not None:
            notifications.append(notification)
    return notifications


def _advance(
    group_id: str,
    plan: _Plan,
    *,
    batch: SignalBatch,
    rules: RulesConfig,
    groups: GroupStorePort,
    alerts: AlertReader,
    seen: dict[str, Alert],
    stack: str,
) -> Notification | None:
    now = batch.collected_at
    attempt = 0
    while True:
        attempt += 1
        current = groups.get(group_id)
        if current is not None and current.last_batch == batch.batch_id:
            return current.last_notification  # a retried evaluation: the same message again
        if current is not None and now < current.updated_at:
            return None  # an older batch arriving late changes nothing
        group = _fresh(group_id, plan, current, now)
        if group is None:
            if current is None or not current.lingering:
                return None
            group = current.model_copy(update={"lingering": False})  # no longer listed
        for event in plan.events:
            group = record(group, event, now=now)
        group = settle(group, now=now)
        reason = _due(group, rules, now)
        notification = None
        after = group
        if reason is not None:
            members = {fp: seen.get(fp) or alerts.get(fp) for fp in group.members}
            present = {fp: alert for fp, alert in members.items() if alert is not None}
            replayed = {e.fingerprint: e.reason for e in plan.events}
            notification = group_notification(
                group,
                present,
                reason,
                stack=stack,
                batch_id=batch.batch_id,
                receiver=rules.routing.receiver(group.receiver),
                event_reasons=replayed,
            )
            after = flushed(group, now=now, batch_id=batch.batch_id, notification=notification)
        if after == current:
            return None
        try:
            groups.save(current, after)
        except ConflictError:
            if attempt >= MAX_CONFLICT_RETRIES:
                raise
            logger.warning("group changed concurrently, re-reading", extra={"group": group_id})
        else:
            if notification is not None:
                logger.info(
                    "group notifies",
                    extra={"group": group.key, "reason": reason, "members": len(group.members)},
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
