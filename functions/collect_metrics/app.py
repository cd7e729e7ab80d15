"""Scheduled: one metrics cycle over every dial family (fast path, drill-down, sweep), then
Evaluate; from the collect workflow (ADR 51): one target's cycle, or the merge of every
target's batch (vigil.compose.collect_metrics)."""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vigil.accounts.fanout import MergeRequest, Target, too_late
from vigil.compose import collect_metrics
from vigil.core.clock import parse_time
from vigil.core.events import parse_model, scheduled_time
from vigil.core.observability import logger, metrics, tracer

_env = cache(collect_metrics.environment)
"""Built at the first invocation of a cold start, kept while the environment lives."""


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if isinstance(event, dict) and "merge" in event:
        request = parse_model(MergeRequest, event["merge"], what="collect workflow merge")
        return collect_metrics.merge(_env(), request=request)
    if isinstance(event, dict) and "target" in event:
        target = parse_model(Target, event["target"], what="collect workflow target")
        now = parse_time(event.get("now"), field="collect workflow: now")
        late = "started" in event and too_late(
            parse_time(event["started"], field="collect workflow: started"),
            parse_time(event.get("entered"), field="collect workflow: entered"),
        )
        return collect_metrics.collect_target(_env(), target=target, now=now, late=late)
    now = scheduled_time(event)  # a bad event is refused before anything is read
    account = context.invoked_function_arn.split(":")[4]
    return collect_metrics.run(_env(), now=now, account=account)
