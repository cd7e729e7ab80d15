"""Slack interactivity endpoint (a Lambda function URL): verify, then act on a button press.

The function URL has no AWS auth (Slack cannot sign AWS requests); the Slack signature is
the authentication. A request that fails it is answered 401, a malformed one 400, each with
one warning log line naming why, and nothing is acted on. ``now`` is the moment the request
reached the URL (``requestContext.timeEpoch``), for the signature's five-minute window and
for the decision or silence recorded.
"""

import base64
import binascii
import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.typing import LambdaContext
from slack_sdk.http_retry.handler import RetryHandler

from vigil.adapters.slack import SlackWebhook
from vigil.adapters.table import ApprovalStore, SilenceStore
from vigil.adapters.workflow import TaskCallback
from vigil.errors import ChatDeliveryError, InvalidEventError
from vigil.observability import logger, metrics, tracer
from vigil.settings import SlackActionsSettings
from vigil.slack_actions import (
    SLACK_HOOKS_URL,
    RejectedRequest,
    SlackRequest,
    handle,
    parse_action,
    slack_hook,
    verify,
)

SECRET_CACHE_SECONDS = 300
RESPONSE_URL_TIMEOUT = 1
"""Slack shows an error after 3 s without an answer: one attempt of at most a second."""


def _no_retries() -> list[RetryHandler]:
    return []


class _ReplyOnce(SlackWebhook):
    """The reply to a press: one attempt, no retries (a 5xx or 429 retried kept the handler
    5.2 s, past Slack's 3-second window; issue 12). Only the note in Slack can be lost: the
    decision or silence is already stored, and the HTTP answer carries the reply too."""

    retry_handlers = staticmethod(_no_retries)


@cache
def _deps() -> tuple[SlackActionsSettings, ApprovalStore, SilenceStore, TaskCallback]:
    settings = SlackActionsSettings.from_env()
    dynamodb = boto3.client("dynamodb")
    return (
        settings,
        ApprovalStore(dynamodb, settings.table_name),
        SilenceStore(dynamodb, settings.table_name),
        TaskCallback(boto3.client("stepfunctions")),
    )


def _signing_secret(settings: SlackActionsSettings) -> tuple[str, str]:
    """The signing secret, and the hooks URL a ``response_url`` must be on: Slack's, unless
    the secret names another (``hooks_url``, as the local emulator does, like the chat
    secret's ``slack_api_url``)."""
    secret = parameters.get_secret(
        settings.signing_secret_arn, transform="json", max_age=SECRET_CACHE_SECONDS
    )
    values = secret if isinstance(secret, dict) else {}
    signing, hooks = values.get("signing_secret"), values.get("hooks_url")
    return (
        signing if isinstance(signing, str) else "",
        hooks if isinstance(hooks, str) else SLACK_HOOKS_URL,
    )


def request_of(event: dict[str, Any]) -> SlackRequest:
    """The raw body, headers and arrival time of a function URL (payload 2.0) event.

    Raises :class:`RejectedRequest` (400) for a body or headers that cannot be read, before
    anything else looks at them; a missing arrival time is the platform's fault, not the
    caller's (:class:`InvalidEventError`).
    """
    context = event.get("requestContext")
    epoch_ms = context.get("timeEpoch") if isinstance(context, dict) else None
    if not isinstance(epoch_ms, int):
        raise InvalidEventError("function URL event: requestContext.timeEpoch is missing")
    body = event.get("body") or ""
    headers = event.get("headers") or {}
    if not isinstance(body, str) or not isinstance(headers, dict):
        raise RejectedRequest(400, "the request's body or headers are not readable")
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise RejectedRequest(400, f"the body is not base64-encoded UTF-8 ({exc})") from exc
    return SlackRequest(
        body=body,
        headers={str(k): str(v) for k, v in headers.items()},
        received_at=datetime.fromtimestamp(epoch_ms / 1000, UTC),
    )


def _answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings, approvals, silences, callback = _deps()
    try:
        request = request_of(event)
        signing_secret, hooks_url = _signing_secret(settings)
        verify(request, signing_secret=signing_secret)
        press = parse_action(request.body)
        reply = handle(
            press,
            now=request.received_at,
            approvals=approvals,
            callback=callback,
            silences=silences,
            approvers=settings.rules.approvers,
        )
    except RejectedRequest as exc:
        logger.warning("Slack request rejected", extra={"status": exc.status, "reason": str(exc)})
        metrics.add_metric("SlackRequestRejected", MetricUnit.Count, 1)
        return _answer(exc.status, {"error": str(exc)})
    refused = reply is not None and reply.refused
    metrics.add_metric(
        "SlackButtonRefused" if refused else "SlackButtonHandled", MetricUnit.Count, 1
    )
    (logger.warning if refused else logger.info)(
        "Slack button refused" if refused else "Slack button handled",
        extra={
            "action_id": press.action.action_id,
            "user": press.user.actor,
            "reply": reply.text if reply else None,
        },
    )
    if reply is None:
        return _answer(200, {})
    if press.response_url and not slack_hook(press.response_url, hooks_url=hooks_url):
        logger.warning(
            "Slack response_url ignored: not a Slack hook", extra={"url": press.response_url[:80]}
        )
    elif press.response_url:
        try:
            _ReplyOnce(press.response_url, timeout=RESPONSE_URL_TIMEOUT).post(reply.message())
        except ChatDeliveryError as exc:  # only the reply in Slack is lost
            logger.warning("Slack response_url failed", extra={"reason": str(exc)})
    return _answer(200, reply.message())
