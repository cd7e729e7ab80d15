"""Scheduled: refresh daily costs from Cost Explorer, assess yesterday, start Evaluate."""

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from vigil.adapters.config_store import LastGoodConfig
from vigil.adapters.cost_explorer import API_NAMES, CostExplorer
from vigil.adapters.stats import CallStats
from vigil.adapters.table import CostHistoryStore, RequestBudget
from vigil.adapters.workflow import EvaluateWorkflow, S3Batches
from vigil.collect_costs import CostCollector
from vigil.config_state import load_rules
from vigil.events import scheduled_time
from vigil.observability import logger, metrics, tracer
from vigil.rules import RulesConfig
from vigil.settings import CostSettings

# Cost Explorer is a global service whose endpoint is in us-east-1.
COST_EXPLORER_REGION = "us-east-1"


@cache
def _config() -> tuple[CostSettings, RulesConfig]:
    settings = CostSettings.from_env()
    last_good = LastGoodConfig(boto3.client("dynamodb"), settings.table_name, stats=CallStats())
    return settings, load_rules(settings.rules_json, last_good=last_good).rules


@cache
def _clients() -> tuple[Any, Any, Any]:
    return (
        boto3.client("ce", region_name=COST_EXPLORER_REGION),
        boto3.client("dynamodb"),
        boto3.client("stepfunctions"),
    )


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = scheduled_time(event)
    settings, rules = _config()
    ce, dynamodb, sfn = _clients()
    stats = CallStats()
    budget = RequestBudget(dynamodb, settings.table_name, cap=rules.cost.max_requests_per_day)
    run = CostCollector(
        explorer=CostExplorer(ce, budget=budget, today=now.date(), stats=stats),
        history=CostHistoryStore(dynamodb, settings.table_name),
        rule=rules.cost,
        account=context.invoked_function_arn.split(":")[4],
        region=settings.region,
        monthly_budget_usd=settings.monthly_budget_usd,
    ).run(now)
    execution_arn = EvaluateWorkflow(
        sfn,
        settings.evaluate_state_machine_arn,
        stats,
        batches=S3Batches(boto3.client("s3"), settings.batch_bucket, stats),
    ).start(run.batch)
    requests = stats.total(API_NAMES)
    metrics.add_metric("CostExplorerRequests", MetricUnit.Count, requests)
    summary = {
        "cost_explorer_requests": requests,
        "batch_id": run.batch.batch_id,
        "signals": len(run.batch.signals),
        "refreshed_days": run.refreshed_days,
        "capped": run.capped,
        "api_calls": stats.by_api,
        "execution_arn": execution_arn,
    }
    logger.info("costs collected", extra=summary)
    return summary
