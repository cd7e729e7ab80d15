"""The state table: one DynamoDB table that every store of Vigil shares.

Each store is a view of one kind of item (``alert_store``, ``delivery_log``, ``incident_store``,
``health_store``, ``routing_store``, ``cost_store``); this module holds what they share: the
item (de)serialisation, conditional and transactional writes, and the ``gsi1`` queries.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic import BaseModel

from vigil.adapters.outbox import outbox_item
from vigil.adapters.stats import CallStats
from vigil.alerting.outbox import OutboxEntry
from vigil.core.errors import ConflictError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


_serializer = TypeSerializer()


_deserializer = TypeDeserializer()


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items() if value is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def get_model[M: BaseModel](
    client: "DynamoDBClient", table: str, model: type[M], pk: str, sk: str = "STATE"
) -> M | None:
    """The item's ``body`` as ``model`` (a strongly consistent read), or ``None``."""
    response = client.get_item(
        TableName=table, Key=to_item({"pk": pk, "sk": sk}), ConsistentRead=True
    )
    item = response.get("Item")
    return model.model_validate_json(from_item(item)["body"]) if item else None


class Store:
    """A view of one kind of item in the state table."""

    def __init__(self, client: "DynamoDBClient", table: str) -> None:
        self._client = client
        self._table = table


class RetainedStore(Store):
    """A store whose closed items expire ``retention`` after they close (``ttl``)."""

    def __init__(self, client: "DynamoDBClient", table: str, *, retention: timedelta) -> None:
        super().__init__(client, table)
        self._retention = retention


def cancelled_items(exc: ClientError) -> set[int] | None:
    """Indexes of the items whose condition cancelled a transaction (``None``: not a
    cancelled transaction; a conflict with another transaction is re-raised as it is)."""
    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return None
    reasons = exc.response.get("CancellationReasons") or []
    failed = {i for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"}
    return failed or None


def transaction_conflict(exc: ClientError) -> bool:
    """A transaction cancelled because another one wrote one of its items meanwhile."""
    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return False
    reasons = exc.response.get("CancellationReasons") or []
    return any(r.get("Code") == "TransactionConflict" for r in reasons)


def put_revision(
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
    condition = revision_condition(before_revision)
    try:
        if not outbox:
            client.put_item(TableName=table, Item=to_item(values), **condition)
            return
        items: list[Any] = [
            {"Put": {"TableName": table, "Item": to_item(values), **condition}},
            *({"Put": {"TableName": table, "Item": outbox_item(e)}} for e in outbox),
        ]
        client.transact_write_items(TransactItems=items)
    except ClientError as exc:
        if conditional_failed(exc) or transaction_condition_failed(exc):
            raise ConflictError(f"{what} changed since it was read") from exc
        raise


def revision_condition(revision: int | None) -> dict[str, Any]:
    """The condition of a write based on ``revision`` (absent: the item must be new)."""
    if revision is None:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    return {
        "ConditionExpression": "revision = :rev",
        "ExpressionAttributeValues": to_item({":rev": revision}),
    }


def transaction_condition_failed(exc: ClientError) -> bool:
    """A transaction cancelled because the state item's condition failed (the first item)."""
    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return False
    reasons = exc.response.get("CancellationReasons") or []
    return bool(reasons) and reasons[0].get("Code") == "ConditionalCheckFailed"


def query_bodies(
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
            ExpressionAttributeValues=to_item({":pk": partition}),
            ScanIndexForward=not newest_first,
            **kwargs,
        )
        bodies += [str(from_item(item)["body"]) for item in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if not start:
            return bodies


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
