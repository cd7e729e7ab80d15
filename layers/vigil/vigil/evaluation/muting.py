"""The muting stage: drop the notifications an open outage, a silence or an inhibit rule
mutes.

Inhibition looks at every alert firing now, not only this evaluation's: when an inhibit rule
could mute one of the evaluation's notifications, the firing alerts of the kinds its source
side can match are read from the state table's sparse index of active alerts (one ``Query``
a kind), at most :data:`MAX_INHIBIT_SOURCES` of them (ADR 43). Should that read fail, the
evaluation's own firing alerts are the only sources: a store failure may let a notification
through that would have been inhibited, never lose one.
"""

from collections.abc import Mapping, Sequence

from aws_lambda_powertools import Logger

from vigil.core.errors import VigilError
from vigil.core.model import Alert, AlertState, NotifyReason
from vigil.evaluation.flow import Muted, Stepped
from vigil.evaluation.ports import Evaluation
from vigil.health.outages import Outage
from vigil.rules.kinds import KINDS
from vigil.rules.routing import inhibited, label_values

logger = Logger(child=True)

MAX_INHIBIT_SOURCES = 2000
"""Firing alerts read as inhibition sources per evaluation, at most (a storm's bound)."""


def mute(ctx: Evaluation, stepped: Stepped) -> Muted:
    """Sort each transition's notification: muted by the open outage that explains it,
    silenced, inhibited, or on to routing.

    The alerts themselves are stored whatever happens here. A resolution is never silenced
    or inhibited: its group drops it unless the receiver heard the alert fire.
    """
    now, outages = ctx.batch.collected_at, stepped.intake.outages
    active = [s for s in ctx.routing.silences.current(now) if s.active(now)]
    events: list[tuple[Alert, NotifyReason]] = []
    by_outage: list[tuple[Outage, str]] = []
    silenced = inhibited_count = 0
    quiet: list[Alert] = []
    # In order: each notification left, with its label values when an inhibit rule may mute it.
    left: list[tuple[Alert, NotifyReason, dict[str, str] | None]] = []
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
        else:
            left.append((alert, reason, values if mutable else None))
    firing = _firing(ctx, stepped, [values for _, _, values in left if values is not None])
    for alert, reason, maybe in left:
        if maybe is not None and inhibited(ctx.rules.routing, maybe, firing):
            inhibited_count += 1
            logger.info("inhibited", extra={"fingerprint": alert.fingerprint})
        else:
            events.append((alert, reason))
    return Muted(stepped, events, by_outage, silenced, inhibited_count, quiet)


def _firing(
    ctx: Evaluation, stepped: Stepped, targets: Sequence[Mapping[str, str]]
) -> list[dict[str, str]]:
    """The label values of the alerts that may inhibit ``targets``: this evaluation's firing
    alerts and, when a rule could mute a target, the stored firing alerts of the kinds its
    source side can match."""
    ours = {
        t.after.fingerprint: label_values(t.after.labels, t.after.severity, t.after.tags)
        for t in stepped.transitions
        if t.after is not None and t.after.state is AlertState.FIRING
    }
    rules = [
        rule
        for rule in ctx.rules.routing.inhibit_rules
        if any(rule.target_matches(target) for target in targets)
    ]
    if not rules:
        return list(ours.values())
    kinds = sorted({kind for rule in rules for kind in rule.source_kinds(KINDS)})
    try:
        stored = ctx.store.firing(kinds, MAX_INHIBIT_SOURCES)
    except VigilError as exc:
        logger.warning(
            "the firing alerts could not be read: only this evaluation's inhibit",
            extra={"error": str(exc)},
        )
        return list(ours.values())
    if len(stored) >= MAX_INHIBIT_SOURCES:
        logger.warning(
            "more firing alerts than are read as inhibition sources",
            extra={"read": len(stored), "kinds": kinds},
        )
    sources = {a.fingerprint: label_values(a.labels, a.severity, a.tags) for a in stored}
    return list((sources | ours).values())


def _resolved_quietly(before: Alert | None, after: Alert) -> bool:
    return (
        before is not None
        and before.state is AlertState.FIRING
        and after.state is AlertState.RESOLVED
    )
