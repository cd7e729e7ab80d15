"""Chat delivery claims each destination before posting: at-least-once delivery by SNS and
Lambda shows as exactly once in the channel, also for two deliveries at the same instant.

The fakes keep the delivery log's conditional semantics (``MemoryLog``, behind a lock as
DynamoDB's conditional put is atomic) and a clock the test moves. The retry timings come from
Lambda's asynchronous invocation (docs.aws.amazon.com/lambda/latest/dg/invocation-async.html:
"Lambda waits one minute before the first retry, two minutes before the second") and the SNS
message's ``Timestamp``, which a retry repeats unchanged, so the lease is measured on the clock.
"""

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.factories import T0
from vigil.channels.delivery import (
    CLAIM_LEASE,
    Claim,
    ClaimState,
    deliver_to_chat,
    deliver_to_slack_bot,
)
from vigil.core.errors import ChatDeliveryError
from vigil.core.model import ChatPayload, NotifyReason, Severity


class FakeClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta


@dataclass
class _Item:
    state: ClaimState
    token: str = ""
    lease_until: datetime | None = None


@dataclass
class MemoryLog:
    """The delivery log's semantics (vigil.adapters.table.DeliveryLog), atomic per call."""

    items: dict[tuple[str, str], _Item] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    tokens: int = 0
    fail_record: bool = False

    def claim(self, notification_id: str, channel: str, *, at: datetime, lease: timedelta) -> Claim:
        with self.lock:
            found = self.items.get((notification_id, channel))
            expired = (
                found is not None
                and found.state is ClaimState.CLAIMED
                and found.lease_until is not None
                and found.lease_until <= at
            )
            if found is None or expired:
                self.tokens += 1
                token = f"t{self.tokens}"
                self.items[(notification_id, channel)] = _Item(
                    ClaimState.CLAIMED, token, at + lease
                )
                return Claim(ClaimState.CLAIMED, token)
            held = found.state is ClaimState.CLAIMED
            return Claim(ClaimState.HELD if held else ClaimState.DELIVERED)

    def record(self, notification_id: str, channel: str, *, at: datetime) -> None:
        if self.fail_record:
            raise RuntimeError("the function was killed between the post and the record")
        with self.lock:
            self.items[(notification_id, channel)] = _Item(ClaimState.DELIVERED)

    def release(self, notification_id: str, channel: str, *, token: str) -> None:
        with self.lock:
            found = self.items.get((notification_id, channel))
            if found is not None and found.state is ClaimState.CLAIMED and found.token == token:
                del self.items[(notification_id, channel)]


class FakeChat:
    """A webhook: records what it accepted; ``fail`` answers the next posts with a 5xx."""

    def __init__(self, *, fail: int = 0) -> None:
        self.posts: list[dict[str, Any]] = []
        self.fail = fail
        self.entered = threading.Event()
        self.proceed = threading.Event()
        self.proceed.set()

    def post(self, message: dict[str, Any]) -> None:
        self.entered.set()
        self.proceed.wait(timeout=5)
        if self.fail:
            self.fail -= 1
            raise ChatDeliveryError("Slack webhook answered 503: service_unavailable")
        self.posts.append(message)


def _payload(notification_id: str = "n1") -> ChatPayload:
    return ChatPayload(
        notification_id=notification_id,
        category="alert",
        reason=NotifyReason.FIRING,
        severity=Severity.CRITICAL,
        title="[CRITICAL] Lambda errors firing: orders-api",
        text="text",
        stack="vigil",
        alerts=[],
    )


def _send(chat: FakeChat, log: MemoryLog, clock: FakeClock) -> str:
    return deliver_to_chat(
        _payload(), platform="slack", chat=chat, log=log, clock=clock, key="webhook_url"
    )


