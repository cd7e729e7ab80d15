"""Lambda duration: each function's slowest invocation against its configured time-out.

Fast path, every cycle: ONE metric, the account-level ``AWS/Lambda`` ``Duration`` Maximum (no
dimensions; Lambda publishes it over every function). The account's slowest invocation bounds
every function's, so while it stays below ``warning_ratio`` of the smallest time-out among the
watched functions no function can be near its own, and nothing else is read. The time-outs are
summed up by discovery (every ``discovery_minutes``, from ``ListFunctions``, with the tag filters
applied as to the other Lambda families) into one stored record per distinct time-out, so a
healthy cycle lists no function, whatever their number: one metric, one ``GetItem`` (the
record) and one ``Query`` (the watch list).

Drill-down, when the account's peak reaches that level: the functions are listed (the same
``ListFunctions`` pass as the other Lambda families in the cycle, so time-outs changed since the
discovery count) and ``Duration`` Maximum is read per function only for those whose
``warning_ratio`` of the time-out is at most the account's peak (no other can be near its own),
plus the functions on the watch list (an alert of this kind pending or firing), read every cycle
so that their alerts resolve on evidence. The account's peak is often a long-running function's
own (a 10-minute batch job makes every function with a time-out up to 12.5 minutes a
candidate), so at most ``MAX_DRILL`` candidates are read a cycle: beyond that, one share of them
in turn, each read at least once every ``ceil(candidates / MAX_DRILL)`` cycles (1,000
candidates: every 10 cycles, 50 minutes at a 5-minute window), and the cost stays bounded.
A function created since the last discovery with a smaller time-out than every known one is
judged from the next discovery on.

Last round, only for the functions whose slowest invocation reached ``warning_ratio`` of the
time-out: ``Duration`` ``p99`` (is it one slow invocation, or one in a hundred?) and the count
of invocations that reached the time-out (the trimmed count ``TC(lower:upper)`` from 99 % of the
time-out), each over the whole window at one period. Two metrics per slow function a cycle,
none while every function stays below the level.
"""

from collections.abc import Callable, Iterable
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from vigil.dials.base import (
    CycleContext,
    FamilyResult,
    FamilyRun,
    MetricAsk,
    MetricKey,
    Stage,
    Window,
)
from vigil.dials.inventory import InventoryStore, load_records
from vigil.dials.resources import FunctionInfo

TIMEOUT_KIND = "lambda.duration_timeout"
MAX_DRILL = 100
"""Candidates read per cycle, besides the watched functions (about $8.6 a month at most)."""


class DurationStatePort(InventoryStore, Protocol):
    def watched(self, kinds: Iterable[str]) -> set[str]: ...


class TimeoutGroup(BaseModel):
    """The watched functions sharing one configured time-out (seconds): a discovery stores one
    record per distinct time-out, at most 900 (Lambda's limit is 900 s), whatever the number of
    functions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout: int
    functions: int


TIMED_OUT_FROM = 0.99
"""An invocation whose duration reached this share of the time-out is counted as timed out:
Lambda stops it at the time-out, and its ``Duration`` is the time-out give or take a few
milliseconds of the runtime's own."""


def duration_metric(function: str | None = None, stat: str = "Maximum") -> MetricKey:
    """``Duration`` of one function, or of the whole account (no dimensions): ``Maximum`` (the
    slowest invocation) unless another statistic is given (``p99``)."""
    return MetricKey(
        namespace="AWS/Lambda",
        metric="Duration",
        dimensions=(("FunctionName", function),) if function else (),
        stat=stat,
    )


def timed_out_metric(function: str, timeout_seconds: int) -> MetricKey:
    """The count of a function's invocations that reached its time-out: CloudWatch's trimmed
    count between absolute bounds, lower exclusive and upper inclusive (``TC(14850:30000)``
    for 15 s; the upper bound, twice the time-out, is above any invocation Lambda lets run)."""
    timeout_ms = timeout_seconds * 1000
    lower, upper = round(timeout_ms * TIMED_OUT_FROM), 2 * timeout_ms
    return duration_metric(function, f"TC({lower}:{upper})")


