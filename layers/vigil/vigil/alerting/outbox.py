"""The outbox: every notification an evaluation decides is stored with the state change that
decided it, and marked sent only once SNS has accepted it (ADR 29).

An evaluation commits each alert group, AWS Health record and outage together with the
notifications it decided (one DynamoDB transaction), then :func:`deliver` publishes what is
pending and marks it sent. Whatever fails between the two (a throttle, a crash, SNS refusing
a message) leaves the notification pending: the retried evaluation or the next one publishes
it. A notification is therefore delivered at least once; the chat function drops the
repeats by ``notification_id`` (the same id every time), so chat shows it exactly once.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from aws_lambda_powertools import Logger

from vigil.core.errors import VigilError
from vigil.core.model import Notification, SignalBatch

logger = Logger(child=True)

ORPHAN_AFTER = timedelta(minutes=2)
"""A pending notification of another batch decided this long before ``now`` belongs to an
evaluation that did not finish: this one publishes it. Younger ones are left to the
evaluation that decided them, still running, so that two overlapping evaluations do not
both publish them."""

MAX_PER_RUN = 300
"""Notifications published by one evaluation at most (about 10 s of SNS calls); the rest wait
for the next. Flood control (``vigil.alerting.messages.MAX_MESSAGES``) keeps one evaluation far
below it; only a backlog after an SNS outage reaches it."""


@dataclass(frozen=True)
class OutboxEntry:
    """A notification decided by ``batch_id`` at ``decided_at`` (the batch's time)."""

    notification: Notification
    batch_id: str
    decided_at: datetime

    @classmethod
    def decided_by(cls, notification: Notification, batch: SignalBatch) -> "OutboxEntry":
        """The entry of a notification ``batch`` decided (at the batch's time)."""
        return cls(notification, batch_id=batch.batch_id, decided_at=batch.collected_at)


class OutboxPort(Protocol):
    def put(self, entries: Sequence[OutboxEntry]) -> None:
        """Store notifications that no state item carries (a flood digest)."""
        ...

    def pending(self) -> list[OutboxEntry]:
        """Every notification not yet marked sent, oldest first."""
        ...

    def mark_sent(self, entry: OutboxEntry, *, at: datetime) -> None: ...


class PublisherPort(Protocol):
    def publish(self, notifications: Sequence[Notification]) -> list[str]:
        """Publish; the ids of the notifications SNS accepted (the others failed)."""
        ...


class DeliveryIncomplete(VigilError):
    """Some notifications could not be published; they stay pending for the next attempt."""


@dataclass
class Delivery:
    """What one delivery run did."""

    published: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    left: int = 0
    """Pending notifications left for a later run (younger than ``ORPHAN_AFTER`` and of
    another batch, or beyond ``MAX_PER_RUN``)."""


def deliver(
    outbox: OutboxPort,
    publisher: PublisherPort,
    *,
    batch_id: str,
    now: datetime,
    limit: int = MAX_PER_RUN,
) -> Delivery:
    """Publish this batch's pending notifications and the orphans of earlier evaluations,
    most severe first; mark each sent once SNS accepted it.

    Raises ``DeliveryIncomplete`` after marking the successes when any failed, so the run
    fails (and is retried, then alarmed) while the failed ones stay pending. A published
    notification whose mark fails stays pending too: a later run publishes it again (email
    may show it twice; chat drops the copy by its id).
    """
    pending = outbox.pending()
    due = [e for e in pending if e.batch_id == batch_id or e.decided_at <= now - ORPHAN_AFTER]
    due.sort(key=lambda e: (-e.notification.severity.rank, e.decided_at))
    result = Delivery(left=len(pending) - min(len(due), limit))
    chosen = due[:limit]
    accepted = set(publisher.publish([e.notification for e in chosen])) if chosen else set()
    for entry in chosen:
        notification_id = entry.notification.notification_id
        if notification_id not in accepted:
            result.failed.append(notification_id)
            continue
        result.published.append(notification_id)
        try:
            outbox.mark_sent(entry, at=now)
        except Exception:  # a throttle: it stays pending, and goes out once more
            logger.exception("published, but not marked sent", extra={"id": notification_id})
    if result.failed:
        raise DeliveryIncomplete(
            f"{len(result.failed)} of {len(chosen)} notifications were not published; they"
            " stay in the outbox for the next attempt"
        )
    if result.left:
        logger.info("notifications left pending", extra={"left": result.left})
    return result
