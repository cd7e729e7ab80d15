"""Faults × steps: every notification an evaluation decides reaches each person at least once,
and Slack shows it exactly once, whichever single step fails.

The pipeline is played with the real domain code and in-memory stores that keep DynamoDB's
conditional and transactional semantics (``tests/fakes.py``):

    evaluate (alerts, Health, outages, groups + outbox)
      -> deliver (SNS)  -> email
                        -> chat (claim, post, record)

Retries are AWS's: the Evaluate task is retried twice on a task failure (the
``States.TaskFailed`` retrier in ``statemachines/evaluate.asl.json``); a chat invocation that
fails is retried twice by Lambda, one and two minutes later
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html); SNS delivers at least
once, sometimes twice (https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html).
A throttle is botocore's ``ProvisionedThroughputExceededException`` after its own retries.

Two evaluations are played five minutes apart, in two configurations: the default (three
failing functions open a suspected outage, which mutes them; an EC2 Health issue is announced;
the outage is lifted at the second cycle) and outage correlation off (the three alerts fire
and resolve through their groups).
"""

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.factories import ACCOUNT, T0, batch, error_signal, minutes
from tests.fakes import (
    MemoryAlertStore,
    MemoryGroupStore,
    MemoryHealthStore,
    MemoryOutageStore,
    MemoryOutbox,
)
from tests.unit.test_chat_claims import FakeChat, FakeClock, MemoryLog
from vigil.alerting.outbox import OutboxEntry, deliver
from vigil.channels.delivery import deliver_to_chat
from vigil.core.errors import ConflictError
from vigil.core.model import ChatPayload, HealthEvent, Notification, SignalBatch
from vigil.evaluation.pipeline import OutagePorts, evaluate
from vigil.rules.document import RulesConfig

RUNBOOK = "arn:aws:states:us-east-1:123456789012:stateMachine:vigil-runbook"
TASK_ATTEMPTS = 3  # the Evaluate task and its two retries
CHAT_ATTEMPTS = 3  # the chat invocation and Lambda's two retries


def _throttle(operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "throttled"}},
        operation,
    )


class Fault:
    """Fails the ``on``-th call of one step once, with ``error``."""

    def __init__(self, step: str, on: int = 1, error: Exception | None = None) -> None:
        self.step, self.on, self.calls, self.fired = step, on, 0, False
        self.error = error or _throttle(step)

    def check(self, step: str) -> None:
        if step != self.step or self.fired:
            return
        self.calls += 1
        if self.calls == self.on:
            self.fired = True
            raise self.error


NO_FAULT = Fault("none")


class FaultyAlerts(MemoryAlertStore):
    def __init__(self, fault: Fault) -> None:
        super().__init__()
        self.fault = fault
        self.outbox = FaultyOutbox(fault)
        self.groups = FaultyGroups(fault, self.outbox)

    def save(self, before: Any, after: Any) -> None:
        self.fault.check("alert.save")
        super().save(before, after)


class FaultyOutbox(MemoryOutbox):
    def __init__(self, fault: Fault) -> None:
        super().__init__()
        self.fault = fault

    def mark_sent(self, entry: OutboxEntry, *, at: datetime) -> None:
        self.fault.check("outbox.mark_sent")
        super().mark_sent(entry, at=at)


def _transaction(fault: Fault, step: str, outbox: Sequence[OutboxEntry]) -> None:
    """A state write fails before anything is written: alone, or as the transaction that
    carries its outbox entries (both or neither, as TransactWriteItems)."""
    fault.check(step)
    if outbox:
        fault.check("transaction")


class FaultyGroups(MemoryGroupStore):
    def __init__(self, fault: Fault, outbox: MemoryOutbox) -> None:
        super().__init__(outbox)
        self.fault = fault

    def save(self, before: Any, after: Any, outbox: Sequence[OutboxEntry] = ()) -> None:
        _transaction(self.fault, "group.save", outbox)
        super().save(before, after, outbox)


class FaultyHealth(MemoryHealthStore):
    def __init__(self, fault: Fault, outbox: MemoryOutbox) -> None:
        super().__init__(outbox)
        self.fault = fault

    def save(self, before: Any, after: Any, outbox: Sequence[OutboxEntry] = ()) -> None:
        _transaction(self.fault, "health.save", outbox)
        super().save(before, after, outbox)


