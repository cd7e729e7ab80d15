"""The rules config and the rules themselves.

The config is one JSON document (the ``RulesConfig`` stack parameter, ``VIGIL_RULES`` in the
functions' environment) that overrides the defaults below; docs/rules.md documents every
field with its reason. It is validated at cold start: an invalid document raises
``ConfigError`` naming each offending field, e.g. ``lambda_errors.warning_rate``.
"""

import json
from dataclasses import dataclass
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vigil.errors import ConfigError, describe_validation
from vigil.model import Evidence, Labels, Severity, Signal


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VolumeAwareRule(_Config):
    """Alert on a count of bad events among a volume of requests.

    Below ``low_volume_below`` requests in the window every bad event counts and fires at
    once: a function called a few times an hour has no "normal" error rate. At or above it
    the rate must exceed ``warning_rate`` (``critical_rate`` for a page) and stay above it
    for ``for_minutes``, so a single noisy minute of a busy function does not page.
    """

    enabled: bool = True
    low_volume_below: Annotated[int, Field(ge=1)]
    low_volume_severity: Severity = Severity.WARNING
    warning_rate: Annotated[float, Field(gt=0, lt=1)]
    critical_rate: Annotated[float, Field(gt=0, le=1)]
    for_minutes: Annotated[int, Field(ge=0, le=1440)]

    @model_validator(mode="after")
    def _critical_above_warning(self) -> Self:
        if self.critical_rate < self.warning_rate:
            raise ValueError("critical_rate must be at least warning_rate")
        return self


class CollectionConfig(_Config):
    window_minutes: Annotated[int, Field(ge=1, le=60)] = 5
    lag_minutes: Annotated[int, Field(ge=0, le=15)] = 2


HealthCategory = Literal["issue", "accountNotification", "scheduledChange", "investigation"]


class HealthMatch(_Config):
    """Which AWS Health events a filter matches: every given list must match (an empty list
    matches anything). ``services`` and ``event_type_codes`` take shell-style patterns
    (``AWS_VPN_*``); ``regions`` takes region names or ``global``."""

    categories: list[HealthCategory] = Field(default_factory=list)
    services: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    event_type_codes: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    regions: list[Annotated[str, Field(pattern=r"^(global|[a-z]{2}(-[a-z]+)+-\d)$")]] = Field(
        default_factory=list
    )
    accounts: list[Annotated[str, Field(pattern=r"^\d{12}$")]] = Field(default_factory=list)


class HealthConfig(_Config):
    """AWS Health: which events notify. An event notifies when it matches ``include`` and
    no entry of ``exclude``."""

    enabled: bool = True
    include: HealthMatch = Field(default_factory=HealthMatch)
    exclude: list[HealthMatch] = Field(
        default_factory=lambda: [
            # One tunnel of a redundant VPN down is routine maintenance noise.
            HealthMatch(event_type_codes=["AWS_VPN_SINGLE_TUNNEL_NOTIFICATION"]),
        ]
    )
    poll_lookback_hours: Annotated[int, Field(ge=1, le=168)] = 24


