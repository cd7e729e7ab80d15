"""The OutageRunbook task function's composition: its adapters wired into the runbook's steps,
and the step an event names run against them (``functions/runbook/app.py`` is the handler)."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
from botocore.config import Config

from vigil.adapters.alert_store import AlertStore
from vigil.adapters.failover import ArcRoutingControls, Route53Weights, SsmParameters
from vigil.adapters.health_api import HealthApi
from vigil.adapters.health_store import OutageStore
from vigil.adapters.incident_store import ApprovalStore, IncidentStore
from vigil.adapters.runbook import (
    AlertsTopic,
    RunbookBucket,
    RunbookExecutions,
    RunbookHealth,
    RunbookSignals,
)
from vigil.adapters.stats import CallStats
from vigil.compose.settings import RunbookSettings
from vigil.core.clock import parse_time
from vigil.core.errors import InvalidEventError
from vigil.core.observability import logger
from vigil.runbook.failover import ActionRunner
from vigil.runbook.incident import RunbookPorts, parse_decision
from vigil.runbook.status_page import HISTORY_INCIDENTS
from vigil.runbook.steps import (
    approval_expired,
    assess,
    confirm,
    declined,
    failover,
    failover_error,
    finish,
    monitor,
    open_incident,
    request_gate,
)

# Health and ARC endpoints: fail fast, the next endpoint is one call away.
_FAST = Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 2, "mode": "standard"})
_ARC = Config(
    connect_timeout=3, read_timeout=10, retries={"total_max_attempts": 2, "mode": "standard"}
)


@dataclass(frozen=True)
class Environment:
    """What every step reaches, built once per cold start (the handler caches it)."""

    settings: RunbookSettings
    ports: RunbookPorts
    bucket: RunbookBucket
    approvals: ApprovalStore
    topic: AlertsTopic
    signals: RunbookSignals
    health_api: HealthApi
    runners: dict[str, ActionRunner]
    stats: CallStats
    """S3, SNS and failover calls of the current invocation (reset after each)."""


def environment() -> Environment:
    """The adapters, from the function's settings (``VIGIL_*``)."""
    settings = RunbookSettings.from_env()
    dynamodb = boto3.client("dynamodb")
    stats = CallStats()
    rules = settings.rules
    bucket = RunbookBucket(
        boto3.client("s3"),
        settings.bucket,
        region=settings.region,
        title=settings.status_page_title,
        page=rules.status_page,
        stats=stats,
    )
    approvals = ApprovalStore(dynamodb, settings.table_name)
    ports = RunbookPorts(
        incidents=IncidentStore(dynamodb, settings.table_name),
        status_page=bucket,
        stack=settings.stack_name,
        plans=settings.failover_plans,
        executions=RunbookExecutions(boto3.client("stepfunctions", config=_FAST), stats),
        approvals=approvals,
        status_page_incidents=HISTORY_INCIDENTS,
        status_preview=bucket.preview_link,
    )
    alerts = AlertStore(
        dynamodb, settings.table_name, retention=timedelta(days=rules.resolved_retention_days)
    )

    def arc_client(url: str, region: str) -> Any:
        return boto3.client(
            "route53-recovery-cluster", region_name=region, endpoint_url=url, config=_ARC
        )

    runners: dict[str, ActionRunner] = {
        "arc_routing_control": ArcRoutingControls(arc_client, stats),
        "route53_weight": Route53Weights(boto3.client("route53"), stats),
        "ssm_parameter": SsmParameters(boto3.client("ssm"), stats),
    }
    return Environment(
        settings=settings,
        ports=ports,
        bucket=bucket,
        approvals=approvals,
        topic=AlertsTopic(boto3.client("sns"), settings.topic_arn, stats),
        signals=RunbookSignals(
            alerts, OutageStore(dynamodb, settings.table_name), rules.enabled_kinds
        ),
        health_api=HealthApi(
            lambda region: boto3.client("health", region_name=region, config=_FAST),
            stats=stats,
        ),
        runners=runners,
        stats=stats,
    )


def _text(event: dict[str, Any], key: str) -> str:
    value = event.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidEventError(f"runbook task: {key} is missing")
    return value


def _optional_text(event: dict[str, Any], key: str) -> str | None:
    value = event.get(key)
    return value if isinstance(value, str) and value else None


def _open(env: Environment, event: dict[str, Any], _account: str) -> dict[str, Any]:
    incident, notification = open_incident(
        event.get("input"),
        incident_id=_text(event, "execution_name"),
        started_at=parse_time(event.get("started_at"), field="runbook task: started_at"),
        ports=env.ports,
        execution_arn=_optional_text(event, "execution_arn"),
    )
    settings = env.settings
    return {
        "incident_id": incident.incident_id,
        "notification": notification.model_dump(mode="json"),
        "config": {
            "approval_timeout_seconds": settings.approval_timeout_seconds,
            "monitor_interval_seconds": settings.monitor_interval_seconds,
        },
    }


def _health(env: Environment, account: str) -> RunbookHealth:
    return RunbookHealth(env.health_api, lambda: account)


def _now(event: dict[str, Any]) -> Any:
    return parse_time(event.get("now"), field="runbook task: now")


