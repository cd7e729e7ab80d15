"""Error tracking in the state table: pk ``ERRORS#<function>``, sk ``GROUP#<fingerprint>``
(one per kind of error), ``MINUTE#<UTC minute>`` (error lines a minute), ``VOLUME`` (the
invocations a minute last measured) and ``WAKE`` (the claim of a judgement); every item has a
``ttl``.

Every write is one ``UpdateItem`` or conditional ``PutItem``, so concurrent deliveries add up
instead of overwriting each other, and a retried delivery counts its lines again (a duplicate
is better than a loss): at least once.
"""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from vigil.adapters.stats import CallStats
from vigil.adapters.table import Store, conditional_failed, epoch, from_item, to_item
from vigil.core.errors import ConflictError
from vigil.core.model import Alert, AlertState, ErrorGroup, Labels
from vigil.dials.resources import MetricQuery
from vigil.tracking.stream import Tally, Volume

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from vigil.adapters.cloudwatch import CloudWatchMetrics

_BATCH_GET_ATTEMPTS = 3
MINUTES_KEPT = timedelta(days=1)
"""Minute counts outlive any rule window."""


def _pk(function: str) -> str:
    return f"ERRORS#{function}"


def _minute(at: datetime) -> str:
    return f"MINUTE#{at.astimezone(UTC):%Y-%m-%dT%H:%M}"


class ErrorStore(Store):
    """The error groups and minute counts of every function (``vigil.tracking.stream``)."""

    def __init__(
        self, client: "DynamoDBClient", table: str, stats: CallStats | None = None
    ) -> None:
        super().__init__(client, table)
        self.stats = stats or CallStats()

    def seen(self, function: str, fingerprints: Sequence[str]) -> dict[str, ErrorGroup]:
        """The stored groups among ``fingerprints``: one ``BatchGetItem`` (a delivery holds at
        most ``groups_per_minute`` of them, 100 at the most)."""
        if not fingerprints:
            return {}
        keys = [to_item({"pk": _pk(function), "sk": f"GROUP#{fp}"}) for fp in fingerprints]
        found: list[dict[str, Any]] = []
        request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
        for _ in range(_BATCH_GET_ATTEMPTS):
            self.stats.count("BatchGetItem")
            response = self._client.batch_get_item(RequestItems=request)
            found += response.get("Responses", {}).get(self._table, [])
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
        else:
            raise ConflictError(f"the error groups of {function} stayed unprocessed")
        groups = (_group(from_item(item)) for item in found)
        return {group.fingerprint: group for group in groups}

    def record(self, tally: Tally, *, now: datetime, new_after: timedelta, budget: int) -> int:
        pk = _pk(tally.function)
        room = budget
        latest = max(tally.minutes)
        for minute, count in sorted(tally.minutes.items()):
            # Each minute's item also counts the groups written in it: the budget of a minute
            # holds across deliveries, so an error storm of ever-new messages is bounded.
            grouped = len(tally.groups) if minute == latest else 0
            written = self._update(
                pk,
                _minute(minute),
                "ADD #count :count, #groups :groups SET #ttl = :ttl",
                {":count": count, ":groups": grouped, ":ttl": epoch(minute + MINUTES_KEPT)},
                names={"#count": "count", "#groups": "groups", "#ttl": "ttl"},
                returned="UPDATED_NEW",
            )
            if grouped:
                room = budget - (int(written.get("groups", grouped)) - grouped)
        kept = tally.groups[: max(room, 0)]
        for group in kept:
            self._record_group(pk, group, now=now, new_after=new_after)
        return len(kept)

    def _record_group(
        self, pk: str, group: ErrorGroup, *, now: datetime, new_after: timedelta
    ) -> None:
        self._update(
            pk,
            f"GROUP#{group.fingerprint}",
            "ADD #count :count SET first_seen = if_not_exists(first_seen, :first),"
            " last_seen = :last, error_type = :type, message = :message, request_id = :request,"
            " trace_id = :trace, #ttl = :ttl",
            {
                ":count": group.count,
                ":first": group.first_seen.isoformat(),
                ":last": group.last_seen.isoformat(),
                ":type": group.error_type,
                ":message": group.message,
                ":request": group.request_id or "",
                ":trace": group.trace_id or "",
                # Kept while it may still make a later line "not new", plus a day.
                ":ttl": epoch(now + new_after + timedelta(days=1)),
            },
            names={"#count": "count", "#ttl": "ttl"},
            returned="NONE",
        )

    def _update(
        self,
        pk: str,
        sk: str,
        expression: str,
        values: dict[str, Any],
        *,
        names: dict[str, str],
        returned: str,
    ) -> dict[str, Any]:
        self.stats.count("UpdateItem")
        response = self._client.update_item(
            TableName=self._table,
            Key=to_item({"pk": pk, "sk": sk}),
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item(values),
            ReturnValues=returned,  # type: ignore[arg-type]
        )
        return from_item(response.get("Attributes", {}))

    def errors(self, function: str, start: datetime, end: datetime) -> dict[datetime, int]:
        self.stats.count("Query")
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :start AND :end",
            ExpressionAttributeValues=to_item(
                {
                    ":pk": _pk(function),
                    ":start": _minute(start),
                    ":end": _minute(end - timedelta(minutes=1)),
                }
            ),
            ConsistentRead=True,
        )
        return {
            datetime.strptime(str(item["sk"]), "MINUTE#%Y-%m-%dT%H:%M").replace(tzinfo=UTC): int(
                item["count"]
            )
            for item in map(from_item, response.get("Items", []))
        }

    def groups(self, function: str, *, since: datetime, limit: int) -> list[ErrorGroup]:
        """The function's groups seen since ``since``, most frequent first."""
        self.stats.count("Query")
        pages = self._client.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :group)",
            ExpressionAttributeValues=to_item({":pk": _pk(function), ":group": "GROUP#"}),
        )
        found = [
            _group(item)
            for page in pages
            for item in map(from_item, page.get("Items", []))
            if datetime.fromisoformat(str(item["last_seen"])) >= since
        ]
        return sorted(found, key=lambda g: (-g.count, g.fingerprint))[:limit]

    def volume(self, function: str) -> Volume | None:
        self.stats.count("GetItem")
        item = self._client.get_item(
            TableName=self._table, Key=to_item({"pk": _pk(function), "sk": "VOLUME"})
        ).get("Item")
        if not item:
            return None
        values = from_item(item)
        return Volume(
            per_minute=float(values["per_minute"]),
            measured_at=datetime.fromisoformat(str(values["measured_at"])),
        )

    def keep_volume(self, function: str, volume: Volume) -> None:
        self.stats.count("PutItem")
        self._client.put_item(
            TableName=self._table,
            Item=to_item(
                {
                    "pk": _pk(function),
                    "sk": "VOLUME",
                    "per_minute": str(volume.per_minute),
                    "measured_at": volume.measured_at.isoformat(),
                    "ttl": epoch(volume.measured_at + MINUTES_KEPT),
                }
            ),
        )

    def claim_wake(self, function: str, *, now: datetime, until: datetime, batch_id: str) -> bool:
        self.stats.count("PutItem")
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(
                    {
                        "pk": _pk(function),
                        "sk": "WAKE",
                        "until": epoch(until),
                        "batch_id": batch_id,
                        "ttl": epoch(until + MINUTES_KEPT),
                    }
                ),
                # A retried delivery (a crash after the claim, before the evaluation started)
                # claims again: its batch id is the same.
                ConditionExpression=(
                    "attribute_not_exists(pk) OR #until <= :now OR batch_id = :batch"
                ),
                ExpressionAttributeNames={"#until": "until"},
                ExpressionAttributeValues=to_item({":now": epoch(now), ":batch": batch_id}),
            )
        except ClientError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True


