"""Turn AWS Health events into signal batches for the Evaluate workflow.

Two entry points: :func:`batch_from_event` for the ``aws.health`` EventBridge rule (the
primary feed) and :func:`poll` for the scheduled catch-up of the Health API. Both drop the
events the rules config filters out (``health.include``/``exclude``) here, so a filtered
event never starts a workflow, let alone notifies.

An event in pages is held until its last page arrives and then sent whole, once
(:func:`vigil.health.events.merge_page`). An event Vigil cannot read is parked once with the reason
and announced, never retried (:func:`park_invalid`). A poll that gets no answer is counted;
poll batches speak for ``vigil.health_poll`` (:func:`with_poll_status`), which alerts after
``health.poll_failures_before_alert`` failed polls in a row and resolves with the first good
one (ADR 30).
"""

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from aws_lambda_powertools import Logger

from vigil.alerting.messages import addressed
from vigil.core.clock import parse_time
from vigil.core.errors import ConflictError, InvalidEventError
from vigil.core.model import Contract, HealthEvent, Labels, Notification, Signal, SignalBatch
from vigil.health.events import (
    HealthPagesPort,
    Page,
    eventbridge_page,
    from_eventbridge,
    merge_page,
    parked_notification,
    wanted,
)
from vigil.rules.document import RulesConfig
from vigil.rules.health import HEALTH_POLL_KIND

logger = Logger(child=True)

EVENTS_PER_BATCH = 25  # keeps a batch well inside the 256 KiB Step Functions input
MAX_PAGE_WRITES = 5  # pages of one event arriving at once: re-read and retry a lost race
HEALTH_API_RESOURCE = "AWS Health API"


class HealthApiPort(Protocol):
    def events(
        self, *, since: datetime, account: str, keep: Callable[[HealthEvent], bool]
    ) -> list[HealthEvent]: ...


class ParkedEventsPort(Protocol):
    def seen(self, event_id: str) -> bool: ...

    def park(self, event_id: str, *, event: object, reason: str, at: datetime | None) -> None:
        """Keep the event and why it was parked; a second park of one id changes nothing."""
        ...


class TopicPort(Protocol):
    def publish(self, notification: Notification) -> str: ...


class PollState(Contract):
    """How many catch-up polls in a row got no answer (pk ``HEALTHPOLL#<account>``)."""

    version: Literal[1] = 1
    failures: int = 0
    last_error: str = ""


def batch_from_event(
    event: dict[str, Any], *, rules: RulesConfig, pages: HealthPagesPort
) -> SignalBatch | None:
    """The batch for one ``aws.health`` event; ``None`` when the config filters it out, or
    while other pages of its event have not arrived."""
    event_id = event.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise InvalidEventError("aws.health event: id: expected the EventBridge event id")
    now = parse_time(event.get("time"), field="aws.health event: time")
    health = from_eventbridge(event)
    if not wanted(health, rules.health):
        logger.info(
            "health event filtered out by the rules config",
            extra={"arn": health.arn, "event_type_code": health.event_type_code},
        )
        return None
    page = eventbridge_page(event)
    whole = health if page is None else _with_pages(health, page, pages)
    if whole is None:
        logger.info(
            "health event page kept until every page is in",
            extra={"arn": health.arn, "page": page},
        )
        return None
    return SignalBatch(
        batch_id=f"health-{event_id}"[:80],
        source="health",
        collected_at=now,
        covered_kinds=[],
        signals=[],
        health_events=[whole],
    )


def _with_pages(event: HealthEvent, page: Page, pages: HealthPagesPort) -> HealthEvent | None:
    """Store the page (conditionally: pages arrive together); the whole event once complete."""
    for _ in range(MAX_PAGE_WRITES):
        before = pages.get(event.arn, event.account)
        after, whole = merge_page(before, event, page)
        if after is None:
            return whole
        try:
            pages.save(before, after)
        except ConflictError:
            continue
        return whole
    raise ConflictError(f"pages of {event.arn}: still racing after {MAX_PAGE_WRITES} tries")


