"""The judge and lifecycle stages: which alerts a batch concerns, and their transitions."""

from collections.abc import Callable, Iterable

from aws_lambda_powertools import Logger

from vigil.alerting.lifecycle import Transition, step
from vigil.core.errors import ConflictError
from vigil.core.model import Signal, SignalBatch
from vigil.evaluation.flow import Intake, Judged, Stepped
from vigil.evaluation.ports import Evaluation, Within
from vigil.rules.base import Breach
from vigil.rules.document import RulesConfig
from vigil.rules.kinds import STATE_KINDS, judge

logger = Logger(child=True)

MAX_CONFLICT_RETRIES = 3


def judge_signals(ctx: Evaluation) -> Judged:
    """Judge every signal of the batch; add the active alerts of the kinds it covers."""
    return judge_batch(ctx.batch, ctx.rules, ctx.store.active)


def judge_batch(
    batch: SignalBatch, rules: RulesConfig, active: Callable[[str, Within], Iterable[str]]
) -> Judged:
    """The batch's breaches, and the alerts to step: the breaching ones, then the active ones
    (``active(kind, within)``: their fingerprints, within the batch's scope of the kind when it
    has one) of the kinds the batch covers, and the calm signals
    of the state kinds (``STATE_KINDS``). The Evaluate
    function and ``vigil rules backtest`` (``vigil.evaluation.backtest``) both judge here."""
    breaches: dict[str, Breach] = {}
    calm: dict[str, Signal] = {}
    for signal in batch.signals:
        breach = judge(signal, rules)
        if breach is not None:
            breaches[breach.labels.fingerprint] = breach
        else:
            calm[signal.labels.fingerprint] = signal
    candidates = dict.fromkeys(breaches)
    # A calm signal of a state kind (a CloudWatch alarm back to OK) speaks for its own alert.
    candidates.update(dict.fromkeys(f for f, s in calm.items() if s.labels.kind in STATE_KINDS))
    for kind in batch.covered_kinds:
        candidates.update(dict.fromkeys(active(kind, batch.scope_of(kind))))
    return Judged(breaches, list(candidates), calm)


def step_alerts(ctx: Evaluation, intake: Intake) -> Stepped:
    """Step every candidate alert: read them in batches, decide, write the changed ones in
    batches; an alert that lost a race is read and decided again on its own."""
    fingerprints, breaches = intake.judged.candidates, intake.judged.breaches
    calm = intake.judged.calm
    stored = ctx.store.get_many(fingerprints)
    stepped = [
        step(
            stored.get(fingerprint),
            breaches.get(fingerprint),
            now=ctx.batch.collected_at,
            batch_id=ctx.batch.batch_id,
            rules=ctx.rules,
            calm=calm.get(fingerprint),
        )
        for fingerprint in fingerprints
    ]
    lost = set(ctx.store.save_many([(t.before, t.after) for t in stepped if t.changed]))
    if lost:
        logger.warning("alerts changed concurrently, re-reading", extra={"alerts": len(lost)})
    transitions = [
        _apply(ctx, fingerprint, breaches.get(fingerprint), calm.get(fingerprint))
        if fingerprint in lost
        else transition
        for fingerprint, transition in zip(fingerprints, stepped, strict=True)
    ]
    return Stepped(intake, transitions)


def _apply(
    ctx: Evaluation, fingerprint: str, breach: Breach | None, calm: Signal | None
) -> Transition:
    """Read, decide, write conditionally; on a lost race, read again and decide again."""
    attempt = 0
    while True:
        attempt += 1
        current = ctx.store.get(fingerprint)
        transition = step(
            current,
            breach,
            now=ctx.batch.collected_at,
            batch_id=ctx.batch.batch_id,
            rules=ctx.rules,
            calm=calm,
        )
        if not transition.changed:
            return transition  # nothing to write; a replay may still hand back its notice
        try:
            ctx.store.save(transition.before, transition.after)
        except ConflictError:
            if attempt >= MAX_CONFLICT_RETRIES:
                raise
            logger.warning(
                "alert changed concurrently, re-reading",
                extra={"fingerprint": fingerprint},
            )
        else:
            return transition
