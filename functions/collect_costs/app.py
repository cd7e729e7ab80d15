"""Scheduled: refresh daily costs from Cost Explorer, assess yesterday, start Evaluate
(vigil.compose.collect_costs)."""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vigil.compose import collect_costs
from vigil.core.events import scheduled_time
from vigil.core.observability import logger, metrics, tracer

_env = cache(collect_costs.environment)
"""Built at the first invocation of a cold start, kept while the environment lives."""


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = scheduled_time(event)  # a bad event is refused before anything is read
    account = context.invoked_function_arn.split(":")[4]
    return collect_costs.run(_env(), now=now, account=account)
