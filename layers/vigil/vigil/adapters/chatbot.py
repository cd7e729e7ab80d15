"""Publish custom notifications to the topic Amazon Q Developer (AWS Chatbot) subscribes to.

The topic (``ChatbotTopic``) carries nothing but custom notifications, so every message is
the rendered JSON document itself. Amazon Q Developer reads no SNS message attributes and no
subject; it posts the message to every chat channel configured with the topic.

A topic that is gone or that the function may not use (``NotFound``, ``AuthorizationError``,
``KMSAccessDenied``, ``KMSDisabled``, ``KMSNotFound``, ``KMSInvalidState``: SNS ``Publish``
errors) raises ``ChatDestinationRefused``; anything else ``ChatDeliveryError``.
"""

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from vigil.adapters.stats import CallStats
from vigil.core.errors import ChatDeliveryError, ChatDestinationRefused

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

REFUSED = frozenset(
    {
        "NotFound",
        "AuthorizationError",
        "KMSAccessDenied",
        "KMSDisabled",
        "KMSNotFound",
        "KMSInvalidState",
    }
)


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
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            failure = ChatDestinationRefused if code in REFUSED else ChatDeliveryError
            raise failure(f"{self.platform} {self._topic_arn}: {exc}") from exc
        except BotoCoreError as exc:
            raise ChatDeliveryError(f"{self.platform} {self._topic_arn}: {exc}") from exc
