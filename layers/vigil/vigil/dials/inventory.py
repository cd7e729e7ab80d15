"""Discovered resources, cached in the state table and refreshed on the discovery schedule.

A family's inventory is read from the table every cycle (one ``GetItem``) and discovered again
in the cycle whose window crosses a multiple of ``discovery_minutes`` (a function of the
scheduled time, so a replay discovers at the same cycles), or when none is stored yet (the
first cycle after a deploy). Every record keeps its resource's tags, for tag filters. A stored
inventory that no longer parses (written by another version, or edited by hand) is discovered
again at once and overwritten, rather than blinding the family until the next discovery.
"""

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Protocol

from vigil.adapters.collector_state import InventoryUnreadable
from vigil.dials.base import CycleContext


class InventoryStatePort(Protocol):
    def inventory(self, family: str) -> list[dict[str, Any]] | None: ...

    def remember_inventory(
        self, family: str, records: list[dict[str, Any]], *, at: datetime
    ) -> None: ...

    def watched(self, kinds: Iterable[str]) -> set[str]: ...


class Recordable(Protocol):
    def record(self) -> dict[str, Any]: ...


def load_inventory[R: Recordable](
    ctx: CycleContext,
    state: InventoryStatePort,
    family: str,
    *,
    discover: Callable[[], list[R]],
    parse: Callable[[dict[str, Any]], R],
) -> tuple[list[R], bool]:
    """The family's resources, and whether this cycle discovered them."""
    try:
        stored = state.inventory(family)
        if stored is not None and not ctx.discovery:
            return [parse(record) for record in stored], False
    except (InventoryUnreadable, KeyError, TypeError, ValueError, AttributeError):
        pass  # Discovered again below, and overwritten.
    found = discover()
    state.remember_inventory(family, [item.record() for item in found], at=ctx.now)
    return found, True
