"""What one evaluation works with: the stores it reads and writes, and its inputs."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from vigil.alerting.notify import GroupStorePort
from vigil.alerting.outbox import OutboxPort
from vigil.alerting.silences import SilenceStorePort
from vigil.core.model import Alert, ErrorGroup, SignalBatch
from vigil.health.events import AccountNamesPort, HealthStorePort
from vigil.health.outages import OutageStorePort
from vigil.rules.document import RulesConfig
from vigil.rules.routing import Receiver

Within = frozenset[tuple[str, str]] | None
"""The (account, region) pairs a read of active alerts is limited to; ``None``: all of them."""


class AlertStorePort(Protocol):
    def get(self, fingerprint: str) -> Alert | None: ...

    def get_many(self, fingerprints: Sequence[str]) -> dict[str, Alert]: ...

    def active(self, kind: str, within: Within = None) -> list[str]:
        """The fingerprints of the pending and firing alerts of ``kind`` (in ``within``)."""
        ...

    def firing(self, kinds: Sequence[str], limit: int) -> list[Alert]:
        """The firing alerts of ``kinds``, at most ``limit``; a ``VigilError`` when the store
        cannot answer."""
        ...

    def save(self, before: Alert | None, after: Alert | None) -> None: ...

    def save_many(self, changes: Sequence[tuple[Alert | None, Alert | None]]) -> list[str]:
        """Write each change as :meth:`save` would; the fingerprints that lost a race."""
        ...


class ErrorGroupsPort(Protocol):
    def groups(self, function: str, *, since: datetime, limit: int) -> list[ErrorGroup]:
        """The function's error groups seen since ``since``, most frequent first."""
        ...


@dataclass(frozen=True)
class RoutingPorts:
    """Where notification groups, silences and the outbox of decided notifications are
    stored."""

    groups: GroupStorePort
    silences: SilenceStorePort
    outbox: OutboxPort


@dataclass(frozen=True)
class OutagePorts:
    """What outage correlation needs: where outages and Health events are stored, the
    runbook to start or suggest, and, in Organization mode, the members' names that Health
    notices name their affected accounts by."""

    outages: OutageStorePort
    health: HealthStorePort
    runbook_arn: str
    account_names: AccountNamesPort | None = None


@dataclass(frozen=True)
class Evaluation:
    """One evaluation's inputs, handed to every stage."""

    batch: SignalBatch
    rules: RulesConfig
    store: AlertStorePort
    routing: RoutingPorts
    stack: str
    correlation: OutagePorts | None
    root: list[Receiver]
    """The root route's receivers: Health and outage notices go to each of them."""
    errors: ErrorGroupsPort | None = None
    """Where the error stream keeps each function's error groups (``None``: no error stream)."""

    @property
    def correlates(self) -> bool:
        """Whether outages are correlated: the ports are given and the rules enable it."""
        return self.correlation is not None and self.rules.outage.enabled
