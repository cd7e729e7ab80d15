"""The AWS Health collector's composition: an ``aws.health`` event or the scheduled catch-up
poll turned into signal batches and handed to the Evaluate workflow
(``functions/collect_health/app.py`` is the handler)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config

from vigil.adapters.config_store import LastGoodConfig
from vigil.adapters.health_api import HealthApi, HealthApiUnavailable, HealthSubscriptionRequired
from vigil.adapters.health_state import HealthPageStore, HealthPollStore, ParkedEventStore
from vigil.adapters.stats import CallStats
from vigil.adapters.topic import AlertsTopic
from vigil.adapters.workflow import EvaluateWorkflow
from vigil.compose.settings import HealthSettings
from vigil.core.errors import InvalidEventError
from vigil.core.events import scheduled_time
from vigil.core.model import SignalBatch
from vigil.core.observability import logger, metrics
from vigil.health.collect import (
    PollState,
    batch_from_event,
    next_poll_state,
    park_invalid,
    poll,
    with_poll_status,
)
from vigil.rules.document import RulesConfig
from vigil.rules.loading import load_rules

# Three attempts per region (botocore's standard mode retries 5xx answers and time-outs),
# short time-outs: the other Health region is one call away (ADR 15, ADR 30).
_HEALTH_CLIENT_CONFIG = Config(
    connect_timeout=3, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"}
)


@dataclass
class Environment:
    """What every invocation of one cold start shares (the handler caches it)."""

    settings: HealthSettings
    rules: RulesConfig
    sfn: Any
    dynamodb: Any
    sns: Any
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


def environment() -> Environment:
    """The settings, the rules config in force (the last good one if it is invalid) and the
    clients."""
    settings = HealthSettings.from_env()
    dynamodb = boto3.client("dynamodb")
    last_good = LastGoodConfig(dynamodb, settings.table_name, stats=CallStats())
    rules = load_rules(settings.rules_json, last_good=last_good).rules
    return Environment(
        settings, rules, boto3.client("stepfunctions"), dynamodb, boto3.client("sns"), {}
    )


def run(event: dict[str, Any], *, env: Environment, account: str) -> dict[str, Any]:
    """An ``aws.health`` event, or else a scheduled poll: its batches started as Evaluate
    executions, the poll's failure count stored after; a summary (also logged)."""
    stats = CallStats()
    polled: PollState | None = None
    if isinstance(event, dict) and event.get("source") == "aws.health":
        batches = _event(env, event, stats)
        feed = "event"
    else:
        batches, polled = _poll(env, scheduled_time(event), account, stats)
        feed = "poll"
    workflow = EvaluateWorkflow(env.sfn, env.settings.evaluate_state_machine_arn, stats)
    executions = [workflow.start(batch) for batch in batches]
    if polled is not None:  # stored once its batches are handed over: a retry sends them again
        HealthPollStore(env.dynamodb, env.settings.table_name, stats=stats, account=account).put(
            polled
        )
    events = sum(len(batch.health_events) for batch in batches)
    metrics.add_metric("HealthEventsCollected", MetricUnit.Count, events)
    summary = {"feed": feed, "events": events, "executions": executions, "api_calls": stats.by_api}
    logger.info("health collected", extra=summary)
    return summary


def _event(env: Environment, event: dict[str, Any], stats: CallStats) -> list[SignalBatch]:
    """The event's batch; an event Vigil cannot read is parked and announced, not retried."""
    table = env.settings.table_name
    pages = HealthPageStore(env.dynamodb, table, stats=stats)
    try:
        batch = batch_from_event(event, rules=env.rules, pages=pages)
    except InvalidEventError as exc:
        parked = ParkedEventStore(
            env.dynamodb,
            table,
            stats=stats,
            retention=timedelta(days=env.rules.resolved_retention_days),
        )
        first = park_invalid(
            event,
            str(exc),
            parked=parked,
            topic=AlertsTopic(env.sns, env.settings.topic_arn, stats),
            rules=env.rules,
            stack=env.settings.stack_name,
            table=table,
        )
        metrics.add_metric("HealthEventsParked", MetricUnit.Count, 1 if first else 0)
        logger.error(
            "aws.health event parked: Vigil cannot read it",
            extra={"event_id": event.get("id"), "reason": str(exc), "first_time": first},
        )
        return []
    return [batch] if batch is not None else []


def _poll(
    env: Environment, now: datetime, account: str, stats: CallStats
) -> tuple[list[SignalBatch], PollState | None]:
    """The poll's batches, and its failure count when that changed (to store)."""
    if env.api_unavailable:
        return [], None
    table = env.settings.table_name
    before = HealthPollStore(env.dynamodb, table, stats=stats, account=account).get()
    api = HealthApi(env.health_client, stats=stats, organization=env.settings.organization_view)
    error: str | None = None
    batches: list[SignalBatch] = []
    try:
        batches = poll(api, rules=env.rules, now=now, account=account)
    except HealthSubscriptionRequired:
        env.api_unavailable = True
        logger.warning(
            "AWS Health API unavailable: this account has no Business or Enterprise support"
            " plan (SubscriptionRequiredException). Vigil keeps working from aws.health"
            " EventBridge events; the catch-up poll is off until the next cold start."
        )
    except HealthApiUnavailable as exc:
        error = str(exc)
        logger.warning(
            "AWS Health poll failed",
            extra={"error": error, "failures_in_a_row": before.failures + 1},
        )
    metrics.add_metric("HealthApiErrors", MetricUnit.Count, api.failures)
    metrics.add_metric("HealthPollFailures", MetricUnit.Count, 1 if error else 0)
    after = next_poll_state(before, error)
    batches = with_poll_status(
        batches, before, after, now=now, account=account, region=env.settings.region
    )
    return batches, (after if after != before else None)
