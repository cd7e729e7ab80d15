"""SQS dead-letter queues: which queues they are (discovery), and how full (every cycle).

Discovery lists the account's queues in the region (``ListQueues``, 1,000 a page) and reads each
one's ``QueueArn`` and ``RedrivePolicy`` (``GetQueueAttributes``): a queue named as another's
``deadLetterTargetArn``, or as a Lambda function's ``DeadLetterConfig`` target, is a dead-letter
queue, and the queues whose policies name it are its sources
(:meth:`SqsDeadLetterQueues.sources`). A cycle then asks only those for
``ApproximateNumberOfMessages`` and ``MessageRetentionPeriod``: one SQS request per queue
($0.40 per million after the first million a month), no ``GetMetricData``.
A queue deleted since discovery is skipped until the next discovery forgets it.
"""

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from vigil.adapters.stats import CallStats
from vigil.core.errors import VigilError
from vigil.dials.resources import QueueDepth

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeFilterType

# ListQueues returns at most 1,000 queue URLs a call.
PAGE_SIZE = 1000
_GONE = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}


class QueuesUnavailable(VigilError):
    """SQS could not answer; the cycle fails and the scheduler retries it."""


class SqsDeadLetterQueues:
    def __init__(self, client: "SQSClient", stats: CallStats | None = None) -> None:
        self._client = client
        self.stats = stats or CallStats()
        self._sources: dict[str, list[str]] = {}

    def discover(self, lambda_targets: Iterable[str]) -> list[str]:
        """The URLs of the region's dead-letter queues, sorted.

        ``lambda_targets`` are the ARNs of Lambda functions' dead-letter targets; those that are
        not queues of this account and region (SNS topics, other regions) are not watched.
        """
        targets = set(lambda_targets)
        arns: dict[str, str] = {}
        redriven: dict[str, list[str]] = {}
        for url in self._urls():
            attributes = self._attributes(url, ["QueueArn", "RedrivePolicy"])
            if attributes is None:
                continue
            arns[url] = attributes["QueueArn"]
            if "RedrivePolicy" in attributes:
                # {"deadLetterTargetArn": "arn:aws:sqs:...", "maxReceiveCount": 5}
                policy = json.loads(attributes["RedrivePolicy"])
                target = str(policy.get("deadLetterTargetArn", ""))
                targets.add(target)
                redriven.setdefault(target, []).append(url.rsplit("/", 1)[-1])
        found = sorted(url for url, arn in arns.items() if arn in targets)
        self._sources = {url: sorted(redriven[arns[url]]) for url in found if arns[url] in redriven}
        return found

    def sources(self) -> dict[str, list[str]]:
        """The names of the queues that redrive to each dead-letter queue (by its URL), as the
        last :meth:`discover` found them; a Lambda dead-letter queue has none."""
        return self._sources

    def depths(self, urls: Iterable[str]) -> list[QueueDepth]:
        """Each queue's visible messages and retention; queues that no longer exist are left out."""
        found: list[QueueDepth] = []
        for url in urls:
            attributes = self._attributes(
                url, ["ApproximateNumberOfMessages", "MessageRetentionPeriod"]
            )
            if attributes is not None:
                found.append(
                    QueueDepth(
                        url=url,
                        visible=int(attributes["ApproximateNumberOfMessages"]),
                        retention_seconds=int(attributes["MessageRetentionPeriod"]),
                    )
                )
        return found

    def _urls(self) -> list[str]:
        urls: list[str] = []
        pages = self._client.get_paginator("list_queues").paginate(
            PaginationConfig={"PageSize": PAGE_SIZE}
        )
        try:
            for page in pages:
                self.stats.count("ListQueues")
                urls += page.get("QueueUrls", [])
        except (ClientError, BotoCoreError) as exc:
            raise QueuesUnavailable(f"ListQueues failed: {exc}") from exc
        return urls

    def _attributes(
        self, url: str, names: list["QueueAttributeFilterType"]
    ) -> dict[str, str] | None:
        self.stats.count("GetQueueAttributes")
        try:
            answer = self._client.get_queue_attributes(QueueUrl=url, AttributeNames=names)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _GONE:
                return None
            raise QueuesUnavailable(f"GetQueueAttributes failed for {url}: {exc}") from exc
        except BotoCoreError as exc:
            raise QueuesUnavailable(f"GetQueueAttributes failed for {url}: {exc}") from exc
        return {str(name): value for name, value in answer.get("Attributes", {}).items()}
