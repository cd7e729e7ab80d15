"""Scheduled: one metrics cycle over every dial family (fast path, drill-down, sweep), then
Evaluate."""

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from vigil.adapters.cloudwatch import CloudWatchMetrics
from vigil.adapters.collector_state import CollectorState
from vigil.adapters.inventory import (
    HttpApis,
    LambdaDestinations,
    ResourceTags,
    RestApis,
    S3Buckets,
    ServiceQuotas,
    StateMachines,
)
from vigil.adapters.lambda_account import LambdaAccountSettings, LimitsCache
from vigil.adapters.lambda_inventory import LambdaInventory
from vigil.adapters.sqs_queues import SqsDeadLetterQueues
from vigil.adapters.stats import CallStats
from vigil.adapters.workflow import EvaluateWorkflow
from vigil.collect import collect
from vigil.dials.apigateway import ApiGatewayFamily
from vigil.dials.base import discovery_due, window_for
from vigil.dials.inventory import ScopedDeadLetters, ScopedFunctions, TagScope
from vigil.dials.lambda_functions import LambdaFamily
from vigil.dials.quotas import QuotaFamily
from vigil.dials.s3 import S3Family
from vigil.dials.sqs import DeadLetterFamily
from vigil.dials.step_functions import StepFunctionsFamily
from vigil.events import scheduled_time
from vigil.observability import logger, metrics, tracer
from vigil.rules import RulesConfig
from vigil.settings import CollectorSettings


@cache
def _config() -> tuple[CollectorSettings, RulesConfig]:
    settings = CollectorSettings.from_env()
    return settings, settings.rules


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
def _edge_clients() -> dict[str, Any]:
    """The clients only discovery and the edge families use."""
    return {
        service: boto3.client(service)
        for service in (
            "s3",
            "apigateway",
            "apigatewayv2",
            "service-quotas",
            "resourcegroupstaggingapi",
        )
    }


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
    state = CollectorState(dynamodb, settings.table_name, stats=stats)
    edge = _edge_clients()
    scope = TagScope(rules.tags, ResourceTags(edge["resourcegroupstaggingapi"], stats))
    # One ListFunctions pass per cycle at most, shared by the families that need it, with the
    # functions the tag filters exclude left out.
    functions = ScopedFunctions(
        cache(LambdaInventory(lambda_client, stats).functions),
        scope,
        state,
        discovery=discovery_due(window_for(now, rules), rules),
        now=now,
    )
    dead_letters = ScopedDeadLetters(
        SqsDeadLetterQueues(sqs, stats),
        LambdaDestinations(lambda_client, stats),
        functions,
        scope,
    )
    cycle = collect(
        families=[
            LambdaFamily(
                functions=functions,
                state=state,
                account_settings=LambdaAccountSettings(lambda_client, stats, _limits_cache()),
            ),
            DeadLetterFamily(queues=dead_letters, state=state, functions=functions),
            S3Family(S3Buckets(edge["s3"], settings.region, stats), state, scope),
            StepFunctionsFamily(StateMachines(sfn, stats), state, scope),
            ApiGatewayFamily(
                RestApis(edge["apigateway"], stats),
                HttpApis(edge["apigatewayv2"], stats),
                state,
                scope,
            ),
            QuotaFamily(ServiceQuotas(edge["service-quotas"], stats), state),
        ],
        metrics=CloudWatchMetrics(cloudwatch, stats),
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
        "metrics_by_stage": cycle.metrics_by_stage,
        "drilled": cycle.drilled,
        "watched": len(cycle.watched),
        "swept": cycle.swept,
        "resources": {name: result.resources for name, result in cycle.families.items()},
        "dead_letter_queues": cycle.resources("sqs"),
        "destination_targets": dead_letters.destination_targets,
        "signal_kinds": sorted({signal.labels.kind for signal in batch.signals}),
        "discovered": cycle.discovered,
        "api_calls": stats.by_api,
        "execution_arn": execution_arn,
    }
    logger.info("collected", extra=summary)
    return summary
