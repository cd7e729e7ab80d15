"""SNS deliveries moto does not make: email capture and faithful Lambda events.

moto's ``Subscription.publish`` applies the filter policy, picks the protocol's message from a
``MessageStructure=json`` document, then delivers to SQS/HTTP/Lambda; it does nothing for
``email``/``email-json``, and its Lambda event carries placeholder ``MessageAttributes``,
subject, topic and timestamp. :func:`installed` wraps it:

* ``email`` / ``email-json``: after the same filter and structure handling, the message is
  recorded in the :class:`~emulator.mailbox.Mailbox` (subject defaults to SNS's
  "AWS Notification Message").
* ``lambda`` to a function the :class:`~emulator.lambda_runtime.LambdaRuntime` manages: the
  event has the real ``MessageAttributes``, ``Subject``, ``TopicArn``, ``MessageId``,
  subscription ARN and a ``Timestamp`` at the emulator's simulated time, and is delivered as an
  asynchronous invocation (retries, then the function's dead-letter queue). If the function
  does not exist, the message goes to the subscription's ``RedrivePolicy`` queue.
* every other protocol: moto's behaviour, unchanged.

Email subscriptions are treated as confirmed (AWS first sends a confirmation mail and delivers
nothing until it is clicked).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from unittest import mock

from moto.awslambda.utils import get_backend
from moto.sns.models import Subscription

from emulator._aws import client, parse_arn
from emulator.lambda_runtime import LambdaRuntime
from emulator.mailbox import DEFAULT_SUBJECT, Email, Mailbox

log = logging.getLogger(__name__)

_CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-emulator.pem"


def _timestamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def lambda_event(
    *,
    subscription_arn: str,
    topic_arn: str,
    message_id: str,
    message: str,
    subject: str | None,
    message_attributes: dict[str, Any] | None,
    at: datetime,
) -> dict[str, Any]:
    """The event SNS sends to a Lambda subscriber."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": topic_arn,
                    "Subject": subject,
                    "Message": message,
                    "Timestamp": _timestamp(at),
                    "SignatureVersion": "1",
                    "Signature": "EMULATED",
                    "SigningCertUrl": _CERT_URL,
                    "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/"
                    f"?Action=Unsubscribe&SubscriptionArn={subscription_arn}",
                    "MessageAttributes": dict(message_attributes or {}),
                },
            }
        ]
    }


def _email_json_body(
    sub: Any, message: str, message_id: str, subject: str | None, at: datetime
) -> str:
    envelope = {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": sub.topic.arn,
        "Subject": subject,
        "Message": message,
        "Timestamp": _timestamp(at),
        "SignatureVersion": "1",
        "Signature": "EMULATED",
        "SigningCertURL": _CERT_URL,
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/"
        f"?Action=Unsubscribe&SubscriptionArn={sub.arn}",
    }
    return json.dumps(envelope, indent=2)


@contextlib.contextmanager
def installed(
    *, mailbox: Mailbox, runtime: LambdaRuntime, now: Callable[[], datetime]
) -> Iterator[None]:
    """Patch moto's SNS subscription delivery for the duration of the block."""
    original = Subscription.publish

    def publish(  # noqa: PLR0917 - moto's signature
        sub: Subscription,
        message: str,
        message_id: str,
        subject: str | None = None,
        message_attributes: dict[str, Any] | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        message_structure: str | None = None,
    ) -> None:
        handled = sub.protocol in ("email", "email-json") or (
            sub.protocol == "lambda" and _managed_lambda(runtime, sub.endpoint)
        )
        if not handled:
            return original(
                sub,
                message,
                message_id,
                subject=subject,
                message_attributes=message_attributes,
                group_id=group_id,
                deduplication_id=deduplication_id,
                message_structure=message_structure,
            )
        matcher = sub._filter_policy_matcher
        if matcher is not None and not matcher.matches(message_attributes, message):
            return None
        if message_structure == "json":
            message = sub._parse_message_structure(message, sub.protocol)
        at = now()
        if sub.protocol in ("email", "email-json"):
            body = (
                message
                if sub.protocol == "email"
                else _email_json_body(sub, message, message_id, subject, at)
            )
            mailbox.deliver(
                Email(
                    to=sub.endpoint,
                    subject=subject or DEFAULT_SUBJECT,
                    body=body,
                    protocol=sub.protocol,
                    topic_arn=sub.topic.arn,
                    subscription_arn=sub.arn,
                    message_id=message_id,
                    message_attributes=dict(message_attributes or {}),
                    sent_at=at,
                )
            )
            return None
        event = lambda_event(
            subscription_arn=sub.arn,
            topic_arn=sub.topic.arn,
            message_id=message_id,
            message=message,
            subject=subject,
            message_attributes=message_attributes,
            at=at,
        )
        function_name = _function_name(sub.endpoint)
        if function_name is None or not _function_exists(runtime, sub.endpoint):
            _redrive(sub, event)
            return None
        runtime.invoke_async(function_name, event, source="sns")
        return None

    with mock.patch.object(Subscription, "publish", publish):
        yield


def _function_name(endpoint: str) -> str | None:
    try:
        resource = parse_arn(endpoint)[4]
    except ValueError:
        return None
    parts = resource.split(":")
    return parts[1] if len(parts) >= 2 and parts[0] == "function" else None


def _managed_lambda(runtime: LambdaRuntime, endpoint: str) -> bool:
    name = _function_name(endpoint)
    return name is not None and runtime.manages(name)


def _function_exists(runtime: LambdaRuntime, endpoint: str) -> bool:
    try:
        get_backend(runtime.account_id, runtime.region).get_function(endpoint, None)
    except Exception:
        return False
    return True


def _redrive(sub: Any, event: dict[str, Any]) -> None:
    """SNS could not hand the message to Lambda: its redrive policy's queue gets it."""
    policy = sub.attributes.get("RedrivePolicy")
    if not policy:
        log.warning("SNS could not deliver to %s and the subscription has no DLQ", sub.endpoint)
        return
    target = json.loads(policy)["deadLetterTargetArn"]
    _, _, region, account, name = parse_arn(target)
    sqs = client("sqs", region)
    url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event["Records"][0]["Sns"]))
