"""SQS dead-letter queues: any visible message, and the age of the oldest against retention.

The queues are found by a discovery every ``discovery_minutes`` and stored in the state table
(docs/architecture.md, ADR 23); every cycle asks SQS for the stored queues' depth
(``GetQueueAttributes``, no metric), and only for a queue with messages asks for its
``ApproximateAgeOfOldestMessage`` on the fast path.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from vigil.dials.base import CycleContext, FamilyResult, FamilyRun, MetricKey, Stage
from vigil.dials.resources import FunctionInfo, QueueDepth

DLQ_KIND = "sqs.dlq_messages"


class DeadLetterPort(Protocol):
    def discover(self, lambda_targets: Iterable[str]) -> list[str]: ...

    def depths(self, urls: Iterable[str]) -> list[QueueDepth]: ...


class DeadLetterStatePort(Protocol):
    def dead_letter_queues(self) -> list[str] | None: ...

    def remember_dead_letter_queues(self, urls: list[str], *, at: datetime) -> None: ...


def oldest_age(queue: str) -> MetricKey:
    return MetricKey(
        namespace="AWS/SQS",
        metric="ApproximateAgeOfOldestMessage",
        dimensions=(("QueueName", queue),),
        stat="Maximum",
    )


@dataclass
class DeadLetterFamily:
    """SQS dead-letter queues; ``functions`` lists the account's functions (their DLQ targets)."""

    queues: DeadLetterPort
    state: DeadLetterStatePort
    functions: Callable[[], list[FunctionInfo]]
    name: str = "sqs"
    kinds: tuple[str, ...] = (DLQ_KIND,)

    def run(self, ctx: CycleContext) -> FamilyRun:
        if not ctx.rules.sqs_dlq.enabled:
            return FamilyResult(signals=[])
        depths, discovered = self._depths(ctx)
        queues = [depth for depth in depths if depth.visible > 0]
        answers = yield [ctx.ask(oldest_age(queue.name), Stage.FAST) for queue in queues]
        signals = [
            ctx.signal(
                DLQ_KIND,
                queue.name,
                value=float(queue.visible),
                unit="Count",
                samples={
                    "visible": float(queue.visible),
                    "oldest_age_seconds": answers.latest(oldest_age(queue.name), ctx.window) or 0.0,
                    "retention_seconds": float(queue.retention_seconds),
                },
            )
            for queue in queues
        ]
        return FamilyResult(signals=signals, resources=len(depths), discovered=discovered)

    def _depths(self, ctx: CycleContext) -> tuple[list[QueueDepth], bool]:
        """The depth of every known dead-letter queue, and whether this cycle discovered them.

        The stored set is used until the window crosses a discovery boundary, or when there is
        none.
        """
        known = self.state.dead_letter_queues()
        if known is not None and not ctx.discovery:
            return self.queues.depths(known), False
        targets = [fn.dead_letter_target for fn in self.functions() if fn.dead_letter_target]
        found = self.queues.discover(targets)
        self.state.remember_dead_letter_queues(found, at=ctx.now)
        return self.queues.depths(found), True
