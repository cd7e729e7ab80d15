"""Alerts in the state table: pk ``ALERT#<fingerprint>``, sk ``STATE``; gsi1pk
``ACTIVE#<kind>`` only while pending or firing (a sparse index of active alerts), ``ttl``
once resolved.

Every alert write is conditional on the revision that was read, so two evaluations racing
on one alert cannot both win; the loser re-reads and re-decides.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from vigil.core.errors import ConflictError, VigilError
from vigil.core.model import Alert, AlertState

if TYPE_CHECKING:
    pass
from vigil.adapters.table import (
    RetainedStore,
    conditional_failed,
    epoch,
    from_item,
    get_model,
    put_revision,
    query_bodies,
    revision_condition,
    to_item,
)


class AlertsUnavailable(VigilError):
    """The state table could not list the firing alerts."""


class AlertStore(RetainedStore):
    def get(self, fingerprint: str) -> Alert | None:
        return get_model(self._client, self._table, Alert, f"ALERT#{fingerprint}")

    def active(self, kind: str, within: frozenset[tuple[str, str]] | None = None) -> list[str]:
        """Fingerprints of the pending and firing alerts of one kind; with ``within``, of those
        whose (account, region) it names (read from the body, which every stored alert has)."""
        fingerprints: list[str] = []
        start: dict[str, Any] | None = None
        projection = "pk" if within is None else "pk, body"
        while True:
            kwargs: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
            page = self._client.query(
                TableName=self._table,
                IndexName="gsi1",
                KeyConditionExpression="gsi1pk = :pk",
                ExpressionAttributeValues=to_item({":pk": f"ACTIVE#{kind}"}),
                ProjectionExpression=projection,
                **kwargs,
            )
            for item in map(from_item, page["Items"]):
                if within is not None:
                    labels = Alert.model_validate_json(str(item["body"])).labels
                    if (labels.account, labels.region) not in within:
                        continue
                fingerprints.append(str(item["pk"]).removeprefix("ALERT#"))
            start = page.get("LastEvaluatedKey")
            if not start:
                return fingerprints

    def active_alerts(self, kind: str) -> list[Alert]:
        """The pending and firing alerts of one kind (the index projects the whole item)."""
        return [
            Alert.model_validate_json(body)
            for body in query_bodies(self._client, self._table, f"ACTIVE#{kind}")
        ]

    def firing(self, kinds: Sequence[str], limit: int) -> list[Alert]:
        """The firing alerts of ``kinds``, at most about ``limit`` of them: one ``Query`` of
        the sparse active index per kind (and per page), which holds only pending and firing
        alerts; ``AlertsUnavailable`` when DynamoDB does not answer."""
        found: list[Alert] = []
        try:
            for kind in kinds:
                start: dict[str, Any] | None = None
                while len(found) < limit:
                    kwargs: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
                    page = self._client.query(
                        TableName=self._table,
                        IndexName="gsi1",
                        KeyConditionExpression="gsi1pk = :pk",
                        FilterExpression="#state = :firing",
                        ExpressionAttributeNames={"#state": "state"},
                        ExpressionAttributeValues=to_item(
                            {":pk": f"ACTIVE#{kind}", ":firing": AlertState.FIRING.value}
                        ),
                        Limit=limit,
                        **kwargs,
                    )
                    found += [
                        Alert.model_validate_json(str(from_item(item)["body"]))
                        for item in page["Items"]
                    ]
                    start = page.get("LastEvaluatedKey")
                    if not start:
                        break
        except (ClientError, BotoCoreError) as exc:
            raise AlertsUnavailable(f"listing the firing alerts failed: {exc}") from exc
        return found[:limit]

    def get_many(self, fingerprints: Sequence[str]) -> dict[str, Alert]:
        """The stored alerts among ``fingerprints``: strongly consistent, 100 a BatchGetItem
        call, unprocessed keys asked again."""
        found: dict[str, Alert] = {}
        unique = list(dict.fromkeys(fingerprints))
        for index in range(0, len(unique), BATCH_GET_KEYS):
            keys = [
                to_item({"pk": f"ALERT#{fp}", "sk": "STATE"})
                for fp in unique[index : index + BATCH_GET_KEYS]
            ]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                response = self._client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self._table, []):
                    alert = Alert.model_validate_json(from_item(item)["body"])
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
        put_revision(
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
            "ttl": None if active else epoch(stored.last_seen + self._retention),
        }

    def _transact_item(self, before: Alert | None, after: Alert | None) -> dict[str, Any]:
        if after is None:
            assert before is not None
            return {
                "Delete": {
                    "TableName": self._table,
                    "Key": to_item({"pk": f"ALERT#{before.fingerprint}", "sk": "STATE"}),
                    "ConditionExpression": "revision = :rev",
                    "ExpressionAttributeValues": to_item({":rev": before.revision}),
                }
            }
        revision = before.revision if before else None
        return {
            "Put": {"TableName": self._table, "Item": to_item(self._values(after, revision))}
            | revision_condition(revision)
        }

    def _write_delete(self, before: Alert) -> None:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=to_item({"pk": f"ALERT#{before.fingerprint}", "sk": "STATE"}),
                ConditionExpression="revision = :rev",
                ExpressionAttributeValues=to_item({":rev": before.revision}),
            )
        except ClientError as exc:
            if conditional_failed(exc):
                raise ConflictError(
                    f"alert {before.fingerprint} changed since it was read"
                ) from exc
            raise


BATCH_GET_KEYS = 100


TRANSACT_ITEMS = 100


def _fingerprint(before: Alert | None, after: Alert | None) -> str:
    alert = after or before
    assert alert is not None
    return alert.fingerprint
