"""Notification groups: Alertmanager's grouping and timing, as a pure function of time.

A group is one receiver's view of the alerts a route puts together (``group_by``). Alert
events (an alert fired, escalated, is still firing, resolved) update its members; ``flush``
decides whether the group speaks now:

- a new group waits ``group_wait`` after its first firing member, then sends them all;
- after that it sends when its members changed (a new firing member, a higher severity, a
  resolution) and ``group_interval`` has passed since it last spoke;
- unchanged, it repeats while something fires, once ``repeat_interval`` has passed;
- resolved members are announced once (if the receiver sends resolutions) and then leave;
  a group with no member left closes;
- flap control: with ``for``, a member is pending, and not heard of, until it has fired that
  long (a member resolved before is dropped unheard); with ``keep_firing_for``, a resolved
  member stays firing that long, and firing again meanwhile cancels the resolution;
- an acknowledged group does not repeat: the acknowledgement holds while every firing member
  is one that fired when it was given and none is more severe than it was then; a new firing
  member or a higher severity ends it (the group speaks of it as usual, and repeats again),
  and it ends with the group (ADR 44);
- a group whose route is muted at the moment (``mute_time_intervals``, outside its
  ``active_time_intervals``) keeps its members and speaks once the window is over.

Time is the evaluation's clock (the batch's ``collected_at``), so a replayed batch decides
the same. The group remembers the batch that last made it speak and the notification it
sent, so a retried evaluation hands back that notification instead of sending another.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from vigil.core.model import CONTRACT_VERSION, Contract, Notification, NotifyReason, Severity

MemberState = Literal["pending", "firing", "resolved"]


class Member(Contract):
    state: MemberState
    severity: Severity
    since: AwareDatetime | None = Field(
        default=None, description="pending: when it first fired in this group (for ``for``)."
    )
    clearing_since: AwareDatetime | None = Field(
        default=None, description="firing: when it resolved (for ``keep_firing_for``)."
    )


class Acknowledgement(Contract):
    """Someone took the group in hand: who, when, through what, and what it covered."""

    at: AwareDatetime
    by: Annotated[str, Field(min_length=1, max_length=200)]
    via: Literal["slack", "cli", "pagerduty"]
    severity: Severity = Field(description="The highest severity firing when it was given.")
    members: tuple[str, ...] = Field(description="The members firing when it was given.")
    comment: Annotated[str, Field(max_length=500)] | None = None


class Group(Contract):
    """One receiver's notification group, as stored in DynamoDB (``GROUP#<group_id>``)."""

    version: Literal[1] = CONTRACT_VERSION
    group_id: Annotated[str, Field(min_length=1)]
    receiver: str
    route: str
    key: str
    send_resolved: bool
    group_wait_seconds: int
    group_interval_seconds: int
    repeat_interval_seconds: int
    for_seconds: int = 0
    keep_firing_for_seconds: int = 0
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()
    created_at: AwareDatetime
    updated_at: AwareDatetime
    members: dict[str, Member] = Field(default_factory=dict)
    flushed: dict[str, Member] = Field(
        default_factory=dict, description="The members as the receiver last heard of them."
    )
    last_flush: AwareDatetime | None = None
    last_batch: str | None = None
    last_notification: Notification | None = None
    overflow: bool = Field(
        default=False, description="Alerts it had no room for went to its next part."
    )
    lingering: bool = Field(
        default=False,
        description="Closed by its last message, listed until a later batch: a retried"
        " evaluation of the closing batch still finds it and re-sends that message.",
    )
    acknowledged: Acknowledgement | None = None
    revision: int = 0

    @property
    def is_open(self) -> bool:
        return bool(self.members)

    @property
    def listed(self) -> bool:
        """Whether every evaluation looks at it: open, or closed by the last batch."""
        return self.is_open or self.lingering

    @property
    def firing(self) -> list[str]:
        return [fp for fp, m in self.members.items() if m.state == "firing"]

    @property
    def severity(self) -> Severity:
        """The highest severity firing (``info`` when nothing fires)."""
        firing = [self.members[fp].severity for fp in self.firing]
        return max(firing, key=lambda s: s.rank, default=Severity.INFO)

    @property
    def acknowledgement_holds(self) -> bool:
        """Acknowledged, and nothing fires that the acknowledgement did not cover: no member
        that was not firing then, no severity above the one acknowledged."""
        ack = self.acknowledged
        if ack is None:
            return False
        covered = set(ack.members)
        return all(fp in covered for fp in self.firing) and self.severity.rank <= ack.severity.rank