class FaultyOutages(MemoryOutageStore):
    def __init__(self, fault: Fault, outbox: MemoryOutbox) -> None:
        super().__init__(outbox)
        self.fault = fault

    def save(self, before: Any, after: Any, outbox: Sequence[OutboxEntry] = ()) -> None:
        _transaction(self.fault, "outage.save", outbox)
        super().save(before, after, outbox)


class OnceFailingLog(MemoryLog):
    """The delivery log, whose first record after a post fails (the store throttled)."""

    def record(self, notification_id: str, channel: str, *, at: datetime) -> None:
        if self.fail_record:
            self.fail_record = False
            raise _throttle("delivery.record")
        super().record(notification_id, channel, at=at)


@dataclass
class Sns:
    """The topic: what it accepted (to email and chat), and the faults of its API."""

    fault: Fault
    accepted: list[Notification] = field(default_factory=list)

    def publish(self, notifications: Sequence[Notification]) -> list[str]:
        self.fault.check("sns.publish")
        if notifications and self.fault.step == "sns.refuse_one" and not self.fault.fired:
            self.fault.fired = True
            notifications = notifications[1:]
        self.accepted += notifications
        return [n.notification_id for n in notifications]


@dataclass
class World:
    fault: Fault
    store: FaultyAlerts
    ports: OutagePorts
    sns: Sns
    log: OnceFailingLog
    chat: FakeChat
    clock: FakeClock
    results: set[str] = field(default_factory=set)
    emails: Counter[str] = field(default_factory=Counter)

    @property
    def decided(self) -> set[str]:
        """Every notification committed to the outbox (a retried evaluation does not list
        again what the failed attempt already committed: the outbox has it)."""
        return set(self.store.outbox.entries)

    @property
    def fault_happened(self) -> bool:
        if self.fault.step == "chat.crash_after_post":
            return not self.log.fail_record
        if self.fault.step == "slack.5xx":
            return self.chat.fail == 0
        return self.fault.step in {"none", "sns.duplicate"} or self.fault.fired


def _world(fault: Fault) -> World:
    store = FaultyAlerts(fault)
    ports = OutagePorts(
        outages=FaultyOutages(fault, store.outbox),
        health=FaultyHealth(fault, store.outbox),
        runbook_arn=RUNBOOK,
    )
    chat = FakeChat(fail=1 if fault.step == "slack.5xx" else 0)
    log = OnceFailingLog(fail_record=fault.step == "chat.crash_after_post")
    return World(fault, store, ports, Sns(fault), log, chat, FakeClock(T0))


def _evaluation(world: World, work: SignalBatch, rules: RulesConfig) -> None:
    """One Evaluate execution: the task and its retries, then the messages SNS accepted."""
    sent_before = len(world.sns.accepted)
    for _attempt in range(TASK_ATTEMPTS):
        try:
            result = evaluate(
                work,
                rules=rules,
                store=world.store,
                routing=world.store.routing,
                stack="vigil",
                correlation=world.ports,
            )
            world.results |= {n.notification_id for n in result.notifications}
            deliver(world.store.outbox, world.sns, batch_id=work.batch_id, now=work.collected_at)
            break
        except Exception:  # any task failure is retried, as the workflow does
            continue
    for message in world.sns.accepted[sent_before:]:
        world.emails[message.notification_id] += 1
        copies = 2 if world.fault.step == "sns.duplicate" else 1
        for _copy in range(copies):
            _chat_invocation(world, message)


def _chat_invocation(world: World, message: Notification) -> None:
    """The chat function for one SNS message, with Lambda's retries a minute apart."""
    payload = ChatPayload.model_validate_json(json.loads(message.message)["lambda"])
    for _attempt in range(CHAT_ATTEMPTS):
        try:
            deliver_to_chat(
                payload,
                platform="slack",
                chat=world.chat,
                log=world.log,
                clock=world.clock,
                key="webhook_url",
            )
            return
        except Exception:  # the invocation fails; Lambda retries it
            world.clock.advance(timedelta(minutes=1))


