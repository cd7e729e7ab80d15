"""The state table: alerts, chat deliveries and incidents in one DynamoDB table.

- alert: pk ``ALERT#<fingerprint>``, sk ``STATE``; gsi1pk ``ACTIVE#<kind>`` only while
  pending or firing (a sparse index of active alerts), ``ttl`` once resolved.
- chat delivery: pk ``DELIVERY#<notification id>``, sk ``<channel>``, ``ttl``.
- incident: pk ``INCIDENT#<id>``, sk ``META``; gsi1pk ``INCIDENTS``, gsi1sk the opening time.
- scope lock: pk ``SCOPE#<service>#<region>``, sk ``LOCK``: the one open incident of a scope,
  written and released in the transactions that open and close it.
- daily cost: pk ``COSTDAY#<dimension>`` (SERVICE, LINKED_ACCOUNT, TAG:<key>), sk the day
  (ISO), ``costs`` a JSON map of series name to USD.
- a Cost Explorer answer kept for a day: pk ``COSTFACT#<day>``, sk its name.
- Cost Explorer requests made on a day: pk ``CEREQUESTS#<day>``, sk ``count``.
- Health event: pk ``HEALTH#<event arn>#<account>``, sk ``STATE``; ``ttl`` once closed.
- outage: pk ``OUTAGE#<service>#<region>``, sk ``STATE``; gsi1pk ``OUTAGES`` only while open.
- notification group: pk ``GROUP#<group id>``, sk ``STATE``; gsi1pk ``GROUPS`` while it has
  members, ``ttl`` once closed.
- approval gate of an incident: pk ``INCIDENT#<id>``, sk ``APPROVAL``.
- silence: pk ``SILENCE#<id>``, sk ``META``; gsi1pk ``SILENCES``, gsi1sk its end; ``ttl``
  a week after it ends (``vigil silence list --all`` shows it until then).

Every alert write is conditional on the revision that was read, so two evaluations racing
on one alert cannot both win; the loser re-reads and re-decides.
"""

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic import BaseModel

from vigil.adapters.outbox import outbox_item
from vigil.adapters.stats import CallStats
from vigil.alerting.grouping import Group
from vigil.alerting.outbox import OutboxEntry
from vigil.alerting.silences import Silence, UnknownSilenceError
from vigil.channels.delivery import Claim, ClaimState
from vigil.core.errors import ConflictError
from vigil.core.model import Alert, AlertState
from vigil.health.events import HealthRecord
from vigil.health.outages import Outage
from vigil.runbook.gate import Approval
from vigil.runbook.incident import ScopeLock, ScopeTakenError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items() if value is not None}


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _get_model[M: BaseModel](
    client: "DynamoDBClient", table: str, model: type[M], pk: str, sk: str = "STATE"
) -> M | None:
    """The item's ``body`` as ``model`` (a strongly consistent read), or ``None``."""
    response = client.get_item(
        TableName=table, Key=_to_item({"pk": pk, "sk": sk}), ConsistentRead=True
    )
    item = response.get("Item")
    return model.model_validate_json(_from_item(item)["body"]) if item else None


class _Store:
    """A view of one kind of item in the state table."""

    def __init__(self, client: "DynamoDBClient", table: str) -> None:
        self._client = client
        self._table = table


class _RetainedStore(_Store):
    """A store whose closed items expire ``retention`` after they close (``ttl``)."""

    def __init__(self, client: "DynamoDBClient", table: str, *, retention: timedelta) -> None:
        super().__init__(client, table)
        self._retention = retention


