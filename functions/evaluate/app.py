"""Evaluate workflow task: apply the rules to a signal batch, return the notifications."""

from datetime import timedelta
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from vigil.adapters.config_store import LastGoodConfig
from vigil.adapters.stats import CallStats
from vigil.adapters.table import (
    AlertStore,
    GroupStore,
    HealthEventStore,
    OutageStore,
    SilenceStore,
)
from vigil.config_state import LoadedRules, load_rules, with_config_signal
from vigil.evaluate import OutagePorts, RoutingPorts, evaluate
from vigil.events import parse_model
from vigil.model import SignalBatch
from vigil.observability import logger, metrics, tracer
from vigil.settings import EvaluateSettings


@cache
def _deps() -> tuple[EvaluateSettings, LoadedRules, AlertStore, RoutingPorts, OutagePorts]:
    settings = EvaluateSettings.from_env()
    dynamodb = boto3.client("dynamodb")
    loaded = load_rules(
        settings.rules_json,
        last_good=LastGoodConfig(dynamodb, settings.table_name, stats=CallStats()),
    )
    rules = loaded.rules
    retention = timedelta(days=rules.resolved_retention_days)
    store = AlertStore(dynamodb, settings.table_name, retention=retention)
    correlation = OutagePorts(
        outages=OutageStore(dynamodb, settings.table_name),
        health=HealthEventStore(dynamodb, settings.table_name, retention=retention),
        runbook_arn=settings.runbook_state_machine_arn,
    )
    routing = RoutingPorts(
        groups=GroupStore(dynamodb, settings.table_name, retention=retention),
        silences=SilenceStore(dynamodb, settings.table_name),
    )
    return settings, loaded, store, routing, correlation


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings, loaded, store, routing, correlation = _deps()
    _, _, _, region, account, *_ = context.invoked_function_arn.split(":")
    batch = with_config_signal(
        parse_model(SignalBatch, event, what="signal batch"),
        loaded,
        account=account,
        region=region,
    )
    result = evaluate(
        batch,
        rules=loaded.rules,
        store=store,
        routing=routing,
        stack=settings.stack_name,
        correlation=correlation,
    )
    metrics.add_metric("Notifications", MetricUnit.Count, result.summary.notifications)
    metrics.add_metric("MutedByOutage", MetricUnit.Count, result.summary.muted)
    metrics.add_metric("Silenced", MetricUnit.Count, result.summary.silenced)
    metrics.add_metric("Inhibited", MetricUnit.Count, result.summary.inhibited)
    return result.model_dump(mode="json")
