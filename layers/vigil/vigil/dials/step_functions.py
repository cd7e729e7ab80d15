"""Step Functions state machines: executions that failed or timed out, as a rate of those
started, and executions throttled.

``AWS/States`` publishes execution metrics per state machine only (dimension
``StateMachineArn``), with no account aggregate, so the family asks each discovered state
machine's ``ExecutionsFailed``, ``ExecutionsTimedOut`` and ``ExecutionThrottled`` sums every
cycle (plus ``ExecutionsAborted`` with ``step_functions.include_aborted``): three metrics per
state machine (docs/architecture.md, ADR 25). Only a state machine with failed or timed-out
executions in the window then has its ``ExecutionsStarted`` read, in a second round (the
volume of the rate; a healthy cycle reads nothing more). A sum is exact, so there is no
sweep: a window whose sums are zero resolves the alert. Discovery (``ListStateMachines``) runs
every ``discovery_minutes``.
"""

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from vigil.dials.base import CycleContext, FamilyResult, FamilyRun, MetricKey, Stage
from vigil.dials.inventory import InventoryStore, TagScope, load_records
from vigil.dials.resources import NamedResource

FAILED_KIND = "states.executions_failed"
TIMED_OUT_KIND = "states.executions_timed_out"
THROTTLED_KIND = "states.executions_throttled"
ABORTED_KIND = "states.executions_aborted"
RATE_KINDS = (FAILED_KIND, TIMED_OUT_KIND)
"""Judged against the executions started (``KIND_SPECS``): their samples are the events
(``failures``, ``timeouts``) and ``executions``; the others are counts (``count``)."""
_EVENTS = {FAILED_KIND: "failures", TIMED_OUT_KIND: "timeouts"}
STARTED = "ExecutionsStarted"
_METRICS = {
    FAILED_KIND: "ExecutionsFailed",
    TIMED_OUT_KIND: "ExecutionsTimedOut",
    THROTTLED_KIND: "ExecutionThrottled",
    ABORTED_KIND: "ExecutionsAborted",
}


class StateMachinesPort(Protocol):
    def list(self) -> list[NamedResource]: ...


class StateMachine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    arn: str
    name: str


def execution_metric(arn: str, metric: str) -> MetricKey:
    return MetricKey(namespace="AWS/States", metric=metric, dimensions=(("StateMachineArn", arn),))


class StepFunctionsFamily:
    name: str = "states"
    kinds: tuple[str, ...] = tuple(_METRICS)

    def __init__(
        self,
        state_machines: StateMachinesPort,
        state: InventoryStore,
        scope: TagScope,
        *,
        unwatched: frozenset[str] = frozenset(),
    ) -> None:
        """``unwatched``: names of state machines left out (the stack's collect workflow,
        which has its own alarm and runs only in Organization mode or with several regions:
        a stack without them pays no metric for it)."""
        self._state_machines = state_machines
        self._state = state
        self._scope = scope
        self._unwatched = unwatched

    def run(self, ctx: CycleContext) -> FamilyRun:
        rule = ctx.rules.step_functions
        if not rule.enabled:
            return FamilyResult(signals=[])
        machines, discovered = load_records(
            ctx, self._state, self.name, StateMachine, self._discover
        )
        kinds = [kind for kind in _METRICS if kind != ABORTED_KIND or rule.include_aborted]
        answers = yield [
            ctx.ask(execution_metric(machine.arn, _METRICS[kind]), Stage.FAST)
            for machine in machines
            for kind in kinds
        ]
        counts = {
            (machine.arn, kind): count
            for machine in machines
            for kind in kinds
            if (count := answers.total(execution_metric(machine.arn, _METRICS[kind]), ctx.window))
            > 0
        }
        failing = sorted({arn for arn, kind in counts if kind in RATE_KINDS})
        answers = yield [ctx.ask(execution_metric(arn, STARTED), Stage.DRILL) for arn in failing]
        signals = []
        for machine in machines:
            for kind in kinds:
                count = counts.get((machine.arn, kind), 0.0)
                if not count:
                    continue
                if kind not in RATE_KINDS:
                    signals.append(
                        ctx.signal(
                            kind, machine.name, value=count, unit="Count", samples={"count": count}
                        )
                    )
                    continue
                started = answers.total(execution_metric(machine.arn, STARTED), ctx.window)
                signals.append(
                    ctx.signal(
                        kind,
                        machine.name,
                        value=round(count / max(started, count) * 100, 4),
                        unit="Percent",
                        samples={_EVENTS[kind]: count, "executions": started},
                    )
                )
        return FamilyResult(
            signals=signals,
            resources=len(machines),
            discovered=discovered,
            extra={"state_machines_failing": len(failing)},
        )

    def _discover(self) -> list[StateMachine]:
        return [
            StateMachine(arn=machine.id, name=machine.name)
            for machine in self._state_machines.list()
            if self._scope.allows(machine.id) and machine.name not in self._unwatched
        ]
