"""Read-only views of the state table for the ``vigil`` command: incidents and open alerts.

Both read the sparse index ``gsi1``, which holds only what is open or listed (active alerts,
incidents, silences, open outages and groups), never the resolved history: listing the
incidents is one Query of ``gsi1pk = INCIDENTS``, listing the open alerts one Scan of that
small index filtered to ``ACTIVE#`` partitions (the alerts are partitioned by kind, and a
Scan needs no list of kinds).
"""

from typing import TYPE_CHECKING, Any

from vigil.adapters.stats import CallStats
from vigil.adapters.table import from_item, query_bodies, to_item
from vigil.core.model import Alert
from vigil.runbook.incident import Incident

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class TableViews:
    def __init__(
        self, client: "DynamoDBClient", table: str, stats: CallStats | None = None
    ) -> None:
        self._client = client
        self._table = table
        self.stats = stats or CallStats()

    def incidents(self) -> list[Incident]:
        """Every recorded incident, newest first."""
        bodies = query_bodies(
            self._client, self._table, "INCIDENTS", newest_first=True, stats=self.stats
        )
        return [Incident.model_validate_json(body) for body in bodies]

    def open_alerts(self) -> list[Alert]:
        """Pending and firing alerts, longest-standing first."""
        alerts: list[Alert] = []
        start: dict[str, Any] | None = None
        while True:
            kwargs: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
            self.stats.count("Scan")
            page = self._client.scan(
                TableName=self._table,
                IndexName="gsi1",
                FilterExpression="begins_with(gsi1pk, :active)",
                ExpressionAttributeValues=to_item({":active": "ACTIVE#"}),
                **kwargs,
            )
            alerts += [
                Alert.model_validate_json(str(from_item(item)["body"])) for item in page["Items"]
            ]
            start = page.get("LastEvaluatedKey")
            if not start:
                return sorted(alerts, key=lambda alert: (alert.first_seen, alert.fingerprint))