def _health_issue(at: datetime) -> HealthEvent:
    return HealthEvent(
        arn="arn:aws:health:us-east-1::event/EC2/AWS_EC2_OPERATIONAL_ISSUE/AWS_EC2_OPERATIONAL_ISSUE_1",
        service="EC2",
        event_type_code="AWS_EC2_OPERATIONAL_ISSUE",
        category="issue",
        region="us-east-1",
        account=ACCOUNT,
        status="open",
        start_time=at,
        last_updated=at,
        description="Increased API error rates in us-east-1.",
    )


def _play(fault: Fault, rules: RulesConfig) -> World:
    world = _world(fault)
    failing = [error_signal(f"fn-{i}", invocations=100, errors=60) for i in range(3)]
    first = batch(T0, *failing).model_copy(update={"health_events": [_health_issue(T0)]})
    _evaluation(world, first, rules)
    world.clock.at = T0 + minutes(5)
    _evaluation(world, batch(T0 + minutes(5)), rules)
    return world


def _slack_posts(world: World) -> Counter[str]:
    return Counter(post["text"] for post in world.chat.posts)


FAULTS: list[Callable[[], Fault]] = [
    lambda: NO_FAULT,
    lambda: Fault("alert.save", on=2),
    lambda: Fault("alert.save", on=1, error=_conflict()),
    lambda: Fault("transaction", on=1),
    lambda: Fault("transaction", on=2),
    lambda: Fault("health.save"),
    lambda: Fault("outage.save"),
    lambda: Fault("group.save"),
    lambda: Fault("group.save", on=1, error=_conflict()),
    lambda: Fault("sns.publish"),
    lambda: Fault("sns.refuse_one"),
    lambda: Fault("outbox.mark_sent"),
    lambda: Fault("sns.duplicate"),
    lambda: Fault("chat.crash_after_post"),
    lambda: Fault("slack.5xx"),
]


def _conflict() -> Exception:
    return ConflictError("injected: another evaluation wrote the alert first")


CONFIGS = {
    "default": RulesConfig(),
    "no-correlation": RulesConfig.model_validate({"outage": {"enabled": False}}),
}
CLEAN = {name: _play(NO_FAULT, rules) for name, rules in CONFIGS.items()}


# Outages exist only with correlation on; groups speak only with it off (it mutes them).
NOT_APPLICABLE = {("default", "group.save"), ("no-correlation", "outage.save")}


@pytest.mark.parametrize("config", sorted(CONFIGS))
@pytest.mark.parametrize("make_fault", FAULTS, ids=lambda f: f().step)
def test_every_decided_notification_reaches_email_at_least_once_and_slack_exactly_once(
    config: str, make_fault: Callable[[], Fault]
) -> None:
    fault = make_fault()
    if (config, fault.step) in NOT_APPLICABLE:
        pytest.skip(f"no {fault.step} step in the {config} configuration")
    clean = CLEAN[config]

    world = _play(fault, CONFIGS[config])

    # the same decisions, whatever failed on the way
    assert world.decided == clean.decided
    assert set(world.emails) == clean.decided
    assert all(count >= 1 for count in world.emails.values())
    # Slack: one post per notification, and the same posts as without a fault
    assert _slack_posts(world) == _slack_posts(clean)
    assert all(count == 1 for count in _slack_posts(world).values())
    assert world.results <= world.decided
    assert world.store.outbox.pending() == []
    assert world.fault_happened


def test_the_clean_runs_decide_what_people_should_hear() -> None:
    titles = {name: sorted(_slack_posts(world)) for name, world in CLEAN.items()}

    assert len(titles["default"]) == 3  # suspected outage, the EC2 issue, outage lifted
    assert len(titles["no-correlation"]) == 7  # the issue; 3 firing; 3 resolved
    assert all(sum(world.emails.values()) == len(world.decided) for world in CLEAN.values())


@pytest.mark.parametrize(
    ("step", "extra_emails"),
    [
        ("outbox.mark_sent", 1),  # SNS accepted, the mark failed: the retry publishes again
        ("sns.publish", 0),
        ("transaction", 0),
        ("chat.crash_after_post", 0),
    ],
)
def test_where_a_fault_costs_an_email_duplicate(step: str, extra_emails: int) -> None:
    world = _play(Fault(step), CONFIGS["no-correlation"])

    assert sum(world.emails.values()) - len(world.decided) == extra_emails
