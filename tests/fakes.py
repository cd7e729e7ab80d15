"""In-memory stand-ins for the ports, for domain tests that must not touch AWS."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from vigil.alerting.grouping import Group
from vigil.alerting.outbox import OutboxEntry
from vigil.alerting.silences import Silence
from vigil.core.errors import ConflictError
from vigil.core.model import Alert, AlertState
from vigil.dials.base import MetricKey
from vigil.dials.resources import AccountLimits, MetricQuery
from vigil.evaluation.pipeline import RoutingPorts
from vigil.health.events import HealthRecord
from vigil.health.outages import Outage
from vigil.runbook.gate import Approval


class MemoryOutbox:
    """Behaves like ``OutboxStore``: entries by notification id, pending until marked sent."""

    def __init__(self) -> None:
        self.entries: dict[str, OutboxEntry] = {}
        self.sent: dict[str, datetime] = {}

    def add(self, entries: Sequence[OutboxEntry]) -> None:
        """What a state store's transaction writes beside its item (an overwrite)."""
        for entry in entries:
            self.entries[entry.notification.notification_id] = entry
            self.sent.pop(entry.notification.notification_id, None)

    def put(self, entries: Sequence[OutboxEntry]) -> None:
        for entry in entries:
            self.entries.setdefault(entry.notification.notification_id, entry)

    def pending(self) -> list[OutboxEntry]:
        waiting = [e for i, e in self.entries.items() if i not in self.sent]
        return sorted(waiting, key=lambda e: e.decided_at)

    def mark_sent(self, entry: OutboxEntry, *, at: datetime) -> None:
        self.sent[entry.notification.notification_id] = at


class MemoryAlertStore:
    """Behaves like ``AlertStore``: revisions, conditional writes, an active index."""

    def __init__(self) -> None:
        self.items: dict[str, Alert] = {}
        self.writes = 0
        self.conflicts_to_inject = 0
        self.outbox = MemoryOutbox()
        self.groups = MemoryGroupStore(self.outbox)
        self.silences = MemorySilenceStore()

    @property
    def routing(self) -> RoutingPorts:
        """The group, silence and outbox stores that go with these alerts."""
        return RoutingPorts(groups=self.groups, silences=self.silences, outbox=self.outbox)

    def get(self, fingerprint: str) -> Alert | None:
        return self.items.get(fingerprint)

    def get_many(self, fingerprints: Sequence[str]) -> dict[str, Alert]:
        return {fp: self.items[fp] for fp in fingerprints if fp in self.items}

    def save_many(self, changes: Sequence[tuple[Alert | None, Alert | None]]) -> list[str]:
        """As ``AlertStore.save_many``: each write conditional, the losers returned."""
        lost: list[str] = []
        for before, after in changes:
            try:
                self.save(before, after)
            except ConflictError:
                alert = after or before
                assert alert is not None
                lost.append(alert.fingerprint)
        return lost

    def active(self, kind: str, within: frozenset[tuple[str, str]] | None = None) -> list[str]:
        return [
            fp
            for fp, alert in self.items.items()
            if alert.labels.kind == kind
            and alert.state is not AlertState.RESOLVED
            and (within is None or (alert.labels.account, alert.labels.region) in within)
        ]

    def firing(self, kinds: Sequence[str], limit: int) -> list[Alert]:
        return [
            alert
            for alert in self.items.values()
            if alert.labels.kind in kinds and alert.state is AlertState.FIRING
        ][:limit]

    def save(self, before: Alert | None, after: Alert | None) -> None:
        key = (after or before).fingerprint if (after or before) else None
        assert key is not None
        stored = self.items.get(key)
        if self.conflicts_to_inject:
            self.conflicts_to_inject -= 1
            raise ConflictError(f"injected conflict on {key}")
        if (stored.revision if stored else None) != (before.revision if before else None):
            raise ConflictError(f"alert {key} changed since it was read")
        self.writes += 1
        if after is None:
            del self.items[key]
        else:
            revision = (before.revision if before else 0) + 1
            self.items[key] = after.model_copy(update={"revision": revision})


class RecordingChat:
    def __init__(self, fail_with: Exception | None = None) -> None:
        self.messages: list[dict[str, Any]] = []
        self.fail_with = fail_with

    def post(self, message: dict[str, Any]) -> None:
        if self.fail_with:
            raise self.fail_with
        self.messages.append(message)


class MemoryHealthStore:
    def __init__(self, outbox: MemoryOutbox | None = None) -> None:
        self.items: dict[str, HealthRecord] = {}
        self.outbox = outbox or MemoryOutbox()

    def get(self, arn: str, account: str | None) -> HealthRecord | None:
        return self.items.get(f"{arn}#{account}")

    def save(
        self, before: HealthRecord | None, after: HealthRecord, outbox: Sequence[OutboxEntry] = ()
    ) -> None:
        self.items[f"{after.arn}#{after.account}"] = after.model_copy(
            update={"revision": (before.revision if before else 0) + 1}
        )
        self.outbox.add(outbox)


