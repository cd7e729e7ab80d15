"""The cost collector's composition: daily costs refreshed from Cost Explorer within the
request budget, yesterday assessed and the batch handed to Evaluate
(``functions/collect_costs/app.py`` is the handler)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit

from vigil.adapters.config_store import LastGoodConfig
from vigil.adapters.cost_explorer import API_NAMES, CostExplorer
from vigil.adapters.cost_store import CostHistoryStore, RequestBudget
from vigil.adapters.stats import CallStats
from vigil.adapters.workflow import EvaluateWorkflow, S3Batches
from vigil.compose.settings import CostSettings
from vigil.core.observability import logger, metrics
from vigil.cost.collect import CostCollector
from vigil.rules.document import RulesConfig
from vigil.rules.loading import load_rules

# Cost Explorer is a global service whose endpoint is in us-east-1.
COST_EXPLORER_REGION = "us-east-1"


@dataclass(frozen=True)
class Environment:
    """What every run of one cold start shares (the handler caches it)."""

    settings: CostSettings
    rules: RulesConfig
    ce: Any
    dynamodb: Any
    sfn: Any
    s3: Any


def environment() -> Environment:
    """The settings, the rules config in force (the last good one if it is invalid) and the
    clients."""
    settings = CostSettings.from_env()
    dynamodb = boto3.client("dynamodb")
    last_good = LastGoodConfig(dynamodb, settings.table_name, stats=CallStats())
    return Environment(
        settings=settings,
        rules=load_rules(settings.rules_json, last_good=last_good).rules,
        ce=boto3.client("ce", region_name=COST_EXPLORER_REGION),
        dynamodb=dynamodb,
        sfn=boto3.client("stepfunctions"),
        s3=boto3.client("s3"),
    )


def run(env: Environment, *, now: datetime, account: str) -> dict[str, Any]:
    """One cost run at ``now``; a summary of what it asked Cost Explorer (also logged)."""
    settings, rules = env.settings, env.rules
    stats = CallStats()
    budget = RequestBudget(env.dynamodb, settings.table_name, cap=rules.cost.max_requests_per_day)
    collected = CostCollector(
        explorer=CostExplorer(env.ce, budget=budget, today=now.date(), stats=stats),
        history=CostHistoryStore(env.dynamodb, settings.table_name),
        rule=rules.cost,
        account=account,
        region=settings.region,
        monthly_budget_usd=settings.monthly_budget_usd,
    ).run(now)
    execution_arn = EvaluateWorkflow(
        env.sfn,
        settings.evaluate_state_machine_arn,
        stats,
        batches=S3Batches(env.s3, settings.batch_bucket, stats),
    ).start(collected.batch)
    requests = stats.total(API_NAMES)
    metrics.add_metric("CostExplorerRequests", MetricUnit.Count, requests)
    summary = {
        "cost_explorer_requests": requests,
        "batch_id": collected.batch.batch_id,
        "signals": len(collected.batch.signals),
        "refreshed_days": collected.refreshed_days,
        "capped": collected.capped,
        "api_calls": stats.by_api,
        "execution_arn": execution_arn,
    }
    logger.info("costs collected", extra=summary)
    return summary