def event_id_of(event: object) -> str:
    """The EventBridge event id, or a hash of the event when it has none."""
    event_id = event.get("id") if isinstance(event, dict) else None
    if isinstance(event_id, str) and event_id:
        return event_id[:200]
    body = json.dumps(event, sort_keys=True, default=str)
    return "sha256-" + hashlib.sha256(body.encode()).hexdigest()[:32]


def park_invalid(
    event: object,
    reason: str,
    *,
    parked: ParkedEventsPort,
    topic: TopicPort,
    rules: RulesConfig,
    stack: str,
    table: str,
) -> bool:
    """Park an event Vigil cannot read, once, and tell the root route's receivers which and
    why; ``False`` if it was parked before (a redelivery). Announced before it is recorded,
    so a failure in between announces it again under the same notification id (chat
    delivery drops the copy) rather than never."""
    event_id = event_id_of(event)
    if parked.seen(event_id):
        return False
    notice = parked_notification(event_id, reason, stack=stack, table=table)
    for name in rules.routing.route.receivers or []:
        topic.publish(addressed(notice, rules.routing.receiver(name)))
    at = event.get("time") if isinstance(event, dict) else None
    try:
        moment: datetime | None = parse_time(at, field="time")
    except InvalidEventError:
        moment = None
    parked.park(event_id, event=event, reason=reason, at=moment)
    return True


def poll(
    api: HealthApiPort, *, rules: RulesConfig, now: datetime, account: str
) -> list[SignalBatch]:
    """Batches of the events updated within ``health.poll_lookback_hours`` before ``now``.

    Raises ``HealthApiUnavailable`` (``HealthSubscriptionRequired`` without a support plan).
    """
    since = now - timedelta(hours=rules.health.poll_lookback_hours)
    events = api.events(since=since, account=account, keep=lambda e: wanted(e, rules.health))
    batches: list[SignalBatch] = []
    for index in range(0, len(events), EVENTS_PER_BATCH):
        batches.append(
            _poll_batch(
                account, now, index // EVENTS_PER_BATCH, events[index : index + EVENTS_PER_BATCH]
            )
        )
    return batches


def _poll_batch(account: str, now: datetime, index: int, events: list[HealthEvent]) -> SignalBatch:
    return SignalBatch(
        batch_id=f"health-poll-{account}-{now:%Y%m%dT%H%M}Z-{index}",
        source="health",
        collected_at=now,
        covered_kinds=[],
        signals=[],
        health_events=events,
    )


def next_poll_state(before: PollState, error: str | None) -> PollState:
    """One more failure, or none at all after a poll that got an answer."""
    if error is None:
        return PollState()
    return PollState(failures=before.failures + 1, last_error=error[:500])


def with_poll_status(
    batches: list[SignalBatch],
    before: PollState,
    after: PollState,
    *,
    now: datetime,
    account: str,
    region: str,
) -> list[SignalBatch]:
    """The poll's batches, speaking for ``vigil.health_poll`` when it matters: a failed poll
    sends its count (the rule alerts from ``health.poll_failures_before_alert``), the first
    good poll after failures covers the kind without a signal, which resolves the alert.
    A good poll after good polls adds nothing, so a quiet hour starts no workflow."""
    if after.failures == 0 and before.failures == 0:
        return batches
    first = batches[0] if batches else _poll_batch(account, now, 0, [])
    signals = list(first.signals)
    if after.failures:
        signals.append(
            Signal(
                source="health",
                labels=Labels(
                    kind=HEALTH_POLL_KIND,
                    resource=HEALTH_API_RESOURCE,
                    account=account,
                    region=region,
                ),
                value=after.failures,
                unit="Count",
                window_seconds=60,
                observed_at=now,
                context={"error": after.last_error},
            )
        )
    status = first.model_copy(
        update={"signals": signals, "covered_kinds": [*first.covered_kinds, HEALTH_POLL_KIND]}
    )
    return [status, *batches[1:]]
