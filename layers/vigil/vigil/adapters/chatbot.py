"""Publish custom notifications to the topic Amazon Q Developer (AWS Chatbot) subscribes to.

The topic (``ChatbotTopic``) carries nothing but custom notifications, so every message is
the rendered JSON document itself. Amazon Q Developer reads no SNS message attributes and no
subject; it posts the message to every chat channel configured with the topic.
"""

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from vigil.adapters.stats import CallStats
from vigil.errors import ChatDeliveryError

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


class ChatbotTopic:
    platform = "Amazon Q Developer topic"

    def __init__(self, client: "SNSClient", topic_arn: str, *, stats: CallStats) -> None:
        self._client = client
        self._topic_arn = topic_arn
        self._stats = stats

    def post(self, message: dict[str, Any]) -> None:
        self._stats.count("sns:Publish")
        try:
            self._client.publish(TopicArn=self._topic_arn, Message=json.dumps(message))
        except (ClientError, BotoCoreError) as exc:
            raise ChatDeliveryError(f"{self.platform} {self._topic_arn}: {exc}") from exc