class LambdaDurationFamily:
    name: str = "duration"
    kinds: tuple[str, ...] = (TIMEOUT_KIND,)

    def __init__(
        self, functions: Callable[[], list[FunctionInfo]], state: DurationStatePort
    ) -> None:
        self._functions = functions
        self._state = state

    def run(self, ctx: CycleContext) -> FamilyRun:
        rule = ctx.rules.lambda_timeouts
        if not rule.enabled:
            return FamilyResult(signals=[])
        groups, discovered = load_records(ctx, self._state, self.name, TimeoutGroup, self._discover)
        known = sum(group.functions for group in groups)
        watched = self._state.watched(self.kinds)
        if not groups and not watched:
            return FamilyResult(signals=[], discovered=discovered)
        answers = yield [ctx.ask(duration_metric(), Stage.FAST)]
        peak = answers.peak(duration_metric(), ctx.window)
        smallest = min((group.timeout for group in groups), default=None)
        near = smallest is not None and peak >= rule.warning_ratio * smallest * 1000
        if not near and not watched:
            return FamilyResult(signals=[], resources=known, discovered=discovered)

        timeouts = {fn.name: fn.timeout for fn in self._functions() if fn.timeout}
        candidates = sorted(
            (
                name
                for name, timeout in timeouts.items()
                if rule.warning_ratio * timeout * 1000 <= peak
            ),
            key=lambda name: (timeouts[name], name),
        )
        turn = _turn(candidates, ctx.window)
        read = sorted((set(turn) | watched) & set(timeouts))
        answers = yield [ctx.ask(duration_metric(name), Stage.DRILL) for name in read]
        slowest = {
            name: max(points.values())
            for name in read
            # No datapoint: no invocation in the window, nothing to judge.
            if (points := answers.series(duration_metric(name), ctx.window.start, ctx.window.end))
        }
        slow = [
            name for name in slowest if slowest[name] >= rule.warning_ratio * timeouts[name] * 1000
        ]
        answers = yield [
            # One period over the whole window: the window's p99 and count, not the minutes'.
            MetricAsk(key, ctx.window.start, ctx.window.end, Stage.DRILL, ctx.window.seconds)
            for name in slow
            for key in (duration_metric(name, "p99"), timed_out_metric(name, timeouts[name]))
        ]
        signals = []
        for name, peak in slowest.items():
            timeout_ms = timeouts[name] * 1000.0
            samples = {"duration_ms": peak, "timeout_ms": timeout_ms}
            if name in slow:
                # CloudWatch's percentiles are estimates: never above the slowest invocation.
                if p99 := answers.peak(duration_metric(name, "p99"), ctx.window):
                    samples["p99_ms"] = min(p99, peak)
                samples["timeouts"] = answers.total(
                    timed_out_metric(name, timeouts[name]), ctx.window
                )
            signals.append(
                ctx.signal(
                    TIMEOUT_KIND,
                    name,
                    value=round(peak / timeout_ms * 100, 4),
                    unit="Percent",
                    samples=samples,
                )
            )
        return FamilyResult(
            signals=signals,
            resources=len(timeouts),
            # Only a cycle that read every candidate judged the kind for all functions.
            drilled=frozenset({TIMEOUT_KIND} if near and turn == candidates else set()),
            watched=frozenset(watched),
            discovered=discovered,
        )

    def _discover(self) -> list[TimeoutGroup]:
        counts: dict[int, int] = {}
        for fn in self._functions():
            if fn.timeout:
                counts[fn.timeout] = counts.get(fn.timeout, 0) + 1
        return [TimeoutGroup(timeout=t, functions=n) for t, n in sorted(counts.items())]


def _turn(candidates: list[str], window: Window) -> list[str]:
    """This cycle's share of the candidates: all of them up to ``MAX_DRILL``; beyond, every
    n-th by the window's index, so each is read once every n cycles (n = the shares needed)."""
    shares = -(-len(candidates) // MAX_DRILL)
    if shares <= 1:
        return candidates
    index = int(window.start.timestamp()) // window.seconds % shares
    return candidates[index::shares]
