"""AWS Health events and outages in the state table.

- Health event: pk ``HEALTH#<event arn>#<account>``, sk ``STATE``; ``ttl`` once closed.
- outage: pk ``OUTAGE#<service>#<region>``, sk ``STATE``; gsi1pk ``OUTAGES`` only while open.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING

from vigil.alerting.outbox import OutboxEntry
from vigil.health.events import HealthRecord
from vigil.health.outages import Outage

if TYPE_CHECKING:
    pass
from vigil.adapters.table import (
    RetainedStore,
    Store,
    epoch,
    get_model,
    put_revision,
    query_bodies,
)


class HealthEventStore(RetainedStore):
    """The last version of each AWS Health event Vigil has seen (de-duplication)."""

    def get(self, arn: str, account: str | None) -> HealthRecord | None:
        return get_model(self._client, self._table, HealthRecord, _health_key(arn, account))

    def save(
        self, before: HealthRecord | None, after: HealthRecord, outbox: Sequence[OutboxEntry] = ()
    ) -> None:
        stored = after.model_copy(update={"revision": (before.revision if before else 0) + 1})
        closed = stored.status == "closed"
        values = {
            "pk": _health_key(stored.arn, stored.account),
            "sk": "STATE",
            "body": stored.model_dump_json(),
            "revision": stored.revision,
            "ttl": epoch(stored.last_updated + self._retention) if closed else None,
        }
        put_revision(
            self._client,
            self._table,
            values,
            before_revision=before.revision if before else None,
            what=f"Health event {stored.arn}",
            outbox=outbox,
        )


def _health_key(arn: str, account: str | None) -> str:
    return f"HEALTH#{arn}#{account or 'any'}"


class OutageStore(Store):
    """One outage per service and region; open ones are listed through the sparse index."""

    def get(self, service: str, region: str) -> Outage | None:
        return get_model(self._client, self._table, Outage, f"OUTAGE#{service}#{region}")

    def open_outages(self) -> list[Outage]:
        bodies = query_bodies(self._client, self._table, "OUTAGES")
        return [Outage.model_validate_json(body) for body in bodies]

    def save(
        self, before: Outage | None, after: Outage, outbox: Sequence[OutboxEntry] = ()
    ) -> None:
        stored = after.model_copy(update={"revision": (before.revision if before else 0) + 1})
        values = {
            "pk": f"OUTAGE#{stored.service}#{stored.region}",
            "sk": "STATE",
            "body": stored.model_dump_json(),
            "state": stored.state.value,
            "revision": stored.revision,
            "gsi1pk": "OUTAGES" if stored.is_open else None,
            "gsi1sk": f"{stored.service}#{stored.region}" if stored.is_open else None,
        }
        put_revision(
            self._client,
            self._table,
            values,
            before_revision=before.revision if before else None,
            what=f"outage {stored.service} {stored.region}",
            outbox=outbox,
        )
