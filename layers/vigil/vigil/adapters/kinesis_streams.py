"""Kinesis data streams: mode, open shards and retention (discovery only).

``ListStreams`` (paginated), then per stream ``DescribeStreamSummary`` (``OpenShardCount``,
``RetentionPeriodHours``, ``StreamModeDetails``) and ``ListTagsForStream``. Kinesis bills
shard hours and payload, not these control-plane calls.
"""

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from vigil.adapters.stats import CallStats
from vigil.core.errors import VigilError
from vigil.dials.resources import StreamInfo

if TYPE_CHECKING:
    from mypy_boto3_kinesis import KinesisClient

_GONE = "ResourceNotFoundException"


class StreamsUnavailable(VigilError):
    """Kinesis could not answer; the cycle fails and the scheduler retries it."""


class KinesisStreams:
    def __init__(self, client: "KinesisClient", stats: CallStats | None = None) -> None:
        self._client = client
        self.stats = stats or CallStats()

    def discover(self) -> list[StreamInfo]:
        """Every stream of the region, sorted by name; one deleted meanwhile is left out."""
        try:
            return [s for name in self._names() if (s := self.describe(name)) is not None]
        except (ClientError, BotoCoreError) as exc:
            raise StreamsUnavailable(f"Kinesis stream discovery failed: {exc}") from exc

    def describe(self, name: str) -> StreamInfo | None:
        self.stats.count("DescribeStreamSummary")
        try:
            summary = self._client.describe_stream_summary(StreamName=name)[
                "StreamDescriptionSummary"
            ]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == _GONE:
                return None
            raise
        self.stats.count("ListTagsForStream")
        tags = self._client.list_tags_for_stream(StreamName=name).get("Tags", [])
        return StreamInfo(
            name=name,
            arn=summary["StreamARN"],
            mode=summary.get("StreamModeDetails", {}).get("StreamMode", "PROVISIONED"),
            shards=int(summary.get("OpenShardCount", 0)),
            retention_hours=int(summary["RetentionPeriodHours"]),
            tags={tag["Key"]: tag.get("Value", "") for tag in tags},
        )

    def _names(self) -> list[str]:
        names: list[str] = []
        for page in self._client.get_paginator("list_streams").paginate():
            self.stats.count("ListStreams")
            names += page.get("StreamNames", [])
        return sorted(names)
