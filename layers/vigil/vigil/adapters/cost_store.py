"""Cost history and the Cost Explorer request budget in the state table.

- daily cost: pk ``COSTDAY#<dimension>`` (SERVICE, LINKED_ACCOUNT, TAG:<key>), sk the day
  (ISO), ``costs`` a JSON map of series name to USD.
- a Cost Explorer answer kept for a day: pk ``COSTFACT#<day>``, sk its name.
- Cost Explorer requests made on a day: pk ``CEREQUESTS#<day>``, sk ``count``.
"""

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
from vigil.adapters.table import (
    Store,
    conditional_failed,
    epoch,
    from_item,
    to_item,
)


class CostHistoryStore(Store):
    """Daily cost per service (one item a day) and facts kept for one day (forecast, ...)."""

    def load(self, dimension: str, since: date) -> dict[date, dict[str, float]]:
        days: dict[date, dict[str, float]] = {}
        start: dict[str, Any] | None = None
        while True:
            kwargs: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
            page = self._client.query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk AND sk >= :since",
                ExpressionAttributeValues=to_item(
                    {":pk": f"COSTDAY#{dimension}", ":since": since.isoformat()}
                ),
                **kwargs,
            )
            for item in page["Items"]:
                values = from_item(item)
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
                Item=to_item(
                    {
                        "pk": f"COSTDAY#{dimension}",
                        "sk": day.isoformat(),
                        "costs": json.dumps(costs, sort_keys=True),
                        "fetched_at": fetched_at.isoformat(),
                        "ttl": epoch(
                            datetime.combine(day, time(), tzinfo=UTC) + timedelta(days=400)
                        ),
                    }
                ),
            )

    def fact(self, name: str, day: date) -> str | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=to_item({"pk": f"COSTFACT#{day.isoformat()}", "sk": name}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return str(from_item(item)["value"]) if item else None

    def remember(self, name: str, day: date, value: str) -> None:
        self._client.put_item(
            TableName=self._table,
            Item=to_item(
                {
                    "pk": f"COSTFACT#{day.isoformat()}",
                    "sk": name,
                    "value": value,
                    "ttl": epoch(datetime.combine(day, time(), tzinfo=UTC) + timedelta(days=7)),
                }
            ),
        )


class RequestBudget(Store):
    """A per-day counter of Cost Explorer requests with a cap, kept with an atomic update."""

    def __init__(self, client: "DynamoDBClient", table: str, *, cap: int) -> None:
        super().__init__(client, table)
        self._cap = cap

    def take(self, day: date) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=to_item({"pk": f"CEREQUESTS#{day.isoformat()}", "sk": "count"}),
                UpdateExpression="ADD requests :one SET #ttl = :ttl",
                ConditionExpression="attribute_not_exists(requests) OR requests < :cap",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues=to_item(
                    {
                        ":one": 1,
                        ":cap": self._cap,
                        ":ttl": epoch(
                            datetime.combine(day, time(), tzinfo=UTC) + timedelta(days=30)
                        ),
                    }
                ),
            )
        except ClientError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True
