"""Evaluate workflow task: apply the rules to a signal batch, return the notifications."""

from datetime import timedelta
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from vigil.adapters.table import AlertStore
from vigil.evaluate import evaluate
from vigil.events import parse_model
from vigil.model import SignalBatch
from vigil.observability import logger, metrics, tracer
from vigil.rules import RulesConfig
from vigil.settings import CommonSettings


@cache
def _deps() -> tuple[CommonSettings, RulesConfig, AlertStore]:
    settings = CommonSettings.from_env()
    rules = settings.rules
    store = AlertStore(
        boto3.client("dynamodb"),
        settings.table_name,
        retention=timedelta(days=rules.resolved_retention_days),
    )
    return settings, rules, store


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings, rules, store = _deps()
    batch = parse_model(SignalBatch, event, what="signal batch")
    result = evaluate(batch, rules=rules, store=store, stack=settings.stack_name)
    metrics.add_metric("Notifications", MetricUnit.Count, result.summary.notifications)
    return result.model_dump(mode="json")
