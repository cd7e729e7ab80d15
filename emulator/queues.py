"""The scenario's SQS queues in moto, acted on at simulated minutes, and their metrics.

moto implements SQS but publishes no ``AWS/SQS`` metrics. :class:`QueueDriver` creates the
queues of the scenario's ``queues:`` section (and, for ``dlq_for``, the source queue whose
``RedrivePolicy`` names the dead-letter queue, so that Vigil's discovery finds it), then, for
every simulated minute up to the clock's next step, once:

* purges the queues with a ``purge`` at that minute, then sends the messages of a ``put``;
* writes each non-empty queue's ``ApproximateAgeOfOldestMessage`` (dimension ``QueueName``):
  the seconds from the put of the oldest message still queued to the end of the minute,
  timestamped at the minute's start, as SQS publishes one datapoint a minute;
* writes a ``dlq_for`` source queue's ``NumberOfMessagesReceived``, its ``received`` a minute.

Messages are not expired by simulated time: a scenario purges a queue before its retention.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from emulator._aws import ACCOUNT_ID, REGION, client
from emulator.scenario import QueueSpec, Scenario

NAMESPACE = "AWS/SQS"
_MAX_RECEIVE_COUNT = 5


def received_datums(spec: QueueSpec, minute: datetime) -> list[dict[str, Any]]:
    """The receives of the source queue of one dead-letter queue for one minute."""
    if spec.dlq_for is None or not spec.received:
        return []
    return [
        {
            "MetricName": "NumberOfMessagesReceived",
            "Dimensions": [{"Name": "QueueName", "Value": spec.dlq_for}],
            "Timestamp": minute,
            "Unit": "Count",
            "Value": float(spec.received),
        }
    ]


def age_datums(spec: QueueSpec, minute: datetime, offset: timedelta) -> list[dict[str, Any]]:
    """The age of the oldest message of one queue for one minute (none when it is empty)."""
    oldest = spec.oldest(offset)
    if oldest is None:
        return []
    age = offset + timedelta(minutes=1) - oldest
    return [
        {
            "MetricName": "ApproximateAgeOfOldestMessage",
            "Dimensions": [{"Name": "QueueName", "Value": spec.name}],
            "Timestamp": minute,
            "Unit": "Seconds",
            "Value": age.total_seconds(),
        }
    ]


class QueueDriver:
    """Creates the scenario's queues and plays their puts and purges; see the module docstring."""

    def __init__(self, *, start: datetime, scenario: Scenario | None, region: str = REGION):
        self._scenario = scenario
        self._region = region
        self._sqs = client("sqs", region)
        self._cloudwatch = client("cloudwatch", region)
        self._written_until = start.replace(second=0, microsecond=0)
        self.messages_sent = 0

    def url(self, name: str) -> str:
        return f"https://sqs.{self._region}.amazonaws.com/{ACCOUNT_ID}/{name}"

    def create_queues(self) -> list[str]:
        """Create every queue of the scenario in moto; return their names."""
        created: list[str] = []
        for spec in self._scenario.queues if self._scenario else ():
            self._sqs.create_queue(
                QueueName=spec.name,
                Attributes={"MessageRetentionPeriod": str(int(spec.retention.total_seconds()))},
            )
            created.append(spec.name)
            if spec.dlq_for is not None:
                target = f"arn:aws:sqs:{self._region}:{ACCOUNT_ID}:{spec.name}"
                policy = {"deadLetterTargetArn": target, "maxReceiveCount": _MAX_RECEIVE_COUNT}
                self._sqs.create_queue(
                    QueueName=spec.dlq_for, Attributes={"RedrivePolicy": json.dumps(policy)}
                )
                created.append(spec.dlq_for)
        return created

    def write_until(self, until: datetime) -> int:
        """Play every minute in ``[written_until, floor(until))``; return datapoints written."""
        end = until.replace(second=0, microsecond=0)
        scenario = self._scenario
        datums: list[dict[str, Any]] = []
        minute = self._written_until
        while scenario is not None and minute < end:
            if scenario.start <= minute < scenario.end:
                offset = minute - scenario.start
                for spec in scenario.queues:
                    self._act(spec, offset)
                    datums += age_datums(spec, minute, offset)
                    datums += received_datums(spec, minute)
            minute += timedelta(minutes=1)
        for index in range(0, len(datums), 500):
            self._cloudwatch.put_metric_data(
                Namespace=NAMESPACE, MetricData=datums[index : index + 500]
            )
        self._written_until = max(self._written_until, end)
        return len(datums)

    def _act(self, spec: QueueSpec, offset: timedelta) -> None:
        if offset in spec.purges:
            self._sqs.purge_queue(QueueUrl=self.url(spec.name))
        for number in range(sum(count for at, count in spec.puts if at == offset)):
            self._sqs.send_message(
                QueueUrl=self.url(spec.name),
                MessageBody=json.dumps({"scenario_offset": str(offset), "number": number}),
            )
            self.messages_sent += 1