def _assess(env: Environment, event: dict[str, Any], account: str) -> dict[str, Any]:
    incident = assess(
        _text(event, "incident_id"),
        now=_now(event),
        ports=env.ports,
        signals=env.signals,
        health=_health(env, account),
    )
    return {"aws_confirmed": bool(incident.aws_confirmed)}


def _confirm(env: Environment, event: dict[str, Any], _account: str) -> dict[str, Any]:
    aws = event.get("aws_confirmed")
    if not isinstance(aws, bool):
        raise InvalidEventError("runbook task: aws_confirmed must be true or false")
    _, notification, offer = confirm(
        _text(event, "incident_id"), aws_confirmed=aws, now=_now(event), ports=env.ports
    )
    return {"notification": notification.model_dump(mode="json"), "offer_failover": offer}


def _request_approval(env: Environment, event: dict[str, Any], _account: str) -> dict[str, Any]:
    timeout = event.get("timeout_seconds")
    if not isinstance(timeout, int) or timeout < 1:
        raise InvalidEventError("runbook task: timeout_seconds must be a positive integer")
    request_gate(
        _text(event, "incident_id"),
        token=_text(event, "token"),
        now=_now(event),
        timeout=timedelta(seconds=timeout),
        ports=env.ports,
        approvals=env.approvals,
        topic=env.topic,
    )
    return {"requested": True}


def _declined(env: Environment, event: dict[str, Any], _account: str) -> dict[str, Any]:
    _, notification = declined(
        _text(event, "incident_id"),
        decision=parse_decision(event.get("approval")),
        now=_now(event),
        ports=env.ports,
    )
    return {"notification": notification.model_dump(mode="json")}


def _expired(env: Environment, event: dict[str, Any], _account: str) -> dict[str, Any]:
    _, notification = approval_expired(
        _text(event, "incident_id"), now=_now(event), ports=env.ports, approvals=env.approvals
    )
    return {"notification": notification.model_dump(mode="json")}


def _failover(env: Environment, event: dict[str, Any], _account: str) -> dict[str, Any]:
    _, notification, ok = failover(
        _text(event, "incident_id"),
        decision=parse_decision(event.get("approval")),
        now=_now(event),
        ports=env.ports,
        runners=env.runners,
    )
    return {"notification": notification.model_dump(mode="json"), "ok": ok}


def _failover_error(env: Environment, event: dict[str, Any], _account: str) -> dict[str, Any]:
    error = event.get("error") if isinstance(event.get("error"), dict) else {}
    assert isinstance(error, dict)
    _, notification = failover_error(
        _text(event, "incident_id"),
        error=str(error.get("Error", "unknown")),
        cause=str(error.get("Cause", "")),
        now=_now(event),
        ports=env.ports,
    )
    return {"notification": notification.model_dump(mode="json")}


def _monitor(env: Environment, event: dict[str, Any], account: str) -> dict[str, Any]:
    settings = env.settings
    _, verdict = monitor(
        _text(event, "incident_id"),
        now=_now(event),
        ports=env.ports,
        signals=env.signals,
        health=_health(env, account),
        heartbeat=timedelta(seconds=settings.heartbeat_seconds),
        max_duration=timedelta(seconds=settings.max_duration_seconds),
    )
    return {
        "status": verdict.status,
        "notify": verdict.notify,
        "notification": verdict.notification.model_dump(mode="json")
        if verdict.notification
        else None,
    }


def _finish(outcome: Any) -> Callable[[Environment, dict[str, Any], str], dict[str, Any]]:
    def step(env: Environment, event: dict[str, Any], _account: str) -> dict[str, Any]:
        incident, notification = finish(
            _text(event, "incident_id"),
            outcome=outcome,
            now=_now(event),
            ports=env.ports,
            reports=env.bucket,
        )
        return {
            "notification": notification.model_dump(mode="json"),
            "report": incident.report_key,
            "status": incident.status,
        }

    return step


_STEPS: dict[str, Callable[[Environment, dict[str, Any], str], dict[str, Any]]] = {
    "open": _open,
    "assess": _assess,
    "confirm": _confirm,
    "request_approval": _request_approval,
    "declined": _declined,
    "approval_expired": _expired,
    "failover": _failover,
    "failover_error": _failover_error,
    "monitor": _monitor,
    "resolve": _finish("resolved"),
    "hand_over": _finish("handed_over"),
}


def run(event: dict[str, Any], *, env: Environment, account: str) -> dict[str, Any]:
    """Run the step ``event["step"]`` names; one log line with the AWS calls it made."""
    step = event.get("step")
    handler = _STEPS.get(step) if isinstance(step, str) else None
    if handler is None:
        raise InvalidEventError(
            f"runbook task: unknown step {step!r}; expected one of {', '.join(_STEPS)}"
        )
    try:
        result = handler(env, event, account)
    finally:
        calls = dict(env.stats.by_api)
        env.stats.by_api.clear()
        env.stats.calls = 0
    logger.info(
        "runbook step done",
        extra={
            "step": step,
            "incident_id": event.get("incident_id") or event.get("execution_name"),
            "calls": calls,
        },
    )
    return result
