"""Notification groups and silences in the state table.

- notification group: pk ``GROUP#<group id>``, sk ``STATE``; gsi1pk ``GROUPS`` while it has
  members, ``ttl`` once closed.
- silence: pk ``SILENCE#<id>``, sk ``META``; gsi1pk ``SILENCES``, gsi1sk its end; ``ttl``
  a week after it ends (``vigil silence list --all`` shows it until then).
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from vigil.alerting.grouping import Group
from vigil.alerting.outbox import OutboxEntry
from vigil.alerting.silences import Silence, UnknownSilenceError

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


class GroupStore(RetainedStore):
    """Notification groups; open ones are listed through the sparse index."""

    def get(self, group_id: str) -> Group | None:
        return get_model(self._client, self._table, Group, f"GROUP#{group_id}")

    def open_groups(self) -> list[Group]:
        return [
            Group.model_validate_json(body)
            for body in query_bodies(self._client, self._table, "GROUPS")
        ]

    def save(self, before: Group | None, after: Group, outbox: Sequence[OutboxEntry] = ()) -> None:
        stored = after.model_copy(update={"revision": (before.revision if before else 0) + 1})
        values = {
            "pk": f"GROUP#{stored.group_id}",
            "sk": "STATE",
            "body": stored.model_dump_json(),
            "revision": stored.revision,
            "gsi1pk": "GROUPS" if stored.listed else None,
            "gsi1sk": stored.group_id if stored.listed else None,
            "ttl": None if stored.listed else epoch(stored.updated_at + self._retention),
        }
        put_revision(
            self._client,
            self._table,
            values,
            before_revision=before.revision if before else None,
            what=f"group {stored.key}",
            outbox=outbox,
        )


class SilenceStore(Store):
    """Silences, listed through the sparse index (``gsi1sk`` their end, ``ttl`` after it).

    Writes are conditional: ``create`` on the id being new, ``expire`` on the revision read.
    """

    KEPT_AFTER_END = timedelta(days=7)

    def current(self, now: datetime) -> list[Silence]:
        return [silence for silence in self.everything() if silence.ends_at > now]

    def everything(self) -> list[Silence]:
        """Every stored silence, ended ones included, by end time."""
        bodies = query_bodies(self._client, self._table, "SILENCES")
        silences = [Silence.model_validate_json(body) for body in bodies]
        return sorted(silences, key=lambda silence: (silence.ends_at, silence.silence_id))

    def get(self, silence_id: str) -> Silence | None:
        return get_model(self._client, self._table, Silence, f"SILENCE#{silence_id}", sk="META")

    def create(self, silence: Silence) -> Silence:
        """Store a new silence; :class:`ConflictError` if its id is taken."""
        return self._save(None, silence)

    def expire(self, silence_id: str, now: datetime) -> Silence:
        """End a silence at ``now`` (:class:`UnknownSilenceError`, ``SilenceEndedError``)."""
        before = self.get(silence_id)
        if before is None:
            raise UnknownSilenceError(f"no silence has the id {silence_id!r}")
        return self._save(before, before.expire(now))

    def replace(self, before: Silence, after: Silence) -> Silence:
        """Store a changed silence (``vigil silence extend``) on the revision read."""
        return self._save(before, after)

    def _save(self, before: Silence | None, after: Silence) -> Silence:
        stored = after.model_copy(update={"revision": (before.revision if before else 0) + 1})
        values = {
            "pk": f"SILENCE#{stored.silence_id}",
            "sk": "META",
            "body": stored.model_dump_json(),
            "revision": stored.revision,
            "gsi1pk": "SILENCES",
            "gsi1sk": stored.ends_at.isoformat(),
            "ttl": epoch(stored.ends_at + self.KEPT_AFTER_END),
        }
        put_revision(
            self._client,
            self._table,
            values,
            before_revision=before.revision if before else None,
            what=f"silence {stored.silence_id}",
        )
        return stored
