"""AWS Health: ``aws.health`` EventBridge events (primary) and a scheduled catch-up poll of
the Health API; each yields signal batches for the Evaluate workflow."""

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from vigil.adapters.config_store import LastGoodConfig
from vigil.adapters.health_api import HealthApi, HealthApiUnavailable, HealthSubscriptionRequired
from vigil.adapters.stats import CallStats
from vigil.adapters.workflow import EvaluateWorkflow
from vigil.collect_health import batch_from_event, poll
from vigil.config_state import load_rules
from vigil.events import scheduled_time
from vigil.model import SignalBatch
from vigil.observability import logger, metrics, tracer
from vigil.rules import RulesConfig
from vigil.settings import HealthSettings

# Fail over quickly: the other Health region is one call away.
_HEALTH_CLIENT_CONFIG = Config(
    connect_timeout=3, read_timeout=10, retries={"max_attempts": 2, "mode": "standard"}
)


@dataclass
class _Environment:
    settings: HealthSettings
    rules: RulesConfig
    sfn: Any
    health_clients: dict[str, Any]
    api_unavailable: bool = False
    """Set once the Health API said this account has no support plan: later polls in this
    execution environment skip it quietly (a cold start checks again)."""

    def health_client(self, region: str) -> Any:
        if region not in self.health_clients:
            self.health_clients[region] = boto3.client(
                "health", region_name=region, config=_HEALTH_CLIENT_CONFIG
            )
        return self.health_clients[region]


@cache
def _env() -> _Environment:
    settings = HealthSettings.from_env()
    last_good = LastGoodConfig(boto3.client("dynamodb"), settings.table_name, stats=CallStats())
    rules = load_rules(settings.rules_json, last_good=last_good).rules
    return _Environment(settings, rules, boto3.client("stepfunctions"), {})


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    env = _env()
    account = context.invoked_function_arn.split(":")[4]
    stats = CallStats()
    if isinstance(event, dict) and event.get("source") == "aws.health":
        batch = batch_from_event(event, rules=env.rules)
        batches = [batch] if batch is not None else []
        feed = "event"
    else:
        batches = _poll(env, scheduled_time(event), account, stats)
        feed = "poll"
    workflow = EvaluateWorkflow(env.sfn, env.settings.evaluate_state_machine_arn, stats)
    executions = [workflow.start(batch) for batch in batches]
    events = sum(len(batch.health_events) for batch in batches)
    metrics.add_metric("HealthEventsCollected", MetricUnit.Count, events)
    summary = {"feed": feed, "events": events, "executions": executions, "api_calls": stats.by_api}
    logger.info("health collected", extra=summary)
    return summary


def _poll(env: _Environment, now: datetime, account: str, stats: CallStats) -> list[SignalBatch]:
    if env.api_unavailable:
        return []
    api = HealthApi(env.health_client, stats=stats, organization=env.settings.organization_view)
    try:
        return poll(api, rules=env.rules, now=now, account=account)
    except HealthSubscriptionRequired:
        env.api_unavailable = True
        logger.warning(
            "AWS Health API unavailable: this account has no Business or Enterprise support"
            " plan (SubscriptionRequiredException). Vigil keeps working from aws.health"
            " EventBridge events; the catch-up poll is off until the next cold start."
        )
        return []
    except HealthApiUnavailable as exc:
        logger.warning("AWS Health poll skipped", extra={"error": str(exc)})
        return []
