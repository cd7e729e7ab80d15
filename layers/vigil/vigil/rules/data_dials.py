"""The data dials' rules: DynamoDB capacity, throttles and system errors, Kinesis shards and
write throttles, stream consumers' iterator age (docs/rules.md).
"""

from functools import partial
from typing import Annotated, Any, Self

from pydantic import Field, model_validator

from vigil.core.model import Severity, Signal
from vigil.rules.base import (
    Breach,
    ConfigModel,
    SignalKind,
    UsageLevels,
    count_breach,
    duration_text,
    level_reached,
    ordered,
    plural,
    usage_breach,
)


class CapacityRule(UsageLevels):
    """Use of a provisioned capacity (a table's or index's read and write units, a stream's
    shards) at its peak minute: at ``warning_ratio`` of the capacity it warns, at
    ``critical_ratio`` it pages. It fires at once: the peak is already a minute's average."""


class EventCountRule(ConfigModel):
    """Requests refused or failed by a service (throttle events, system errors): any one in the
    window alerts at ``severity``; ``critical_events`` or more in one window page."""

    enabled: bool = True
    severity: Severity = Severity.WARNING
    critical_events: Annotated[int, Field(ge=1)] = 1000


class IteratorAgeRule(ConfigModel):
    """How far a stream consumer lags, against the stream's retention: records older than the
    retention are deleted unread. At ``warning_retention_ratio`` of the retention it warns, at
    ``critical_retention_ratio`` it pages."""

    enabled: bool = True
    warning_retention_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.25
    critical_retention_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.5

    @model_validator(mode="after")
    def _critical_above_warning(self) -> Self:
        return ordered(self, "warning_retention_ratio", "critical_retention_ratio")


def _judge_capacity(signal: Signal, rule: CapacityRule, what: str) -> Breach | None:
    """``signal.value`` is the peak use in percent of the capacity; the samples say of what."""
    ratio = signal.value / 100
    # The use is already a share of the capacity, so the limit is the whole of it: 1.
    level = level_reached(ratio, 1, rule.warning_ratio, rule.critical_ratio)
    if not rule.enabled or level is None:
        return None
    parts = [
        f"{direction} {signal.samples[used]:,.0f} of {signal.samples[capacity]:,.0f} {unit}"
        for direction, used, capacity, unit in _CAPACITY_SAMPLES
        if used in signal.samples and signal.samples.get(capacity, 0) > 0
    ]
    return usage_breach(
        signal,
        level,
        signal.value,
        f"peak minute at {ratio:.0%} of the {what} ({'; '.join(parts)}) over"
        f" {signal.window_seconds // 60} min, at or above {level.ratio:.0%};"
        " requests beyond it are throttled",
    )


# (what, peak sample, capacity sample, unit) of the capacity signals' samples.
_CAPACITY_SAMPLES = (
    ("reads", "read_per_second", "read_capacity", "units/s"),
    ("writes", "write_per_second", "write_capacity", "units/s"),
    ("incoming", "bytes_per_second", "bytes_capacity", "bytes/s"),
    ("incoming", "records_per_second", "records_capacity", "records/s"),
)


def _judge_events(signal: Signal, rule: EventCountRule, what: str) -> Breach | None:
    """``signal.value`` is the count of refused or failed requests in the window."""
    events = signal.value
    if not rule.enabled or events <= 0:
        return None
    details = ", ".join(
        plural(value, name.replace("_", " ")[:-1])
        for name, value in sorted(signal.samples.items())
        if value and name.endswith("s")
    )
    return count_breach(
        signal,
        events,
        "events",
        f"{what}: {details or plural(events, 'event')} over {signal.window_seconds // 60} min",
        severity=rule.severity,
        critical_count=rule.critical_events,
    )


def _judge_iterator_age(signal: Signal, rule: IteratorAgeRule) -> Breach | None:
    age = signal.samples.get("age_seconds", 0.0)
    retention = signal.samples.get("retention_seconds", 0.0)
    level = level_reached(
        age, retention, rule.warning_retention_ratio, rule.critical_retention_ratio
    )
    if not rule.enabled or level is None:
        return None
    summary = (
        f"the consumer is {duration_text(age)} behind, {age / retention:.0%} of the"
        f" {duration_text(retention)} retention (at or above {level.ratio:.0%})"
    )
    if level.critical:
        summary += "; records older than the retention are deleted unread"
    return usage_breach(signal, level, age / retention * 100, summary)


KINDS: tuple[SignalKind[Any], ...] = (
    SignalKind(
        "lambda.iterator_age",
        "Lambda stream iterator age",
        "lambda_iterator_age",
        _judge_iterator_age,
    ),
    SignalKind(
        "dynamodb.capacity",
        "DynamoDB capacity",
        "dynamodb_capacity",
        partial(_judge_capacity, what="provisioned capacity"),
    ),
    SignalKind(
        "dynamodb.throttles",
        "DynamoDB throttles",
        "dynamodb_throttles",
        partial(_judge_events, what="throttled requests"),
    ),
    SignalKind(
        "dynamodb.system_errors",
        "DynamoDB system errors",
        "dynamodb_system_errors",
        partial(_judge_events, what="DynamoDB internal server errors"),
    ),
    SignalKind(
        "kinesis.write_throttles",
        "Kinesis write throttles",
        "kinesis_write_throttles",
        partial(_judge_events, what="records refused for exceeding the shards' write limit"),
    ),
    SignalKind(
        "kinesis.shard_capacity",
        "Kinesis shard capacity",
        "kinesis_shard_capacity",
        partial(_judge_capacity, what="shards' write capacity"),
    ),
    SignalKind(
        "kinesis.iterator_age",
        "Kinesis iterator age",
        "kinesis_iterator_age",
        _judge_iterator_age,
    ),
)
