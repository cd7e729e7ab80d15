"""The edge dials' rules: S3 request metrics against each bucket's baseline, Step Functions
executions, service quotas (docs/rules.md).
"""

from typing import Annotated, Any, Literal, Self

from pydantic import Field, model_validator

from vigil.core.model import Severity, Signal
from vigil.rules.base import (
    Breach,
    ConfigModel,
    SignalKind,
    UsageLevels,
    breach,
    count_breach,
    judge_usage,
    ordered,
    plural,
)
from vigil.rules.volume import VolumeAwareRule


class S3RequestRule(ConfigModel):
    """S3 request metrics against each bucket's own robust baseline (docs/rules.md, ``s3``).

    A window is compared with the earlier windows of the last ``baseline_minutes``: their
    median and scaled median absolute deviation (floored at ``scale_floor_ratio`` of the
    median). The 5xx rate fires above the larger of ``warning_rate`` and median + z x scale,
    and pages above ``critical_rate``; the latency fires above the largest of median +
    z x scale, median x (1 + ``latency_min_increase_ratio``) and median +
    ``latency_min_increase_ms`` (0 by default: the floor is relative to the bucket's own
    median, as an absolute one hides a doubling on a fast bucket). Windows with fewer than
    ``min_requests`` requests are not judged and are not part of a baseline.
    """

    enabled: bool = True
    baseline_minutes: Annotated[int, Field(ge=30, le=1440)] = 180
    min_baseline_windows: Annotated[int, Field(ge=3, le=288)] = 6
    min_requests: Annotated[int, Field(ge=1)] = 100
    z_threshold: Annotated[float, Field(ge=2, le=50)] = 4.0
    scale_floor_ratio: Annotated[float, Field(ge=0, le=1)] = 0.1
    min_errors: Annotated[int, Field(ge=1)] = 5
    warning_rate: Annotated[float, Field(gt=0, lt=1)] = 0.01
    critical_rate: Annotated[float, Field(gt=0, le=1)] = 0.05
    errors_for_minutes: Annotated[int, Field(ge=0, le=1440)] = 5
    latency_metric: Literal["FirstByteLatency", "TotalRequestLatency"] = "FirstByteLatency"
    latency_min_increase_ratio: Annotated[float, Field(ge=0)] = 0.5
    latency_min_increase_ms: Annotated[float, Field(ge=0)] = 0.0
    latency_for_minutes: Annotated[int, Field(ge=0, le=1440)] = 10
    busy_objects: Annotated[int, Field(ge=1)] = 1_000_000
    hint: bool = True

    @model_validator(mode="after")
    def _critical_above_warning(self) -> Self:
        return ordered(self, "warning_rate", "critical_rate")


class StepFunctionsRule(VolumeAwareRule):
    """Step Functions executions: failed and timed-out ones as a rate of the executions
    started, throttled ones as a count.

    A window's failed (and, apart, timed-out) executions are judged against its
    ``ExecutionsStarted`` by the volume-aware test (:class:`VolumeAwareRule`; docs/rules.md,
    ``step_functions``), so a rare workflow's single failure still alerts and a busy one's
    background of failures does not page. A throttled execution is a start-rate limit hit,
    not a failure of the work: any one alerts at ``severity``, ``critical_count`` in a
    window pages. Aborted executions are someone's StopExecution, usually on purpose:
    watched, as throttles, only with ``include_aborted``.
    """

    warning_rate: Annotated[float, Field(gt=0, lt=1)] = 0.001
    critical_rate: Annotated[float, Field(gt=0, le=1)] = 0.01
    for_minutes: Annotated[int, Field(ge=0, le=1440)] = 5
    severity: Severity = Severity.WARNING
    critical_count: Annotated[int, Field(ge=1)] = 10
    include_aborted: bool = False


class ApiLatencyRule(ConfigModel):
    """An API's p99 ``Latency`` (from the request to the response, integration included)
    against a latency objective: at ``warning_ms`` it warns, at ``critical_ms`` it pages, when
    it holds for ``for_minutes``. Off by default: there is no objective that fits every API,
    and it costs one metric per API a cycle. Windows with fewer than ``min_requests`` are not
    judged (a p99 of a few requests is their slowest)."""

    enabled: bool = False
    warning_ms: Annotated[float, Field(gt=0)] = 1_000.0
    critical_ms: Annotated[float, Field(gt=0)] = 5_000.0
    min_requests: Annotated[int, Field(ge=1)] = 100
    for_minutes: Annotated[int, Field(ge=0, le=1440)] = 10

    @model_validator(mode="after")
    def _critical_above_warning(self) -> Self:
        return ordered(self, "warning_ms", "critical_ms")


class QuotaRule(UsageLevels):
    """Service quota usage (``AWS/Usage``) against the applied quota value.

    ``services`` are Service Quotas service codes whose quotas with a usage metric are
    discovered (``ListServiceQuotas``); at ``warning_ratio`` of a quota it warns, at
    ``critical_ratio`` it pages, at once.
    """

    services: list[Annotated[str, Field(pattern=r"^[a-z0-9-]{2,63}$")]] = Field(
        default_factory=lambda: ["lambda", "states", "apigateway", "dynamodb", "kinesis"]
    )


# The edge dials (docs/rules.md): S3 request metrics, Step Functions, service quotas.
_STATES_EVENTS = {
    "states.executions_throttled": "throttled execution",
    "states.executions_aborted": "aborted execution",
}


def baseline_threshold(median: float, scale: float, rule: S3RequestRule) -> float:
    """The robust upper bound of a baseline: median + z x scale, the scale floored."""
    return median + rule.z_threshold * max(scale, rule.scale_floor_ratio * median)