def test_two_deliveries_of_one_message_at_the_same_instant_post_once() -> None:
    # Given SNS delivers one message twice at the same moment (two invocations at once)
    chat, log, clock = FakeChat(), MemoryLog(), FakeClock(T0)
    chat.proceed.clear()  # the first post waits until the second delivery has decided
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def delivery() -> None:
        start.wait(timeout=5)
        outcomes.append(_send(chat, log, clock))
        chat.proceed.set()

    # When both deliver concurrently
    threads = [threading.Thread(target=delivery) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    # Then the channel gets one post; the other delivery saw the live claim and skipped
    assert len(chat.posts) == 1
    assert sorted(outcomes) == ["in-flight", "posted"]
    assert _send(chat, log, clock) == "duplicate"  # a third, later copy


def test_a_crash_after_the_claim_is_taken_over_by_the_retry_after_the_lease() -> None:
    # Given a delivery claimed the post at T0 and was killed before posting
    chat, log, clock = FakeChat(), MemoryLog(), FakeClock(T0)
    log.claim("n1", "slack", at=T0, lease=CLAIM_LEASE)

    # When a copy arrives 10 s later, and Lambda's retry about a minute later
    clock.advance(timedelta(seconds=10))
    early = _send(chat, log, clock)
    clock.advance(timedelta(minutes=1))
    retry = _send(chat, log, clock)

    # Then the copy skips while the claim may still be live, and the retry posts once
    assert (early, retry) == ("in-flight", "posted")
    assert len(chat.posts) == 1
    assert _send(chat, log, clock) == "duplicate"


def test_a_failed_record_after_the_post_keeps_the_post_and_a_redelivery_skips_it() -> None:
    # Given the platform accepted the post, then recording it failed (a throttle)
    chat, log, clock = FakeChat(), MemoryLog(fail_record=True), FakeClock(T0)

    # When the delivery finishes, and SNS delivers the message again 10 s later
    first = _send(chat, log, clock)
    log.fail_record = False
    clock.advance(timedelta(seconds=10))
    again = _send(chat, log, clock)

    # Then the invocation succeeded (no Lambda retry posts it again) and the claim, still
    # held, keeps the copy away: one post
    assert (first, again) == ("posted", "in-flight")
    assert len(chat.posts) == 1


def test_a_process_killed_between_the_post_and_the_record_repeats_it_after_the_lease() -> None:
    # Given the platform accepted the post, then the process died (no code ran after it)
    chat, log, clock = FakeChat(), MemoryLog(), FakeClock(T0)
    claim = log.claim("n1", "slack", at=clock(), lease=CLAIM_LEASE)
    chat.post({"text": "posted by the process that died"})
    assert claim.state is ClaimState.CLAIMED

    # When Lambda retries a minute later, past the lease
    clock.advance(timedelta(minutes=1))
    retry = _send(chat, log, clock)

    # Then the message is posted a second time: the accepted duplicate (ADR 31), never a loss
    assert retry == "posted"
    assert len(chat.posts) == 2


def test_a_failed_post_releases_the_claim_so_the_retry_posts() -> None:
    # Given Slack answers 5xx until the adapter's retries are spent
    chat, log, clock = FakeChat(fail=1), MemoryLog(), FakeClock(T0)
    with pytest.raises(ChatDeliveryError, match="503"):
        _send(chat, log, clock)

    # When Lambda retries (here: at once, well inside the lease)
    retry = _send(chat, log, clock)

    # Then the claim was released: the retry posts, once
    assert retry == "posted"
    assert len(chat.posts) == 1
    assert log.items[("n1", "slack")].state is ClaimState.DELIVERED


def test_a_late_failure_does_not_free_the_claim_of_the_delivery_that_took_over() -> None:
    # Given a slow delivery's lease ran out and a retry took the claim over
    log = MemoryLog()
    slow = log.claim("n1", "slack", at=T0, lease=CLAIM_LEASE)
    later = T0 + CLAIM_LEASE
    taken = log.claim("n1", "slack", at=later, lease=CLAIM_LEASE)

    # When the slow one fails and releases its claim
    log.release("n1", "slack", token=slow.token)

    # Then the live claim stands: a third copy still skips
    assert taken.state is ClaimState.CLAIMED
    assert log.claim("n1", "slack", at=later, lease=CLAIM_LEASE).state is ClaimState.HELD


class FakeBot:
    channel = "C0123ABCD"

    def __init__(self) -> None:
        self.posts: list[str] = []
        self.fail_next = False

    def post(self, message: dict[str, Any], *, thread_ts: str | None = None) -> str:
        if self.fail_next:
            self.fail_next = False
            raise ChatDeliveryError("Slack chat.postMessage unreachable: timed out")
        self.posts.append(message["text"])
        return f"100.{len(self.posts):06d}"

    def update(self, ts: str, message: dict[str, Any]) -> None:
        return


class NoThreads:
    def get(self, receiver: str, group_id: str, channel: str) -> str | None:
        return None

    def put(self, receiver: str, group_id: str, channel: str, ts: str, *, at: datetime) -> None:
        return

    def close(self, receiver: str, group_id: str, channel: str) -> None:
        return


def test_a_slack_bot_post_is_claimed_released_on_failure_and_posted_once() -> None:
    bot, log, clock = FakeBot(), MemoryLog(), FakeClock(T0)
    bot.fail_next = True

    def send() -> str:
        return deliver_to_slack_bot(
            _payload(), bot=bot, threads=NoThreads(), log=log, clock=clock, key="bot_token"
        )

    with pytest.raises(ChatDeliveryError):
        send()
    outcomes = [send(), send()]

    assert outcomes == ["posted", "duplicate"]
    assert bot.posts == ["[CRITICAL] Lambda errors firing: orders-api"]
