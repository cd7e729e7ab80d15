"""SQS dead-letter queues: any visible message, the age of the oldest against retention, and
the share of their source queues' messages that the redrive policy moved there.

The queues are found by a discovery every ``discovery_minutes`` and stored in the state table
(docs/architecture.md, ADR 23); every cycle asks SQS for the stored queues' depth
(``GetQueueAttributes``, no metric), and only for a queue with messages asks for its
``ApproximateAgeOfOldestMessage`` on the fast path.

CloudWatch counts no message that a redrive policy moves (a dead-letter queue's
``NumberOfMessagesSent`` counts only messages sent to it by hand), so the moves are the growth
of a dead-letter queue's depth between two cycles: each cycle stores the depths of the
dead-letter queues that have source queues, with those sources (one ``GetItem`` and one
``PutItem`` a cycle, ``DISCOVERY#sqs-redrive``). Only a queue that grew has its sources'
``NumberOfMessagesReceived`` read, in a second round (``Stage.DRILL``), so a healthy cycle reads
no metric more (docs/rules.md, ``sqs_failures``).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from vigil.dials.base import CycleContext, FamilyResult, FamilyRun, MetricKey, Stage, Window
from vigil.dials.resources import FunctionInfo, InventoryUnreadable, QueueDepth

DLQ_KIND = "sqs.dlq_messages"
FAILURE_KIND = "sqs.failure_rate"
REDRIVE = "sqs-redrive"
MAX_SPAN = timedelta(hours=1)
"""Depth growth over a longer gap between cycles (the collector stopped) is not judged: its
moves would be spread over an hour of receives, and judged as one late window."""


class DeadLetterPort(Protocol):
    def discover(self, lambda_targets: Iterable[str]) -> list[str]: ...

    def depths(self, urls: Iterable[str]) -> list[QueueDepth]: ...

    def sources(self) -> dict[str, list[str]]: ...


class DeadLetterStatePort(Protocol):
    def dead_letter_queues(self) -> list[str] | None: ...

    def remember_dead_letter_queues(self, urls: list[str], *, at: datetime) -> None: ...

    def inventory(self, family: str) -> list[dict[str, Any]] | None: ...

    def remember_inventory(
        self, family: str, records: list[dict[str, Any]], *, at: datetime
    ) -> None: ...


class Redrive(BaseModel):
    """A dead-letter queue with source queues, and its depth at the end of a cycle's window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    sources: list[str]
    visible: int
    at: datetime


@dataclass(frozen=True)
class Moves:
    """Messages moved to a dead-letter queue (its depth's growth) over ``span``."""

    queue: str
    sources: list[str]
    moved: int
    span: Window


def oldest_age(queue: str) -> MetricKey:
    return MetricKey(
        namespace="AWS/SQS",
        metric="ApproximateAgeOfOldestMessage",
        dimensions=(("QueueName", queue),),
        stat="Maximum",
    )


def received(queue: str) -> MetricKey:
    return MetricKey(
        namespace="AWS/SQS", metric="NumberOfMessagesReceived", dimensions=(("QueueName", queue),)
    )


def moves_between(before: Redrive | None, after: Redrive) -> Moves | None:
    """The messages moved into a queue between two readings, or ``None`` when there is
    nothing to judge: no earlier reading (the first cycle), no growth (a purge or a redrive
    shrinks the queue, which is no negative move), or a gap longer than :data:`MAX_SPAN`.

    A message read or redriven out of the queue in the same span hides one moved in: the
    growth is a lower bound of the moves.
    """
    if before is None or after.visible <= before.visible:
        return None
    if not timedelta(0) < after.at - before.at <= MAX_SPAN:
        return None
    return Moves(
        queue=after.url.rsplit("/", 1)[-1],
        sources=after.sources,
        moved=after.visible - before.visible,
        span=Window(start=before.at, end=after.at),
    )


@dataclass
class DeadLetterFamily:
    """SQS dead-letter queues; ``functions`` lists the account's functions (their DLQ targets)."""

    queues: DeadLetterPort
    state: DeadLetterStatePort
    functions: Callable[[], list[FunctionInfo]]
    name: str = "sqs"
    kinds: tuple[str, ...] = (DLQ_KIND, FAILURE_KIND)

    def run(self, ctx: CycleContext) -> FamilyRun:
        watch_depth, watch_moves = ctx.rules.sqs_dlq.enabled, ctx.rules.sqs_failures.enabled
        if not (watch_depth or watch_moves):
            return FamilyResult(signals=[])
        depths, discovered = self._depths(ctx)
        queues = [depth for depth in depths if depth.visible > 0] if watch_depth else []
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
        moves = self._moves(ctx, depths, discovered) if watch_moves else []
        answers = yield [
            ctx.ask(received(source), Stage.DRILL, move.span)
            for move in moves
            for source in move.sources
        ]
        for move in moves:
            receives = sum(answers.total(received(source), move.span) for source in move.sources)
            signals.append(
                ctx.signal(
                    FAILURE_KIND,
                    move.queue,
                    value=round(move.moved / max(receives, move.moved) * 100, 4),
                    unit="Percent",
                    samples={"moves": float(move.moved), "receives": receives},
                    span=move.span,
                    context={"sources": ", ".join(move.sources)},
                )
            )
        return FamilyResult(
            signals=signals,
            resources=len(depths),
            discovered=discovered,
            extra={"dead_letter_queues_grown": len(moves)},
        )

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

    def _moves(self, ctx: CycleContext, depths: list[QueueDepth], discovered: bool) -> list[Moves]:
        """The dead-letter queues that grew since the last cycle; this cycle's depths stored.

        The sources come from this cycle's discovery, else from the stored readings. A
        retried cycle (the same window again) keeps the first attempt's reading, so that its
        growth is not lost.
        """
        stored = self._stored()
        if discovered:
            sources = self.queues.sources()
        else:
            sources = {url: reading.sources for url, reading in stored.items()}
        readings: list[Redrive] = []
        moves: list[Moves] = []
        for depth in depths:
            names, before = sources.get(depth.url), stored.get(depth.url)
            if not names:
                continue
            if before is not None and before.at >= ctx.window.end:
                readings.append(before.model_copy(update={"sources": names}))
                continue
            reading = Redrive(
                url=depth.url, sources=names, visible=depth.visible, at=ctx.window.end
            )
            readings.append(reading)
            if (grown := moves_between(before, reading)) is not None:
                moves.append(grown)
        if readings or stored:
            self.state.remember_inventory(
                REDRIVE, [reading.model_dump(mode="json") for reading in readings], at=ctx.now
            )
        return moves

    def _stored(self) -> dict[str, Redrive]:
        """The last cycle's readings by queue URL; none when they no longer parse."""
        try:
            records = self.state.inventory(REDRIVE) or []
            return {
                reading.url: reading for reading in (Redrive.model_validate(r) for r in records)
            }
        except (InventoryUnreadable, ValidationError):
            return {}
