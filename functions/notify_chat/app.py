"""SNS subscriber: deliver each alert notification (and self-watch alarm) to its receiver's
chat channels: Slack, Teams, JSON webhooks and the Amazon Q Developer topic, once each
(vigil.channels.delivery claims every destination in the delivery log before posting;
vigil.compose.notify_chat)."""

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.data_classes import SNSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from vigil.compose import notify_chat
from vigil.core.observability import logger, metrics, tracer

_env = cache(notify_chat.environment)
"""Built at the first invocation of a cold start, kept while the environment lives."""


def _wall_clock() -> datetime:
    """The one clock read of the chat path: claim leases and delivery times (ADR 31)."""
    return datetime.now(UTC)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=SNSEvent)
def lambda_handler(event: SNSEvent, context: LambdaContext) -> dict[str, Any]:
    return notify_chat.deliver_records(event, env=_env(), clock=_wall_clock)