def _group(item: dict[str, Any]) -> ErrorGroup:
    return ErrorGroup(
        fingerprint=str(item["sk"]).removeprefix("GROUP#"),
        error_type=str(item["error_type"]),
        message=str(item.get("message", "")),
        count=int(item.get("count", 0)),
        first_seen=datetime.fromisoformat(str(item["first_seen"])),
        last_seen=datetime.fromisoformat(str(item["last_seen"])),
        request_id=str(item.get("request_id") or "") or None,
        trace_id=str(item.get("trace_id") or "") or None,
    )


class FunctionInvocations:
    """A function's ``Invocations`` a minute, one metric from CloudWatch."""

    def __init__(self, metrics: "CloudWatchMetrics") -> None:
        self._metrics = metrics

    def invocations(self, function: str, start: datetime, end: datetime) -> dict[datetime, float]:
        query = MetricQuery(
            id="invocations",
            namespace="AWS/Lambda",
            metric="Invocations",
            dimensions=(("FunctionName", function),),
            stat="Sum",
        )
        return self._metrics.series([query], start=start, end=end).get("invocations", {})


class AlertLookup:
    """Whether an alert is open, by its labels: one ``GetItem`` of the alert store."""

    def __init__(self, get: Callable[[str], Alert | None], stats: CallStats | None = None) -> None:
        self._get = get
        self.stats = stats or CallStats()

    def is_open(self, labels: Labels) -> bool:
        self.stats.count("GetItem")
        alert = self._get(labels.fingerprint)
        return alert is not None and alert.state in {AlertState.PENDING, AlertState.FIRING}
