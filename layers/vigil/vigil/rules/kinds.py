"""Every kind Vigil judges, declared once by its family (docs/rules.md): :func:`judge` and
:func:`kind_title` look here.
"""

from typing import Any

from vigil.core.model import Signal
from vigil.rules import (
    alarms,
    cost,
    data_dials,
    edge_dials,
    health,
    lambda_dials,
    organization,
    self_watch,
    volume,
)
from vigil.rules.base import Breach, SignalKind
from vigil.rules.document import RulesConfig


def _registry(*kinds: SignalKind[Any]) -> dict[str, SignalKind[Any]]:
    registry: dict[str, SignalKind[Any]] = {}
    for kind in kinds:
        if kind.name in registry:
            raise ValueError(f"signal kind {kind.name} is declared twice")
        registry[kind.name] = kind
    return registry


KINDS: dict[str, SignalKind[Any]] = _registry(
    *volume.KINDS,
    *lambda_dials.KINDS,
    *data_dials.KINDS,
    *edge_dials.KINDS,
    *cost.KINDS,
    *health.KINDS,
    *self_watch.KINDS,
    *alarms.KINDS,
    *organization.KINDS,
)
"""Every kind Vigil judges (docs/rules.md): :func:`judge` and :func:`kind_title` look here."""

COST_KINDS = frozenset(name for name, kind in KINDS.items() if kind.config == "cost")

EVENT_KINDS = cost.EVENT_KINDS | {lambda_dials.NEW_ERROR_TYPE_KIND}
"""Kinds that report an event rather than a condition: they clear without a resolved notice."""

STATE_KINDS = frozenset({alarms.ALARM_KIND})
"""Kinds whose signal states its own alert's condition, calm included: a CloudWatch alarm's
``OK`` resolves its alert without the batch covering the kind (which would resolve every other
alarm's alert too)."""


def judge(signal: Signal, rules: RulesConfig) -> Breach | None:
    """Apply the rule for the signal's kind, with the overrides and ``vigil:`` tags of its
    resource (``vigil.rules.overrides``); ``None`` means healthy, opted out, or no rule."""
    kind = KINDS.get(signal.labels.kind)
    if kind is None:
        return None
    if kind.config is None:
        return kind.judge(signal, None)
    labels = signal.labels
    rule = rules.resolver.resolve(labels.kind, kind.config, labels.resource, signal.tags).rule
    return None if rule is None else kind.judge(signal, rule)


def breaches_any_rule(signal: Signal, rules: RulesConfig) -> bool:
    """Whether ``signal`` breaches its kind's rule as the config sets it or as any entry of
    ``overrides`` does, whatever resource they select: an account aggregate judged so drills
    into the functions whenever one of them might breach its own rule."""
    kind = KINDS.get(signal.labels.kind)
    if kind is None or kind.config is None:
        return False
    return any(
        kind.judge(signal, rule) is not None for rule in rules.resolver.variants(kind.config)
    )


def kind_title(kind: str) -> str:
    """What a human calls a kind's alerts: ``Lambda errors``, ``Cost spike``."""
    known = KINDS.get(kind)
    return known.title if known is not None else kind
