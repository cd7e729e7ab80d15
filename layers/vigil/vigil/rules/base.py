"""What every family of rules shares: the config model's base, the verdict a judge gives
(:class:`Breach`), the declaration of a signal kind (:class:`SignalKind`) and the helpers that
word a breach.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vigil.core.model import Evidence, Labels, Severity, Signal


class ConfigModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def ordered[M: BaseModel](model: M, low: str, high: str) -> M:
    """``model`` itself, once its ``high`` level is known not to be below its ``low`` one."""
    if getattr(model, high) < getattr(model, low):
        raise ValueError(f"{high} must be at least {low}")
    return model


class UsageLevels(ConfigModel):
    """Use of a limit: at ``warning_ratio`` of it a rule warns, at ``critical_ratio`` it pages."""

    enabled: bool = True
    warning_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.8
    critical_ratio: Annotated[float, Field(gt=0, le=1)] = 0.9

    @model_validator(mode="after")
    def _critical_above_warning(self) -> Self:
        return ordered(self, "warning_ratio", "critical_ratio")


@dataclass(frozen=True)
class Breach:
    """A rule's verdict that a signal is bad, and how long it must last before it fires."""

    labels: Labels
    severity: Severity
    evidence: Evidence
    for_seconds: int
    repeat_minutes: int | None = None
    tags: Mapping[str, str] | None = None
    """The resource's tags its signal carried; ``None`` when an error stream signal carries
    none (the stream reads only the stored tag labels, when it has them), so that the alert
    keeps the labels it has."""


def breach(
    signal: Signal,
    severity: Severity,
    value: float,
    threshold: float,
    unit: str,
    *,
    summary: str,
    for_seconds: int = 0,
    repeat_minutes: int | None = None,
) -> Breach:
    """A rule's verdict on ``signal``: its evidence keeps the signal's window, time, samples and
    tracked errors."""
    return Breach(
        labels=signal.labels,
        severity=severity,
        evidence=Evidence(
            value=value,
            threshold=threshold,
            unit=unit,
            window_seconds=signal.window_seconds,
            observed_at=signal.observed_at,
            summary=summary,
            samples=signal.samples,
            errors=signal.errors,
        ),
        for_seconds=for_seconds,
        repeat_minutes=repeat_minutes,
        tags=None if signal.source == "logs" and not signal.tags else signal.tags,
    )


@dataclass(frozen=True)
class Level:
    """The level a use reached of its limit: ``ratio`` is the critical one when it pages,
    the warning one when it warns."""

    critical: bool
    ratio: float


def level_reached(used: float, limit: float, warning: float, critical: float) -> Level | None:
    """The level ``used`` reached of ``limit``: ``None`` below ``warning`` of it, or no limit."""
    if limit <= 0 or used < warning * limit:
        return None
    pages = used >= critical * limit
    return Level(critical=pages, ratio=critical if pages else warning)


def usage_breach(signal: Signal, level: Level, percent: float, summary: str) -> Breach:
    """A use at ``percent`` of its limit, against the level it reached; it fires at once."""
    return breach(
        signal,
        Severity.CRITICAL if level.critical else Severity.WARNING,
        round(percent, 2),
        round(level.ratio * 100, 2),
        "Percent",
        summary=summary,
    )


def judge_usage(
    signal: Signal, rule: UsageLevels, used: float, limit: float, *, use: str, then: str = ""
) -> Breach | None:
    """A use of a limit against the rule's levels. ``use`` says what was used of what
    ("peak concurrency 950 of the account limit 1,000"), ``then`` what happens at the limit."""
    level = level_reached(used, limit, rule.warning_ratio, rule.critical_ratio)
    if not rule.enabled or level is None:
        return None
    return usage_breach(
        signal,
        level,
        used / limit * 100,
        f"{use} ({used / limit:.0%}) over {signal.window_seconds // 60} min, at or above"
        f" {level.ratio:.0%}{then}",
    )


def count_breach(
    signal: Signal,
    count: float,
    unit: str,
    summary: str,
    *,
    severity: Severity,
    critical_count: int,
    critical_note: str = "",
) -> Breach:
    """``count`` bad events: they alert at ``severity``, and ``critical_count`` or more page,
    with ``critical_note`` added to the summary."""
    critical = count >= critical_count
    return breach(
        signal,
        Severity.CRITICAL if critical else severity,
        count,
        float(critical_count if critical else 0),
        unit,
        summary=summary + (critical_note if critical else ""),
    )


def plural(count: float, noun: str) -> str:
    number = f"{count:,.0f}"
    return f"{number} {noun}" if count == 1 else f"{number} {noun}s"


def duration_text(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3.5 h``, ``4 d``: the unit a reader thinks in."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.3g} h"
    return f"{seconds / 86400:.3g} d"


@dataclass(frozen=True)
class SignalKind[R]:
    """One kind of signal Vigil judges, declared once by its family: what people call its
    alerts, the rules-config field that sets it (its section of docs/rules.md; ``None`` for
    Vigil's own config) and its judge, which is given that field's rule."""

    name: str
    title: str
    config: str | None
    judge: Callable[[Signal, R], Breach | None]
