"""Discovered resources, cached in the state table and refreshed on the discovery schedule.

A family's inventory is read from the table every cycle (one ``GetItem``) and discovered again
in the cycle whose window crosses a multiple of ``discovery_minutes`` (a function of the
scheduled time, so a replay discovers at the same cycles), or when none is stored yet (the
first cycle after a deploy). Every record keeps its resource's tags, for tag filters. A stored
inventory that no longer parses (written by another version, or edited by hand) is discovered
again at once and overwritten, rather than blinding the family until the next discovery.

The tag filters (docs/rules.md, ``tags``) decide which discovered resources are watched:
:class:`TagScope` answers for one resource, :class:`ScopedFunctions`, :class:`ScopedDeadLetters`
and :class:`TagFiltered` apply it to functions, dead-letter queues, tables and streams.
:class:`FunctionDestinations` reads where Lambda sends the events it gave up on, for dead-letter
queue discovery and :class:`AsyncProtection` (the functions whose failed events are kept). The
per-resource overrides and the alerts' tag labels read tags too: :class:`ResourceTagIndex`
keeps the ones they read and hands them to the batch's signals.
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from vigil.core.model import Labels, Signal, SignalBatch
from vigil.dials.base import CycleContext
from vigil.dials.resources import FunctionInfo, InventoryUnreadable, QueueDepth
from vigil.rules.document import RulesConfig, TagFilters
from vigil.rules.kinds import KINDS
from vigil.rules.overrides import read_tags, relevant_tags
from vigil.rules.self_watch import TAGS_KIND


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


# The edge families (S3, Step Functions, API Gateway, service quotas) keep their records as
# pydantic models and need only the inventory half of the state port.
class InventoryStore(Protocol):
    def inventory(self, family: str) -> list[dict[str, Any]] | None: ...

    def remember_inventory(
        self, family: str, records: list[dict[str, Any]], *, at: datetime
    ) -> None: ...


class TagsPort(Protocol):
    def by_arn(self) -> dict[str, dict[str, str]]: ...


def stored[M: BaseModel](state: InventoryStore, family: str, model: type[M]) -> list[M] | None:
    """The records the last discovery of ``family`` stored; ``None`` when there are none or
    they no longer parse (an older shape), so that the cycle discovers again."""
    try:
        records = state.inventory(family)
        if records is None:
            return None
        return [model.model_validate(record) for record in records]
    except (InventoryUnreadable, ValidationError):
        return None


def remember(state: InventoryStore, family: str, found: list[BaseModel], ctx: CycleContext) -> None:
    state.remember_inventory(family, [item.model_dump(mode="json") for item in found], at=ctx.now)


def load_records[M: BaseModel](
    ctx: CycleContext,
    state: InventoryStore,
    family: str,
    model: type[M],
    discover: Callable[[], list[M]],
) -> tuple[list[M], bool]:
    """The family's stored records, or fresh ones (stored) when discovery is due or none are
    stored; and whether this cycle discovered them."""
    found = None if ctx.discovery else stored(state, family, model)
    if found is not None:
        return found, False
    found = discover()
    remember(state, family, list(found), ctx)
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
        return self.filters.allows(self.known().get(arn, {}) if own is None else own)

    def known(self) -> dict[str, dict[str, str]]:
        """The tags of every tagged resource, by ARN: read once (``GetResources``)."""
        if self._known is None:
            self._known = self.tags.by_arn()
        return self._known


def stored_excluded(state: InventoryStore) -> set[str] | None:
    """The functions the tag filters excluded at the last discovery (``DISCOVERY#tags``);
    ``None`` before any."""
    records = state.inventory("tags")
    return None if records is None else {str(record["excluded_function"]) for record in records}


def stored_resource_tags(state: InventoryStore) -> dict[str, dict[str, str]] | None:
    """The tags :class:`ResourceTagIndex` kept at the last discovery, by ARN
    (``DISCOVERY#resource_tags``); ``None`` when none are stored or they no longer read (then
    the next cycle discovers them again and overwrites them)."""
    try:
        records = state.inventory("resource_tags")
        if records is None:
            return None
        return {str(record["arn"]): dict(record["tags"]) for record in records}
    except (InventoryUnreadable, KeyError, TypeError, ValueError):
        return None


def stored_protected(state: InventoryStore) -> set[str] | None:
    """The functions the last discovery found keep their failed async events
    (``DISCOVERY#async``, :class:`AsyncProtection`); ``None`` when none are stored or they no
    longer read (then they are discovered again and overwritten)."""
    try:
        records = state.inventory("async")
        return None if records is None else {str(record["function"]) for record in records}
    except (InventoryUnreadable, KeyError, TypeError):
        return None


class ScopedFunctions:
    """The Lambda functions the tag filters allow, for the families that list functions.

    The names a discovery excluded are stored (``DISCOVERY#tags``), so an ordinary cycle reads
    no tags; a function created since the last discovery is watched until the next one.
    """

    def __init__(
        self,
        functions: Callable[[], list[FunctionInfo]],
        scope: TagScope,
        state: InventoryStore,
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
        skip = None if self._discovery else stored_excluded(self._state)
        if skip is None:
            excluded = sorted(fn.name for fn in listed if not self._scope.allows(fn.arn))
            records = [{"excluded_function": name} for name in excluded]
            self._state.remember_inventory("tags", records, at=self._now)
            skip = set(excluded)
        return [fn for fn in listed if fn.name not in skip]


class DeadLetterPort(Protocol):
    def discover(self, lambda_targets: Iterable[str]) -> list[str]: ...

    def depths(self, urls: Iterable[str]) -> list[QueueDepth]: ...

    def sources(self) -> dict[str, list[str]]: ...


class DestinationsPort(Protocol):
    def function_destinations(self, functions: Iterable[str]) -> dict[str, set[str]]: ...

    def mapping_destinations(self) -> set[str]: ...

    def mapped_functions(self) -> set[str]: ...


# Functions whose destinations one discovery reads at most: a request each, and a collector
# run has 120 s; a larger account is covered over several discoveries.
DESTINATION_BATCH = 500


class FunctionDestinations:
    """Where Lambda sends the events it gave up on, read at most once a cycle for every family
    that asks (dead-letter queue discovery and async protection).

    ``ListFunctions`` carries a function's ``DeadLetterConfig`` but not its on-failure
    destinations, so each reading asks for up to :data:`DESTINATION_BATCH` functions (a rotating
    share of a larger account, chosen by ``rotation``, the discovery's number), keeps what
    earlier readings found for the others (``DISCOVERY#destinations``), and lists the event
    source mappings once for their destinations and the functions they invoke.
    """

    def __init__(
        self,
        port: DestinationsPort,
        functions: Callable[[], list[FunctionInfo]],
        state: InventoryStore,
        *,
        rotation: int,
        now: datetime,
    ) -> None:
        self._port = port
        self._functions = functions
        self._state = state
        self._rotation = rotation
        self._now = now

    @cached_property
    def of_functions(self) -> set[tuple[str, str]]:
        """``(function, destination ARN)`` of every function known to have an on-failure
        destination; the read share is stored with what is kept for the others."""
        names = sorted(fn.name for fn in self._functions())
        shares = max(1, -(-len(names) // DESTINATION_BATCH))
        share = names[self._rotation % shares :: shares]
        known = self._known(set(names) - set(share))
        for name, arns in self._port.function_destinations(share).items():
            known |= {(name, arn) for arn in arns}
        records = [{"function": name, "destination": arn} for name, arn in sorted(known)]
        self._state.remember_inventory("destinations", records, at=self._now)
        return known

    @cached_property
    def of_mappings(self) -> set[str]:
        return self._port.mapping_destinations()

    @cached_property
    def mapped_functions(self) -> set[str]:
        return self._port.mapped_functions()

    def _known(self, names: set[str]) -> set[tuple[str, str]]:
        """What earlier discoveries found for ``names`` (functions not read this time)."""
        try:
            records = self._state.inventory("destinations") or []
        except InventoryUnreadable:
            return set()
        return {
            (str(record["function"]), str(record["destination"]))
            for record in records
            if record.get("function") in names
        }


class ScopedDeadLetters:
    """Dead-letter queue discovery with the Lambda on-failure destinations added as targets,
    and the queues the tag filters exclude left out.

    The functions' and event source mappings' destinations come from
    :class:`FunctionDestinations`; an SQS destination is watched like a dead-letter queue; SNS
    topics, EventBridge buses and functions are not queues.
    """

    def __init__(
        self, queues: DeadLetterPort, destinations: FunctionDestinations, scope: TagScope
    ) -> None:
        self._queues = queues
        self._destinations = destinations
        self._scope = scope
        self.destination_targets = 0

    def discover(self, lambda_targets: Iterable[str]) -> list[str]:
        targets = {arn for _, arn in self._destinations.of_functions}
        targets |= self._destinations.of_mappings
        self.destination_targets = len(targets)
        found = self._queues.discover([*lambda_targets, *sorted(targets)])
        return [url for url in found if self._scope.allows(queue_arn(url))]

    def depths(self, urls: Iterable[str]) -> list[QueueDepth]:
        return self._queues.depths(urls)

    def sources(self) -> dict[str, list[str]]:
        return self._queues.sources()


class AsyncProtection:
    """The functions whose failed asynchronous events are kept, so that their errors are
    judged as retried, not lost (docs/rules.md, ``lambda_async_errors``).

    A function is protected when it has a dead-letter queue (``DeadLetterConfig.TargetArn`` in
    ``ListFunctions``) or an on-failure destination (``DestinationConfig.OnFailure`` in
    ``ListFunctionEventInvokeConfigs``, via :class:`FunctionDestinations`), and no event source
    mapping invokes it: a mapping's poller invokes synchronously, so neither setting applies to
    those invocations. Both settings serve asynchronous invocations only, so a function that
    has one is taken to be invoked asynchronously. The names are decided at discovery (and on
    the first cycle, when none are stored) and stored (``DISCOVERY#async``); an ordinary cycle
    reads them with one ``GetItem``.
    """

    def __init__(
        self,
        functions: Callable[[], list[FunctionInfo]],
        destinations: FunctionDestinations,
        state: InventoryStore,
        *,
        discovery: bool,
        now: datetime,
    ) -> None:
        self._functions = functions
        self._destinations = destinations
        self._state = state
        self._discovery = discovery
        self._now = now
        self._protected: set[str] | None = None

    def __call__(self) -> set[str]:
        if self._protected is None:
            stored = None if self._discovery else self._stored()
            self._protected = self._discover() if stored is None else stored
        return self._protected

    def _stored(self) -> set[str] | None:
        return stored_protected(self._state)

    def _discover(self) -> set[str]:
        kept = {fn.name for fn in self._functions() if fn.dead_letter_target}
        kept |= {name for name, _ in self._destinations.of_functions}
        protected = kept - self._destinations.mapped_functions
        records = [{"function": name} for name in sorted(protected)]
        self._state.remember_inventory("async", records, at=self._now)
        return protected


def queue_arn(url: str) -> str:
    """``https://sqs.<region>.amazonaws.com/<account>/<name>`` as an ARN."""
    parts = url.rstrip("/").split("/")
    region = parts[2].split(".")[1]
    return f"arn:aws:sqs:{region}:{parts[3]}:{parts[4]}"


class Tagged(Protocol):
    @property
    def tags(self) -> dict[str, str]: ...


class Discovers[R: Tagged](Protocol):
    def discover(self) -> list[R]: ...


class TagFiltered[R: Tagged]:
    """A discovery whose records carry their own tags (tables, streams, stream mappings), with
    the records the tag filters exclude left out."""

    def __init__(self, inner: Discovers[R], filters: TagFilters) -> None:
        self._inner = inner
        self._filters = filters

    def discover(self) -> list[R]:
        return [record for record in self._inner.discover() if self._filters.allows(record.tags)]


# A signal's resource as the Tagging API names it, by the first part of its kind: the families
# whose resources GetResources lists (``TAGGED_TYPES``). A DynamoDB index is its table's.
_ARN_FORMS = {
    "lambda": "arn:aws:lambda:{region}:{account}:function:{name}",
    "sqs": "arn:aws:sqs:{region}:{account}:{name}",
    "s3": "arn:aws:s3:::{name}",
    "states": "arn:aws:states:{region}:{account}:stateMachine:{name}",
    "dynamodb": "arn:aws:dynamodb:{region}:{account}:table/{name}",
    "kinesis": "arn:aws:kinesis:{region}:{account}:stream/{name}",
}
_ARN_NAME = re.compile(r"^(?:function:|stateMachine:|table/|stream/)?(?P<name>[^/:]+)$")


def _named(arn: str) -> tuple[str, str] | None:
    """A resource ARN's service and the name signals give the resource (``states``,
    ``refund-flow``); ``None`` for an ARN no signal names (a function version, an index)."""
    found = _ARN_NAME.match(arn.split(":", 5)[-1])
    return (arn.split(":")[2], found["name"]) if found else None


def resource_arn(labels: Labels) -> str | None:
    """The ARN of the resource a signal is about; ``None`` for a kind the Tagging API lists
    no resource of (API Gateway APIs, quotas, the account)."""
    form = _ARN_FORMS.get(labels.kind.split(".", 1)[0])
    name = labels.resource.split("/", 1)[0]
    return form.format(region=labels.region, account=labels.account, name=name) if form else None


class ResourceTagIndex:
    """The tags the per-resource overrides read (docs/rules.md, "Per-resource overrides"):
    ``vigil:`` tags and the keys the ``overrides`` select by, of every tagged resource; and
    the tags its alerts carry as labels (``tags.labels``, ADR 43).

    A discovery reads them with the tag filters' ``GetResources`` (100 resources a page, once)
    and stores them (``DISCOVERY#resource_tags``); other cycles read that record (one
    ``GetItem``). :meth:`labelled` hands each signal its resource's tags, and adds a
    ``vigil.resource_tags_invalid`` signal for each resource whose ``vigil:`` tags do not
    validate (resource ``<service>:<name>``, ``states:refund-flow``), so that the owner hears
    of it and the alert resolves once the tags are fixed.
    """

    def __init__(
        self,
        scope: TagScope,
        state: InventoryStore,
        rules: RulesConfig,
        *,
        account: str,
        region: str,
        discovery: bool,
        now: datetime,
    ) -> None:
        self._account = account
        self._region = region
        self._scope = scope
        self._state = state
        self._rules = rules
        self._discovery = discovery
        self._now = now
        self._by_arn: dict[str, dict[str, str]] | None = None

    def by_arn(self) -> dict[str, dict[str, str]]:
        if self._by_arn is None:
            stored = None if self._discovery else self._stored()
            if stored is None:
                stored = {
                    arn: kept
                    for arn, tags in self._scope.known().items()
                    if (
                        kept := relevant_tags(tags, self._rules.overrides)
                        | self._rules.tags.label_tags(tags)
                    )
                }
                records = [{"arn": arn, "tags": tags} for arn, tags in sorted(stored.items())]
                self._state.remember_inventory("resource_tags", records, at=self._now)
            self._by_arn = stored
        return self._by_arn

    def _stored(self) -> dict[str, dict[str, str]] | None:
        return stored_resource_tags(self._state)

    def labelled(self, batch: SignalBatch) -> SignalBatch:
        """``batch`` with each signal carrying its resource's tags, and speaking for the
        resources whose ``vigil:`` tags are invalid."""
        by_arn = self.by_arn()
        signals = []
        for signal in batch.signals:
            arn = resource_arn(signal.labels)
            tags = by_arn.get(arn, {}) if arn else {}
            signals.append(signal.model_copy(update={"tags": tags}) if tags else signal)
        for arn, tags in sorted(by_arn.items()):
            named = _named(arn)
            problems = self.problems(arn, tags)
            if named and problems:
                signals.append(
                    Signal(
                        source=batch.source,
                        labels=Labels(
                            kind=TAGS_KIND,
                            resource=":".join(named),
                            account=self._account,
                            region=self._region,
                        ),
                        value=len(problems),
                        unit="Count",
                        window_seconds=60,
                        observed_at=batch.collected_at,
                        context={"problem": "; ".join(problems)[:1000]},
                    )
                )
        return batch.model_copy(
            update={
                "signals": signals,
                "covered_kinds": sorted({*batch.covered_kinds, TAGS_KIND}),
            }
        )

    def problems(self, arn: str, tags: dict[str, str]) -> list[str]:
        """What is wrong with the ``vigil:`` tags of the resource ``arn``, for every kind of
        its service they would change."""
        named = _named(arn)
        if named is None:
            return []
        service, name = named
        kinds = [
            (kind, judged.config)
            for kind, judged in KINDS.items()
            if judged.config is not None and kind.split(".", 1)[0] == service
        ]
        told = read_tags(tags, self._rules.resolver.rules)
        problems = list(told.problems)
        judged_sections = {section for _, section in kinds}
        problems += [
            f"tag vigil:{section}.{path}={value}: no rule of that section judges this resource"
            for section, fields in told.sections.items()
            if section not in judged_sections
            for path, value in fields
        ]
        for kind, section in kinds:
            if section in told.sections:
                resolved = self._rules.resolver.resolve(kind, section, name, tags)
                problems += [p for p in resolved.problems if p not in problems]
        return problems