@dataclass(frozen=True)
class Event:
    """What one alert's lifecycle said in this evaluation."""

    fingerprint: str
    reason: NotifyReason
    severity: Severity
    quiet: bool = False
    """A resolution nobody is told of: the member leaves at once."""


MAX_MEMBERS = 1_000
"""Alerts one group item holds (about 200 KB with what the receiver last heard), so that it
stays below DynamoDB's 400 KB item limit. A larger group continues in overflow parts, each
its own item and message (ADR 28)."""


def record(group: Group, events: Sequence[Event], *, now: datetime) -> tuple[Group, list[Event]]:
    """Fold alert events into the group's members; the events of alerts it does not hold
    once it is full (or ever was) are handed back for the group's next part."""
    members = dict(group.members)
    spilled: list[Event] = []
    for event in events:
        before = members.get(event.fingerprint)
        # Once a group overflowed, alerts it does not hold live in its later parts (it takes
        # no new member again, so an alert is never in two parts).
        if before is None and (group.overflow or len(members) >= MAX_MEMBERS):
            spilled.append(event)
            continue
        _fold(group, members, event, before, now)
    if members == group.members and not spilled:
        return group, spilled
    flushed = {fp: m for fp, m in group.flushed.items() if fp in members}
    update: dict[str, object] = {"members": members, "flushed": flushed, "updated_at": now}
    if spilled:
        update["overflow"] = True
    return group.model_copy(update=update), spilled


def _fold(
    group: Group, members: dict[str, Member], event: Event, before: Member | None, now: datetime
) -> None:
    if event.reason is NotifyReason.RESOLVED:
        if before is None:
            return
        if event.quiet:
            members.pop(event.fingerprint)
        elif before.state == "firing" and group.keep_firing_for_seconds:
            members[event.fingerprint] = before.model_copy(
                update={"clearing_since": before.clearing_since or now}
            )
        else:
            _resolve(group, members, event.fingerprint, event.severity)
        return
    severity = event.severity
    if before is not None and before.state != "resolved" and before.severity.rank > severity.rank:
        severity = before.severity  # keep the highest severity seen while firing
    if before is not None and before.state in {"pending", "firing"}:
        members[event.fingerprint] = before.model_copy(
            update={"severity": severity, "clearing_since": None}
        )
    elif group.for_seconds:
        members[event.fingerprint] = Member(state="pending", severity=severity, since=now)
    else:
        members[event.fingerprint] = Member(state="firing", severity=severity)


def overflow_part(group_id: str) -> str:
    """The id of the part that takes what ``group_id`` has no room for."""
    base, _, part = group_id.partition("~")
    return f"{base}~{int(part or 1) + 1}"


def settle(group: Group, *, now: datetime) -> Group:
    """Flap control at ``now``: pending members that waited ``for`` fire, and members that
    stayed resolved for ``keep_firing_for`` resolve."""
    members = dict(group.members)
    wait, keep = (
        timedelta(seconds=group.for_seconds),
        timedelta(seconds=group.keep_firing_for_seconds),
    )
    for fp, member in group.members.items():
        if member.state == "pending" and member.since and now - member.since >= wait:
            members[fp] = Member(state="firing", severity=member.severity)
        elif member.clearing_since and now - member.clearing_since >= keep:
            _resolve(group, members, fp, member.severity)
    if members == group.members:
        return group
    flushed = {fp: m for fp, m in group.flushed.items() if fp in members}
    return group.model_copy(update={"members": members, "flushed": flushed, "updated_at": now})