class MemoryOutageStore:
    def __init__(self, outbox: MemoryOutbox | None = None) -> None:
        self.items: dict[tuple[str, str], Outage] = {}
        self.outbox = outbox or MemoryOutbox()

    def get(self, service: str, region: str) -> Outage | None:
        return self.items.get((service, region))

    def open_outages(self) -> list[Outage]:
        return [outage for outage in self.items.values() if outage.is_open]

    def save(
        self, before: Outage | None, after: Outage, outbox: Sequence[OutboxEntry] = ()
    ) -> None:
        stored = self.items.get((after.service, after.region))
        if (stored.revision if stored else None) != (before.revision if before else None):
            raise ConflictError(f"outage {after.service} {after.region} changed")
        self.items[(after.service, after.region)] = after.model_copy(
            update={"revision": (before.revision if before else 0) + 1}
        )
        self.outbox.add(outbox)


class FixedAccountSettings:
    """Behaves like ``LambdaAccountSettings``: the account's limits, and who asked when."""

    def __init__(self, concurrent_executions: int = 1000, unreserved: int = 900) -> None:
        self.answer = AccountLimits(concurrent_executions, unreserved)
        self.asked: list[datetime] = []

    def limits(self, now: datetime) -> AccountLimits:
        self.asked.append(now)
        return self.answer


class MemoryGroupStore:
    def __init__(self, outbox: MemoryOutbox | None = None) -> None:
        self.items: dict[str, Group] = {}
        self.conflicts_to_inject = 0
        self.outbox = outbox or MemoryOutbox()

    def get(self, group_id: str) -> Group | None:
        return self.items.get(group_id)

    def open_groups(self) -> list[Group]:
        return [group for group in self.items.values() if group.listed]

    def save(self, before: Group | None, after: Group, outbox: Sequence[OutboxEntry] = ()) -> None:
        stored = self.items.get(after.group_id)
        if self.conflicts_to_inject:
            self.conflicts_to_inject -= 1
            raise ConflictError(f"injected conflict on group {after.group_id}")
        if (stored.revision if stored else None) != (before.revision if before else None):
            raise ConflictError(f"group {after.group_id} changed")
        self.items[after.group_id] = after.model_copy(
            update={"revision": (before.revision if before else 0) + 1}
        )
        self.outbox.add(outbox)


class MemorySilenceStore:
    def __init__(self) -> None:
        self.items: list[Silence] = []

    def current(self, now: datetime) -> list[Silence]:
        return [silence for silence in self.items if silence.ends_at > now]


class MemoryApprovalStore:
    """Behaves like ``ApprovalStore``: a save must name the revision it read, or it conflicts."""

    def __init__(self) -> None:
        self.items: dict[str, Approval] = {}

    def get(self, incident_id: str) -> Approval | None:
        return self.items.get(incident_id)

    def save(self, before: Approval | None, after: Approval) -> Approval:
        current = self.items.get(after.incident_id)
        if (current.revision if current else None) != (before.revision if before else None):
            raise ConflictError("changed")
        stored = after.model_copy(update={"revision": (before.revision if before else 0) + 1})
        self.items[after.incident_id] = stored
        return stored


class RecordingCallback:
    """Behaves like ``TaskCallback``: records each answer, or raises ``error``."""

    def __init__(self, error: Exception | None = None) -> None:
        self.answers: list[tuple[str, dict[str, object]]] = []
        self.error = error

    def answer(self, token: str, output: dict[str, object]) -> None:
        if self.error:
            raise self.error
        self.answers.append((token, output))


class MemoryCostHistory:
    """The cost collector's stored history (``CostHistoryPort``) in memory."""

    def __init__(self) -> None:
        self.days: dict[str, dict[date, dict[str, float]]] = {}
        self.facts: dict[tuple[str, date], str] = {}

    def load(self, dimension: str, since: date) -> dict[date, dict[str, float]]:
        return {d: c for d, c in self.days.get(dimension, {}).items() if d >= since}

    def save(
        self, dimension: str, days: dict[date, dict[str, float]], *, fetched_at: datetime
    ) -> None:
        self.days.setdefault(dimension, {}).update(days)

    def fact(self, name: str, day: date) -> str | None:
        return self.facts.get((name, day))

    def remember(self, name: str, day: date, value: str) -> None:
        self.facts[(name, day)] = value


@dataclass
class StoredMetrics:
    """CloudWatch's ``GetMetricData`` (``MetricsPort``) over stored datapoints a minute; records
    the key of every metric asked."""

    points: dict[MetricKey, dict[datetime, float]] = field(default_factory=dict)
    asked: list[MetricKey] = field(default_factory=list)

    def series(
        self, queries: Sequence[MetricQuery], *, start: datetime, end: datetime, period: int = 60
    ) -> dict[str, dict[datetime, float]]:
        keys = [MetricKey(q.namespace, q.metric, q.dimensions, q.stat) for q in queries]
        self.asked += keys
        return {
            q.id: {at: v for at, v in self.points.get(key, {}).items() if start <= at < end}
            for q, key in zip(queries, keys, strict=True)
        }
