"""Slack interactivity endpoint (a Lambda function URL): verify, queue, then act on a press.

The function URL has no AWS auth (Slack cannot sign AWS requests); the Slack signature is
the authentication. Two kinds of event reach the handler (vigil.runbook.slack_actions, ADR 32):

- a request (function URL, payload 2.0, parsed with Powertools' ``LambdaFunctionUrlEvent``):
  verified and checked, queued as an asynchronous invocation of this function, answered 200
  within Slack's 3 seconds; a request that fails is answered 4xx and nothing is acted on;
- a queued press (``{"vigil_slack_press": ...}``, only from this function): the decision or
  silence, a refusal recorded and announced, the reply to ``response_url``.

``now`` is the moment the request reached the URL (``requestContext.timeEpoch``).
"""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vigil.compose import slack_actions
from vigil.core.observability import logger, metrics, tracer

_deps = cache(slack_actions.environment)
"""Built at the first invocation of a cold start, kept while the environment lives."""


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return slack_actions.handle(event, env=_deps(), function_arn=context.invoked_function_arn)