class OutageConfig(_Config):
    """Outage correlation: suspect an AWS outage when ``min_resources`` resources of one
    service in one region breach at once; inhibit the per-resource alerts it explains."""

    enabled: bool = True
    min_resources: Annotated[int, Field(ge=2, le=1000)] = 3
    kinds: list[Annotated[str, Field(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")]] = Field(
        default_factory=lambda: ["lambda.errors", "lambda.throttles"]
    )
    runbook: Literal["start", "suggest"] = "suggest"
    inhibit: bool = True


def _lambda_errors_default() -> VolumeAwareRule:
    return VolumeAwareRule(
        low_volume_below=1000,
        warning_rate=0.001,
        critical_rate=0.01,
        for_minutes=5,
    )


def _lambda_throttles_default() -> VolumeAwareRule:
    return VolumeAwareRule(
        low_volume_below=1000,
        warning_rate=0.01,
        critical_rate=0.05,
        for_minutes=10,
    )


class RulesConfig(_Config):
    version: Literal[1] = 1
    collection: CollectionConfig = Field(default_factory=CollectionConfig)
    lambda_errors: VolumeAwareRule = Field(default_factory=_lambda_errors_default)
    lambda_throttles: VolumeAwareRule = Field(default_factory=_lambda_throttles_default)
    repeat_interval_minutes: Annotated[int, Field(ge=1, le=10080)] = 240
    send_resolved: bool = True
    resolved_retention_days: Annotated[int, Field(ge=1, le=400)] = 30
    health: HealthConfig = Field(default_factory=HealthConfig)
    outage: OutageConfig = Field(default_factory=OutageConfig)

    @classmethod
    def from_json(cls, text: str, *, source: str = "VIGIL_RULES") -> "RulesConfig":
        """Parse overrides; fields not given keep their defaults, nested objects merge."""
        try:
            overrides = json.loads(text or "{}")
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{source}: not valid JSON ({exc})") from exc
        if not isinstance(overrides, dict):
            raise ConfigError(f"{source}: expected a JSON object, got {type(overrides).__name__}")
        merged = _merge(cls().model_dump(mode="json"), overrides)
        try:
            return cls.model_validate(merged)
        except ValidationError as exc:
            raise ConfigError(
                f"{source}: invalid rules config: {describe_validation(exc)}"
            ) from exc

    def rule_for(self, kind: str) -> "VolumeAwareRule | None":
        spec = KIND_SPECS.get(kind)
        if spec is None:
            return None
        rule: VolumeAwareRule = getattr(self, spec.rule)
        return rule if rule.enabled else None

    @property
    def enabled_kinds(self) -> list[str]:
        return [kind for kind in KIND_SPECS if self.rule_for(kind) is not None]


def _merge(base: dict[str, object], overrides: dict[str, object]) -> dict[str, object]:
    merged = dict(base)
    for key, value in overrides.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged[key] = _merge(current, value)
        else:
            merged[key] = value
    return merged


@dataclass(frozen=True)
class KindSpec:
    """How to read a volume-aware signal: which samples are the bad events and the volume."""

    rule: str
    title: str
    event: str
    volume: str


KIND_SPECS: dict[str, KindSpec] = {
    "lambda.errors": KindSpec("lambda_errors", "Lambda errors", "errors", "invocations"),
    "lambda.throttles": KindSpec("lambda_throttles", "Lambda throttles", "throttles", "requests"),
}


@dataclass(frozen=True)
class Breach:
    """A rule's verdict that a signal is bad, and how long it must last before it fires."""

    labels: Labels
    severity: Severity
    evidence: Evidence
    for_seconds: int


def judge(signal: Signal, rules: RulesConfig) -> Breach | None:
    """Apply the rule for the signal's kind; ``None`` means healthy (or no rule)."""
    kind = signal.labels.kind
    rule = rules.rule_for(kind)
    if rule is None:
        return None
    spec = KIND_SPECS[kind]
    events = signal.samples.get(spec.event, 0.0)
    volume = signal.samples.get(spec.volume, 0.0)
    if events <= 0:
        return None
    window = f"{signal.window_seconds // 60} min"
    if volume < rule.low_volume_below:
        return Breach(
            labels=signal.labels,
            severity=rule.low_volume_severity,
            evidence=Evidence(
                value=events,
                threshold=0,
                unit="Count",
                window_seconds=signal.window_seconds,
                observed_at=signal.observed_at,
                summary=(
                    f"{_plural(events, spec.event[:-1])} in {_plural(volume, spec.volume[:-1])}"
                    f" over {window} (low volume: every one counts)"
                ),
                samples=signal.samples,
            ),
            for_seconds=0,
        )
    rate = events / volume
    if rate <= rule.warning_rate:
        return None
    severity = Severity.CRITICAL if rate > rule.critical_rate else Severity.WARNING
    threshold = rule.critical_rate if severity is Severity.CRITICAL else rule.warning_rate
    return Breach(
        labels=signal.labels,
        severity=severity,
        evidence=Evidence(
            value=round(rate * 100, 4),
            threshold=round(threshold * 100, 4),
            unit="Percent",
            window_seconds=signal.window_seconds,
            observed_at=signal.observed_at,
            summary=(
                f"{rate:.2%} {spec.event} ({events:,.0f} of {volume:,.0f} {spec.volume})"
                f" over {window}, above {threshold:.2%}"
            ),
            samples=signal.samples,
        ),
        for_seconds=rule.for_minutes * 60,
    )


def _plural(count: float, noun: str) -> str:
    number = f"{count:,.0f}"
    return f"{number} {noun}" if count == 1 else f"{number} {noun}s"
