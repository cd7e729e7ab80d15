"""The last good rules config, one item of the state table (``CONFIG#rules`` / ``LAST_GOOD``).

Read once per cold start, written only when the configured document changed (its digest
differs), so a stack at rest adds one GetItem per cold start per function.
"""

from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from vigil.adapters.stats import CallStats

logger = Logger(child=True)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_KEY = {"pk": {"S": "CONFIG#rules"}, "sk": {"S": "LAST_GOOD"}}


class LastGoodConfig:
    def __init__(self, client: "DynamoDBClient", table: str, *, stats: CallStats) -> None:
        self._client = client
        self._table = table
        self._stats = stats

    def get(self) -> tuple[str, str] | None:
        self._stats.count("dynamodb:GetItem")
        item = self._client.get_item(TableName=self._table, Key=_KEY, ConsistentRead=True).get(
            "Item"
        )
        if not item:
            return None
        return item["document"]["S"], item["digest"]["S"]

    def put(self, document: str, digest: str) -> None:
        """Remember ``document``. A failure is logged, not raised: the configured document is
        valid and runs either way; only a later fallback would find an older one."""
        self._stats.count("dynamodb:PutItem")
        try:
            self._client.put_item(
                TableName=self._table,
                Item={**_KEY, "document": {"S": document}, "digest": {"S": digest}},
            )
        except (ClientError, BotoCoreError) as exc:
            logger.warning("could not store the last good rules config", extra={"error": str(exc)})
