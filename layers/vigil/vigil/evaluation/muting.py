"""The muting stage: drop the notifications an open outage, a silence or an inhibit rule
mutes."""

from aws_lambda_powertools import Logger

from vigil.core.model import Alert, AlertState, NotifyReason
from vigil.evaluation.flow import Muted, Stepped
from vigil.evaluation.ports import Evaluation
from vigil.health.outages import Outage
from vigil.rules.routing import inhibited, label_values

logger = Logger(child=True)


def mute(ctx: Evaluation, stepped: Stepped) -> Muted:
    """Sort each transition's notification: muted by the open outage that explains it,
    silenced, inhibited, or on to routing.

    The alerts themselves are stored whatever happens here. A resolution is never silenced
    or inhibited: its group drops it unless the receiver heard the alert fire.
    """
    now, outages = ctx.batch.collected_at, stepped.intake.outages
    firing = [
        label_values(t.after.labels, t.after.severity, t.after.tags)
        for t in stepped.transitions
        if t.after is not None and t.after.state is AlertState.FIRING
    ]
    active = [s for s in ctx.routing.silences.current(now) if s.active(now)]
    events: list[tuple[Alert, NotifyReason]] = []
    by_outage: list[tuple[Outage, str]] = []
    silenced = inhibited_count = 0
    quiet: list[Alert] = []
    for transition in stepped.transitions:
        alert, reason = transition.after, transition.notify
        if alert is not None and reason is None and _resolved_quietly(transition.before, alert):
            quiet.append(alert)
        if alert is None or reason is None:
            continue
        explaining = outages.explaining(alert, ctx.rules) if outages is not None else None
        values = label_values(alert.labels, alert.severity, alert.tags)
        mutable = reason is not NotifyReason.RESOLVED
        if explaining is not None:
            by_outage.append((explaining, alert.fingerprint))
            logger.info(
                "muted by an open outage",
                extra={"fingerprint": alert.fingerprint, "incident": explaining.incident},
            )
        elif mutable and any(s.mutes(values, now) for s in active):
            silenced += 1
            logger.info("silenced", extra={"fingerprint": alert.fingerprint})
        elif mutable and inhibited(ctx.rules.routing, values, firing):
            inhibited_count += 1
            logger.info("inhibited", extra={"fingerprint": alert.fingerprint})
        else:
            events.append((alert, reason))
    return Muted(stepped, events, by_outage, silenced, inhibited_count, quiet)


def _resolved_quietly(before: Alert | None, after: Alert) -> bool:
    return (
        before is not None
        and before.state is AlertState.FIRING
        and after.state is AlertState.RESOLVED
    )
