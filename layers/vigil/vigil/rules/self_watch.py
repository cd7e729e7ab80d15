"""Vigil's own health, judged like any other alert: an invalid rules config, invalid
``vigil:`` tags of a resource."""

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


# A resource's vigil: tags do not validate and its config's rule applies (vigil.rules.overrides).
TAGS_KIND = "vigil.resource_tags_invalid"


def _judge_tags(signal: Signal, _rule: None) -> Breach | None:
    if signal.value <= 0:
        return None
    problem = signal.context.get("problem", "its vigil: tags are invalid")
    summary = f"Tags of {signal.labels.resource} ignored, the config's rule applies: {problem}"
    return breach(signal, Severity.WARNING, signal.value, 0, "Count", summary=summary)


KINDS: tuple[SignalKind[Any], ...] = (
    SignalKind(CONFIG_KIND, "Vigil rules config invalid", None, _judge_config),
    SignalKind(TAGS_KIND, "Vigil resource tags invalid", None, _judge_tags),
)
