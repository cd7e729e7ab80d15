"""The outbox in the state table, and the SNS publisher that empties it (ADR 29).

- pending notification: pk ``OUTBOX#<notification id>``, sk ``NOTIFICATION``; ``body`` the
  notification, ``batch_id``, ``decided_at``; gsi1pk ``OUTBOX``, gsi1sk ``<decided_at>#<id>``
  while pending (a sparse index: empty when all is sent).
- once sent: the index attributes removed, ``sent_at`` set, ``ttl`` the retention later.

The state stores write an entry in the same transaction as the alert group, Health record or
outage whose change decided it (``outbox_item``), so a decision and its notification are
committed together or not at all.
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from vigil.adapters.stats import CallStats
from vigil.alerting.outbox import OutboxEntry
from vigil.core.clock import iso, parse_time
from vigil.core.model import Notification

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sns import SNSClient

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

OUTBOX_INDEX_KEY = "OUTBOX"
SNS_BATCH = 10
"""PublishBatch takes at most 10 messages (and 256 KiB in all) a call."""
SNS_BATCH_BYTES = 250_000


def outbox_item(entry: OutboxEntry) -> dict[str, Any]:
    """The DynamoDB item (attribute values) of a pending notification."""
    notification_id = entry.notification.notification_id
    values = {
        "pk": f"OUTBOX#{notification_id}",
        "sk": "NOTIFICATION",
        "body": entry.notification.model_dump_json(),
        "batch_id": entry.batch_id,
        "decided_at": iso(entry.decided_at),
        "gsi1pk": OUTBOX_INDEX_KEY,
        "gsi1sk": f"{iso(entry.decided_at)}#{notification_id}",
    }
    return {key: _serializer.serialize(value) for key, value in values.items()}


class OutboxStore:
    def __init__(
        self,
        client: "DynamoDBClient",
        table: str,
        *,
        retention: timedelta,
        stats: CallStats | None = None,
    ) -> None:
        self._client = client
        self._table = table
        self._retention = retention
        self.stats = stats or CallStats()

    def put(self, entries: Sequence[OutboxEntry]) -> None:
        """Store entries no state item carries; an entry already there is left as it is (it
        may have been sent)."""
        for entry in entries:
            self.stats.count("PutItem")
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=outbox_item(entry),
                    ConditionExpression="attribute_not_exists(pk)",
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise

    def pending(self) -> list[OutboxEntry]:
        entries: list[OutboxEntry] = []
        start: dict[str, Any] | None = None
        while True:
            kwargs: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
            self.stats.count("Query")
            page = self._client.query(
                TableName=self._table,
                IndexName="gsi1",
                KeyConditionExpression="gsi1pk = :pk",
                ExpressionAttributeValues={":pk": {"S": OUTBOX_INDEX_KEY}},
                **kwargs,
            )
            for item in page["Items"]:
                values = {key: _deserializer.deserialize(value) for key, value in item.items()}
                entries.append(
                    OutboxEntry(
                        notification=Notification.model_validate_json(str(values["body"])),
                        batch_id=str(values["batch_id"]),
                        decided_at=parse_time(values["decided_at"], field="outbox decided_at"),
                    )
                )
            start = page.get("LastEvaluatedKey")
            if not start:
                return entries

    def mark_sent(self, entry: OutboxEntry, *, at: datetime) -> None:
        self.stats.count("UpdateItem")
        self._client.update_item(
            TableName=self._table,
            Key={
                "pk": {"S": f"OUTBOX#{entry.notification.notification_id}"},
                "sk": {"S": "NOTIFICATION"},
            },
            UpdateExpression="SET sent_at = :at, #ttl = :ttl REMOVE gsi1pk, gsi1sk",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues={
                ":at": {"S": iso(at)},
                ":ttl": {"N": str(int((at + self._retention).astimezone(UTC).timestamp()))},
            },
        )


class SnsPublisher:
    """Publishes notifications to the alerts topic, ten a ``PublishBatch`` call.

    Each message carries the email body, the chat payload and the routing attributes the
    subscriptions' filter policies read (severity, status, category, receiver, channels).
    """

    def __init__(self, client: "SNSClient", topic_arn: str, stats: CallStats | None = None):
        self._client = client
        self._topic = topic_arn
        self.stats = stats or CallStats()

    def publish(self, notifications: Sequence[Notification]) -> list[str]:
        accepted: list[str] = []
        for chunk in _chunks(notifications):
            self.stats.count("PublishBatch")
            entries = [_entry(n) for n in chunk]
            response = self._client.publish_batch(
                TopicArn=self._topic,
                PublishBatchRequestEntries=entries,  # type: ignore[arg-type]
            )
            accepted += [str(ok["Id"]) for ok in response.get("Successful", [])]
        return accepted


def _chunks(notifications: Sequence[Notification]) -> list[list[Notification]]:
    chunks: list[list[Notification]] = []
    size = 0
    for notification in notifications:
        length = len(notification.message) + len(notification.subject) + 1_000
        if not chunks or len(chunks[-1]) == SNS_BATCH or size + length > SNS_BATCH_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(notification)
        size += length
    return chunks


def _entry(n: Notification) -> dict[str, Any]:
    def text(value: str) -> dict[str, str]:
        return {"DataType": "String", "StringValue": value}

    return {
        "Id": n.notification_id,
        "Subject": n.subject,
        "Message": n.message,
        "MessageStructure": "json",
        "MessageAttributes": {
            "severity": text(n.severity.value),
            "status": text(n.status),
            "category": text(n.category),
            "notification_id": text(n.notification_id),
            # SNS refuses an empty attribute value: an unaddressed message carries none
            **({"receiver": text(n.receiver)} if n.receiver else {}),
            "channels": {"DataType": "String.Array", "StringValue": n.channels},
        },
    }