def _judge_s3_errors(signal: Signal, rule: S3RequestRule) -> Breach | None:
    samples = signal.samples
    errors, requests = samples.get("errors", 0.0), samples.get("requests", 0.0)
    if not rule.enabled or errors < rule.min_errors or requests < rule.min_requests:
        return None
    rate = errors / requests
    baseline = samples.get("baseline_rate", 0.0)
    threshold = rule.warning_rate
    if samples.get("baseline_windows", 0.0) >= rule.min_baseline_windows:
        threshold = max(threshold, baseline_threshold(baseline, samples["baseline_scale"], rule))
    if rate <= threshold:
        return None
    critical = rate > max(rule.critical_rate, threshold)
    return breach(
        signal,
        Severity.CRITICAL if critical else Severity.WARNING,
        round(rate * 100, 4),
        round(threshold * 100, 4),
        "Percent",
        summary=(
            f"{rate:.2%} 5xx ({errors:,.0f} of {requests:,.0f} requests) over"
            f" {signal.window_seconds // 60} min against a baseline of {baseline:.2%},"
            f" above {threshold:.2%}; 503 SlowDown is S3 asking for fewer requests per"
            " prefix"
        ),
        for_seconds=rule.errors_for_minutes * 60,
    )


def _judge_s3_latency(signal: Signal, rule: S3RequestRule) -> Breach | None:
    samples = signal.samples
    latency, requests = samples.get("latency_ms", 0.0), samples.get("requests", 0.0)
    windows = samples.get("baseline_windows", 0.0)
    if not rule.enabled or requests < rule.min_requests or windows < rule.min_baseline_windows:
        return None
    median = samples.get("baseline_ms", 0.0)
    threshold = max(
        baseline_threshold(median, samples.get("baseline_scale", 0.0), rule),
        median * (1 + rule.latency_min_increase_ratio),
        median + rule.latency_min_increase_ms,
    )
    if latency <= threshold:
        return None
    return breach(
        signal,
        Severity.WARNING,
        round(latency, 1),
        round(threshold, 1),
        "ms",
        summary=(
            f"{rule.latency_metric} averaged {latency:,.0f} ms over"
            f" {signal.window_seconds // 60} min ({requests:,.0f} requests) against a"
            f" baseline of {median:,.0f} ms over {windows:.0f} windows, above"
            f" {threshold:,.0f} ms"
        ),
        for_seconds=rule.latency_for_minutes * 60,
    )


def _judge_s3_hint(signal: Signal, rule: S3RequestRule) -> Breach | None:
    objects = signal.samples.get("objects", 0.0)
    if not (rule.enabled and rule.hint) or objects < rule.busy_objects:
        return None
    return breach(
        signal,
        Severity.INFO,
        objects,
        float(rule.busy_objects),
        "objects",
        summary=(
            f"{objects:,.0f} objects and no request metrics configuration: 5xx, 503"
            " SlowDown on a hot prefix and latency are invisible to Vigil until a request"
            " metrics filter is added (PutBucketMetricsConfiguration)"
        ),
    )


def _judge_states(signal: Signal, rule: StepFunctionsRule) -> Breach | None:
    count = signal.samples.get("count", 0.0)
    kind = signal.labels.kind
    if not rule.enabled or count <= 0:
        return None
    if kind == "states.executions_aborted" and not rule.include_aborted:
        return None
    return count_breach(
        signal,
        count,
        "executions",
        f"{plural(count, _STATES_EVENTS[kind])} over {signal.window_seconds // 60} min",
        severity=rule.severity,
        critical_count=rule.critical_count,
        critical_note=f", at or above {rule.critical_count}",
    )


def _judge_api_latency(signal: Signal, rule: ApiLatencyRule) -> Breach | None:
    p99, requests = signal.samples.get("p99_ms", 0.0), signal.samples.get("requests", 0.0)
    if not rule.enabled or p99 < rule.warning_ms or requests < rule.min_requests:
        return None
    critical = p99 >= rule.critical_ms
    threshold = rule.critical_ms if critical else rule.warning_ms
    return breach(
        signal,
        Severity.CRITICAL if critical else Severity.WARNING,
        round(p99, 1),
        threshold,
        "ms",
        summary=(
            f"p99 latency {p99:,.0f} ms over {signal.window_seconds // 60} min"
            f" ({requests:,.0f} requests), at or above {threshold:,.0f} ms"
        ),
        for_seconds=rule.for_minutes * 60,
    )


def _judge_quota(signal: Signal, rule: QuotaRule) -> Breach | None:
    usage, quota = signal.samples.get("usage", 0.0), signal.samples.get("quota", 0.0)
    name = signal.context.get("quota", signal.labels.resource)
    return judge_usage(
        signal, rule, usage, quota, use=f"{name}: peak usage {usage:,.0f} of the quota {quota:,.0f}"
    )


KINDS: tuple[SignalKind[Any], ...] = (
    SignalKind("s3.5xx_rate", "S3 5xx rate", "s3", _judge_s3_errors),
    SignalKind("s3.latency", "S3 request latency", "s3", _judge_s3_latency),
    SignalKind("s3.request_metrics_missing", "S3 request metrics missing", "s3", _judge_s3_hint),
    *(
        SignalKind(name, f"Step Functions executions {state}", "step_functions", _judge_states)
        # Failed and timed-out executions are volume-aware (vigil.rules.volume.KIND_SPECS).
        for name, state in (
            ("states.executions_throttled", "throttled"),
            ("states.executions_aborted", "aborted"),
        )
    ),
    SignalKind(
        "apigateway.latency", "API Gateway p99 latency", "apigateway_latency", _judge_api_latency
    ),
    SignalKind("quota.usage", "Service quota usage", "service_quotas", _judge_quota),
)
