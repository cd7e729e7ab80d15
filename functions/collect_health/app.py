"""AWS Health: ``aws.health`` EventBridge events (primary) and a scheduled catch-up poll of
the Health API; each yields signal batches for the Evaluate workflow
(vigil.compose.collect_health)."""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vigil.compose import collect_health
from vigil.core.observability import logger, metrics, tracer

_env = cache(collect_health.environment)
"""Built at the first invocation of a cold start, kept while the environment lives."""


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    env = _env()
    account = context.invoked_function_arn.split(":")[4]
    return collect_health.run(event, env=env, account=account)
