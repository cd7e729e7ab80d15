"""Volume-aware rates (docs/rules.md, ``lambda_errors``, ``lambda_throttles``,
``apigateway_*_5xx``): a window breaches when its bad events are improbable at the normal rate.

One judgement serves every volume, with no step between a "low" and a "high" regime: the
count of bad events is tested against a binomial with the window's volume and the rule's
normal rate (:func:`binomial_tail`). Where the normal rate expects far less than one bad event
(a function that almost never runs), a single one is already improbable and alerts; where it
expects many (a busy function), only a rise well above the normal rate is. The chance that the
normal rate alone breaches is set per day (``false_alarms_per_day``), so a function judged every
5 minutes and one judged hourly make the same number of false alarms a day.
"""

import math
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, Self

from pydantic import Field, model_validator

from vigil.core.model import Severity, Signal
from vigil.rules.base import Breach, ConfigModel, SignalKind, breach, ordered, plural

_DAY_SECONDS = 86_400
_DEPRECATED = (
    "no effect since the judgement became one test at every volume (docs/rules.md, "
    "lambda_errors); accepted so that older documents still load"
)


class VolumeAwareRule(ConfigModel):
    """Alert on bad events that the normal rate (``warning_rate``) would rarely produce.

    A window breaches when, at ``warning_rate``, so many bad events among its volume would
    happen less often than ``false_alarms_per_day`` allows; it is critical when they are
    improbable at ``critical_rate`` too. A rate above ``critical_rate`` fires at once; a
    significant rise below it must hold for ``for_minutes``, so a busy function's transient
    blip does not page.
    """

    enabled: bool = True
    warning_rate: Annotated[float, Field(gt=0, lt=1)]
    critical_rate: Annotated[float, Field(gt=0, le=1)]
    false_alarms_per_day: Annotated[float, Field(gt=0, le=10)] = 0.5
    min_events: Annotated[int, Field(ge=1)] = 1
    for_minutes: Annotated[int, Field(ge=0, le=1440)]
    low_volume_below: Annotated[int | None, Field(ge=1, exclude=True, deprecated=_DEPRECATED)] = (
        None
    )
    low_volume_severity: Annotated[Severity | None, Field(exclude=True, deprecated=_DEPRECATED)] = (
        None
    )

    @model_validator(mode="after")
    def _critical_above_warning(self) -> Self:
        return ordered(self, "warning_rate", "critical_rate")

    def significance(self, window_seconds: int) -> float:
        """The chance a window of this length may breach at the normal rate: the day's
        false-alarm allowance spread over the windows of a day (never above one half)."""
        return min(0.5, self.false_alarms_per_day * window_seconds / _DAY_SECONDS)


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
    "apigateway.rest_4xx": KindSpec("apigateway_rest_4xx", "API Gateway 4xx", "errors", "requests"),
    "apigateway.http_4xx": KindSpec(
        "apigateway_http_4xx", "API Gateway HTTP 4xx", "errors", "requests"
    ),
    "states.executions_failed": KindSpec(
        "step_functions", "Step Functions executions failed", "failures", "executions"
    ),
    "states.executions_timed_out": KindSpec(
        "step_functions", "Step Functions executions timed out", "timeouts", "executions"
    ),
    # Messages the redrive policy moved to a dead-letter queue, among its sources' receives.
    "sqs.failure_rate": KindSpec(
        "sqs_failures", "SQS messages moved to a dead-letter queue", "moves", "receives"
    ),
}


def binomial_tail(events: int, volume: int, rate: float) -> float:
    """P(X >= ``events``) for X ~ Binomial(``volume``, ``rate``), exact to float precision.

    The probability terms are summed from the mode outward on the smaller side of the
    distribution, in steps of the ratio of consecutive terms, so the work is a few standard
    deviations of terms (about 300 for a million invocations at 0.1 %), not ``volume``.
    """
    if events <= 0:
        return 1.0
    if events > volume:
        return 0.0
    if rate >= 1.0:
        return 1.0
    odds = rate / (1.0 - rate)

    def log_term(k: int) -> float:
        return (
            math.lgamma(volume + 1)
            - math.lgamma(k + 1)
            - math.lgamma(volume - k + 1)
            + k * math.log(rate)
            + (volume - k) * math.log1p(-rate)
        )

    upper = events > volume * rate
    k = events if upper else events - 1
    term = math.exp(log_term(k))
    total = 0.0
    while term > 0.0 and term >= total * 1e-17:
        total += term
        if upper:
            if k == volume:
                break
            term *= (volume - k) / (k + 1) * odds
            k += 1
        else:
            if k == 0:
                break
            term *= k / ((volume - k + 1) * odds)
            k -= 1
    return min(1.0, total) if upper else max(0.0, 1.0 - total)


def _expected(count: float) -> str:
    return f"{count:,.0f}" if count >= 10 else f"{count:.2g}"


def _judge_volume(spec: KindSpec, signal: Signal, rule: VolumeAwareRule) -> Breach | None:
    """A volume-aware rule (:data:`KIND_SPECS`): the window's bad events tested against the
    normal and the critical rate at the window's volume (docs/rules.md, ``judge()``)."""
    if not rule.enabled:
        return None
    events = round(signal.samples.get(spec.event, 0.0))
    if events < rule.min_events:
        return None
    # CloudWatch may count an error before its invocation: the volume is at least the events.
    volume = max(round(signal.samples.get(spec.volume, 0.0)), events)
    alpha = rule.significance(signal.window_seconds)
    rate = events / volume
    # At or below a rate, the tail at that rate is about one half or more, never below alpha:
    # the tails are summed only where they can decide.
    if rate <= rule.warning_rate or binomial_tail(events, volume, rule.warning_rate) > alpha:
        return None
    critical = (
        rate > rule.critical_rate and binomial_tail(events, volume, rule.critical_rate) <= alpha
    )
    threshold = rule.critical_rate if critical else rule.warning_rate
    counted = f"{plural(events, spec.event[:-1])} in {plural(volume, spec.volume[:-1])}"
    window = f"{signal.window_seconds // 60} min"
    reason = (
        f"above the critical {rule.critical_rate:.2%}"
        if critical
        else f"{_expected(volume * rule.warning_rate)} expected at the normal"
        f" {rule.warning_rate:.2%}"
    )
    return breach(
        signal,
        Severity.CRITICAL if critical else Severity.WARNING,
        round(rate * 100, 4),
        round(threshold * 100, 4),
        "Percent",
        summary=f"{counted} over {window} ({rate:.2%}), {reason}",
        for_seconds=0 if rate >= rule.critical_rate else rule.for_minutes * 60,
    )


KINDS: tuple[SignalKind[Any], ...] = tuple(
    SignalKind(name, spec.title, spec.rule, partial(_judge_volume, spec))
    for name, spec in KIND_SPECS.items()
)
