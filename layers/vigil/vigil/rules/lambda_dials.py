"""The Lambda dials' rules: account and reserved concurrency, durations against time-outs,
async delivery, dead-letter queues (docs/rules.md). Also the errors of functions whose failed
asynchronous events are kept, which Lambda retries (``lambda_async_errors``), and the error
tracking of the error stream (``error_tracking``): a new kind of error in a function.
"""

from typing import Annotated, Any

from pydantic import Field

from vigil.core.model import Severity, Signal
from vigil.rules.base import (
    Breach,
    ConfigModel,
    Level,
    SignalKind,
    UsageLevels,
    breach,
    duration_text,
    judge_usage,
    level_reached,
    plural,
    usage_breach,
)


class ConcurrencyRule(UsageLevels):
    """The account's peak Lambda concurrency against its real limit (``GetAccountSettings``).

    The peak is the window's maximum of ``ClaimedAccountConcurrency`` (on-demand use plus
    reserved and provisioned allocations) or ``ConcurrentExecutions``, whichever is higher;
    at ``warning_ratio`` of the limit it warns, at ``critical_ratio`` it pages. Every
    function of the account throttles once the limit is reached, so it fires at once.
    """


class ReservedConcurrencyRule(UsageLevels):
    """A function's peak concurrency (``ConcurrentExecutions`` Maximum, per function) against
    its own reserved concurrency (``GetFunctionConcurrency``).

    A function never runs more instances than it reserved: at the reservation it throttles
    even when the account has room. At ``warning_ratio`` of it it warns, at ``critical_ratio``
    it pages, at once. A reservation of 0 switches the function off on purpose and never alerts.
    """


class TimeoutRule(UsageLevels):
    """A function's durations (``Duration``, per function) against its configured time-out
    (``Timeout`` in ``ListFunctions``).

    Lambda stops an invocation at its time-out and counts it as an error, so a function whose
    slowest invocation (``Maximum``) reaches ``warning_ratio`` of it is about to time out: it
    warns. It pages, at once, when its ``p99`` reaches ``critical_ratio``: one invocation in a
    hundred is that close, not a single outlier. The invocations that reached the time-out
    are counted in the summary.
    """

    critical_ratio: Annotated[float, Field(gt=0, le=1)] = 0.95


class AsyncDeliveryRule(ConfigModel):
    """Asynchronous invocations that failed for good: any one alerts.

    ``AsyncEventsDropped`` counts events Lambda gave up on (sent to a dead-letter queue or
    on-failure destination first, when one is configured); ``DeadLetterErrors`` and
    ``DestinationDeliveryFailures`` count events that could not even be sent there, so
    they are lost.
    """

    enabled: bool = True
    dropped_severity: Severity = Severity.WARNING
    delivery_failure_severity: Severity = Severity.CRITICAL


class AsyncErrorsRule(ConfigModel):
    """The errors of a function whose failed asynchronous events are kept: it has a dead-letter
    queue or an on-failure destination, and no event source mapping invokes it.

    Lambda retries a failed asynchronous event (twice by default) and sends the events it gives
    up on to the queue or destination, so an error alone loses nothing: these errors warn only
    when the rate stays above ``warning_rate`` for ``for_minutes``, and never page. What is
    lost or kept pages through ``lambda_async`` (dropped events, dead-letter and destination
    delivery failures) and ``sqs_dlq`` (the dead-letter queue's messages). Switched off, these
    functions' errors are judged by ``lambda_errors`` like any other's.
    """

    enabled: bool = True
    warning_rate: Annotated[float, Field(gt=0, lt=1)] = 0.05
    for_minutes: Annotated[int, Field(ge=0, le=1440)] = 30


