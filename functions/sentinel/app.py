"""Scheduled: check that the primary Vigil is evaluating and announce a change
(vigil.compose.sentinel)."""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vigil.compose import sentinel
from vigil.core.events import scheduled_time
from vigil.core.observability import logger, tracer

_env = cache(sentinel.environment)
"""Built at the first invocation of a cold start, kept while the environment lives."""


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = scheduled_time(event)  # a bad event is refused before anything is read
    account = context.invoked_function_arn.split(":")[4]
    return sentinel.run(_env(), now=now, account=account)
