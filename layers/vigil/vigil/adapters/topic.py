"""SNS: publish a notification to the alerts topic the way the workflows do.

The message attributes are the ones the Evaluate and OutageRunbook workflows set
(``statemachines/*.asl.json``), so the email subscription's filter policy and the chat
function's routing treat the message like any other.
"""

import json
from typing import TYPE_CHECKING

from vigil.adapters.stats import CallStats
from vigil.core.model import Notification

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import MessageAttributeValueTypeDef


class AlertsTopic:
    def __init__(self, client: "SNSClient", topic_arn: str, stats: CallStats | None = None) -> None:
        self._client = client
        self._arn = topic_arn
        self.stats = stats or CallStats()

    def publish(self, notification: Notification) -> str:
        """Publish; returns the SNS message id."""
        attributes: dict[str, MessageAttributeValueTypeDef] = {
            name: {"DataType": "String", "StringValue": value}
            for name, value in (
                ("severity", notification.severity.value),
                ("status", notification.status),
                ("category", notification.category),
                ("notification_id", notification.notification_id),
                ("receiver", notification.receiver),
            )
            if value  # SNS refuses empty attribute values; no receiver means the root's
        }
        attributes["channels"] = {
            "DataType": "String.Array",
            "StringValue": json.dumps(json.loads(notification.channels)),
        }
        self.stats.count("Publish")
        response = self._client.publish(
            TopicArn=self._arn,
            Subject=notification.subject,
            Message=notification.message,
            MessageStructure="json",
            MessageAttributes=attributes,
        )
        return response["MessageId"]
