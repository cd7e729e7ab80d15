"""CloudWatch Logs subscription: the error lines of the account's Lambda functions, tracked by
fingerprint; a quiet function's first errors and new kinds of error handed to Evaluate at once
(vigil.compose.error_stream, ADR 42)."""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vigil.compose import error_stream
from vigil.core.observability import logger, metrics, tracer

_env = cache(error_stream.environment)
"""Built at the first invocation of a cold start, kept while the environment lives."""


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    account = context.invoked_function_arn.split(":")[4]
    return error_stream.run(_env(), event, account=account)
