"""Slack interactivity endpoint (a Lambda function URL): verify, then act on a button press.

The function URL has no AWS auth (Slack cannot sign AWS requests); the Slack signature is
the authentication. A request that fails it is answered 401, a malformed one 400, each with
one warning log line naming why, and nothing is acted on. ``now`` is the moment the request
reached the URL (``requestContext.timeEpoch``), for the signature's five-minute window and
for the decision or silence recorded.
"""

import base64
import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.typing import LambdaContext

from vigil.adapters.slack import SlackWebhook
from vigil.adapters.table import ApprovalStore, SilenceStore
from vigil.adapters.workflow import TaskCallback
from vigil.errors import ChatDeliveryError, InvalidEventError
from vigil.observability import logger, metrics, tracer
from vigil.settings import SlackActionsSettings
from vigil.slack_actions import RejectedRequest, SlackRequest, handle, parse_action, verify

SECRET_CACHE_SECONDS = 300
RESPONSE_URL_TIMEOUT = 2


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


def _signing_secret(settings: SlackActionsSettings) -> str:
    secret = parameters.get_secret(
        settings.signing_secret_arn, transform="json", max_age=SECRET_CACHE_SECONDS
    )
    value = secret.get("signing_secret") if isinstance(secret, dict) else None
    return value if isinstance(value, str) else ""


def request_of(event: dict[str, Any]) -> SlackRequest:
    """The raw body, headers and arrival time of a function URL (payload 2.0) event."""
    context = event.get("requestContext")
    epoch_ms = context.get("timeEpoch") if isinstance(context, dict) else None
    if not isinstance(epoch_ms, int):
        raise InvalidEventError("function URL event: requestContext.timeEpoch is missing")
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", errors="replace")
    headers = event.get("headers") or {}
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
    request = request_of(event)
    try:
        verify(request, signing_secret=_signing_secret(settings))
        press = parse_action(request.body)
        reply = handle(
            press,
            now=request.received_at,
            approvals=approvals,
            callback=callback,
            silences=silences,
        )
    except RejectedRequest as exc:
        logger.warning("Slack request rejected", extra={"status": exc.status, "reason": str(exc)})
        metrics.add_metric("SlackRequestRejected", MetricUnit.Count, 1)
        return _answer(exc.status, {"error": str(exc)})
    metrics.add_metric("SlackButtonHandled", MetricUnit.Count, 1)
    logger.info(
        "Slack button handled",
        extra={
            "action_id": press.action.action_id,
            "user": press.user.actor,
            "reply": reply.text if reply else None,
        },
    )
    if reply is None:
        return _answer(200, {})
    if press.response_url:
        try:
            # Slack shows an error after 3 s without an answer: a short timeout, not the
            # delivery path's patience. The action is done either way.
            SlackWebhook(press.response_url, timeout=RESPONSE_URL_TIMEOUT).post(reply.message())
        except ChatDeliveryError as exc:  # only the reply in Slack is lost
            logger.warning("Slack response_url failed", extra={"reason": str(exc)})
    return _answer(200, reply.message())
