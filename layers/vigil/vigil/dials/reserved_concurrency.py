"""Lambda reserved concurrency: a function's peak concurrency against its own reservation.

A function with reserved concurrency can never run more instances than it reserved; past that
its invocations throttle even when the account has room, which the account concurrency dial
does not see. ``ListFunctions`` does not carry the reservation, so each discovery (every
``discovery_minutes``) asks ``GetFunctionConcurrency`` for up to :data:`RESERVATION_BATCH`
functions: a rotating share of a larger account, chosen by the discovery's number, with what
earlier discoveries found kept for the others. Only functions with a reservation are stored;
the tag filters apply as to the other Lambda families.

Every cycle asks each reserved function's ``ConcurrentExecutions`` Maximum at the window's
period: one metric per reserved function per cycle, none for the others (docs/architecture.md,
ADR 21). A reservation of 0 switches a function off on purpose: it is not read and never alerts.
"""

from collections.abc import Callable, Iterable
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from vigil.dials.base import CycleContext, FamilyResult, FamilyRun, MetricAsk, MetricKey, Stage
from vigil.dials.inventory import InventoryStore, load_records, stored
from vigil.dials.resources import FunctionInfo

RESERVED_KIND = "lambda.reserved_concurrency"
# Functions whose reservation one discovery reads at most: a request each, and a collector run
# has 120 s; a larger account is covered over several discoveries.
RESERVATION_BATCH = 500


class ReservationsPort(Protocol):
    def reserved(self, functions: Iterable[str]) -> dict[str, int]: ...


class Reservation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    function: str
    reserved: int


def concurrency_metric(function: str) -> MetricKey:
    return MetricKey(
        namespace="AWS/Lambda",
        metric="ConcurrentExecutions",
        dimensions=(("FunctionName", function),),
        stat="Maximum",
    )


class ReservedConcurrencyFamily:
    name: str = "reserved"
    kinds: tuple[str, ...] = (RESERVED_KIND,)

    def __init__(
        self,
        reservations: ReservationsPort,
        functions: Callable[[], list[FunctionInfo]],
        state: InventoryStore,
    ) -> None:
        self._reservations = reservations
        self._functions = functions
        self._state = state

    def run(self, ctx: CycleContext) -> FamilyRun:
        if not ctx.rules.lambda_reserved_concurrency.enabled:
            return FamilyResult(signals=[])
        rotation = int(ctx.window.end.timestamp()) // 60 // ctx.rules.collection.discovery_minutes
        found, discovered = load_records(
            ctx, self._state, self.name, Reservation, lambda: self._discover(rotation)
        )
        watched = [item for item in found if item.reserved > 0]
        answers = yield [
            MetricAsk(
                key=concurrency_metric(item.function),
                start=ctx.window.start,
                end=ctx.window.end,
                stage=Stage.FAST,
                period=ctx.window.seconds,
            )
            for item in watched
        ]
        signals = []
        for item in watched:
            peak = answers.peak(concurrency_metric(item.function), ctx.window)
            if peak <= 0:
                continue
            signals.append(
                ctx.signal(
                    RESERVED_KIND,
                    item.function,
                    value=round(peak / item.reserved * 100, 4),
                    unit="Percent",
                    samples={"concurrent": peak, "reserved": float(item.reserved)},
                )
            )
        return FamilyResult(signals=signals, resources=len(watched), discovered=discovered)

    def _discover(self, rotation: int) -> list[Reservation]:
        names = sorted(fn.name for fn in self._functions())
        shares = max(1, -(-len(names) // RESERVATION_BATCH))
        share = names[rotation % shares :: shares]
        unread = set(names) - set(share)
        earlier = stored(self._state, self.name, Reservation) or []
        kept = {item.function: item.reserved for item in earlier if item.function in unread}
        kept |= self._reservations.reserved(share)
        return [Reservation(function=name, reserved=kept[name]) for name in sorted(kept)]
