"""Lambda functions: errors, throttles, account concurrency and async delivery failures.

Fast path, every cycle (docs/architecture.md, ADR 20 and 21): the account-level ``AWS/Lambda``
aggregates (no dimensions; Lambda publishes them summed over every function): Invocations,
Errors and Throttles sums, the ClaimedAccountConcurrency and ConcurrentExecutions peaks, and
the AsyncEventsDropped, DeadLetterErrors and DestinationDeliveryFailures sums. Eight metrics,
whatever the number of functions.

Drill-down, where something says to look: every function's Errors when the aggregate itself
breaches the errors rule, every function's Throttles when the account throttled at all, every
function's async metric of each account sum that is not zero, and the functions on the watch list
(an alert of theirs is pending or firing) always, so their alerts fire, repeat and resolve on
per-function evidence. Invocations are then read only for functions that had errors or
throttles. The peak concurrency is judged against the limit ``GetAccountSettings`` reports
(cached for an hour), asked only when there is a peak.

Sweep, once per function sweep period (``CollectionConfig.function_sweep``: hourly, or once a
day when the error stream reads the functions' error lines as they are written, ADR 42):
every function's Errors over the sweep period, minus the minutes a cycle already judged for
that function (the coverage records), so a small function failing inside a healthy aggregate
is found within one sweep period even when it logs no error line.

The errors of a function whose failed asynchronous events are kept (a dead-letter queue or an
on-failure destination, decided at discovery: ``vigil.dials.inventory.AsyncProtection``) are
sent as ``lambda.async_errors``, judged by ``lambda_async_errors``: Lambda retries those events,
and what is lost shows in the async delivery metrics above and in the dead-letter queue.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from vigil.core.model import Signal
from vigil.dials.base import (
    Answers,
    CycleContext,
    FamilyResult,
    FamilyRun,
    MetricKey,
    Stage,
    Window,
)
from vigil.dials.resources import AccountLimits, Coverage, FunctionInfo
from vigil.rules.kinds import breaches_any_rule
from vigil.rules.lambda_dials import NEW_ERROR_TYPE_KIND

ERRORS_KIND = "lambda.errors"
ASYNC_ERRORS_KIND = "lambda.async_errors"
THROTTLES_KIND = "lambda.throttles"
CONCURRENCY_KIND = "lambda.account_concurrency"
ASYNC_KIND = "lambda.async_failures"
_NAMESPACE = "AWS/Lambda"
_VOLUME_METRICS = ("Invocations", "Errors", "Throttles")
# Account-level peaks (Maximum) and the sample each becomes.
_CONCURRENCY_METRICS = {
    "ClaimedAccountConcurrency": "claimed",
    "ConcurrentExecutions": "concurrent",
}
_ASYNC_METRICS = {
    "AsyncEventsDropped": "dropped",
    "DeadLetterErrors": "dead_letter_errors",
    "DestinationDeliveryFailures": "destination_failures",
}
_EVENT_METRIC = {ERRORS_KIND: "Errors", THROTTLES_KIND: "Throttles"}
# Coverage records outlive a sweep period, so the next sweep always finds its cycles.
_COVERAGE_KEEP_PERIODS = 2


class AccountSettingsPort(Protocol):
    def limits(self, now: datetime) -> AccountLimits: ...


class CoveragePort(Protocol):
    def watched(self, kinds: Iterable[str]) -> set[str]: ...

    def record(self, coverage: Coverage, *, expires: datetime) -> None: ...

    def coverage(self, start: datetime, end: datetime) -> list[Coverage]: ...


def account_metric(metric: str, stat: str = "Sum") -> MetricKey:
    return MetricKey(namespace=_NAMESPACE, metric=metric, dimensions=(), stat=stat)


def function_metric(name: str, metric: str) -> MetricKey:
    return MetricKey(namespace=_NAMESPACE, metric=metric, dimensions=(("FunctionName", name),))


@dataclass
class LambdaFamily:
    """The Lambda dials; ``functions`` lists the account's functions (memoised by the caller),
    ``async_protected`` names the ones whose failed asynchronous events are kept."""

    functions: Callable[[], list[FunctionInfo]]
    state: CoveragePort
    account_settings: AccountSettingsPort
    async_protected: Callable[[], set[str]]
    name: str = "lambda"
    kinds: tuple[str, ...] = (
        ERRORS_KIND,
        ASYNC_ERRORS_KIND,
        THROTTLES_KIND,
        CONCURRENCY_KIND,
        ASYNC_KIND,
        # The error stream's kind: covered here so that its one-off alerts clear (silently,
        # an event kind) at the next cycle, and a later new type alerts again.
        NEW_ERROR_TYPE_KIND,
    )

    def run(self, ctx: CycleContext) -> FamilyRun:
        rules, window = ctx.rules, ctx.window
        enabled = [kind for kind in (ERRORS_KIND, THROTTLES_KIND) if kind in rules.enabled_kinds]
        fast = [ctx.ask(account_metric(m), Stage.FAST) for m in _VOLUME_METRICS if enabled]
        if rules.lambda_concurrency.enabled:
            fast += [
                ctx.ask(account_metric(m, "Maximum"), Stage.FAST) for m in _CONCURRENCY_METRICS
            ]
        if rules.lambda_async.enabled:
            fast += [ctx.ask(account_metric(m), Stage.FAST) for m in _ASYNC_METRICS]
        answers = yield fast

        drilled = _drill_kinds(answers, enabled, ctx)
        # Only the async metrics whose account sum is not zero can be so for a function.
        failing = [
            m
            for m in _ASYNC_METRICS
            if rules.lambda_async.enabled and answers.total(account_metric(m), window)
        ]
        if failing:
            drilled.add(ASYNC_KIND)
        watch = (ERRORS_KIND, THROTTLES_KIND)
        watched = self.state.watched(
            (*watch, ASYNC_ERRORS_KIND) if rules.lambda_async_errors.enabled else watch
        )
        swept = ERRORS_KIND in enabled and ctx.function_sweep
        names = [fn.name for fn in self.functions()] if drilled or swept else []
        targets = {kind: set(names) if kind in drilled else watched for kind in enabled}
        period = ctx.function_sweep_period
        events = sorted(
            {(name, _EVENT_METRIC[kind]) for kind, found in targets.items() for name in found}
        )
        asks = [ctx.ask(function_metric(n, m), Stage.DRILL) for n, m in events]
        asks += [ctx.ask(function_metric(n, m), Stage.DRILL) for n in names for m in failing]
        if swept:
            asks += [ctx.ask(function_metric(n, "Errors"), Stage.SWEEP, period) for n in names]
        answers = yield asks

        bad = {
            (name, metric): count
            for name, metric in events
            if (count := answers.total(function_metric(name, metric), window)) > 0
        }
        current = Coverage(
            start=window.start,
            end=window.end,
            drilled=frozenset(drilled),
            watched=frozenset(watched),
        )
        judged = {name for name, metric in bad if metric == "Errors"}
        unjudged = self._unjudged(ctx, current, period) if swept else lambda _name, _points: 0.0
        swept_errors = {
            name: count
            for name in names
            if swept
            and name not in judged
            and (
                count := unjudged(
                    name, answers.series(function_metric(name, "Errors"), period.start, period.end)
                )
            )
            > 0
        }
        asks = [ctx.ask(function_metric(name, "Invocations"), Stage.DRILL) for name, _ in bad]
        asks += [
            ctx.ask(function_metric(name, "Invocations"), Stage.SWEEP, period)
            for name in swept_errors
        ]
        answers = yield sorted(set(asks), key=lambda ask: (ask.key.dimensions, ask.start))

        protected = self._protected(ctx, judged | set(swept_errors))
        signals = _window_signals(ctx, answers, bad, protected)
        signals += self._concurrency(ctx, answers)
        if failing:
            signals += _async_failures(ctx, answers, names)
        signals += [
            _rate_signal(
                ctx,
                ASYNC_ERRORS_KIND if name in protected else ERRORS_KIND,
                name,
                {
                    "errors": count,
                    "invocations": unjudged(
                        name,
                        answers.series(
                            function_metric(name, "Invocations"), period.start, period.end
                        ),
                    ),
                },
                period,
            )
            for name, count in sorted(swept_errors.items())
        ]
        sweep_period = timedelta(minutes=ctx.function_sweep_minutes)
        self.state.record(current, expires=window.end + _COVERAGE_KEEP_PERIODS * sweep_period)
        return FamilyResult(
            signals=signals,
            resources=len(names),
            drilled=frozenset(drilled),
            watched=frozenset(watched),
            swept=swept,
        )

    def _protected(self, ctx: CycleContext, errored: set[str]) -> set[str]:
        """The functions among ``errored`` whose errors are judged as async errors.

        Asked every cycle, so that the stored set is refreshed at discovery (and found on the
        first cycle) whether or not a function has errors; never when ``lambda_async`` is off,
        since its delivery failures are what show an event lost.
        """
        rules = ctx.rules
        on = (rules.lambda_errors, rules.lambda_async_errors, rules.lambda_async)
        return self.async_protected() & errored if all(rule.enabled for rule in on) else set()

    def _unjudged(
        self, ctx: CycleContext, current: Coverage, period: Window
    ) -> Callable[[str, dict[datetime, float]], float]:
        """A function's events outside the minutes a cycle of the sweep period judged for it."""
        records = [*self.state.coverage(period.start, ctx.window.start), current]
        drilled = [(c.start, c.end) for c in records if ERRORS_KIND in c.drilled]

        def unjudged(name: str, points: dict[datetime, float]) -> float:
            watched = [(c.start, c.end) for c in records if name in c.watched]
            return sum(
                value
                for at, value in points.items()
                if value and not any(start <= at < end for start, end in (*drilled, *watched))
            )

        return unjudged

    def _concurrency(self, ctx: CycleContext, answers: Answers) -> list[Signal]:
        """The account's peak concurrency against its limit; the limit is asked only for a peak."""
        if not ctx.rules.lambda_concurrency.enabled:
            return []
        samples = {
            sample: answers.peak(account_metric(metric, "Maximum"), ctx.window)
            for metric, sample in _CONCURRENCY_METRICS.items()
        }
        if not any(samples.values()):
            return []
        limits = self.account_settings.limits(ctx.now)
        samples |= {
            "limit": float(limits.concurrent_executions),
            "unreserved_limit": float(limits.unreserved_concurrent_executions),
        }
        peak = max(samples["claimed"], samples["concurrent"])
        limit = samples["limit"]
        value = round(peak / limit * 100 if limit else 100.0, 4)
        return [
            ctx.signal(CONCURRENCY_KIND, "account", value=value, unit="Percent", samples=samples)
        ]


