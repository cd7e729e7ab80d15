"""Step Functions on simulated time: ``Wait`` states, task-token time-outs, and the context
object's times follow the emulator's :class:`~emulator.clock.Clock`, not the wall clock.

moto 5.2 sleeps through a ``Wait`` state in real time, times a ``.waitForTaskToken`` task out
in real seconds, and stamps ``$$.Execution.StartTime`` and ``$$.State.EnteredTime`` with the
wall clock. A runbook that waits five minutes between checks and an hour for an approval
could not be tested that way. While :func:`installed` is active:

* a ``Wait`` state (``Seconds``/``SecondsPath``) parks its execution until the simulated
  clock reaches the state's entry time plus the seconds (``Timestamp`` waits still use the
  wall clock);
* a ``.waitForTaskToken`` task without ``HeartbeatSeconds`` is answered by
  ``SendTaskSuccess``/``SendTaskFailure`` as before, or times out (``States.Timeout``) when
  the simulated clock passes its ``TimeoutSeconds``. moto's own real-time guard on the task
  still runs with the same number of seconds, so keep simulated time-outs longer than a
  test takes in real time;
* ``$$.Execution.StartTime`` and ``$$.State.EnteredTime`` (and the execution's start date)
  are simulated times.

:class:`SimulatedWaits` is the registry of parked executions: the emulator's
``advance_to`` releases them in deadline order, and ``settle`` counts an execution as parked
only while one of its waits is blocked here.
"""

from __future__ import annotations

import contextlib
import datetime as _datetime
import threading
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest.mock import patch

from moto.stepfunctions.parser import models as sfn_models
from moto.stepfunctions.parser.asl.component.state import state as sfn_state
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (  # noqa: E501
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
    WaitFunction,
)
from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackOutcomeTimedOut

_POLL = 0.01


@dataclass
class _Waiter:
    execution_arn: str
    deadline: _datetime.datetime
    what: str
    released: threading.Event = field(default_factory=threading.Event)


class SimulatedWaits:
    """Executions parked on simulated time, and their deadlines."""

    def __init__(self, now: Callable[[], _datetime.datetime]) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._waiters: list[_Waiter] = []

    def now(self) -> _datetime.datetime:
        return self._now()

    def wait(
        self,
        execution_arn: str,
        seconds: float,
        *,
        what: str,
        interrupted: Callable[[], bool],
    ) -> bool:
        """Block until the simulated deadline is released (True) or ``interrupted()``
        (False: answered, stopped)."""
        waiter = _Waiter(execution_arn, self._now() + _datetime.timedelta(seconds=seconds), what)
        with self._lock:
            self._waiters.append(waiter)
        try:
            while not waiter.released.wait(_POLL):
                if interrupted():
                    return False
            return True
        finally:
            with self._lock:
                self._waiters.remove(waiter)

    def next_deadline(self, until: _datetime.datetime) -> _datetime.datetime | None:
        with self._lock:
            due = [w.deadline for w in self._waiters if not w.released.is_set()]
        due = [d for d in due if d <= until]
        return min(due) if due else None

    def release_due(self, at: _datetime.datetime) -> list[str]:
        """Release every wait whose deadline is ``at`` or earlier; their execution ARNs."""
        with self._lock:
            due = [w for w in self._waiters if w.deadline <= at and not w.released.is_set()]
            for waiter in due:
                waiter.released.set()
        return [w.execution_arn for w in due]

    def blocked(self, execution_arn: str) -> bool:
        with self._lock:
            return any(
                w.execution_arn == execution_arn and not w.released.is_set() for w in self._waiters
            )

    def pending(self) -> list[tuple[str, _datetime.datetime, str]]:
        with self._lock:
            return [(w.execution_arn, w.deadline, w.what) for w in self._waiters]


def _execution_arn(env: Any) -> str:
    try:
        return str(env.states.context_object.context_object_data["Execution"]["Id"])
    except (AttributeError, KeyError, TypeError):
        return "unknown"


def _clock_module(now: Callable[[], _datetime.datetime]) -> types.SimpleNamespace:
    """Stands in for the ``datetime`` module inside the moto modules that stamp times."""

    class _SimDatetime(_datetime.datetime):
        @classmethod
        def now(cls, tz: _datetime.tzinfo | None = None) -> Any:
            moment = now()
            return moment.astimezone(tz) if tz else moment.replace(tzinfo=None)

    return types.SimpleNamespace(
        datetime=_SimDatetime,
        timezone=_datetime.timezone,
        timedelta=_datetime.timedelta,
        date=_datetime.date,
    )


@contextlib.contextmanager
def installed(waits: SimulatedWaits) -> Iterator[SimulatedWaits]:
    original_callback_wait = StateTaskServiceCallback._eval_wait_for_task_token

    def wait_interval(function: WaitFunction, env: Any, wait_seconds: int) -> None:
        if wait_seconds > 0:
            waits.wait(
                _execution_arn(env),
                wait_seconds,
                what="Wait state",
                interrupted=lambda: not env.is_running(),
            )

    def wait_for_task_token(
        task: StateTaskServiceCallback,
        env: Any,
        timeout_seconds: int,
        callback_endpoint: Any,
        heartbeat_endpoint: Any,
    ) -> Any:
        if heartbeat_endpoint is not None:
            return original_callback_wait(
                task, env, timeout_seconds, callback_endpoint, heartbeat_endpoint
            )
        waits.wait(
            _execution_arn(env),
            timeout_seconds,
            what="task token",
            interrupted=lambda: callback_endpoint.get_outcome() is not None or not env.is_running(),
        )
        outcome = callback_endpoint.get_outcome()
        if outcome is None:
            return CallbackOutcomeTimedOut(callback_id=callback_endpoint.callback_id)
        return outcome

    clock = _clock_module(waits.now)
    with (
        patch.object(WaitFunction, "_wait_interval", wait_interval),
        patch.object(StateTaskServiceCallback, "_eval_wait_for_task_token", wait_for_task_token),
        patch.object(sfn_state, "datetime", clock),
        patch.object(sfn_models, "datetime", clock),
    ):
        yield waits
