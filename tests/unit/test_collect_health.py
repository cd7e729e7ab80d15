"""The Health collector's decisions on fakes: pages held until complete and sent once,
unreadable events parked once and announced, poll failures counted into
``vigil.health_poll`` (ADR 30).

The events are the shapes of
https://docs.aws.amazon.com/health/latest/ug/aws-health-events-eventbridge-schema.html and
https://docs.aws.amazon.com/health/latest/ug/pagnation-of-health-events.html, taken from
``tests/unit/test_health_feed.py``.
"""

import json
from datetime import UTC, datetime

import pytest

from tests.unit.test_health_feed import ABUSE, instances, page_event
from vigil.core.errors import ConflictError, InvalidEventError
from vigil.core.model import Notification, SignalBatch
from vigil.health.collect import (
    HEALTH_API_RESOURCE,
    PollState,
    batch_from_event,
    event_id_of,
    next_poll_state,
    park_invalid,
    with_poll_status,
)
from vigil.health.events import HealthPages
from vigil.rules.document import RulesConfig
from vigil.rules.health import HEALTH_POLL_KIND
from vigil.rules.kinds import judge

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class MemoryPages:
    def __init__(self, *, conflicts: int = 0) -> None:
        self.items: dict[tuple[str, str | None], HealthPages] = {}
        self.conflicts = conflicts
        self.saves = 0

    def get(self, arn: str, account: str | None) -> HealthPages | None:
        return self.items.get((arn, account))

    def save(self, before: HealthPages | None, after: HealthPages) -> None:
        if self.conflicts:
            self.conflicts -= 1
            raise ConflictError("another page got there first")
        self.saves += 1
        self.items[(after.arn, after.account)] = after


class MemoryParked:
    def __init__(self) -> None:
        self.items: dict[str, tuple[str, datetime | None]] = {}

    def seen(self, event_id: str) -> bool:
        return event_id in self.items

    def park(self, event_id: str, *, event: object, reason: str, at: datetime | None) -> None:
        self.items.setdefault(event_id, (reason, at))


class MemoryTopic:
    def __init__(self) -> None:
        self.published: list[Notification] = []

    def publish(self, notification: Notification) -> str:
        self.published.append(notification)
        return f"m{len(self.published)}"


def test_a_whole_event_makes_a_batch_of_its_own() -> None:
    batch = batch_from_event(ABUSE, rules=RulesConfig(), pages=MemoryPages())

    assert batch is not None
    assert batch.batch_id == f"health-{ABUSE['id']}"
    assert [e.event_type_code for e in batch.health_events] == ["AWS_ABUSE_DOS_REPORT"]


def test_pages_are_held_until_the_last_and_sent_once_as_one_event() -> None:
    pages = MemoryPages()
    raws = [page_event(n + 1, 3, instances(n * 40, 40)) for n in range(3)]

    held = [batch_from_event(raw, rules=RulesConfig(), pages=pages) for raw in raws[:2]]
    repeated = batch_from_event(raws[0], rules=RulesConfig(), pages=pages)
    whole = batch_from_event(raws[2], rules=RulesConfig(), pages=pages)

    assert held == [None, None]
    assert repeated is None  # a page arriving twice changes nothing
    assert whole is not None
    assert whole.batch_id == "health-page-3"
    assert whole.health_events[0].entity_count == 120
    assert pages.saves == 3


def test_pages_arriving_at_once_retry_the_lost_race_and_then_give_up() -> None:
    racing = MemoryPages(conflicts=2)
    hopeless = MemoryPages(conflicts=99)
    raw = page_event(1, 2, instances(0, 3))

    assert batch_from_event(raw, rules=RulesConfig(), pages=racing) is None
    assert racing.saves == 1
    with pytest.raises(ConflictError, match="still racing"):
        batch_from_event(raw, rules=RulesConfig(), pages=hopeless)


def test_a_filtered_event_stores_no_page() -> None:
    pages = MemoryPages()
    rules = RulesConfig.from_json('{"health": {"exclude": [{"services": ["EC2"]}]}}')

    assert batch_from_event(page_event(1, 2, instances(0, 3)), rules=rules, pages=pages) is None
    assert pages.items == {}


def test_an_unreadable_event_is_parked_once_and_announced_naming_id_and_reason() -> None:
    broken = json.loads(json.dumps(ABUSE))
    del broken["detail"]["eventArn"]
    parked, topic = MemoryParked(), MemoryTopic()
    rules = RulesConfig()

    with pytest.raises(InvalidEventError) as caught:
        batch_from_event(broken, rules=rules, pages=MemoryPages())
    reason = str(caught.value)
    first = park_invalid(
        broken, reason, parked=parked, topic=topic, rules=rules, stack="vigil", table="t"
    )
    again = park_invalid(
        broken, reason, parked=parked, topic=topic, rules=rules, stack="vigil", table="t"
    )

    assert (first, again) == (True, False)
    assert parked.items == {ABUSE["id"]: (reason, datetime(2018, 8, 1, 6, 27, 57, tzinfo=UTC))}
    assert len(topic.published) == 1  # the default route has one receiver
    notice = topic.published[0]
    assert ABUSE["id"] in notice.subject
    assert "detail.eventArn" in notice.message
    assert notice.receiver == "default"


def test_an_event_without_an_id_or_time_is_parked_under_a_hash() -> None:
    parked = MemoryParked()
    event = {"source": "aws.health", "detail": "nonsense"}

    park_invalid(
        event,
        "no id",
        parked=parked,
        topic=MemoryTopic(),
        rules=RulesConfig(),
        stack="vigil",
        table="t",
    )

    assert list(parked.items) == [event_id_of(event)]
    assert event_id_of(event).startswith("sha256-")
    assert parked.items[event_id_of(event)] == ("no id", None)


def poll_batches(before: PollState, error: str | None, events: int = 0) -> list[SignalBatch]:
    after = next_poll_state(before, error)
    batches = [
        SignalBatch(
            batch_id=f"health-poll-123456789012-20261102T0900Z-{n}",
            source="health",
            collected_at=NOW,
            covered_kinds=[],
            signals=[],
        )
        for n in range(events)
    ]
    return with_poll_status(
        batches, before, after, now=NOW, account="123456789012", region="us-east-1"
    )


def test_failed_polls_count_up_and_alert_from_the_configured_number() -> None:
    rules = RulesConfig()
    state = PollState()
    verdicts = []
    for _ in range(3):
        (batch,) = poll_batches(state, "no Health endpoint answered: 503")
        state = next_poll_state(state, "no Health endpoint answered: 503")
        (signal,) = batch.signals
        verdicts.append(judge(signal, rules))
        assert batch.covered_kinds == [HEALTH_POLL_KIND]
        assert signal.labels.resource == HEALTH_API_RESOURCE

    assert state.failures == 3
    assert verdicts[:2] == [None, None]
    assert verdicts[2] is not None


def test_the_first_good_poll_resolves_and_later_ones_add_nothing() -> None:
    failing = PollState(failures=4, last_error="timeout")

    (recovered,) = poll_batches(failing, None)
    first, second = poll_batches(failing, None, events=2)
    quiet = poll_batches(PollState(), None)

    assert recovered.covered_kinds == [HEALTH_POLL_KIND]
    assert recovered.signals == []
    assert first.covered_kinds == [HEALTH_POLL_KIND]
    assert second.covered_kinds == []
    assert quiet == []
    assert next_poll_state(failing, None) == PollState()
