"""Turn AWS Health events into signal batches for the Evaluate workflow.

Two entry points: :func:`batch_from_event` for the ``aws.health`` EventBridge rule (the
primary feed) and :func:`poll` for the scheduled catch-up of the Health API. Both drop the
events the rules config filters out (``health.include``/``exclude``) here, so a filtered
event never starts a workflow, let alone notifies.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from vigil.clock import parse_time
from vigil.errors import InvalidEventError
from vigil.health import from_eventbridge, wanted
from vigil.model import HealthEvent, SignalBatch
from vigil.rules import RulesConfig

logger = Logger(child=True)

EVENTS_PER_BATCH = 25  # keeps a batch well inside the 256 KiB Step Functions input


class HealthApiPort(Protocol):
    def events(
        self, *, since: datetime, account: str, keep: Callable[[HealthEvent], bool]
    ) -> list[HealthEvent]: ...


def batch_from_event(event: dict[str, Any], *, rules: RulesConfig) -> SignalBatch | None:
    """The batch for one ``aws.health`` event, or ``None`` when the config filters it out."""
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
    return SignalBatch(
        batch_id=f"health-{event_id}"[:80],
        source="health",
        collected_at=now,
        covered_kinds=[],
        signals=[],
        health_events=[health],
    )


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
            SignalBatch(
                batch_id=f"health-poll-{account}-{now:%Y%m%dT%H%M}Z-{index // EVENTS_PER_BATCH}",
                source="health",
                collected_at=now,
                covered_kinds=[],
                signals=[],
                health_events=events[index : index + EVENTS_PER_BATCH],
            )
        )
    return batches
