"""Evaluate one signal batch: a pipeline of stages, each taking the previous one's output
(``vigil.evaluation.flow``), in the order the stores are read and written.

1. Judge (:func:`~vigil.evaluation.alerts.judge_signals`): the batch's breaches, and the
   alerts to step (the breaching ones and the active ones of the kinds the batch covers).
2. Health intake (:func:`~vigil.evaluation.health_intake.take_in_health`): with the outage
   ports, read the open outages, de-duplicate the AWS Health events, fold them into outages
   and save each record with its notices in the outbox.
3. Outage suspicion (:func:`~vigil.evaluation.outages.suspect_outages`): group the breaches by
   service and region; suspect or lift outages (``vigil.health.outages``).
4. Lifecycle (:func:`~vigil.evaluation.alerts.step_alerts`): step every alert and store its
   transition.
   Error groups (:func:`~vigil.evaluation.errors.annotate_errors`): a Lambda errors alert that
   speaks names its function's top tracked errors.
5. Muting (:func:`~vigil.evaluation.muting.mute`): drop the notifications an open outage
   explains, a silence mutes or an inhibit rule inhibits.
6. Outage settlement (:func:`~vigil.evaluation.outages.settle_outages`): store the outages
   that changed with their notices in the outbox; start runbooks; release muted alerts.
7. Routing and grouping (:func:`route_and_group`): route the alert events into groups; each
   group that speaks is committed with its notification in the outbox.
8. Summary (:func:`summarize`): the notifications, the summary and its log line.
"""

from collections import Counter

from aws_lambda_powertools import Logger

from vigil.alerting.messages import MAX_MESSAGES
from vigil.alerting.notify import notify_groups
from vigil.core.model import EvaluationResult, EvaluationSummary, SignalBatch
from vigil.evaluation.alerts import judge_signals, step_alerts
from vigil.evaluation.errors import annotate_errors
from vigil.evaluation.flow import Routed, Settled
from vigil.evaluation.health_intake import take_in_health
from vigil.evaluation.muting import mute
from vigil.evaluation.outages import settle_outages, suspect_outages
from vigil.evaluation.ports import (
    AlertStorePort,
    ErrorGroupsPort,
    Evaluation,
    OutagePorts,
    RoutingPorts,
)
from vigil.rules.document import RulesConfig

__all__ = ["AlertStorePort", "ErrorGroupsPort", "OutagePorts", "RoutingPorts", "evaluate"]

logger = Logger(child=True)

MAX_CHANGES_LISTED = 20


def evaluate(
    batch: SignalBatch,
    *,
    rules: RulesConfig,
    store: AlertStorePort,
    routing: RoutingPorts,
    stack: str,
    correlation: OutagePorts | None = None,
    errors: ErrorGroupsPort | None = None,
) -> EvaluationResult:
    """Apply ``batch`` to the stored alerts; ``now`` is the batch's collection time.

    Every notification decided is committed to ``outbox`` with the state change that decided
    it (``routing.outbox``); :func:`vigil.alerting.outbox.deliver` publishes them. The result lists
    them too.
    """
    root = [rules.routing.receiver(name) for name in rules.routing.route.receivers or []]
    ctx = Evaluation(batch, rules, store, routing, stack, correlation, root, errors)
    judged = judge_signals(ctx)
    intake = take_in_health(ctx, judged)
    suspected = suspect_outages(ctx, intake)
    stepped = annotate_errors(ctx, step_alerts(ctx, suspected))
    muted = mute(ctx, stepped)
    settled = settle_outages(ctx, muted)
    routed = route_and_group(ctx, settled)
    return summarize(ctx, routed)


def route_and_group(ctx: Evaluation, settled: Settled) -> Routed:
    """Route the alert events into notification groups and flush the groups that are due
    (``vigil.alerting.notify``), after the Health and outage notices.

    Health and outage notices always go out; the groups share the rest of the room.
    """
    notifications = settled.notifications
    room = max(MAX_MESSAGES - len(notifications) // max(len(ctx.root), 1), 1)
    grouped = notify_groups(
        settled.events,
        batch=ctx.batch,
        rules=ctx.rules,
        groups=ctx.routing.groups,
        alerts=ctx.store,
        outbox=ctx.routing.outbox,
        stack=ctx.stack,
        room=room,
        quiet=settled.muted.quiet,
    )
    return Routed(settled, notifications + grouped)


def summarize(ctx: Evaluation, routed: Routed) -> EvaluationResult:
    """Count what every stage did; log the summary."""
    muted = routed.settled.muted
    stepped = muted.stepped
    transitions: Counter[str] = Counter()
    changes: list[str] = []
    for transition in stepped.transitions:
        if transition.changed:
            transitions[transition.name] += 1
            labels = transition.labels
            changes.append(f"{labels.resource} {labels.kind}: {transition.name}")
    summary = EvaluationSummary(
        batch_id=ctx.batch.batch_id,
        signals=len(ctx.batch.signals),
        breaches=len(stepped.intake.judged.breaches),
        transitions=dict(transitions),
        changes=changes[:MAX_CHANGES_LISTED],
        notifications=len(routed.notifications),
        muted=len(muted.by_outage),
        silenced=muted.silenced,
        inhibited=muted.inhibited,
    )
    logger.info("evaluated", extra={"summary": summary.model_dump()})
    return EvaluationResult(
        notifications=routed.notifications, summary=summary, runbooks=routed.settled.runbooks
    )
