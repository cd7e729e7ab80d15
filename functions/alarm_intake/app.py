"""EventBridge ``CloudWatch Alarm State Change``: the alarms the user selects become Vigil
alerts, judged by the Evaluate workflow (vigil.compose.alarm_intake, ADR 47)."""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vigil.compose import alarm_intake
from vigil.core.observability import logger, metrics, tracer

_env = cache(alarm_intake.environment)
"""Built at the first invocation of a cold start, kept while the environment lives."""


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return alarm_intake.run(_env(), event)
