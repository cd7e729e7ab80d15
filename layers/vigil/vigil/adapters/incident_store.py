"""Incidents and their approval gates in the state table.

- incident: pk ``INCIDENT#<id>``, sk ``META``; gsi1pk ``INCIDENTS``, gsi1sk the opening time.
- scope lock: pk ``SCOPE#<service>#<region>``, sk ``LOCK``: the one open incident of a scope,
  written and released in the transactions that open and close it.
- approval gate of an incident: pk ``INCIDENT#<id>``, sk ``APPROVAL``.
"""

from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from vigil.core.errors import ConflictError
from vigil.runbook.gate import Approval
from vigil.runbook.incident import ScopeLock, ScopeTakenError

if TYPE_CHECKING:
    pass
from vigil.adapters.table import (
    Store,
    cancelled_items,
    conditional_failed,
    from_item,
    get_model,
    put_revision,
    to_item,
    transaction_conflict,
)


class IncidentStore(Store):
    """Incident records, and the scope lock of each (service, region) with an open one.

    The lock (pk ``SCOPE#<service>#<region>``, sk ``LOCK``) is written in the same transaction
    as the record it names, and released in the same transaction as the write that closes it.
    """

    def open(
        self,
        incident_id: str,
        body: str,
        *,
        opened_at: datetime,
        lock: ScopeLock | None = None,
        replacing: str | None = None,
    ) -> bool:
        """Record a new incident with its scope lock (the runbook always passes one);
        ``False`` when the record already exists (a retried step). The lock must be absent,
        already this incident's, or ``replacing``'s (a stale holder the caller judged);
        otherwise :class:`ScopeTakenError` names the holder and nothing is written."""
        record: dict[str, Any] = {
            "Put": {
                "TableName": self._table,
                "Item": to_item(
                    {
                        "pk": f"INCIDENT#{incident_id}",
                        "sk": "META",
                        "body": body,
                        "gsi1pk": "INCIDENTS",
                        "gsi1sk": opened_at.isoformat(),
                    }
                ),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        items: list[Any] = [record]
        if lock is not None:
            holders = {":me": incident_id} | ({":stale": replacing} if replacing else {})
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": to_item(
                            {
                                **_scope_key(lock.service, lock.region),
                                "incident_id": incident_id,
                                "body": lock.model_dump_json(),
                            }
                        ),
                        "ConditionExpression": "attribute_not_exists(pk) OR "
                        + " OR ".join(f"incident_id = {name}" for name in holders),
                        "ExpressionAttributeValues": to_item(holders),
                    }
                }
            )
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            failed = cancelled_items(exc)
            if failed is not None and 0 in failed:
                return False
            if lock is not None and (
                (failed is not None and 1 in failed) or transaction_conflict(exc)
            ):
                # Held by another incident, or another start wrote it at the same moment.
                raise ScopeTakenError(self.scope_lock(lock.service, lock.region)) from exc
            raise
        return True

    def scope_lock(self, service: str, region: str) -> ScopeLock | None:
        """The lock of a service and region (strongly consistent), or ``None``."""
        response = self._client.get_item(
            TableName=self._table, Key=to_item(_scope_key(service, region)), ConsistentRead=True
        )
        item = response.get("Item")
        return ScopeLock.model_validate_json(from_item(item)["body"]) if item else None

    def close(self, incident_id: str, body: str, *, service: str, region: str) -> None:
        """Write the closed record and release the scope lock in one transaction; a lock
        another incident holds by now (this one was taken for stale) stays, the record is
        written alone."""
        update = self._update(incident_id, body)
        release: dict[str, Any] = {
            "Delete": {
                "TableName": self._table,
                "Key": to_item(_scope_key(service, region)),
                "ConditionExpression": "attribute_not_exists(pk) OR incident_id = :me",
                "ExpressionAttributeValues": to_item({":me": incident_id}),
            }
        }
        try:
            items: list[Any] = [{"Update": update}, release]
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            failed = cancelled_items(exc)
            if failed is None:
                raise
            if 0 in failed:
                raise ConflictError(f"incident {incident_id} has no record to update") from exc
            if 1 in failed:
                self.save(incident_id, body)
                return
            raise

    def _update(self, incident_id: str, body: str) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "Key": to_item({"pk": f"INCIDENT#{incident_id}", "sk": "META"}),
            "UpdateExpression": "SET body = :body",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeValues": to_item({":body": body}),
        }

    def get(self, incident_id: str) -> str | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=to_item({"pk": f"INCIDENT#{incident_id}", "sk": "META"}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return str(from_item(item)["body"]) if item else None

    def save(self, incident_id: str, body: str) -> None:
        """Replace the record of an open incident (one workflow writes each incident)."""
        try:
            self._client.update_item(**self._update(incident_id, body))
        except ClientError as exc:
            if conditional_failed(exc):
                raise ConflictError(f"incident {incident_id} has no record to update") from exc
            raise

    def recent(self, limit: int) -> list[str]:
        """Bodies of the ``limit`` most recently opened incidents, newest first."""
        page = self._client.query(
            TableName=self._table,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues=to_item({":pk": "INCIDENTS"}),
            ScanIndexForward=False,
            Limit=limit,
        )
        return [str(from_item(item)["body"]) for item in page["Items"]]


def _scope_key(service: str, region: str) -> dict[str, str]:
    return {"pk": f"SCOPE#{service}#{region}", "sk": "LOCK"}


class ApprovalStore(Store):
    """The approval gate of each incident, beside its record; writes are revision-conditional."""

    def get(self, incident_id: str) -> Approval | None:
        return get_model(
            self._client, self._table, Approval, f"INCIDENT#{incident_id}", sk="APPROVAL"
        )

    def save(self, before: Approval | None, after: Approval) -> Approval:
        stored = after.model_copy(update={"revision": (before.revision if before else 0) + 1})
        put_revision(
            self._client,
            self._table,
            {
                "pk": f"INCIDENT#{stored.incident_id}",
                "sk": "APPROVAL",
                "body": stored.model_dump_json(),
                "revision": stored.revision,
            },
            before_revision=before.revision if before else None,
            what=f"approval of incident {stored.incident_id}",
        )
        return stored