class AlertStore(_RetainedStore):
    def get(self, fingerprint: str) -> Alert | None:
        return _get_model(self._client, self._table, Alert, f"ALERT#{fingerprint}")

    def active(self, kind: str) -> list[str]:
        """Fingerprints of the pending and firing alerts of one kind."""
        fingerprints: list[str] = []
        start: dict[str, Any] | None = None
        while True:
            kwargs: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
            page = self._client.query(
                TableName=self._table,
                IndexName="gsi1",
                KeyConditionExpression="gsi1pk = :pk",
                ExpressionAttributeValues=_to_item({":pk": f"ACTIVE#{kind}"}),
                ProjectionExpression="pk",
                **kwargs,
            )
            fingerprints += [
                str(_from_item(item)["pk"]).removeprefix("ALERT#") for item in page["Items"]
            ]
            start = page.get("LastEvaluatedKey")
            if not start:
                return fingerprints

    def active_alerts(self, kind: str) -> list[Alert]:
        """The pending and firing alerts of one kind (the index projects the whole item)."""
        return [
            Alert.model_validate_json(body)
            for body in _query_bodies(self._client, self._table, f"ACTIVE#{kind}")
        ]

    def get_many(self, fingerprints: Sequence[str]) -> dict[str, Alert]:
        """The stored alerts among ``fingerprints``: strongly consistent, 100 a BatchGetItem
        call, unprocessed keys asked again."""
        found: dict[str, Alert] = {}
        unique = list(dict.fromkeys(fingerprints))
        for index in range(0, len(unique), BATCH_GET_KEYS):
            keys = [
                _to_item({"pk": f"ALERT#{fp}", "sk": "STATE"})
                for fp in unique[index : index + BATCH_GET_KEYS]
            ]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                response = self._client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self._table, []):
                    alert = Alert.model_validate_json(_from_item(item)["body"])
                    found[alert.fingerprint] = alert
                request = response.get("UnprocessedKeys") or {}
        return found

    def save(self, before: Alert | None, after: Alert | None) -> None:
        """Write ``after`` (delete when ``None``) if the stored revision is still ``before``'s."""
        if after is None:
            if before is None:
                return
            self._write_delete(before)
            return
        revision = before.revision if before else None
        _put_revision(
            self._client,
            self._table,
            self._values(after, revision),
            before_revision=revision,
            what=f"alert {after.fingerprint}",
        )

    def save_many(self, changes: Sequence[tuple[Alert | None, Alert | None]]) -> list[str]:
        """Write many alerts, each conditional on its revision as :meth:`save`, up to 100 a
        TransactWriteItems call (a storm writes thousands); the fingerprints that lost a race
        are returned, to be read and decided again. A transaction cancelled for some items
        is sent again without them."""
        lost: list[str] = []
        writes = [(c, self._transact_item(*c)) for c in changes if c[0] or c[1]]
        for index in range(0, len(writes), TRANSACT_ITEMS):
            chunk = writes[index : index + TRANSACT_ITEMS]
            while chunk:
                try:
                    items: list[Any] = [w for _, w in chunk]
                    self._client.transact_write_items(TransactItems=items)
                    break
                except ClientError as exc:
                    if exc.response.get("Error", {}).get("Code") != (
                        "TransactionCanceledException"
                    ):
                        raise
                    reasons = exc.response.get("CancellationReasons") or []
                    failed = {
                        i
                        for i, reason in enumerate(reasons)
                        if reason.get("Code") in {"ConditionalCheckFailed", "TransactionConflict"}
                    }
                    if not failed:
                        raise
                    lost += [_fingerprint(*chunk[i][0]) for i in sorted(failed)]
                    chunk = [w for i, w in enumerate(chunk) if i not in failed]
        return lost

    def _values(self, after: Alert, revision: int | None) -> dict[str, Any]:
        stored = after.model_copy(update={"revision": (revision or 0) + 1})
        active = stored.state is not AlertState.RESOLVED
        return {
            "pk": f"ALERT#{stored.fingerprint}",
            "sk": "STATE",
            "body": stored.model_dump_json(),
            "state": stored.state.value,
            "kind": stored.labels.kind,
            "resource": stored.labels.resource,
            "revision": stored.revision,
            "gsi1pk": f"ACTIVE#{stored.labels.kind}" if active else None,
            "gsi1sk": stored.fingerprint if active else None,
            "ttl": None if active else _epoch(stored.last_seen + self._retention),
        }

    def _transact_item(self, before: Alert | None, after: Alert | None) -> dict[str, Any]:
        if after is None:
            assert before is not None
            return {
                "Delete": {
                    "TableName": self._table,
                    "Key": _to_item({"pk": f"ALERT#{before.fingerprint}", "sk": "STATE"}),
                    "ConditionExpression": "revision = :rev",
                    "ExpressionAttributeValues": _to_item({":rev": before.revision}),
                }
            }
        revision = before.revision if before else None
        return {
            "Put": {"TableName": self._table, "Item": _to_item(self._values(after, revision))}
            | _revision_condition(revision)
        }

    def _write_delete(self, before: Alert) -> None:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=_to_item({"pk": f"ALERT#{before.fingerprint}", "sk": "STATE"}),
                ConditionExpression="revision = :rev",
                ExpressionAttributeValues=_to_item({":rev": before.revision}),
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                raise ConflictError(
                    f"alert {before.fingerprint} changed since it was read"
                ) from exc
            raise


