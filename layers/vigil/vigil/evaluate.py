"""Evaluate one signal batch: judge, step each alert's lifecycle, decide notifications."""

from collections import Counter
from typing import Protocol

from aws_lambda_powertools import Logger

from vigil.errors import ConflictError
from vigil.lifecycle import Transition, step
from vigil.model import (
    Alert,
    EvaluationResult,
    EvaluationSummary,
    Notification,
    SignalBatch,
)
from vigil.notifications import fit_to_budget, notification_for
from vigil.rules import Breach, RulesConfig, judge

logger = Logger(child=True)

MAX_CONFLICT_RETRIES = 3
MAX_CHANGES_LISTED = 20


class AlertStorePort(Protocol):
    def get(self, fingerprint: str) -> Alert | None: ...

    def active(self, kind: str) -> list[str]: ...

    def save(self, before: Alert | None, after: Alert | None) -> None: ...


def evaluate(
    batch: SignalBatch, *, rules: RulesConfig, store: AlertStorePort, stack: str
) -> EvaluationResult:
    """Apply ``batch`` to the stored alerts; ``now`` is the batch's collection time."""
    breaches: dict[str, Breach] = {}
    for signal in batch.signals:
        breach = judge(signal, rules)
        if breach is not None:
            breaches[breach.labels.fingerprint] = breach
    candidates = dict.fromkeys(breaches)
    for kind in batch.covered_kinds:
        candidates.update(dict.fromkeys(store.active(kind)))

    transitions: Counter[str] = Counter()
    changes: list[str] = []
    notifications: list[Notification] = []
    for fingerprint in candidates:
        transition = _apply(fingerprint, breaches.get(fingerprint), batch, rules, store)
        if transition.changed:
            transitions[transition.name] += 1
            labels = transition.labels
            changes.append(f"{labels.resource} {labels.kind}: {transition.name}")
        notification = notification_for(transition, stack=stack, batch_id=batch.batch_id)
        if notification is not None:
            notifications.append(notification)
            logger.info(
                "notify",
                extra={
                    "fingerprint": fingerprint,
                    "reason": transition.notify,
                    "subject": notification.subject,
                },
            )
    notifications = fit_to_budget(notifications, stack=stack, batch_id=batch.batch_id)
    summary = EvaluationSummary(
        batch_id=batch.batch_id,
        signals=len(batch.signals),
        breaches=len(breaches),
        transitions=dict(transitions),
        changes=changes[:MAX_CHANGES_LISTED],
        notifications=len(notifications),
    )
    logger.info("evaluated", extra={"summary": summary.model_dump()})
    return EvaluationResult(notifications=notifications, summary=summary)


def _apply(
    fingerprint: str,
    breach: Breach | None,
    batch: SignalBatch,
    rules: RulesConfig,
    store: AlertStorePort,
) -> Transition:
    """Read, decide, write conditionally; on a lost race, read again and decide again."""
    attempt = 0
    while True:
        attempt += 1
        current = store.get(fingerprint)
        transition = step(
            current,
            breach,
            now=batch.collected_at,
            batch_id=batch.batch_id,
            rules=rules,
        )
        if not transition.changed:
            return transition  # nothing to write; a replay may still hand back its notice
        try:
            store.save(transition.before, transition.after)
        except ConflictError:
            if attempt >= MAX_CONFLICT_RETRIES:
                raise
            logger.warning(
                "alert changed concurrently, re-reading",
                extra={"fingerprint": fingerprint},
            )
        else:
            return transition