class ErrorTrackingRule(ConfigModel):
    """Error tracking (docs/rules.md, "Error tracking"): the error lines of every watched
    function, read from CloudWatch Logs as they are written, grouped by fingerprint.

    A fingerprint not seen for the function in ``new_type_days`` is a new kind of error: it
    alerts at once at ``new_type_severity`` (``lambda.new_error_type``), whatever the rate.
    With ``wake`` on, the first error line of a function with no open alert judges that
    function's error rate at once, from the lines counted and its invocations so far, instead
    of waiting for a cycle or the sweep. A function writes at most ``groups_per_minute``
    error groups a minute; the lines beyond are counted, not grouped.
    """

    enabled: bool = True
    new_types: bool = True
    new_type_days: Annotated[int, Field(ge=1, le=90)] = 14
    new_type_severity: Severity = Severity.WARNING
    wake: bool = True
    groups_per_minute: Annotated[int, Field(ge=1, le=100)] = 20


class DeadLetterQueueRule(ConfigModel):
    """Messages in an SQS dead-letter queue: any visible one alerts.

    A message lands in a dead-letter queue only after its consumer failed on it (or, for a
    Lambda dead-letter queue, after Lambda gave up on an event), so any is worth a look. SQS
    deletes a message once it is older than the queue's retention period, so an oldest message
    past ``critical_retention_ratio`` of the retention is about to be lost, and pages.
    """

    enabled: bool = True
    severity: Severity = Severity.WARNING
    critical_retention_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.5


def _judge_concurrency(signal: Signal, rule: ConcurrencyRule) -> Breach | None:
    limit = signal.samples.get("limit", 0.0)
    peak = max(signal.samples.get("claimed", 0.0), signal.samples.get("concurrent", 0.0))
    return judge_usage(
        signal,
        rule,
        peak,
        limit,
        use=f"peak concurrency {peak:,.0f} of the account limit {limit:,.0f}",
        then="; every function throttles at the limit",
    )


def _judge_reserved(signal: Signal, rule: ReservedConcurrencyRule) -> Breach | None:
    reserved = signal.samples.get("reserved", 0.0)
    peak = signal.samples.get("concurrent", 0.0)
    # No level is reached of a reservation of 0: the function is switched off.
    return judge_usage(
        signal,
        rule,
        peak,
        reserved,
        use=f"peak concurrency {peak:,.0f} of the function's reserved {reserved:,.0f}",
        then="; the function throttles at its reservation",
    )


def _seconds(milliseconds: float) -> str:
    """``13.2 s``, ``15 s``: a duration in seconds to a tenth."""
    return f"{milliseconds / 1000:,.1f}".removesuffix(".0") + " s"


def _judge_timeout(signal: Signal, rule: TimeoutRule) -> Breach | None:
    samples = signal.samples
    timeout, peak = samples.get("timeout_ms", 0.0), samples.get("duration_ms", 0.0)
    # No level is reached when no time-out is known (0).
    level = level_reached(peak, timeout, rule.warning_ratio, rule.critical_ratio)
    if not rule.enabled or level is None:
        return None
    # Without a p99 (a signal from before it was read) the slowest invocation is judged alone.
    p99 = samples.get("p99_ms", peak)
    if level.critical and p99 < rule.critical_ratio * timeout:
        level = Level(critical=False, ratio=rule.warning_ratio)
    paged_by_p99 = level.critical and "p99_ms" in samples
    judged = p99 if paged_by_p99 else peak
    use = "p99" if paged_by_p99 else "slowest invocation"
    summary = (
        f"{use} {_seconds(judged)} of a {_seconds(timeout)} time-out ({judged / timeout:.0%})"
        f" over {signal.window_seconds // 60} min, at or above {level.ratio:.0%}"
    )
    if paged_by_p99:
        summary += f"; slowest invocation {_seconds(peak)}"
    elif "p99_ms" in samples:
        summary += f"; p99 {_seconds(p99)} ({p99 / timeout:.0%})"
    if timed_out := samples.get("timeouts", 0.0):
        summary += f"; {plural(timed_out, 'invocation')} reached the time-out"
    summary += "; Lambda stops an invocation at its time-out"
    return usage_breach(signal, level, judged / timeout * 100, summary)


