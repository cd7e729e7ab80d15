"""Every kind Vigil judges, declared once by its family (docs/rules.md): :func:`judge` and
:func:`kind_title` look here.
"""

from typing import Any

from vigil.core.model import Signal
from vigil.rules import cost, data_dials, edge_dials, health, lambda_dials, self_watch, volume
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
)
"""Every kind Vigil judges (docs/rules.md): :func:`judge` and :func:`kind_title` look here."""

COST_KINDS = frozenset(name for name, kind in KINDS.items() if kind.config == "cost")


def judge(signal: Signal, rules: RulesConfig) -> Breach | None:
    """Apply the rule for the signal's kind; ``None`` means healthy (or no rule)."""
    kind = KINDS.get(signal.labels.kind)
    if kind is None:
        return None
    return kind.judge(signal, getattr(rules, kind.config) if kind.config is not None else None)


def kind_title(kind: str) -> str:
    """What a human calls a kind's alerts: ``Lambda errors``, ``Cost spike``."""
    known = KINDS.get(kind)
    return known.title if known is not None else kind
