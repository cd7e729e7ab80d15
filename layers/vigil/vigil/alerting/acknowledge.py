"""Acknowledge notification groups: someone took them in hand (ADR 44).

The acknowledgement is stored on the group (:func:`vigil.alerting.grouping.acknowledge`), which
then stops repeating while it holds. The target is a group id, or an alert fingerprint: every
open group the alert fires in. Each group is written conditionally on the revision read
(retried on a lost race), with, when its receiver pages through PagerDuty and the
acknowledgement did not come from PagerDuty itself, the notification that acknowledges the
PagerDuty incident in the outbox of the same write. The next evaluation publishes it once it
is older than the outbox's orphan delay (``vigil.alerting.outbox.ORPHAN_AFTER``).
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from vigil.alerting.grouping import Group, acknowledge
from vigil.alerting.messages import publishable
from vigil.alerting.notify import GroupStorePort
from vigil.alerting.outbox import OutboxEntry
from vigil.core.clock import iso
from vigil.core.errors import ConflictError, VigilError
from vigil.core.model import ChatPayload, NotifyReason
from vigil.rules.routing import RoutingConfig

ACKNOWLEDGEMENT = "acknowledgement"
"""The category of the notification that acknowledges a group's PagerDuty incident (the
PagerDuty channel renders it as ``event_action: acknowledge``; it reaches nothing else)."""

MAX_ATTEMPTS = 3

Via = Literal["slack", "cli", "pagerduty"]


class NothingAcknowledged(VigilError):
    """No open group has that id, or has that alert firing."""


@dataclass(frozen=True)
class Acknowledged:
    """One group's outcome: ``acknowledged`` now, or ``already`` (an acknowledgement that
    still holds, whose author stays on record)."""

    group_id: str
    key: str
    receiver: str
    outcome: Literal["acknowledged", "already"]
    by: str
    at: datetime
    firing: int


def targets(groups: GroupStorePort, target: str, *, alerts: bool = True) -> list[Group]:
    """The open groups ``target`` names: the group of that id, else (with ``alerts``) every
    group in which the alert of that fingerprint fires."""
    group = groups.get(target)
    if group is not None and group.firing:
        return [group]
    found = [g for g in groups.open_groups() if target in g.firing] if alerts else []
    if not found:
        named = f"the alert {target!r} firing" if alerts else "anything firing"
        raise NothingAcknowledged(f"no open group has the id {target!r} or {named}")
    return sorted(found, key=lambda g: g.group_id)


def acknowledge_target(
    groups: GroupStorePort,
    target: str,
    *,
    by: str,
    via: Via,
    now: datetime,
    routing: RoutingConfig,
    stack: str,
    comment: str | None = None,
    alerts: bool = True,
) -> list[Acknowledged]:
    """Acknowledge every group ``target`` names (see :func:`targets`). A Slack button and
    PagerDuty name one group (``alerts=False``: no scan of the open groups)."""
    return [
        _acknowledge_one(
            groups, group, by=by, via=via, now=now, routing=routing, stack=stack, comment=comment
        )
        for group in targets(groups, target, alerts=alerts)
    ]


def _acknowledge_one(
    groups: GroupStorePort,
    group: Group,
    *,
    by: str,
    via: Via,
    now: datetime,
    routing: RoutingConfig,
    stack: str,
    comment: str | None,
) -> Acknowledged:
    current: Group | None = group
    for attempt in range(1, MAX_ATTEMPTS + 1):  # a lost race: read again, acknowledge again
        if current is None or not current.firing:
            raise NothingAcknowledged(f"group {group.key} no longer has anything firing")
        after = acknowledge(current, by=by, via=via, now=now, comment=comment)
        if after == current:
            return _outcome(current, "already")
        try:
            groups.save(current, after, _tell_pagerduty(after, via, routing, stack, now))
        except ConflictError:
            if attempt == MAX_ATTEMPTS:
                raise
            current = groups.get(group.group_id)
        else:
            return _outcome(after, "acknowledged")
    raise NothingAcknowledged(f"group {group.key} kept changing; try again")


def _outcome(group: Group, outcome: Literal["acknowledged", "already"]) -> Acknowledged:
    ack = group.acknowledged
    by, at = (ack.by, ack.at) if ack else ("", group.updated_at)
    return Acknowledged(
        group.group_id, group.key, group.receiver, outcome, by, at, len(group.firing)
    )


def _tell_pagerduty(
    group: Group, via: Via, routing: RoutingConfig, stack: str, now: datetime
) -> Sequence[OutboxEntry]:
    """The notification that acknowledges the group's PagerDuty incident: none when its
    receiver has no PagerDuty or PagerDuty is where it was acknowledged."""
    receiver = routing.receiver(group.receiver)
    ack = group.acknowledged
    if via == "pagerduty" or not receiver.pagerduty or ack is None:
        return []
    key = f"{ACKNOWLEDGEMENT}|{group.group_id}|{iso(ack.at)}"
    chat = ChatPayload(
        notification_id=hashlib.sha256(key.encode()).hexdigest()[:24],
        category=ACKNOWLEDGEMENT,
        reason=NotifyReason.FIRING,
        severity=group.severity,
        title=f"Acknowledged by {ack.by}: {group.key}",
        text=ack.comment or "",
        stack=stack,
        alerts=[],
        receiver=receiver.name,
        group_id=group.group_id,
    )
    notification = publishable(chat, text=chat.title + "\n", status="firing", receiver=receiver)
    # PagerDuty only: email and chat are not told (the person who acknowledged is answered)
    pager_only = notification.model_copy(update={"channels": '["pagerduty"]'})
    return [OutboxEntry(pager_only, batch_id=f"ack-{key}", decided_at=now)]
