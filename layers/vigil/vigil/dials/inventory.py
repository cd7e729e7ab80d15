"""What the edge families share: their discovered inventories in the state table, and the tag
filters that decide which discovered resources are watched (docs/rules.md, ``tags``).

A family's inventory is found by a discovery every ``collection.discovery_minutes`` (in the
cycle whose window crosses a multiple of it, like the dead-letter queues of ADR 23, and in any
cycle that finds none stored), stored as one JSON record, and read back by every other cycle
with one ``GetItem``.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from vigil.adapters.lambda_inventory import FunctionInfo
from vigil.adapters.sqs_queues import QueueDepth
from vigil.dials.base import CycleContext
from vigil.rules import TagFilters

M = TypeVar("M", bound=BaseModel)


class InventoryStatePort(Protocol):
    def inventory(self, name: str) -> dict[str, Any] | None: ...

    def remember_inventory(self, name: str, record: dict[str, Any], *, at: datetime) -> None: ...


class TagsPort(Protocol):
    def by_arn(self) -> dict[str, dict[str, str]]: ...


def stored[M: BaseModel](state: InventoryStatePort, name: str, model: type[M]) -> M | None:
    """The inventory the last discovery of family ``name`` stored; ``None`` when there is none
    or it no longer parses (an older shape), so that the cycle discovers again."""
    record = state.inventory(name)
    if record is None:
        return None
    try:
        return model.model_validate(record)
    except ValidationError:
        return None


def remember(state: InventoryStatePort, name: str, inventory: BaseModel, ctx: CycleContext) -> None:
    state.remember_inventory(name, inventory.model_dump(mode="json"), at=ctx.now)


def load_or_discover[M: BaseModel](
    state: InventoryStatePort,
    name: str,
    model: type[M],
    ctx: CycleContext,
    discover: Callable[[], M],
) -> tuple[M, bool]:
    """The family's stored inventory, or a fresh one (stored) when discovery is due or none is
    stored; and whether this cycle discovered it."""
    found = None if ctx.discovery else stored(state, name, model)
    if found is not None:
        return found, False
    found = discover()
    remember(state, name, found, ctx)
    return found, True


@dataclass
class TagScope:
    """The tag filters applied to discovered resources.

    With no filter configured (the default) every resource is watched and no tag is read. With
    one, the first question asks the Resource Groups Tagging API for the tags of every tagged
    resource of the region (``GetResources``, 100 a page, once per discovery); resources whose
    listing carries their tags (API Gateway APIs) pass them in.
    """

    filters: TagFilters
    tags: TagsPort
    _known: dict[str, dict[str, str]] | None = field(default=None, init=False)

    def allows(self, arn: str, own: dict[str, str] | None = None) -> bool:
        if not self.filters.active:
            return True
        if own is None:
            if self._known is None:
                self._known = self.tags.by_arn()
            own = self._known.get(arn, {})
        return self.filters.allows(own)


class ScopedFunctions:
    """The Lambda functions the tag filters allow, for the families that list functions.

    The names a discovery excluded are stored (``DISCOVERY#tags``), so an ordinary cycle reads
    no tags; a function created since the last discovery is watched until the next one.
    """

    def __init__(
        self,
        functions: Callable[[], list[FunctionInfo]],
        scope: TagScope,
        state: InventoryStatePort,
        *,
        discovery: bool,
        now: datetime,
    ) -> None:
        self._functions = functions
        self._scope = scope
        self._state = state
        self._discovery = discovery
        self._now = now
        self._allowed: list[FunctionInfo] | None = None

    def __call__(self) -> list[FunctionInfo]:
        if self._allowed is None:
            self._allowed = self._filter(self._functions())
        return self._allowed

    def _filter(self, listed: list[FunctionInfo]) -> list[FunctionInfo]:
        if not self._scope.filters.active:
            return listed
        stored = None if self._discovery else self._state.inventory("tags")
        if stored is None:
            excluded = sorted(fn.name for fn in listed if not self._scope.allows(fn.arn))
            self._state.remember_inventory("tags", {"excluded_functions": excluded}, at=self._now)
        else:
            excluded = [str(name) for name in stored.get("excluded_functions", [])]
        skip = set(excluded)
        return [fn for fn in listed if fn.name not in skip]


class DeadLetterPort(Protocol):
    def discover(self, lambda_targets: Iterable[str]) -> list[str]: ...

    def depths(self, urls: Iterable[str]) -> list[QueueDepth]: ...


class DestinationsPort(Protocol):
    def on_failure(self, functions: Iterable[str]) -> set[str]: ...


class ScopedDeadLetters:
    """Dead-letter queue discovery with the Lambda on-failure destinations added as targets,
    and the queues the tag filters exclude left out.

    ``ListFunctions`` carries a function's ``DeadLetterConfig`` but not its destinations, so at
    each discovery the on-failure destinations of every function and event source mapping are
    read (:class:`vigil.adapters.inventory.LambdaDestinations`); an SQS one is watched like a
    dead-letter queue (SNS topics, EventBridge buses and other functions are not queues).
    """

    def __init__(
        self,
        queues: DeadLetterPort,
        destinations: DestinationsPort,
        functions: Callable[[], list[FunctionInfo]],
        scope: TagScope,
    ) -> None:
        self._queues = queues
        self._destinations = destinations
        self._functions = functions
        self._scope = scope
        self.destination_targets = 0

    def discover(self, lambda_targets: Iterable[str]) -> list[str]:
        names = [fn.name for fn in self._functions()]
        destinations = self._destinations.on_failure(names)
        self.destination_targets = len(destinations)
        found = self._queues.discover([*lambda_targets, *sorted(destinations)])
        return [url for url in found if self._scope.allows(queue_arn(url))]

    def depths(self, urls: Iterable[str]) -> list[QueueDepth]:
        return self._queues.depths(urls)


def queue_arn(url: str) -> str:
    """``https://sqs.<region>.amazonaws.com/<account>/<name>`` as an ARN."""
    parts = url.rstrip("/").split("/")
    region = parts[2].split(".")[1]
    return f"arn:aws:sqs:{region}:{parts[3]}:{parts[4]}"
