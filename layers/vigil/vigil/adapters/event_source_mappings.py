"""Lambda event source mappings that read streams (Kinesis, DynamoDB Streams): discovery only.

``ListEventSourceMappings`` (100 a page) gives each mapping's function and source; for a mapping
that reads a stream the record keeps the source's retention, which the iterator age is judged
against: a Kinesis stream's ``RetentionPeriodHours`` (``DescribeStreamSummary``), 24 hours for
a DynamoDB stream (fixed by DynamoDB). The function's tags (``ListTags``) stand for the
mapping's. Other sources (SQS, Kafka, MQ, DocumentDB) have no ``IteratorAge`` and are skipped.
"""

from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from vigil.adapters.stats import CallStats
from vigil.core.errors import VigilError
from vigil.dials.resources import StreamMapping

if TYPE_CHECKING:
    from mypy_boto3_kinesis import KinesisClient
    from mypy_boto3_lambda import LambdaClient

DYNAMODB_STREAM_RETENTION_HOURS = 24


class MappingsUnavailable(VigilError):
    """Lambda or Kinesis could not answer; the cycle fails and the scheduler retries it."""


class EventSourceMappings:
    def __init__(
        self,
        client: "LambdaClient",
        kinesis: "KinesisClient",
        stats: CallStats | None = None,
    ) -> None:
        self._client = client
        self._kinesis = kinesis
        self.stats = stats or CallStats()

    def discover(self) -> list[StreamMapping]:
        """The mappings that read a stream, sorted by function and UUID."""
        try:
            found = [
                mapping for item in self._mappings() if (mapping := self._mapping(item)) is not None
            ]
        except (ClientError, BotoCoreError) as exc:
            raise MappingsUnavailable(f"event source mapping discovery failed: {exc}") from exc
        return sorted(found, key=lambda m: (m.function, m.uuid))

    def _mappings(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in self._client.get_paginator("list_event_source_mappings").paginate():
            self.stats.count("ListEventSourceMappings")
            items += [dict(item) for item in page.get("EventSourceMappings", [])]
        return items

    def _mapping(self, item: dict[str, Any]) -> StreamMapping | None:
        source = str(item.get("EventSourceArn", ""))
        service = source.split(":")[2] if source.count(":") >= 5 else ""
        if service == "kinesis":
            retention = self._kinesis_retention(source)
        elif service == "dynamodb" and "/stream/" in source:
            retention = DYNAMODB_STREAM_RETENTION_HOURS
        else:
            return None
        if retention is None:
            return None
        # The mapping names a function ARN, possibly qualified (``...:function:name:alias``).
        prefix, _, rest = str(item["FunctionArn"]).partition(":function:")
        function = rest.split(":")[0]
        self.stats.count("ListTags")
        tags = self._client.list_tags(Resource=f"{prefix}:function:{function}")
        return StreamMapping(
            uuid=str(item["UUID"]),
            function=function,
            source_arn=source,
            retention_hours=retention,
            state=str(item.get("State", "")),
            tags=dict(tags.get("Tags", {})),
        )

    def _kinesis_retention(self, stream_arn: str) -> int | None:
        self.stats.count("DescribeStreamSummary")
        try:
            summary = self._kinesis.describe_stream_summary(StreamARN=stream_arn)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise
        return int(summary["StreamDescriptionSummary"]["RetentionPeriodHours"])