BATCH_GET_KEYS = 100
"""BatchGetItem takes at most 100 keys a call."""
TRANSACT_ITEMS = 100
"""TransactWriteItems takes at most 100 items a call."""


def _fingerprint(before: Alert | None, after: Alert | None) -> str:
    alert = after or before
    assert alert is not None
    return alert.fingerprint


class DeliveryLog(_RetainedStore):
    """Per notification and channel: a claim while a delivery posts, then the delivery.

    ``claim`` is one conditional put: it succeeds when there is no item, or when the item is
    a claim whose lease has run out (its holder crashed); otherwise it reports the item it
    found, ``delivered`` or ``held`` by a live delivery. ``release`` deletes the claim only if
    it is still the caller's (its token), so a late failure cannot free another's claim.
    Items written before claims existed (``delivered_at`` only) read as ``delivered``.
    """

    def claim(self, notification_id: str, channel: str, *, at: datetime, lease: timedelta) -> Claim:
        token = uuid.uuid4().hex
        try:
            self._client.put_item(
                TableName=self._table,
                Item=_to_item(
                    {
                        "pk": f"DELIVERY#{notification_id}",
                        "sk": channel,
                        "state": ClaimState.CLAIMED.value,
                        "token": token,
                        "claimed_at": at.isoformat(),
                        "lease_until_ms": _epoch_ms(at + lease),
                        "ttl": _epoch(at + self._retention),
                    }
                ),
                ConditionExpression=(
                    "attribute_not_exists(pk) OR (#state = :claimed AND lease_until_ms <= :now)"
                ),
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=_to_item(
                    {":claimed": ClaimState.CLAIMED.value, ":now": _epoch_ms(at)}
                ),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            old = exc.response.get("Item")
            found = _from_item(old) if isinstance(old, dict) else {}
            held = found.get("state") == ClaimState.CLAIMED.value
            return Claim(ClaimState.HELD if held else ClaimState.DELIVERED)
        return Claim(ClaimState.CLAIMED, token)

    def record(self, notification_id: str, channel: str, *, at: datetime) -> None:
        self._client.put_item(
            TableName=self._table,
            Item=_to_item(
                {
                    "pk": f"DELIVERY#{notification_id}",
                    "sk": channel,
                    "state": ClaimState.DELIVERED.value,
                    "delivered_at": at.isoformat(),
                    "ttl": _epoch(at + self._retention),
                }
            ),
        )

    def release(self, notification_id: str, channel: str, *, token: str) -> None:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=_to_item({"pk": f"DELIVERY#{notification_id}", "sk": channel}),
                ConditionExpression="#state = :claimed AND #token = :token",
                ExpressionAttributeNames={"#state": "state", "#token": "token"},
                ExpressionAttributeValues=_to_item(
                    {":claimed": ClaimState.CLAIMED.value, ":token": token}
                ),
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise  # taken over or delivered meanwhile: not ours to free


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class IncidentStore(_Store):
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
                "Item": _to_item(
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
                        "Item": _to_item(
                            {
                                **_scope_key(lock.service, lock.region),
                                "incident_id": incident_id,
                                "body": lock.model_dump_json(),
                            }
                        ),
                        "ConditionExpression": "attribute_not_exists(pk) OR "
                        + " OR ".join(f"incident_id = {name}" for name in holders),
                        "ExpressionAttributeValues": _to_item(holders),
                    }
                }
            )
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            failed = _cancelled_items(exc)
            if failed is not None and 0 in failed:
                return False
            if lock is not None and (
                (failed is not None and 1 in failed) or _transaction_conflict(exc)
            ):
                # Held by another incident, or another start wrote it at the same moment.
                raise ScopeTakenError(self.scope_lock(lock.service, lock.region)) from exc
            raise
        return True

    def scope_lock(self, service: str, region: str) -> ScopeLock | None:
        """The lock of a service and region (strongly consistent), or ``None``."""
        response = self._client.get_item(
            TableName=self._table, Key=_to_item(_scope_key(service, region)), ConsistentRead=True
        )
        item = response.get("Item")
        return ScopeLock.model_validate_json(_from_item(item)["body"]) if item else None

    def close(self, incident_id: str, body: str, *, service: str, region: str) -> None:
        """Write the closed record and release the scope lock in one transaction; a lock
        another incident holds by now (this one was taken for stale) stays, the record is
        written alone."""
        update = self._update(incident_id, body)
        release: dict[str, Any] = {
            "Delete": {
                "TableName": self._table,
                "Key": _to_item(_scope_key(service, region)),
                "ConditionExpression": "attribute_not_exists(pk) OR incident_id = :me",
                "ExpressionAttributeValues": _to_item({":me": incident_id}),
            }
        }
        try:
            items: list[Any] = [{"Update": update}, release]
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            failed = _cancelled_items(exc)
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
            "Key": _to_item({"pk": f"INCIDENT#{incident_id}", "sk": "META"}),
            "UpdateExpression": "SET body = :body",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeValues": _to_item({":body": body}),
        }

    def get(self, incident_id: str) -> str | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=_to_item({"pk": f"INCIDENT#{incident_id}", "sk": "META"}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return str(_from_item(item)["body"]) if item else None

    def save(self, incident_id: str, body: str) -> None:
        """Replace the record of an open incident (one workflow writes each incident)."""
        try:
            self._client.update_item(**self._update(incident_id, body))
        except ClientError as exc:
            if _conditional_failed(exc):
                raise ConflictError(f"incident {incident_id} has no record to update") from exc
            raise

    def recent(self, limit: int) -> list[str]:
        """Bodies of the ``limit`` most recently opened incidents, newest first."""
        page = self._client.query(
            TableName=self._table,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues=_to_item({":pk": "INCIDENTS"}),
            ScanIndexForward=False,
            Limit=limit,
        )
        return [str(_from_item(item)["body"]) for item in page["Items"]]


def _scope_key(service: str, region: str) -> dict[str, str]:
    return {"pk": f"SCOPE#{service}#{region}", "sk": "LOCK"}


def _cancelled_items(exc: ClientError) -> set[int] | None:
    """Indexes of the items whose condition cancelled a transaction (``None``: not a
    cancelled transaction; a conflict with another transaction is re-raised as it is)."""
    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return None
    reasons = exc.response.get("CancellationReasons") or []
    failed = {i for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"}
    return failed or None


def _transaction_conflict(exc: ClientError) -> bool:
    """A transaction cancelled because another one wrote one of its items meanwhile."""
    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return False
    reasons = exc.response.get("CancellationReasons") or []
    return any(r.get("Code") == "TransactionConflict" for r in reasons)


class ApprovalStore(_Store):
    """The approval gate of each incident, beside its record; writes are revision-conditional."""

    def get(self, incident_id: str) -> Approval | None:
        return _get_model(
            self._client, self._table, Approval, f"INCIDENT#{incident_id}", sk="APPROVAL"
        )

    def save(self, before: Approval | None, after: Approval) -> Approval:
        stored = after.model_copy(update={"revision": (before.revision if before else 0) + 1})
        _put_revision(
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


def _put_revision(
    client: "DynamoDBClient",
    table: str,
    values: dict[str, Any],
    *,
    before_revision: int | None,
    what: str,
    outbox: Sequence[OutboxEntry] = (),
) -> None:
    """Put ``values`` if the stored revision is still ``before_revision`` (absent: new).

    With ``outbox`` entries, the item and the notifications its change decided are written in
    one transaction (ADR 29): both or neither.
    """
    condition = _revision_condition(before_revision)
    try:
        if not outbox:
            client.put_item(TableName=table, Item=_to_item(values), **condition)
            return
        items: list[Any] = [
            {"Put": {"TableName": table, "Item": _to_item(values), **condition}},
            *({"Put": {"TableName": table, "Item": outbox_item(e)}} for e in outbox),
        ]
        client.transact_write_items(TransactItems=items)
    except ClientError as exc:
        if _conditional_failed(exc) or _transaction_condition_failed(exc):
            raise ConflictError(f"{what} changed since it was read") from exc
        raise


def _revision_condition(revision: int | None) -> dict[str, Any]:
    """The condition of a write based on ``revision`` (absent: the item must be new)."""
    if revision is None:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    return {
        "ConditionExpression": "revision = :rev",
        "ExpressionAttributeValues": _to_item({":rev": revision}),
    }


def _transaction_condition_failed(exc: ClientError) -> bool:
    """A transaction cancelled because the state item's condition failed (the first item)."""
    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return False
    reasons = exc.response.get("CancellationReasons") or []
    return bool(reasons) and reasons[0].get("Code") == "ConditionalCheckFailed"


class HealthEventStore(_RetainedStore):
    """The last version of each AWS Health event Vigil has seen (de-duplication)."""

    def get(self, arn: str, account: str | None) -> HealthRecord | None:
        return _get_model(self._client, self._table, HealthRecord, _health_key(arn, account))

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
            "ttl": _epoch(stored.last_updated + self._retention) if closed else None,
        }
        _put_revision(
            self._client,
            self._table,
            values,
            before_revision=before.revision if before else None,
            what=f"Health event {stored.arn}",
            outbox=outbox,
        )


def _health_key(arn: str, account: str | None) -> str:
    return f"HEALTH#{arn}#{account or 'any'}"


class OutageStore(_Store):
    """One outage per service and region; open ones are listed through the sparse index."""

    def get(self, service: str, region: str) -> Outage | None:
        return _get_model(self._client, self._table, Outage, f"OUTAGE#{service}#{region}")

    def open_outages(self) -> list[Outage]:
        outages: list[Outage] = []
        start: dict[str, Any] | None = None
        while True:
            kwargs: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
            page = self._client.query(
                TableName=self._table,
                IndexName="gsi1",
                KeyConditionExpression="gsi1pk = :pk",
                ExpressionAttributeValues=_to_item({":pk": "OUTAGES"}),
                **kwargs,
            )
            outages += [Outage.model_validate_json(_from_item(i)["body"]) for i in page["Items"]]
            start = page.get("LastEvaluatedKey")
            if not start:
                return outages

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
        _put_revision(
            self._client,
            self._table,
            values,
            before_revision=before.revision if before else None,
            what=f"outage {stored.service} {stored.region}",
            outbox=outbox,
        )


class GroupStore(_RetainedStore):
    """Notification groups; open ones are listed through the sparse index."""

    def get(self, group_id: str) -> Group | None:
        return _get_model(self._client, self._table, Group, f"GROUP#{group_id}")

    def open_groups(self) -> list[Group]:
        return [
            Group.model_validate_json(body)
            for body in _query_bodies(self._client, self._table, "GROUPS")
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
            "ttl": None if stored.listed else _epoch(stored.updated_at + self._retention),
        }
        _put_revision(
            self._client,
            self._table,
            values,
            before_revision=before.revision if before else None,
            what=f"group {stored.key}",
            outbox=outbox,
        )


class SilenceStore(_Store):
    """Silences, listed through the sparse index (``gsi1sk`` their end, ``ttl`` after it).

    Writes are conditional: ``create`` on the id being new, ``expire`` on the revision read.
    """

    KEPT_AFTER_END = timedelta(days=7)

    def current(self, now: datetime) -> list[Silence]:
        return [silence for silence in self.everything() if silence.ends_at > now]

    def everything(self) -> list[Silence]:
        """Every stored silence, ended ones included, by end time."""
        bodies = _query_bodies(self._client, self._table, "SILENCES")
        silences = [Silence.model_validate_json(body) for body in bodies]
        return sorted(silences, key=lambda silence: (silence.ends_at, silence.silence_id))

    def get(self, silence_id: str) -> Silence | None:
        return _get_model(self._client, self._table, Silence, f"SILENCE#{silence_id}", sk="META")

    def create(self, silence: Silence) -> Silence:
        """Store a new silence; :class:`ConflictError` if its id is taken."""
        return self._save(None, silence)

    def expire(self, silence_id: str, now: datetime) -> Silence:
        """End a silence at ``now`` (:class:`UnknownSilenceError`, ``SilenceEndedError``)."""
        before = self.get(silence_id)
        if before is None:
            raise UnknownSilenceError(f"no silence has the id {silence_id!r}")
        return self._save(before, before.expire(now))

    def _save(self, before: Silence | None, after: Silence) -> Silence:
        stored = after.model_copy(update={"revision": (before.revision if before else 0) + 1})
        values = {
            "pk": f"SILENCE#{stored.silence_id}",
            "sk": "META",
            "body": stored.model_dump_json(),
            "revision": stored.revision,
            "gsi1pk": "SILENCES",
            "gsi1sk": stored.ends_at.isoformat(),
            "ttl": _epoch(stored.ends_at + self.KEPT_AFTER_END),
        }
        _put_revision(
            self._client,
            self._table,
            values,
            before_revision=before.revision if before else None,
            what=f"silence {stored.silence_id}",
        )
        return stored


def _query_bodies(
    client: "DynamoDBClient",
    table: str,
    partition: str,
    *,
    newest_first: bool = False,
    stats: CallStats | None = None,
) -> list[str]:
    """Every ``body`` in one ``gsi1`` partition, by ``gsi1sk`` (every page; each counted)."""
    bodies: list[str] = []
    start: dict[str, Any] | None = None
    while True:
        kwargs: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
        if stats is not None:
            stats.count("Query")
        page = client.query(
            TableName=table,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues=_to_item({":pk": partition}),
            ScanIndexForward=not newest_first,
            **kwargs,
        )
        bodies += [str(_from_item(item)["body"]) for item in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if not start:
            return bodies


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


class CostHistoryStore(_Store):
    """Daily cost per service (one item a day) and facts kept for one day (forecast, ...)."""

    def load(self, dimension: str, since: date) -> dict[date, dict[str, float]]:
        days: dict[date, dict[str, float]] = {}
        start: dict[str, Any] | None = None
        while True:
            kwargs: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
            page = self._client.query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk AND sk >= :since",
                ExpressionAttributeValues=_to_item(
                    {":pk": f"COSTDAY#{dimension}", ":since": since.isoformat()}
                ),
                **kwargs,
            )
            for item in page["Items"]:
                values = _from_item(item)
                costs = json.loads(str(values["costs"]))
                days[date.fromisoformat(str(values["sk"]))] = {
                    k: float(v) for k, v in costs.items()
                }
            start = page.get("LastEvaluatedKey")
            if not start:
                return days

    def save(
        self, dimension: str, days: dict[date, dict[str, float]], *, fetched_at: datetime
    ) -> None:
        for day, costs in days.items():
            self._client.put_item(
                TableName=self._table,
                Item=_to_item(
                    {
                        "pk": f"COSTDAY#{dimension}",
                        "sk": day.isoformat(),
                        "costs": json.dumps(costs, sort_keys=True),
                        "fetched_at": fetched_at.isoformat(),
                        "ttl": _epoch(
                            datetime.combine(day, time(), tzinfo=UTC) + timedelta(days=400)
                        ),
                    }
                ),
            )

    def fact(self, name: str, day: date) -> str | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=_to_item({"pk": f"COSTFACT#{day.isoformat()}", "sk": name}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return str(_from_item(item)["value"]) if item else None

    def remember(self, name: str, day: date, value: str) -> None:
        self._client.put_item(
            TableName=self._table,
            Item=_to_item(
                {
                    "pk": f"COSTFACT#{day.isoformat()}",
                    "sk": name,
                    "value": value,
                    "ttl": _epoch(datetime.combine(day, time(), tzinfo=UTC) + timedelta(days=7)),
                }
            ),
        )


class RequestBudget(_Store):
    """A per-day counter of Cost Explorer requests with a cap, kept with an atomic update."""

    def __init__(self, client: "DynamoDBClient", table: str, *, cap: int) -> None:
        super().__init__(client, table)
        self._cap = cap

    def take(self, day: date) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_to_item({"pk": f"CEREQUESTS#{day.isoformat()}", "sk": "count"}),
                UpdateExpression="ADD requests :one SET #ttl = :ttl",
                ConditionExpression="attribute_not_exists(requests) OR requests < :cap",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues=_to_item(
                    {
                        ":one": 1,
                        ":cap": self._cap,
                        ":ttl": _epoch(
                            datetime.combine(day, time(), tzinfo=UTC) + timedelta(days=30)
                        ),
                    }
                ),
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True
