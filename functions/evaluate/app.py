"""Evaluate workflow task: apply the rules to a signal batch (inline or by reference), commit
the notifications it decides to the outbox, then publish what is pending
(vigil.compose.evaluate)."""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vigil.compose import evaluate
from vigil.core.observability import logger, metrics, tracer

_env = cache(evaluate.environment)
"""Built at the first invocation of a cold start, kept while the environment lives."""


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    env = _env()
    _, _, _, region, account, *_ = context.invoked_function_arn.split(":")
    return evaluate.run(event, env=env, account=account, region=region)
