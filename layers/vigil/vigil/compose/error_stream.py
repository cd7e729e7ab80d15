"""The error stream's composition: a CloudWatch Logs delivery decoded, its error lines tracked
in the state table, and what they say handed to the Evaluate workflow
(``functions/error_stream/app.py`` is the handler; ADR 42)."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit

from vigil.adapters.alert_store import AlertStore
from vigil.adapters.cloudwatch import CloudWatchMetrics
from vigil.adapters.collector_state import CollectorState
from vigil.adapters.config_store import LastGoodConfig
from vigil.adapters.error_store import AlertLookup, ErrorStore, FunctionInvocations
from vigil.adapters.stats import CallStats
from vigil.adapters.workflow import EvaluateWorkflow
from vigil.compose.settings import CollectorSettings
from vigil.core.errors import InvalidEventError
from vigil.core.model import Labels
from vigil.core.observability import logger, metrics
from vigil.dials.inventory import (
    InventoryStore,
    resource_arn,
    stored_excluded,
    stored_protected,
    stored_resource_tags,
)
from vigil.rules.document import RulesConfig
from vigil.rules.loading import load_rules
from vigil.tracking.logs import decode_subscription, error_lines, function_of
from vigil.tracking.stream import StreamPorts, take_delivery

_RETENTION = timedelta(days=1)
"""Unused here: the error stream only reads alerts."""

CLIENTS = {"cloudwatch": "cloudwatch", "dynamodb": "dynamodb", "stepfunctions": "stepfunctions"}


@dataclass
class KeptSet:
    """A stored set read at most once an hour (by the deliveries' own time) per cold start."""

    names: frozenset[str] = frozenset()
    read_at: datetime | None = None

    def get(self, now: datetime, read: Callable[[], frozenset[str]]) -> frozenset[str]:
        if self.read_at is None or not timedelta(0) <= now - self.read_at < _KEPT:
            self.names, self.read_at = read(), now
        return self.names


_KEPT = timedelta(hours=1)
"""The discovery that decides which functions keep their failed async events runs hourly."""


@dataclass(frozen=True)
class Environment:
    """What every delivery of one cold start shares (the handler caches it)."""

    settings: CollectorSettings
    rules: RulesConfig
    clients: dict[str, Any]
    protected: KeptSet = field(default_factory=KeptSet)


def environment() -> Environment:
    settings = CollectorSettings.from_env()
    last_good = LastGoodConfig(boto3.client("dynamodb"), settings.table_name, stats=CallStats())
    rules = load_rules(settings.rules_json, last_good=last_good).rules
    clients = {name: boto3.client(service) for name, service in CLIENTS.items()}  # type: ignore[call-overload]
    return Environment(settings=settings, rules=rules, clients=clients)


def run(env: Environment, event: dict[str, Any], *, account: str) -> dict[str, Any]:
    """Track one delivery; a summary of what it held and did (also logged).

    A control message (sent when a subscription starts), a log group that is not a Lambda
    function's, or a delivery without an error line does nothing. A malformed delivery raises
    ``InvalidEventError`` (``vigil.tracking.logs``): the invocation fails, and its event goes to
    the dead-letter queue after Lambda's retries.
    """
    settings, clients = env.settings, env.clients
    delivered = decode_subscription(_awslogs_data(event))
    function = (
        function_of(delivered.log_group, delivered.log_stream) if delivered is not None else None
    )
    if delivered is None or function is None:
        summary: dict[str, Any] = {
            "skipped": "control message" if delivered is None else "log group"
        }
        logger.info("error stream", extra=summary)
        return summary
    stats = CallStats()
    table = settings.table_name
    state = CollectorState(clients["dynamodb"], table, stats=stats)
    if env.rules.tags.active and function in (stored_excluded(state) or ()):
        summary = {"skipped": "tags", "function": function}
        logger.info("error stream", extra=summary)
        return summary
    lines = error_lines(delivered)
    # The delivery's time is its latest line's (vigil.tracking.stream): time is an input.
    latest = max((event.timestamp for event in delivered.log_events), default=0)
    now = datetime.fromtimestamp(latest / 1000, UTC)
    delivery = take_delivery(
        function,
        lines,
        rules=env.rules,
        ports=StreamPorts(
            errors=ErrorStore(clients["dynamodb"], table, stats),
            invocations=FunctionInvocations(CloudWatchMetrics(clients["cloudwatch"], stats)),
            alerts=AlertLookup(
                AlertStore(clients["dynamodb"], table, retention=_RETENTION).get, stats
            ),
            # A delivery's batch holds at most two signals of five error groups each, a few KB:
            # always inline, never staged in the batch bucket (ADR 28).
            evaluations=EvaluateWorkflow(
                clients["stepfunctions"], settings.evaluate_state_machine_arn, stats
            ),
            async_protected=lambda: env.protected.get(
                now, lambda: frozenset(stored_protected(state) or ())
            ),
            tag_labels=lambda: _tag_labels(env.rules, state, function, account, settings.region),
        ),
        account=account,
        region=settings.region,
    )
    summary = {
        "function": function,
        "events": len(delivered.log_events),
        "lines": len(lines),
    }
    if delivery is not None:
        summary |= {
            "groups": delivery.groups,
            "new_types": delivery.new_types,
            "woken": delivery.woken,
            "volume_read": delivery.volume_read,
        }
        if delivery.batch is not None:
            summary["execution_arn"] = delivery.execution
            summary["signals"] = [s.labels.kind for s in delivery.batch.signals]
    summary["api_calls"] = stats.by_api
    metrics.add_metric("ErrorLines", MetricUnit.Count, len(lines))
    logger.info("error stream", extra=summary)
    return summary


def _tag_labels(
    rules: RulesConfig, state: InventoryStore, function: str, account: str, region: str
) -> dict[str, str]:
    """``function``'s tag labels as the collector's last discovery stored them (one
    ``GetItem``); none without ``tags.labels`` or a stored record."""
    if not rules.tags.labels:
        return {}
    labels = Labels(kind="lambda.errors", resource=function, account=account, region=region)
    arn = resource_arn(labels)
    stored = stored_resource_tags(state) or {}
    return rules.tags.label_tags(stored.get(arn, {})) if arn else {}


def _awslogs_data(event: dict[str, Any]) -> str:
    """The ``awslogs.data`` of a subscription's Lambda event, or ``InvalidEventError``."""
    awslogs = event.get("awslogs")
    data = awslogs.get("data") if isinstance(awslogs, dict) else None
    if not isinstance(data, str):
        raise InvalidEventError("not a CloudWatch Logs subscription event: no awslogs.data")
    return data
