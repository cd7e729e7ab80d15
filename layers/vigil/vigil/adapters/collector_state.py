"""What the metrics collector remembers between cycles, in the state table.

- the **watch list**: the resources with a pending or firing alert of a kind, read from the
  sparse ``gsi1`` index of active alerts (``ACTIVE#<kind>``; see ``adapters/table.py``);
- **coverage**: one item per cycle, pk ``COVERAGE#<collector>``, sk the window's start,
  saying which kinds the cycle drilled into for every resource and which resources it
  watched, so that the slower sweep skips minutes a cycle has already judged. Kept with a
  ``ttl`` a little longer than a sweep period;
- the **discovered dead-letter queues**: one item, pk ``DISCOVERY#sqs``, sk
  ``dead-letter-queues``, their URLs and the scheduled time of the discovery (ADR 23);
- the **discovered inventory** of a dial family: one item, pk ``DISCOVERY#<family>``, sk
  ``inventory``, its records as one JSON document and the scheduled time of the discovery
  (ADR 24). An item holds at most 400 KB: about 2,000 tables or streams.

A cycle over another account or region (``target``, Organization mode and several regions,
ADR 51) keeps its own: its keys carry ``<account>#<region>#`` after the ``#`` of the prefix
(``COVERAGE#<account>#<region>#lambda``, ``DISCOVERY#<account>#<region>#<family>``), and its
watch list is the active alerts of that account and region only.
"""

import json
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from vigil.adapters.stats import CallStats
from vigil.core.clock import iso, parse_time
from vigil.dials.resources import Coverage, InventoryUnreadable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class CollectorState:
    def __init__(
        self,
        client: "DynamoDBClient",
        table: str,
        *,
        collector: str = "lambda",
        stats: CallStats | None = None,
        target: tuple[str, str] | None = None,
    ) -> None:
        self._client = client
        self._table = table
        self._target = target
        self._scope = "" if target is None else f"{target[0]}#{target[1]}#"
        self._pk = f"COVERAGE#{self._scope}{collector}"
        self._dead_letter_key: dict[str, Any] = {
            "pk": {"S": f"DISCOVERY#{self._scope}sqs"},
            "sk": {"S": "dead-letter-queues"},
        }
        self.stats = stats or CallStats()

    def watched(self, kinds: Iterable[str]) -> set[str]:
        """The resources with a pending or firing alert of any of ``kinds``."""
        resources: set[str] = set()
        for kind in kinds:
            items = self._query(
                IndexName="gsi1",
                KeyConditionExpression="gsi1pk = :pk",
                ExpressionAttributeValues={":pk": {"S": f"ACTIVE#{kind}"}},
                ProjectionExpression="#r" if self._target is None else "#r, body",
                ExpressionAttributeNames={"#r": "resource"},
            )
            resources |= {str(item["resource"]) for item in items if self._ours(item)}
        return resources

    def _ours(self, item: dict[str, Any]) -> bool:
        """Whether an active alert's item is of this state's account and region."""
        if self._target is None:
            return True
        labels = json.loads(str(item["body"]))["labels"]
        return (labels["account"], labels["region"]) == self._target

    def record(self, coverage: Coverage, *, expires: datetime) -> None:
        values: dict[str, Any] = {
            "pk": self._pk,
            "sk": iso(coverage.start),
            "end": iso(coverage.end),
            "drilled": sorted(coverage.drilled),
            "watched": sorted(coverage.watched),
            "ttl": int(expires.timestamp()),
        }
        self.stats.count("PutItem")
        self._client.put_item(
            TableName=self._table,
            Item={key: _serializer.serialize(value) for key, value in values.items()},
        )

    def coverage(self, start: datetime, end: datetime) -> list[Coverage]:
        """The cycles whose window starts in [start, end)."""
        return [
            Coverage(
                start=parse_time(item["sk"], field="coverage.sk"),
                end=parse_time(item["end"], field="coverage.end"),
                drilled=frozenset(str(kind) for kind in item["drilled"]),
                watched=frozenset(str(name) for name in item["watched"]),
            )
            for item in self._query(
                # BETWEEN is inclusive; a window starting at ``end`` is dropped below.
                KeyConditionExpression="pk = :pk AND sk BETWEEN :start AND :end",
                ExpressionAttributeValues={
                    ":pk": {"S": self._pk},
                    ":start": {"S": iso(start)},
                    ":end": {"S": iso(end)},
                },
                ConsistentRead=True,
            )
            if parse_time(item["sk"], field="coverage.sk") < end
        ]

    def dead_letter_queues(self) -> list[str] | None:
        """The dead-letter queue URLs the last discovery stored; ``None`` before any."""
        self.stats.count("GetItem")
        item = self._client.get_item(
            TableName=self._table, Key=self._dead_letter_key, ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        return [str(url) for url in _deserializer.deserialize(item["queues"])]

    def remember_dead_letter_queues(self, urls: list[str], *, at: datetime) -> None:
        self.stats.count("PutItem")
        self._client.put_item(
            TableName=self._table,
            Item={
                **self._dead_letter_key,
                "queues": _serializer.serialize(sorted(urls)),
                "discovered_at": {"S": iso(at)},
            },
        )

    def inventory(self, family: str) -> list[dict[str, Any]] | None:
        """The records the last discovery of ``family`` stored; ``None`` before any."""
        self.stats.count("GetItem")
        item = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": f"DISCOVERY#{self._scope}{family}"}, "sk": {"S": "inventory"}},
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            return None
        try:
            records = json.loads(item["records"]["S"])
        except (KeyError, ValueError) as exc:
            raise InventoryUnreadable(f"state table DISCOVERY#{family}: records: {exc}") from exc
        if not isinstance(records, list):
            raise InventoryUnreadable(f"state table DISCOVERY#{family}: records is not a list")
        return records

    def remember_inventory(
        self, family: str, records: list[dict[str, Any]], *, at: datetime
    ) -> None:
        self.stats.count("PutItem")
        self._client.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": f"DISCOVERY#{self._scope}{family}"},
                "sk": {"S": "inventory"},
                "records": {"S": json.dumps(records, separators=(",", ":"), sort_keys=True)},
                "discovered_at": {"S": iso(at)},
            },
        )

    def _query(self, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        while True:
            page_kwargs = {**kwargs, **({"ExclusiveStartKey": start} if start else {})}
            self.stats.count("Query")
            page = self._client.query(TableName=self._table, **page_kwargs)
            items += [
                {key: _deserializer.deserialize(value) for key, value in item.items()}
                for item in page["Items"]
            ]
            start = page.get("LastEvaluatedKey")
            if not start:
                return items
