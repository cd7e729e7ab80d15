"""Step Functions executions in moto: listing, waiting, history.

moto runs each execution in a worker thread. :meth:`Executions.settle` polls until every
execution has finished or is *parked* — waiting for a task token (``.waitForTaskToken``) or in
a ``Wait`` state (with ``blocked``, from :mod:`emulator.sfn_time`: exactly while such a wait
is blocked on the simulated clock) — and raises :class:`~emulator.errors.SettleTimeout`,
naming the executions still running and their last history event, if that takes longer than
``timeout`` seconds.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from moto.stepfunctions.parser.utils import TMP_THREADS

from emulator._aws import REGION, client
from emulator.errors import SettleTimeout

_FINISHED = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def _execution_workers() -> list[threading.Thread]:
    """The threads alive now that run a whole execution (moto's ``ExecutionWorker``; not the
    threads of Map iterations or branches, which end many times per execution)."""
    return [
        thread
        for thread in list(TMP_THREADS)
        if thread.is_alive()
        and getattr(getattr(thread, "_target", None), "__name__", "") == "_execution_logic"
    ]


def _until_a_worker_ends(seconds: float, *, check: float = 0.005) -> None:
    """Sleep ``seconds``, or less: until an execution's worker thread alive now ends.
    Reading a thread's state costs nothing of moto's, unlike a ``ListExecutions``."""
    deadline = time.monotonic() + seconds
    alive = _execution_workers()
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or any(not thread.is_alive() for thread in alive):
            return
        time.sleep(min(check, left))


def _maybe_json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


@dataclass(frozen=True)
class ExecutionRecord:
    arn: str
    name: str
    state_machine_arn: str
    state_machine: str
    """Logical id in the template when the state machine belongs to the stack, else its name."""
    status: str
    start_date: datetime | None
    stop_date: datetime | None
    input: Any
    output: Any
    error: str | None
    cause: str | None

    @property
    def finished(self) -> bool:
        return self.status in _FINISHED

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"


class Executions:
    """Reads executions of every state machine in moto."""

    def __init__(
        self,
        *,
        region: str = REGION,
        names: Mapping[str, str] | None = None,
        blocked: Callable[[str], bool] | None = None,
    ) -> None:
        self._sfn = client("stepfunctions", region)
        self._names = dict(names or {})
        self._blocked = blocked

    def state_machine_arns(self) -> list[str]:
        arns: list[str] = []
        paginator = self._sfn.get_paginator("list_state_machines")
        for page in paginator.paginate():
            arns += [sm["stateMachineArn"] for sm in page["stateMachines"]]
        return arns

    def summaries(self, status: str | None = None) -> list[dict[str, Any]]:
        """``ListExecutions`` of every state machine (optionally one status), oldest first."""
        found: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"statusFilter": status} if status else {}
        for arn in self.state_machine_arns():
            paginator = self._sfn.get_paginator("list_executions")
            for page in paginator.paginate(stateMachineArn=arn, **kwargs):
                found += page["executions"]
        return sorted(found, key=lambda e: (e["startDate"], e["executionArn"]))

    def describe(self, arn: str) -> ExecutionRecord:
        d = self._sfn.describe_execution(executionArn=arn)
        sm_arn = d["stateMachineArn"]
        return ExecutionRecord(
            arn=arn,
            name=d["name"],
            state_machine_arn=sm_arn,
            state_machine=self._names.get(sm_arn, sm_arn.rsplit(":", 1)[-1]),
            status=d["status"],
            start_date=d.get("startDate"),
            stop_date=d.get("stopDate"),
            input=_maybe_json(d.get("input")),
            output=_maybe_json(d.get("output")),
            error=d.get("error"),
            cause=d.get("cause"),
        )

    def records(self) -> list[ExecutionRecord]:
        return [self.describe(e["executionArn"]) for e in self.summaries()]

    def history(self, arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": arn}
        while True:
            page = self._sfn.get_execution_history(**kwargs)
            events += page["events"]
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    def _parked(self, arn: str) -> tuple[bool, str]:
        events = self.history(arn)
        if not events:
            return False, "no events yet"
        last = events[-1]
        kind = str(last.get("type"))
        if self._blocked is not None:
            # Simulated waits (emulator.sfn_time): parked exactly while a Wait state or a
            # task-token wait of this execution is blocked on the simulated clock.
            if self._blocked(arn):
                return True, f"{kind} (waiting on the simulated clock)"
        elif kind == "WaitStateEntered":
            return True, kind
        for event in reversed(events):
            etype = str(event.get("type"))
            if etype in ("TaskSucceeded", "TaskFailed", "TaskTimedOut"):
                break
            if etype == "TaskScheduled":
                resource = str(event.get("taskScheduledEventDetails", {}).get("resource", ""))
                if resource.endswith(".waitForTaskToken") and self._blocked is None:
                    return True, f"{kind} (waiting for a task token)"
                break
            if etype == "ActivityScheduled":
                return True, f"{kind} (waiting for an activity worker)"
        return False, kind

    def settle(self, *, timeout: float = 30.0, poll: float = 0.02) -> None:
        """Wait until no execution is running, except those parked on a callback or Wait.

        The wait between polls grows (up to half a second) while an execution stays busy:
        polling moto takes the interpreter from the execution it waits for (a storm's
        evaluation runs for seconds). A wait ends early when an execution's worker thread
        ends, so a finished execution is seen at once rather than at the next poll."""
        deadline = time.monotonic() + timeout
        stable_rounds = 0
        delay = poll
        last_seen: tuple[str, ...] = ()
        while True:
            running = [e["executionArn"] for e in self.summaries("RUNNING")]
            busy: list[tuple[str, str]] = []
            for arn in running:
                parked, last_event = self._parked(arn)
                if not parked:
                    busy.append((arn, last_event))
            seen = tuple(sorted(running))
            if not busy:
                # Two quiet polls in a row: nothing started an execution in between.
                stable_rounds = stable_rounds + 1 if seen == last_seen else 0
                if stable_rounds >= 1:
                    return
            else:
                stable_rounds = 0
                delay = min(delay * 1.5, 0.5)
            last_seen = seen
            if time.monotonic() > deadline:
                detail = "; ".join(f"{arn} (last event: {event})" for arn, event in busy)
                raise SettleTimeout(
                    f"Step Functions executions still running after {timeout:g}s: {detail}"
                )
            _until_a_worker_ends(delay)
