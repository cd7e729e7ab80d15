"""DynamoDB tables and their global secondary indexes: billing mode, capacity, auto scaling.

Discovery only, every ``discovery_minutes``: ``ListTables`` (100 a page), then per table
``DescribeTable`` (billing mode, provisioned read and write units of the table and of each
GSI) and ``ListTagsOfResource``, and one paginated ``DescribeScalableTargets`` of Application
Auto Scaling for the whole ``dynamodb`` namespace (each target's minimum and maximum). DynamoDB
control-plane calls and Application Auto Scaling calls are not billed.
"""

from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from vigil.adapters.stats import CallStats
from vigil.core.errors import VigilError
from vigil.dials.resources import Capacity, TableInfo

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_GONE = "ResourceNotFoundException"
# Application Auto Scaling dimensions and the capacity each scales.
_SCALABLE = {
    "dynamodb:table:ReadCapacityUnits": "read",
    "dynamodb:table:WriteCapacityUnits": "write",
    "dynamodb:index:ReadCapacityUnits": "read",
    "dynamodb:index:WriteCapacityUnits": "write",
}


class TablesUnavailable(VigilError):
    """DynamoDB or Application Auto Scaling could not answer; the cycle fails and is retried."""


class DynamoDbTables:
    def __init__(
        self,
        client: "DynamoDBClient",
        # An Application Auto Scaling client (its type stubs are not among the dependencies).
        autoscaling: Any,
        stats: CallStats | None = None,
    ) -> None:
        self._client = client
        self._autoscaling = autoscaling
        self.stats = stats or CallStats()

    def discover(self) -> list[TableInfo]:
        """Every table of the region, sorted by name; a table deleted meanwhile is left out."""
        try:
            limits = self._scaling_limits()
            found = [
                table
                for name in self._names()
                if (table := self._describe(name, limits)) is not None
            ]
        except (ClientError, BotoCoreError) as exc:
            raise TablesUnavailable(f"DynamoDB table discovery failed: {exc}") from exc
        return found

    def _names(self) -> list[str]:
        names: list[str] = []
        for page in self._client.get_paginator("list_tables").paginate():
            self.stats.count("ListTables")
            names += page.get("TableNames", [])
        return sorted(names)

    def _scaling_limits(self) -> dict[tuple[str, str], int]:
        """The auto scaling maximum by (resource id, read|write): ``table/orders``,
        ``table/orders/index/by-customer``."""
        limits: dict[tuple[str, str], int] = {}
        pages = self._autoscaling.get_paginator("describe_scalable_targets").paginate(
            ServiceNamespace="dynamodb"
        )
        for page in pages:
            self.stats.count("DescribeScalableTargets")
            for target in page.get("ScalableTargets", []):
                direction = _SCALABLE.get(target["ScalableDimension"])
                if direction is not None:
                    limits[(target["ResourceId"], direction)] = int(target["MaxCapacity"])
        return limits

    def _describe(self, name: str, limits: dict[tuple[str, str], int]) -> TableInfo | None:
        self.stats.count("DescribeTable")
        try:
            table = self._client.describe_table(TableName=name)["Table"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == _GONE:
                return None
            raise
        mode = table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")

        def capacity(throughput: Any, resource: str) -> Capacity | None:
            if mode != "PROVISIONED" or not throughput:
                return None
            read = int(throughput.get("ReadCapacityUnits", 0))
            write = int(throughput.get("WriteCapacityUnits", 0))
            return Capacity(
                read=read,
                write=write,
                read_max=max(read, limits.get((resource, "read"), read)),
                write_max=max(write, limits.get((resource, "write"), write)),
            )

        self.stats.count("ListTagsOfResource")
        tags = self._client.list_tags_of_resource(ResourceArn=table["TableArn"]).get("Tags", [])
        return TableInfo(
            name=name,
            arn=table["TableArn"],
            billing_mode=mode,
            capacity=capacity(table.get("ProvisionedThroughput"), f"table/{name}"),
            indexes={
                index["IndexName"]: capacity(
                    index.get("ProvisionedThroughput"), f"table/{name}/index/{index['IndexName']}"
                )
                for index in table.get("GlobalSecondaryIndexes", [])
            },
            tags={tag["Key"]: tag["Value"] for tag in tags},
        )