def _rate_signal(
    ctx: CycleContext,
    kind: str,
    resource: str,
    samples: dict[str, float],
    span: Window | None = None,
) -> Signal:
    event, volume = ("errors", "invocations")
    if kind == THROTTLES_KIND:
        event, volume = "throttles", "requests"
    events, requests = samples[event], samples[volume]
    value = round((events / requests if requests else 1.0) * 100, 4)
    return ctx.signal(kind, resource, value=value, unit="Percent", samples=samples, span=span)


def _drill_kinds(answers: Answers, enabled: list[str], ctx: CycleContext) -> set[str]:
    """The kinds whose account aggregate says to look at every function.

    Errors: when the aggregate itself breaches the errors rule, as the config or any entry of
    its ``overrides`` sets it (a low-volume account with any error, or an account-wide rate
    above a warning rate). Throttles: when the account
    throttled at all, since a healthy account throttles nothing.
    """
    invocations = answers.total(account_metric("Invocations"), ctx.window)
    errors = answers.total(account_metric("Errors"), ctx.window)
    throttles = answers.total(account_metric("Throttles"), ctx.window)
    kinds: set[str] = set()
    if ERRORS_KIND in enabled and errors > 0:
        aggregate = _rate_signal(
            ctx, ERRORS_KIND, "account", {"errors": errors, "invocations": invocations}
        )
        if breaches_any_rule(aggregate, ctx.rules):
            kinds.add(ERRORS_KIND)
    if THROTTLES_KIND in enabled and throttles > 0:
        kinds.add(THROTTLES_KIND)
    return kinds


