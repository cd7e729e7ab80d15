"""What the Health collector keeps in the state table (ADR 30).

- pages of a multi-page event: pk ``HEALTHPAGES#<event arn>#<account>``, sk ``STATE``, a
  :class:`vigil.health.events.HealthPages` (bounded: counts and hashes per page, 20 entities),
  written conditionally on its revision (pages arrive together); ``ttl`` a week after the
  version it holds.
- a parked event: pk ``HEALTHPARKED#<EventBridge event id>``, sk ``STATE``, the event as it
  came (cut at 300,000 characters; an EventBridge event is at most 256 KB) and the reason;
  written once (``attribute_not_exists``); ``ttl`` after ``resolved_retention_days``.
- the catch-up poll's failures in a row: pk ``HEALTHPOLL#<account>``, sk ``STATE``.
"""

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from vigil.adapters.stats import CallStats
from vigil.adapters.table import conditional_failed
from vigil.core.errors import ConflictError
from vigil.health.collect import PollState
from vigil.health.events import HealthPages

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PAGES_RETENTION = timedelta(days=7)
MAX_PARKED_CHARS = 300_000


def _key(pk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": "STATE"}}


class _Items:
    def __init__(self, client: "DynamoDBClient", table: str, *, stats: CallStats) -> None:
        self._client = client
        self._table = table
        self._stats = stats

    def _body(self, pk: str) -> str | None:
        self._stats.count("dynamodb:GetItem")
        item = self._client.get_item(TableName=self._table, Key=_key(pk), ConsistentRead=True)
        found = item.get("Item")
        return found["body"]["S"] if found else None

    def _put(self, item: dict[str, Any], **condition: Any) -> None:
        self._stats.count("dynamodb:PutItem")
        self._client.put_item(TableName=self._table, Item=item, **condition)


class HealthPageStore(_Items):
    """:class:`vigil.health.events.HealthPagesPort` on the state table."""

    def get(self, arn: str, account: str | None) -> HealthPages | None:
        body = self._body(_pages_key(arn, account))
        return HealthPages.model_validate_json(body) if body else None

    def save(self, before: HealthPages | None, after: HealthPages) -> None:
        stored = after.model_copy(update={"revision": (before.revision if before else 0) + 1})
        expires = int((stored.last_updated + PAGES_RETENTION).timestamp())
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(pk)"}
            if before is None
            else {
                "ConditionExpression": "revision = :rev",
                "ExpressionAttributeValues": {":rev": {"N": str(before.revision)}},
            }
        )
        item = _key(_pages_key(stored.arn, stored.account)) | {
            "body": {"S": stored.model_dump_json()},
            "revision": {"N": str(stored.revision)},
            "ttl": {"N": str(expires)},
        }
        try:
            self._put(item, **condition)
        except ClientError as exc:
            if conditional_failed(exc):
                raise ConflictError(f"pages of {stored.arn} changed since they were read") from exc
            raise


def _pages_key(arn: str, account: str | None) -> str:
    return f"HEALTHPAGES#{arn}#{account or 'any'}"


class ParkedEventStore(_Items):
    """:class:`vigil.health.collect.ParkedEventsPort` on the state table."""

    def __init__(
        self, client: "DynamoDBClient", table: str, *, stats: CallStats, retention: timedelta
    ) -> None:
        super().__init__(client, table, stats=stats)
        self._retention = retention

    def seen(self, event_id: str) -> bool:
        self._stats.count("dynamodb:GetItem")
        found = self._client.get_item(
            TableName=self._table,
            Key=_key(f"HEALTHPARKED#{event_id}"),
            ConsistentRead=True,
            ProjectionExpression="pk",
        )
        return "Item" in found

    def park(self, event_id: str, *, event: object, reason: str, at: datetime | None) -> None:
        body = json.dumps(event, default=str)
        item = _key(f"HEALTHPARKED#{event_id}") | {
            "event": {"S": body[:MAX_PARKED_CHARS]},
            "truncated": {"BOOL": len(body) > MAX_PARKED_CHARS},
            "reason": {"S": reason[:2000]},
        }
        if at is not None:
            item |= {
                "parked_at": {"S": at.isoformat()},
                "ttl": {"N": str(int((at + self._retention).timestamp()))},
            }
        try:
            self._put(item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if not conditional_failed(exc):
                raise


class HealthPollStore(_Items):
    """The catch-up poll's failures in a row, for one account."""

    def __init__(
        self, client: "DynamoDBClient", table: str, *, stats: CallStats, account: str
    ) -> None:
        super().__init__(client, table, stats=stats)
        self._pk = f"HEALTHPOLL#{account}"

    def get(self) -> PollState:
        body = self._body(self._pk)
        return PollState.model_validate_json(body) if body else PollState()

    def put(self, state: PollState) -> None:
        self._put(_key(self._pk) | {"body": {"S": state.model_dump_json()}})
