"""The alarm intake's composition: a CloudWatch alarm state change, selected by the rules
config, handed to the Evaluate workflow (``functions/alarm_intake/app.py`` is the handler;
ADR 47)."""

from dataclasses import dataclass
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit

from vigil.adapters.config_store import LastGoodConfig
from vigil.adapters.stats import CallStats
from vigil.adapters.workflow import EvaluateWorkflow
from vigil.alarms.intake import batch_of, parse_change
from vigil.compose.settings import CollectorSettings
from vigil.core.observability import logger, metrics
from vigil.rules.document import RulesConfig
from vigil.rules.loading import load_rules


@dataclass(frozen=True)
class Environment:
    """What every event of one cold start shares (the handler caches it)."""

    settings: CollectorSettings
    rules: RulesConfig
    stepfunctions: Any


def environment() -> Environment:
    settings = CollectorSettings.from_env()
    last_good = LastGoodConfig(boto3.client("dynamodb"), settings.table_name, stats=CallStats())
    rules = load_rules(settings.rules_json, last_good=last_good).rules
    return Environment(settings=settings, rules=rules, stepfunctions=boto3.client("stepfunctions"))


def run(env: Environment, event: dict[str, Any]) -> dict[str, Any]:
    """Take in one state change; a summary of what it did (also logged).

    An alarm of Vigil's own stack (its self-watch, named ``<stack>-...`` by CloudFormation) is
    left to the alerts topic, where it keeps its own title; the EventBridge rule already leaves
    them out. A malformed event raises ``InvalidEventError``: the invocation fails, and after
    Lambda's retries the event goes to the dead-letter queue.
    """
    change = parse_change(event)
    summary: dict[str, Any] = {
        "alarm": change.name,
        "state": change.state,
        "event": change.event_id,
    }
    if change.name.startswith(f"{env.settings.stack_name}-"):
        summary["skipped"] = "self-watch"
    else:
        batch = batch_of(change, env.rules.cloudwatch_alarms)
        if batch is None:
            summary["skipped"] = (
                "not selected" if change.state in {"ALARM", "OK"} else f"state {change.state}"
            )
        else:
            stats = CallStats()
            workflow = EvaluateWorkflow(
                env.stepfunctions, env.settings.evaluate_state_machine_arn, stats
            )
            summary |= {"batch_id": batch.batch_id, "execution_arn": workflow.start(batch)}
            metrics.add_metric("AlarmStateChanges", MetricUnit.Count, 1)
    logger.info("alarm intake", extra=summary)
    return summary