def _window_signals(
    ctx: CycleContext, answers: Answers, bad: dict[tuple[str, str], float], protected: set[str]
) -> list[Signal]:
    """Drill-down: the functions with errors or throttles in the window, with their volume."""
    signals: list[Signal] = []
    for (name, metric), count in sorted(bad.items()):
        calls = answers.total(function_metric(name, "Invocations"), ctx.window)
        if metric == "Errors":
            samples = {"errors": count, "invocations": calls}
            kind = ASYNC_ERRORS_KIND if name in protected else ERRORS_KIND
            signals.append(_rate_signal(ctx, kind, name, samples))
        else:
            samples = {"throttles": count, "requests": calls + count, "invocations": calls}
            signals.append(_rate_signal(ctx, THROTTLES_KIND, name, samples))
    return signals


def _async_failures(ctx: CycleContext, answers: Answers, names: list[str]) -> list[Signal]:
    """Drill-down: each function's async delivery failures, once the account had any."""
    signals: list[Signal] = []
    for name in sorted(names):
        samples = {
            sample: answers.total(function_metric(name, metric), ctx.window)
            for metric, sample in _ASYNC_METRICS.items()
        }
        if any(samples.values()):
            value = sum(samples.values())
            signals.append(ctx.signal(ASYNC_KIND, name, value=value, unit="Count", samples=samples))
    return signals