def _judge_async(signal: Signal, rule: AsyncDeliveryRule) -> Breach | None:
    dropped = signal.samples.get("dropped", 0.0)
    lost = signal.samples.get("dead_letter_errors", 0.0) + signal.samples.get(
        "destination_failures", 0.0
    )
    if not rule.enabled or dropped + lost <= 0:
        return None
    parts = [
        plural(count, noun)
        for count, noun in (
            (dropped, "dropped event"),
            (signal.samples.get("dead_letter_errors", 0.0), "dead-letter error"),
            (signal.samples.get("destination_failures", 0.0), "destination delivery failure"),
        )
        if count
    ]
    return breach(
        signal,
        rule.delivery_failure_severity if lost else rule.dropped_severity,
        dropped + lost,
        0,
        "events",
        summary=(
            f"{', '.join(parts)} over {signal.window_seconds // 60} min"
            + ("; those events are lost" if lost else "")
        ),
    )


def _judge_async_errors(signal: Signal, rule: AsyncErrorsRule) -> Breach | None:
    errors = signal.samples.get("errors", 0.0)
    invocations = signal.samples.get("invocations", 0.0)
    if not rule.enabled or errors <= 0:
        return None
    rate = errors / invocations if invocations else 1.0
    if rate <= rule.warning_rate:
        return None
    return breach(
        signal,
        Severity.WARNING,
        round(rate * 100, 4),
        round(rule.warning_rate * 100, 4),
        "Percent",
        summary=(
            f"{rate:.2%} errors ({errors:,.0f} of {invocations:,.0f} invocations)"
            f" over {signal.window_seconds // 60} min, above {rule.warning_rate:.2%};"
            " Lambda retries these asynchronous events and keeps the ones it gives up on"
        ),
        for_seconds=rule.for_minutes * 60,
    )


def _judge_dead_letters(signal: Signal, rule: DeadLetterQueueRule) -> Breach | None:
    visible = signal.samples.get("visible", 0.0)
    if not rule.enabled or visible <= 0:
        return None
    age = signal.samples.get("oldest_age_seconds", 0.0)
    retention = signal.samples.get("retention_seconds", 0.0)
    limit = rule.critical_retention_ratio * retention
    critical = retention > 0 and age >= limit
    summary = f"{plural(visible, 'message')} in the dead-letter queue"
    if age > 0 and retention > 0:
        summary += (
            f", the oldest {duration_text(age)} old of a {duration_text(retention)} retention"
        )
    if critical:
        summary += "; SQS deletes it at the end of the retention, so it is about to be lost"
    severity = Severity.CRITICAL if critical else rule.severity
    return breach(signal, severity, visible, 0, "messages", summary=summary)


def _judge_new_error_type(signal: Signal, rule: ErrorTrackingRule) -> Breach | None:
    new = [group for group in signal.errors if group.new]
    if not (rule.enabled and rule.new_types and new):
        return None
    first = new[0]
    summary = f"new error type {first.error_type}"
    if first.message:
        summary += f": {first.message[:120]}"
    summary += f" ({plural(first.count, 'time')}, first seen {first.first_seen:%Y-%m-%d %H:%M} UTC)"
    if len(new) > 1:
        summary += f", and {plural(len(new) - 1, 'other new type')}"
    return breach(signal, rule.new_type_severity, len(new), 0, "Count", summary=summary)


KINDS: tuple[SignalKind[Any], ...] = (
    SignalKind(
        "lambda.account_concurrency",
        "Lambda account concurrency",
        "lambda_concurrency",
        _judge_concurrency,
    ),
    SignalKind(
        "lambda.reserved_concurrency",
        "Lambda reserved concurrency",
        "lambda_reserved_concurrency",
        _judge_reserved,
    ),
    SignalKind(
        "lambda.duration_timeout",
        "Lambda duration near time-out",
        "lambda_timeouts",
        _judge_timeout,
    ),
    SignalKind(
        "lambda.async_failures", "Lambda async delivery failures", "lambda_async", _judge_async
    ),
    SignalKind(
        "lambda.async_errors", "Lambda async errors", "lambda_async_errors", _judge_async_errors
    ),
    SignalKind("sqs.dlq_messages", "SQS dead-letter messages", "sqs_dlq", _judge_dead_letters),
    SignalKind("lambda.new_error_type", "New error type", "error_tracking", _judge_new_error_type),
)

NEW_ERROR_TYPE_KIND = "lambda.new_error_type"