def _resolve(
    group: Group, members: dict[str, Member], fingerprint: str, severity: Severity
) -> None:
    """A member resolves: announced once if the receiver heard it fire and wants resolutions,
    else it leaves at once (never heard of: pending, or not yet sent)."""
    announced = group.flushed.get(fingerprint)
    if announced is None or announced.state != "firing" or not group.send_resolved:
        members.pop(fingerprint)
    else:
        members[fingerprint] = Member(state="resolved", severity=severity)


def pending_reason(group: Group, *, now: datetime) -> NotifyReason | None:
    """Why the group would speak at ``now``, or ``None`` when it stays quiet."""
    if not group.members:
        return None
    firing = group.firing
    if group.last_flush is None:
        waited = now - group.created_at >= timedelta(seconds=group.group_wait_seconds)
        return NotifyReason.FIRING if firing and waited else None
    since = now - group.last_flush
    new = [fp for fp in firing if group.flushed.get(fp, _RESOLVED).state != "firing"]
    higher = [
        fp
        for fp in firing
        if fp in group.flushed and group.members[fp].severity.rank > group.flushed[fp].severity.rank
    ]
    resolved = [fp for fp, m in group.members.items() if m.state == "resolved"]
    if (new or higher or resolved) and since >= timedelta(seconds=group.group_interval_seconds):
        if new:
            return NotifyReason.FIRING
        if higher:
            return NotifyReason.ESCALATED
        return NotifyReason.RESOLVED if not firing else NotifyReason.FIRING
    if firing and since >= timedelta(seconds=group.repeat_interval_seconds):
        return None if group.acknowledgement_holds else NotifyReason.REPEAT
    return None


_RESOLVED = Member(state="resolved", severity=Severity.INFO)


def flushed(
    group: Group, *, now: datetime, batch_id: str, notification: Notification | None
) -> Group:
    """The group after it spoke: resolved members leave, the firing ones are what was heard
    (pending ones stay, unheard). ``notification`` is ``None`` when flood control folded the
    message into the evaluation's digest."""
    members = {fp: m for fp, m in group.members.items() if m.state != "resolved"}
    # an acknowledgement that no longer covers what fires ends once the group spoke of it
    ack = group.acknowledged if group.acknowledgement_holds and members else None
    return group.model_copy(
        update={
            "acknowledged": ack,
            "members": members,
            "flushed": {fp: m for fp, m in members.items() if m.state == "firing"},
            "last_flush": now,
            "last_batch": batch_id,
            "last_notification": notification,
            "lingering": not members,
            "updated_at": now,
        }
    )


class NothingToAcknowledge(ValueError):
    """The group has no firing member: there is nothing to take in hand."""


def acknowledge(
    group: Group,
    *,
    by: str,
    via: Literal["slack", "cli", "pagerduty"],
    now: datetime,
    comment: str | None = None,
) -> Group:
    """The group acknowledged at ``now`` for what fires in it now. Acknowledging again (a
    second press, PagerDuty's webhook after Vigil told it) keeps the first acknowledgement
    while it holds: who took it first stays on record."""
    if not group.firing:
        raise NothingToAcknowledge(f"group {group.key} has nothing firing")
    if group.acknowledgement_holds:
        return group
    ack = Acknowledgement(
        at=now,
        by=by,
        via=via,
        severity=group.severity,
        members=tuple(sorted(group.firing)),
        comment=comment,
    )
    # ``updated_at`` stays the evaluations' clock: an acknowledgement given between two
    # evaluations must not make the next one look late
    return group.model_copy(update={"acknowledged": ack})
