"""The emulator's faster DynamoDB in moto: the ordering of items (``emulator.dynamodb_types``)
and the table copies a transaction rolls back to (``emulator.dynamodb_transactions``).

The reference is moto itself: ``Table.all_items``, ``Query`` and ``TransactWriteItems`` as
moto answers them without the patches. A cancelled transaction leaves every item as it was
("TransactWriteItems" in the DynamoDB API Reference: all or nothing), the ``Update`` of an
incident's close among them. Keys are of each type DynamoDB allows for a key attribute (S, N,
B; "Core components of Amazon DynamoDB", primary key), with values whose text order differs
from their number order, and a sparse GSI queried in pages of 7, as the alert store queries
``ACTIVE#<kind>``.
"""

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table

from emulator import dynamodb_transactions, dynamodb_types

ACCOUNT = "123456789012"
REGION = "us-east-1"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name=REGION)


def _table(name: str) -> Table:
    return dynamodb_backends[ACCOUNT][REGION].get_table(name)


def _create(client: Any, name: str, hash_type: str, range_type: str | None) -> None:
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attributes = [
        {"AttributeName": "pk", "AttributeType": hash_type},
        {"AttributeName": "gsi1pk", "AttributeType": "S"},
    ]
    if range_type:
        schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
        attributes.append({"AttributeName": "sk", "AttributeType": range_type})
    client.create_table(
        TableName=name,
        KeySchema=schema,
        AttributeDefinitions=attributes,
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {
                "IndexName": "gsi1",
                "KeySchema": [{"AttributeName": "gsi1pk", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )


def _value(kind: str, n: int) -> dict[str, Any]:
    if kind == "N":
        return {"N": str(n if n % 3 else -n / 4)}
    if kind == "B":
        return {"B": bytes([n % 251, n % 7])}
    return {"S": f"ALERT#{n * 7919 % 1000}"}


def _fill(client: Any, name: str, hash_type: str, range_type: str | None) -> None:
    for n in range(120):
        item = {"pk": _value(hash_type, n), "body": {"S": f"body {n}"}}
        if range_type:
            for r in range(3):
                keyed = {**item, "sk": _value(range_type, n * 3 + r)}
                if r != 1:
                    keyed["gsi1pk"] = {"S": f"ACTIVE#{n % 2}"}
                client.put_item(TableName=name, Item=keyed)
        else:
            if n % 4:
                item["gsi1pk"] = {"S": "ACTIVE#0"}
            client.put_item(TableName=name, Item=item)


def _pages(client: Any, name: str) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    start: dict[str, Any] | None = None
    while True:
        kwargs: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
        page = client.query(
            TableName=name,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "ACTIVE#0"}},
            Limit=7,
            **kwargs,
        )
        pages.append(page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            return pages


@pytest.mark.parametrize(
    ("hash_type", "range_type"),
    [("S", None), ("N", None), ("B", None), ("S", "S"), ("S", "N"), ("N", "B")],
)
def test_items_and_query_pages_come_in_motos_own_order(
    dynamodb: Any, hash_type: str, range_type: str | None
) -> None:
    name = f"t-{hash_type}-{range_type}"
    _create(dynamodb, name, hash_type, range_type)
    _fill(dynamodb, name, hash_type, range_type)
    motos_items = [item.to_json() for item in _table(name).all_items()]
    motos_pages = _pages(dynamodb, name)

    with dynamodb_types.installed():
        assert [item.to_json() for item in _table(name).all_items()] == motos_items
        assert _pages(dynamodb, name) == motos_pages
    assert len(motos_items) == 120 * (3 if range_type else 1)
    assert sum(map(len, motos_pages)) == (120 * 2 // 2 if range_type else 90)


def _cancelled_transaction(client: Any) -> list[dict[str, Any]]:
    """An incident-close-like transaction that fails on its second item: an ``Update`` of a
    record, a ``Put`` and a conditional ``Delete`` of a lock another holder has."""
    _create(client, "tx", "S", "S")
    for pk, holder in (("INCIDENT#1", "me"), ("SCOPE#lambda", "other")):
        client.put_item(
            TableName="tx",
            Item={"pk": {"S": pk}, "sk": {"S": "STATE"}, "holder": {"S": holder}},
        )
    with pytest.raises(ClientError) as raised:
        client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "tx",
                        "Key": {"pk": {"S": "INCIDENT#1"}, "sk": {"S": "STATE"}},
                        "UpdateExpression": "SET body = :b, holder = :h",
                        "ExpressionAttributeValues": {":b": {"S": "closed"}, ":h": {"S": "x"}},
                    }
                },
                {"Put": {"TableName": "tx", "Item": {"pk": {"S": "NEW"}, "sk": {"S": "S"}}}},
                {
                    "Delete": {
                        "TableName": "tx",
                        "Key": {"pk": {"S": "SCOPE#lambda"}, "sk": {"S": "STATE"}},
                        "ConditionExpression": "holder = :me",
                        "ExpressionAttributeValues": {":me": {"S": "me"}},
                    }
                },
            ]
        )
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    items: list[dict[str, Any]] = client.scan(TableName="tx")["Items"]
    return sorted(items, key=lambda item: item["pk"]["S"])


def test_a_cancelled_transaction_leaves_every_item_as_moto_does(dynamodb: Any) -> None:
    motos = _cancelled_transaction(dynamodb)
    dynamodb.delete_table(TableName="tx")

    with dynamodb_transactions.installed():
        assert _cancelled_transaction(dynamodb) == motos
    assert motos == [
        {"pk": {"S": "INCIDENT#1"}, "sk": {"S": "STATE"}, "holder": {"S": "me"}},
        {"pk": {"S": "SCOPE#lambda"}, "sk": {"S": "STATE"}, "holder": {"S": "other"}},
    ]
