"""The Health intake stage: de-duplicate the batch's AWS Health events, fold them into
outages, and decide what a reader should hear about them."""

from aws_lambda_powertools import Logger

from vigil.alerting.messages import addressed
from vigil.alerting.outbox import OutboxEntry
from vigil.core.model import HealthEvent, Notification
from vigil.evaluation.flow import Intake, Judged
from vigil.evaluation.ledger import OutageLedger
from vigil.evaluation.ports import Evaluation, OutagePorts
from vigil.health.events import HealthChange, health_notification, track
from vigil.health.outages import OutageStep, health_update

logger = Logger(child=True)


def take_in_health(ctx: Evaluation, judged: Judged) -> Intake:
    """Without the outage ports, nothing to take in. With them, read the open outages (when
    correlating), then track each Health event.

    When an event opens, confirms or ends an outage, the outage notification (which quotes
    AWS) stands in for the event's own NEW or RESOLVED message. Each record is saved with
    its notices (one per root receiver) in the outbox.
    """
    if ctx.correlation is None:
        return Intake(judged, [], None)
    outages = OutageLedger(ctx.correlation.outages)
    if ctx.correlates:
        outages.read_open()
    notifications: list[Notification] = []
    for event in ctx.batch.health_events:
        notifications += _track(ctx, ctx.correlation, event, outages)
    return Intake(judged, notifications, outages)


def _track(
    ctx: Evaluation, ports: OutagePorts, event: HealthEvent, outages: OutageLedger
) -> list[Notification]:
    """Track one Health event: save its record with its notices in the outbox."""
    record = ports.health.get(event.arn, event.account)
    after, change = track(record, event)
    notices: list[Notification] = []
    if change is not None:
        step = _health_outage(ctx, event, outages) if ctx.correlates else None
        folded = step is not None and step.change is not None
        if folded and change is not HealthChange.UPDATED:
            logger.info("health event folded into the outage", extra={"arn": event.arn})
        else:
            notice = health_notification(
                event, change, stack=ctx.stack, account_name=_name(ports, event)
            )
            notices = [addressed(notice, r) for r in ctx.root]
    if after is not None:
        ports.health.save(record, after, [OutboxEntry.decided_by(n, ctx.batch) for n in notices])
    return notices


def _name(ports: OutagePorts, event: HealthEvent) -> str | None:
    """The name of the event's account when the Organization's members are known (asked only
    for a notice that names an account)."""
    if ports.account_names is None or event.account is None:
        return None
    return ports.account_names.name(event.account)


def _health_outage(ctx: Evaluation, event: HealthEvent, outages: OutageLedger) -> OutageStep | None:
    step = health_update(
        outages.current(event.service_key, event.region),
        event,
        now=ctx.batch.collected_at,
        batch_id=ctx.batch.batch_id,
        config=ctx.rules.outage,
    )
    if step is not None:
        outages.record(step)
    return step
