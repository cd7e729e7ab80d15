"""The Evaluate function's composition: the stores wired into the evaluation, a batch judged,
its notifications committed to the outbox and what is pending published
(``functions/evaluate/app.py`` is the handler)."""

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit

from vigil.accounts.members import MemberNames, named_batch
from vigil.adapters.alert_store import AlertStore
from vigil.adapters.config_store import LastGoodConfig
from vigil.adapters.error_store import ErrorStore
from vigil.adapters.health_store import HealthEventStore, OutageStore
from vigil.adapters.organizations import MemberStore
from vigil.adapters.outbox import OutboxStore, SnsPublisher
from vigil.adapters.routing_store import GroupStore, SilenceStore
from vigil.adapters.stats import CallStats
from vigil.adapters.workflow import S3Batches, batch_of
from vigil.alerting.outbox import deliver
from vigil.compose.settings import EvaluateSettings
from vigil.core.observability import metrics
from vigil.evaluation.pipeline import OutagePorts, RoutingPorts, evaluate
from vigil.rules.loading import LoadedRules, load_rules, with_config_signal


@dataclass(frozen=True)
class Environment:
    """What every invocation of one cold start shares (the handler caches it)."""

    settings: EvaluateSettings
    loaded: LoadedRules
    store: AlertStore
    routing: RoutingPorts
    correlation: OutagePorts
    batches: S3Batches
    publisher: SnsPublisher
    errors: ErrorStore
    members: MemberStore


def environment() -> Environment:
    """The settings, the rules config in force (the last good one if it is invalid) and the
    stores."""
    settings = EvaluateSettings.from_env()
    dynamodb = boto3.client("dynamodb")
    loaded = load_rules(
        settings.rules_json,
        last_good=LastGoodConfig(dynamodb, settings.table_name, stats=CallStats()),
    )
    retention = timedelta(days=loaded.rules.resolved_retention_days)
    return Environment(
        settings=settings,
        loaded=loaded,
        store=AlertStore(dynamodb, settings.table_name, retention=retention),
        routing=RoutingPorts(
            groups=GroupStore(dynamodb, settings.table_name, retention=retention),
            silences=SilenceStore(dynamodb, settings.table_name),
            outbox=OutboxStore(dynamodb, settings.table_name, retention=retention),
        ),
        correlation=OutagePorts(
            outages=OutageStore(dynamodb, settings.table_name),
            health=HealthEventStore(dynamodb, settings.table_name, retention=retention),
            runbook_arn=settings.runbook_state_machine_arn,
        ),
        batches=S3Batches(boto3.client("s3"), settings.batch_bucket),
        publisher=SnsPublisher(boto3.client("sns"), settings.topic_arn),
        errors=ErrorStore(dynamodb, settings.table_name),
        members=MemberStore(dynamodb, settings.table_name),
    )


def run(event: dict[str, Any], *, env: Environment, account: str, region: str) -> dict[str, Any]:
    """Judge the task's batch (inline or by reference), commit and publish; a summary."""
    batch = with_config_signal(
        batch_of(event, env.batches), env.loaded, account=account, region=region
    )
    correlation = env.correlation
    if env.loaded.rules.organization.enabled:
        # Organization mode: members' names (one Query, when asked) as labels (the metrics
        # collector adds its own) and in AWS Health notices.
        names = MemberNames(env.members)
        correlation = replace(correlation, account_names=names)
        if batch.source != "metrics":
            batch = named_batch(batch, names)
    result = evaluate(
        batch,
        rules=env.loaded.rules,
        store=env.store,
        routing=env.routing,
        stack=env.settings.stack_name,
        correlation=correlation,
        errors=env.errors,
    )
    delivery = deliver(
        env.routing.outbox, env.publisher, batch_id=batch.batch_id, now=batch.collected_at
    )
    metrics.add_metric("Notifications", MetricUnit.Count, result.summary.notifications)
    metrics.add_metric("Published", MetricUnit.Count, len(delivery.published))
    metrics.add_metric("MutedByOutage", MetricUnit.Count, result.summary.muted)
    metrics.add_metric("Silenced", MetricUnit.Count, result.summary.silenced)
    metrics.add_metric("Inhibited", MetricUnit.Count, result.summary.inhibited)
    return {
        "summary": result.summary.model_dump(mode="json"),
        "published": len(delivery.published),
        "pending": delivery.left,
        "runbooks": [r.model_dump(mode="json") for r in result.runbooks],
    }
