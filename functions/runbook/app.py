"""OutageRunbook workflow task: the runbook's steps, chosen by ``step`` (vigil.runbook.steps)."""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vigil.compose import runbook
from vigil.core.observability import logger, tracer

_env = cache(runbook.environment)
"""Built at the first invocation of a cold start, kept while the environment lives."""


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    account = context.invoked_function_arn.split(":")[4]
    return runbook.run(event, env=_env(), account=account)
