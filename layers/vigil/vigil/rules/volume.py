"""Volume-aware rates (docs/rules.md, ``lambda_errors``, ``lambda_throttles``,
``apigateway_*_5xx``): at low volume every bad event counts, at high volume the rate is judged.
"""

from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, Self

from pydantic import Field, model_validator

from vigil.core.model import Severity, Signal
from vigil.rules.base import Breach, ConfigModel, SignalKind, breach, ordered, plural


class VolumeAwareRule(ConfigModel):
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
        return ordered(self, "warning_rate", "critical_rate")


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
    "apigateway.rest_5xx": KindSpec("apigateway_rest_5xx", "API Gateway 5xx", "errors", "requests"),
    "apigateway.http_5xx": KindSpec(
        "apigateway_http_5xx", "API Gateway HTTP 5xx", "errors", "requests"
    ),
}


def _judge_volume(spec: KindSpec, signal: Signal, rule: VolumeAwareRule) -> Breach | None:
    """A volume-aware rule (:data:`KIND_SPECS`): at low volume every bad event counts, above
    ``low_volume_below`` the rate is judged against the warning and critical rates."""
    if not rule.enabled:
        return None
    events = signal.samples.get(spec.event, 0.0)
    volume = signal.samples.get(spec.volume, 0.0)
    if events <= 0:
        return None
    window = f"{signal.window_seconds // 60} min"
    if volume < rule.low_volume_below:
        return breach(
            signal,
            rule.low_volume_severity,
            events,
            0,
            "Count",
            summary=(
                f"{plural(events, spec.event[:-1])} in {plural(volume, spec.volume[:-1])}"
                f" over {window} (low volume: every one counts)"
            ),
        )
    rate = events / volume
    if rate <= rule.warning_rate:
        return None
    severity = Severity.CRITICAL if rate > rule.critical_rate else Severity.WARNING
    threshold = rule.critical_rate if severity is Severity.CRITICAL else rule.warning_rate
    return breach(
        signal,
        severity,
        round(rate * 100, 4),
        round(threshold * 100, 4),
        "Percent",
        summary=(
            f"{rate:.2%} {spec.event} ({events:,.0f} of {volume:,.0f} {spec.volume})"
            f" over {window}, above {threshold:.2%}"
        ),
        for_seconds=rule.for_minutes * 60,
    )


KINDS: tuple[SignalKind[Any], ...] = tuple(
    SignalKind(name, spec.title, spec.rule, partial(_judge_volume, spec))
    for name, spec in KIND_SPECS.items()
)
