"""Scheduled: one metrics cycle (fast path, dials, dead-letter queues, drill-down, sweep), then
Evaluate."""

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from vigil.adapters.cloudwatch import CloudWatchMetrics
from vigil.adapters.collector_state import CollectorState
from vigil.adapters.config_store import LastGoodConfig
from vigil.adapters.lambda_account import LambdaAccountSettings, LimitsCache
from vigil.adapters.lambda_inventory import LambdaInventory
from vigil.adapters.sqs_queues import SqsDeadLetterQueues
from vigil.adapters.stats import CallStats
from vigil.adapters.workflow import EvaluateWorkflow
from vigil.collect import collect_lambda
from vigil.config_state import load_rules
from vigil.events import scheduled_time
from vigil.observability import logger, metrics, tracer
from vigil.rules import RulesConfig
from vigil.settings import CollectorSettings


@cache
def _config() -> tuple[CollectorSettings, RulesConfig]:
    settings = CollectorSettings.from_env()
    last_good = LastGoodConfig(boto3.client("dynamodb"), settings.table_name, stats=CallStats())
    return settings, load_rules(settings.rules_json, last_good=last_good).rules


@cache
def _clients() -> tuple[Any, Any, Any, Any, Any]:
    return (
        boto3.client("cloudwatch"),
        boto3.client("lambda"),
        boto3.client("stepfunctions"),
        boto3.client("dynamodb"),
        boto3.client("sqs"),
    )


@cache
def _limits_cache() -> LimitsCache:
    """The account's Lambda limits, kept by this instance for up to an hour."""
    return LimitsCache()


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = scheduled_time(event)
    settings, rules = _config()
    cloudwatch, lambda_client, sfn, dynamodb, sqs = _clients()
    stats = CallStats()
    account = context.invoked_function_arn.split(":")[4]
    cycle = collect_lambda(
        inventory=LambdaInventory(lambda_client, stats),
        metrics=CloudWatchMetrics(cloudwatch, stats),
        state=CollectorState(dynamodb, settings.table_name, stats=stats),
        account_settings=LambdaAccountSettings(lambda_client, stats, _limits_cache()),
        dead_letters=SqsDeadLetterQueues(sqs, stats),
        rules=rules,
        now=now,
        account=account,
        region=settings.region,
    )
    batch = cycle.batch
    execution_arn = EvaluateWorkflow(sfn, settings.evaluate_state_machine_arn, stats).start(batch)
    metrics.add_metric("SignalsCollected", MetricUnit.Count, len(batch.signals))
    metrics.add_metric("MetricsRequested", MetricUnit.Count, stats.metrics_requested)
    summary = {
        "batch_id": batch.batch_id,
        "signals": len(batch.signals),
        "metrics_requested": stats.metrics_requested,
        "drilled": cycle.drilled,
        "watched": len(cycle.watched),
        "swept": cycle.swept,
        "dead_letter_queues": cycle.dead_letter_queues,
        "discovered": cycle.discovered,
        "api_calls": stats.by_api,
        "execution_arn": execution_arn,
    }
    logger.info("collected", extra=summary)
    return summary
