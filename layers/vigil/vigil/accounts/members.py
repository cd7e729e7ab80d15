"""The account inventory of Organization mode: which member accounts are watched, whether
Vigil can reach each, and their names as alert labels (ADR 50).

At discovery (the cycle whose window crosses a multiple of ``collection.discovery_minutes``, as
the dial families' inventories, or when none is stored) the Organization's tree is walked
(:class:`OrganizationPort`), the ``ACTIVE`` accounts the ``organization`` section chooses are
kept, and the member role is assumed in each (:class:`RolePort`). The result is stored
(:class:`MemberStorePort`) and every other cycle reads it back.

Each cycle then speaks for the kind ``vigil.member_not_connected``: one signal per member whose
role was refused, so that its one alert fires and stays (the lifecycle keeps one alert per
account, however many cycles repeat the signal) and resolves in the first cycle after a
discovery found the role working. A check that could not tell (STS throttled, a 5xx) keeps the
member's last known state. The stack's own account is watched directly and never assumed.

A member reached by its role must also share its metrics in every watched region through an
OAM link to the monitoring account's sink there (:class:`LinksPort`, asked once per region at
discovery, ADR 54): each region where it has none is its own signal of the same kind, labelled
with that region, until a discovery finds the link. A region OAM could not answer keeps each
member's last known state there.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ValidationError

from vigil.core.model import Labels, Signal, SignalBatch
from vigil.rules.organization import ACCOUNT_NAME_LABEL, MEMBER_KIND, OrganizationConfig

logger = Logger(child=True)


class Connection(StrEnum):
    CONNECTED = "connected"
    NOT_CONNECTED = "not_connected"
    """The role was refused (it is missing, or does not trust the monitoring stack)."""
    UNKNOWN = "unknown"
    """Not checked yet, or STS could not answer (throttled, 5xx)."""


@dataclass(frozen=True)
class ListedAccount:
    """An account as Organizations lists it, with the OUs from the root down to its parent."""

    id: str
    name: str
    status: str
    path: tuple[str, ...]
    """OU ids from the root's first child down to the account's parent (empty at the root)."""

    @property
    def ou(self) -> str | None:
        return self.path[-1] if self.path else None


@dataclass(frozen=True)
class Check:
    """One attempt to assume the member role."""

    connection: Connection
    problem: str | None = None


class OrganizationUnavailable(Exception):
    """Organizations did not answer the listing (throttled, a 5xx, or this account may not list
    the Organization): the stored inventory stays."""


class OrganizationPort(Protocol):
    def accounts(self) -> list[ListedAccount]: ...

    def tags(self, account: str) -> dict[str, str]: ...


class RolePort(Protocol):
    @property
    def role_name(self) -> str: ...

    def check(self, account: str) -> Check: ...


@dataclass(frozen=True)
class UngrantedRole:
    """The role the rules config names when the stack may assume another one (its
    ``MemberRoleName`` parameter, which scopes the collector's ``sts:AssumeRole``): every
    member is refused, and its alert says which two names to make the same. Nothing is asked
    of STS, which would refuse."""

    role_name: str
    granted: str

    def check(self, account: str) -> Check:
        return Check(
            Connection.NOT_CONNECTED,
            f"organization.role_name is {self.role_name} but the stack's MemberRoleName"
            f" parameter is {self.granted}, the only role it may assume: set both to the same"
            " name",
        )


class LinksPort(Protocol):
    def linked(self, region: str) -> frozenset[str] | None:
        """The accounts linked to the monitoring account's sink in ``region`` (sharing their
        metrics); ``None`` when OAM could not answer."""
        ...


class MemberStorePort(Protocol):
    def members(self) -> list[dict[str, Any]] | None: ...

    def remember_members(self, records: list[dict[str, Any]], *, at: datetime) -> None: ...


class Member(BaseModel):
    """A watched member account, as stored (``MEMBERS#inventory`` in the state table)."""

    id: str
    name: str
    ou: str | None = None
    connection: Connection = Connection.UNKNOWN
    problem: str | None = None
    unlinked: list[str] = []
    """The watched regions where the member, reached by its role, has no OAM link sharing its
    metrics with the monitoring account's sink (ADR 54); empty before any link check."""


@dataclass
class Counts:
    """What a discovery did, for the collector's summary."""

    listed: int = 0
    chosen: int = 0
    connected: int = 0
    not_connected: int = 0
    unknown: int = 0
    listing_failed: bool = False
    unlinked: int = 0
    """(member, region) pairs without a link sharing metrics."""
    links_unanswered: int = 0
    """Regions where OAM did not answer (the members kept their last known links there)."""

    def summary(self) -> dict[str, int | bool]:
        return dict(vars(self))


def choose(
    listed: list[ListedAccount],
    config: OrganizationConfig,
    tags: Callable[[str], Mapping[str, str]],
) -> list[ListedAccount]:
    """The ``ACTIVE`` accounts the config chooses; ``tags`` is asked only when a tag filter is
    set (one ``ListTagsForResource`` an account)."""
    chosen = []
    for account in listed:
        if account.status != "ACTIVE":
            continue
        own_tags = tags(account.id) if config.reads_tags else {}
        if config.chooses(account.id, account.path, own_tags):
            chosen.append(account)
    return chosen


def checked(
    chosen: list[ListedAccount],
    roles: RolePort,
    previous: Mapping[str, Member],
    *,
    own_account: str,
) -> list[Member]:
    """Each chosen account with its connection: the role assumed (the stack's own account
    excepted), or its last known state when STS could not answer."""
    members = []
    for account in chosen:
        if account.id == own_account:
            check = Check(Connection.CONNECTED)
        else:
            check = roles.check(account.id)
        before = previous.get(account.id)
        if check.connection is Connection.UNKNOWN and before is not None:
            logger.warning(
                "member role check inconclusive, its last state kept",
                extra={"account": account.id, "problem": check.problem},
            )
            check = Check(before.connection, before.problem)
        members.append(
            Member(
                id=account.id,
                name=account.name,
                ou=account.ou,
                connection=check.connection,
                problem=check.problem,
            )
        )
    return members


LINK_MISSING = "no OAM link that shares AWS::CloudWatch::Metric with the monitoring account's sink"
"""What a member lacks in a region where it is unlinked (the signal's ``link`` context)."""


def linked(
    members: list[Member],
    links: LinksPort,
    regions: Sequence[str],
    previous: Mapping[str, Member],
    *,
    own_account: str,
) -> tuple[list[Member], int]:
    """Each member with the regions where it is reached by its role but has no link
    (``unlinked``), and how many regions OAM did not answer. OAM is asked once per region, and
    not at all when no member but the stack's own account is connected. A region without an
    answer keeps each member's previous state there."""
    checked = {
        m.id for m in members if m.id != own_account and m.connection is Connection.CONNECTED
    }
    if not checked:
        return [m.model_copy(update={"unlinked": []}) for m in members], 0
    answers = {region: links.linked(region) for region in regions}
    found = []
    for member in members:
        unlinked: list[str] = []
        if member.id in checked:
            before = previous.get(member.id)
            for region, accounts in answers.items():
                if accounts is None:
                    if before is not None and region in before.unlinked:
                        unlinked.append(region)
                elif member.id not in accounts:
                    unlinked.append(region)
        found.append(member.model_copy(update={"unlinked": unlinked}))
    return found, sum(accounts is None for accounts in answers.values())


class AccountInventory:
    """The members of one cycle: discovered when due, else read back; their signals and
    names."""

    def __init__(
        self,
        config: OrganizationConfig,
        organization: OrganizationPort,
        roles: RolePort,
        store: MemberStorePort,
        *,
        account: str,
        region: str,
        discovery: bool,
        now: datetime,
        links: LinksPort | None = None,
        regions: Sequence[str] = (),
    ) -> None:
        """``links`` and ``regions`` (the watched regions, home first: ``fanout.watched_regions``)
        check each member's OAM link at discovery; without a port no link is checked."""
        self._config = config
        self._links = links
        self._regions = list(regions)
        self._organization = organization
        self._roles = roles
        self._store = store
        self._account = account
        self._region = region
        self._discovery = discovery
        self._now = now
        self.counts = Counts()
        self._members: list[Member] | None = None
        self._loaded = False

    def members(self) -> list[Member] | None:
        """The watched members; ``None`` when Organization mode is off or none are known
        (Organizations did not answer the first listing)."""
        if not self._loaded:
            self._loaded = True
            self._members = self._load()
        return self._members

    def _stored(self) -> list[Member] | None:
        try:
            records = self._store.members()
            return None if records is None else [Member.model_validate(r) for r in records]
        except (ValidationError, ValueError, TypeError):
            return None  # Discovered again and overwritten.

    def _load(self) -> list[Member] | None:
        if not self._config.enabled:
            return None
        stored = self._stored()
        if stored is not None and not self._discovery:
            return stored
        try:
            listed = self._organization.accounts()
            chosen = choose(listed, self._config, self._organization.tags)
        except OrganizationUnavailable as exc:
            self.counts.listing_failed = True
            logger.warning("Organizations did not answer, members kept", extra={"error": str(exc)})
            return stored
        previous = {member.id: member for member in stored or []}
        found = checked(chosen, self._roles, previous, own_account=self._account)
        if self._links is not None and self._regions:
            found, self.counts.links_unanswered = linked(
                found, self._links, self._regions, previous, own_account=self._account
            )
        self._store.remember_members([m.model_dump(mode="json") for m in found], at=self._now)
        self.counts.listed = len(listed)
        self.counts.chosen = len(found)
        for member in found:
            field = member.connection.value
            setattr(self.counts, field, getattr(self.counts, field) + 1)
            self.counts.unlinked += len(member.unlinked)
        return found

    def signals(self, batch: SignalBatch) -> SignalBatch:
        """``batch`` with every signal of a known member carrying its ``account_name`` label,
        and speaking for ``vigil.member_not_connected``: one signal per member refused (in the
        stack's region), one per region where a member reached by its role has no link (in that
        region), none for the others (their alerts resolve). Off, or before any member is
        known, it does not speak, so that no alert resolves on no news (and Evaluate reads no
        active alerts of the kind)."""
        members = self.members()
        if members is None:
            return batch
        names = {member.id: member.name for member in members}
        labelled = [with_account_name(signal, names) for signal in batch.signals]
        role = self._roles.role_name
        for member in members:
            if member.connection is Connection.NOT_CONNECTED:
                context = {"role": f"role/{role}", "problem": (member.problem or "refused")[:500]}
                labelled.append(self._signal(batch, member, self._region, context))
            elif member.connection is Connection.CONNECTED:
                # One alert per region without a link, apart from the role's (ADR 54).
                labelled += [
                    self._signal(batch, member, region, {"link": LINK_MISSING})
                    for region in member.unlinked
                ]
        return batch.model_copy(
            update={
                "signals": labelled,
                "covered_kinds": sorted({*batch.covered_kinds, MEMBER_KIND}),
            }
        )

    @staticmethod
    def _signal(batch: SignalBatch, member: Member, region: str, context: dict[str, str]) -> Signal:
        return Signal(
            source=batch.source,
            labels=Labels(kind=MEMBER_KIND, resource=member.id, account=member.id, region=region),
            value=1,
            unit="Count",
            window_seconds=60,
            observed_at=batch.collected_at,
            context={**context, **({"ou": member.ou} if member.ou else {})},
            tags={ACCOUNT_NAME_LABEL: member.name},
        )


def with_account_name(signal: Signal, names: Mapping[str, str]) -> Signal:
    """``signal`` with its account's name as the ``account_name`` tag label when the account is
    a known member (and the signal has none yet)."""
    name = names.get(signal.labels.account)
    if name is None or ACCOUNT_NAME_LABEL in signal.tags:
        return signal
    return signal.model_copy(update={"tags": {**signal.tags, ACCOUNT_NAME_LABEL: name}})


class MemberNames:
    """The names of the members the last discovery stored, read with one ``Query`` the first
    time they are asked for, and never when nothing asks: one evaluation's batch labels and its
    AWS Health notices share the read. Members that no longer read name nobody (the next
    discovery writes them again)."""

    def __init__(self, store: MemberStorePort) -> None:
        self._store = store
        self._names: dict[str, str] | None = None

    def names(self) -> dict[str, str]:
        if self._names is None:
            try:
                records = self._store.members()
                self._names = {str(record["id"]): str(record["name"]) for record in records or []}
            except (KeyError, TypeError, ValueError):
                logger.warning("stored members unreadable: no account names this evaluation")
                self._names = {}
        return self._names

    def name(self, account: str) -> str | None:
        """The member's name, or ``None`` when ``account`` is not a known member."""
        return self.names().get(account)


def named_batch(batch: SignalBatch, members: MemberNames) -> SignalBatch:
    """``batch`` with ``account_name`` on the signals of the members the last discovery stored:
    for the batches the metrics collector did not make (error stream, alarm intake, cost), read
    by Evaluate."""
    names = members.names()
    if not names:
        return batch
    signals = [with_account_name(signal, names) for signal in batch.signals]
    return batch.model_copy(update={"signals": signals})
