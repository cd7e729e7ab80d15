"""Vigil's own health, judged like any other alert: an invalid rules config."""

from typing import Any

from vigil.core.model import Severity, Signal
from vigil.rules.base import Breach, SignalKind, breach

# The stack's own rules config is invalid and the last good one runs (vigil.rules.loading).
CONFIG_KIND = "vigil.config_invalid"


def _judge_config(signal: Signal, _rule: None) -> Breach | None:
    if signal.value <= 0:
        return None
    problem = signal.context.get("problem", "the rules config is invalid")
    summary = f"Running the last good rules config: {problem}"
    return breach(signal, Severity.WARNING, signal.value, 0, "Count", summary=summary)


KINDS: tuple[SignalKind[Any], ...] = (
    SignalKind(CONFIG_KIND, "Vigil rules config invalid", None, _judge_config),
)
