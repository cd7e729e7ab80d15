"""The outbox's delivery rules: what one run publishes, what it leaves, what a failure keeps."""

from collections.abc import Sequence
from datetime import datetime

import pytest

from tests.factories import T0, minutes
from tests.fakes import MemoryOutbox
from vigil.alerting.outbox import ORPHAN_AFTER, DeliveryIncomplete, OutboxEntry, deliver
from vigil.core.model import Notification, Severity


class Sns:
    """Accepts every message, or refuses the ids in ``refuse``; records what it accepted."""

    def __init__(self, refuse: set[str] | None = None) -> None:
        self.refuse = refuse or set()
        self.accepted: list[str] = []

    def publish(self, notifications: Sequence[Notification]) -> list[str]:
        ok = [n.notification_id for n in notifications if n.notification_id not in self.refuse]
        self.accepted += ok
        return ok


def note(notification_id: str, severity: Severity = Severity.WARNING) -> Notification:
    return Notification(
        notification_id=notification_id,
        subject=f"[{severity.value.upper()}] {notification_id}",
        message="{}",
        severity=severity,
        status="firing",
        category="alert",
    )


def entry(notification_id: str, batch: str, at: datetime, **kw: Severity) -> OutboxEntry:
    return OutboxEntry(note(notification_id, **kw), batch_id=batch, decided_at=at)


def test_a_run_publishes_its_own_batch_and_orphans_and_leaves_a_running_evaluation_alone() -> None:
    outbox = MemoryOutbox()
    outbox.add(
        [
            entry("mine", "b2", T0),
            entry("orphan", "b1", T0 - ORPHAN_AFTER),
            entry("running", "b3", T0 - ORPHAN_AFTER + minutes(1)),
        ]
    )
    sns = Sns()

    done = deliver(outbox, sns, batch_id="b2", now=T0)

    assert sorted(sns.accepted) == ["mine", "orphan"]
    assert [e.notification.notification_id for e in outbox.pending()] == ["running"]
    assert done.left == 1


def test_the_most_severe_go_first_and_the_rest_wait_beyond_the_limit() -> None:
    outbox = MemoryOutbox()
    outbox.add([entry(f"w{i}", "b", T0) for i in range(3)])
    outbox.add([entry("c", "b", T0, severity=Severity.CRITICAL)])
    sns = Sns()

    done = deliver(outbox, sns, batch_id="b", now=T0, limit=2)

    assert sns.accepted[0] == "c"
    assert len(sns.accepted) == 2
    assert done.left == 2
    assert len(outbox.pending()) == 2


def test_a_refused_message_stays_pending_and_fails_the_run_after_the_others_are_marked() -> None:
    outbox = MemoryOutbox()
    outbox.add([entry("ok", "b", T0), entry("refused", "b", T0)])

    with pytest.raises(DeliveryIncomplete, match="1 of 2"):
        deliver(outbox, Sns(refuse={"refused"}), batch_id="b", now=T0)

    assert [e.notification.notification_id for e in outbox.pending()] == ["refused"]
    later = Sns()
    deliver(outbox, later, batch_id="next", now=T0 + minutes(5))
    assert later.accepted == ["refused"]
    assert outbox.pending() == []


def test_an_empty_outbox_publishes_nothing() -> None:
    sns = Sns()

    done = deliver(MemoryOutbox(), sns, batch_id="b", now=T0)

    assert (sns.accepted, done.published, done.left) == ([], [], 0)
