"""The sentinel's composition: the primary's heartbeat and AWS Health read from the primary
region, judged (``vigil.sentinel.watch``), and announced on the sentinel's own topic and
Slack webhook (``functions/sentinel/app.py`` is the handler; ADR 48).

Idempotent under at-least-once delivery: a check for a time already judged only retries the
channels that have yet to take the last announcement; two overlapping checks cannot both
write (the state item's revision). A channel that fails is kept pending and the run fails, so
Lambda retries it (then the dead-letter queue); the other channel is not sent twice.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from vigil.adapters.health_api import (
    HealthApi,
    HealthSubscriptionRequired,
    dns_active_region,
)
from vigil.adapters.sentinel import PrimaryHeartbeat, SentinelStateStore, classify
from vigil.adapters.slack import SlackWebhook
from vigil.adapters.stats import CallStats
from vigil.compose.settings import SentinelSettings
from vigil.core.errors import ChatDeliveryError, ConflictError
from vigil.core.model import HealthEvent
from vigil.core.observability import logger
from vigil.sentinel.messages import plain_text, slack_payload, subject
from vigil.sentinel.standby import runbook_start
from vigil.sentinel.watch import Announcement, Observation, Policy, State, decide

HEARTBEAT_LOOKBACK = timedelta(hours=3)
"""How far back a check looks for the primary's last cycle (a longer silence is reported as
"none seen", with the last one the state remembers)."""
HEALTH_LOOKBACK = timedelta(days=1)

# Short time-outs and few attempts: a check must finish well inside its interval even when
# the primary region does not answer.
PRIMARY_CONFIG = Config(
    connect_timeout=5, read_timeout=10, retries={"mode": "standard", "max_attempts": 3}
)


def _post_slack(url: str, payload: dict[str, Any]) -> None:
    SlackWebhook(url).post(payload)


@dataclass(frozen=True)
class Environment:
    settings: SentinelSettings
    cloudwatch: Any
    dynamodb: Any
    sns: Any
    secrets: Any
    health_client_for: Callable[[str], Any]
    sfn: Any = None
    """Step Functions in the standby runbook's region (``None``: no runbook configured)."""
    health_active_region: Callable[[], str | None] = dns_active_region
    post_slack: Callable[[str, dict[str, Any]], None] = _post_slack


def environment() -> Environment:
    settings = SentinelSettings.from_env()
    return Environment(
        settings=settings,
        cloudwatch=boto3.client(
            "cloudwatch", region_name=settings.primary_region, config=PRIMARY_CONFIG
        ),
        dynamodb=boto3.client("dynamodb"),
        sns=boto3.client("sns"),
        secrets=boto3.client("secretsmanager"),
        health_client_for=lambda region: boto3.client(
            "health", region_name=region, config=PRIMARY_CONFIG
        ),
        sfn=(
            boto3.client("stepfunctions", region_name=settings.runbook_arn.split(":")[3])
            if settings.runbook_arn
            else None
        ),
    )


def policy(settings: SentinelSettings) -> Policy:
    return Policy(
        primary_region=settings.primary_region,
        primary_stack=settings.primary_stack,
        stale_after=timedelta(minutes=settings.stale_minutes),
        down_after=settings.down_after,
        repeat_every=timedelta(minutes=settings.repeat_minutes),
    )


def observe(env: Environment, *, now: datetime, account: str, stats: CallStats) -> Observation:
    """Read the primary's heartbeat and AWS Health for its region; a failed read is
    classified, never raised."""
    settings = env.settings
    fields: dict[str, Any] = {"now": now}
    heartbeat = PrimaryHeartbeat(env.cloudwatch, settings.collector_function, stats)
    try:
        fields["last_heartbeat"] = heartbeat.latest(now, HEARTBEAT_LOOKBACK)
    except Exception as exc:  # every failure of the read is a signal, classified
        fields["heartbeat_failure"] = classify(exc)
        logger.warning("primary heartbeat read failed", extra={"error": str(exc)})

    def open_issue(event: HealthEvent) -> bool:
        return (
            event.region == settings.primary_region
            and event.category == "issue"
            and event.status == "open"
        )

    try:
        fields["health_events"] = HealthApi(
            env.health_client_for, active_region=env.health_active_region, stats=stats
        ).events(since=now - HEALTH_LOOKBACK, account=account, keep=open_issue)
    except HealthSubscriptionRequired:
        logger.info("AWS Health API needs a Business or Enterprise support plan: not read")
    except Exception as exc:  # unavailable, denied, ...: classified like the heartbeat's read
        fields["health_failure"] = classify(exc)
        logger.warning("AWS Health read failed", extra={"error": str(exc)})
    return Observation.model_validate(fields)


def _slack_url(env: Environment) -> str:
    secret = env.secrets.get_secret_value(SecretId=env.settings.secret_arn)["SecretString"]
    value = json.loads(secret or "{}")
    return str(value.get("webhook_url") or "") if isinstance(value, dict) else ""


def deliver(env: Environment, announcement: Announcement, pending: list[str]) -> list[str]:
    """Send to each pending channel; returns those that still have to take it."""
    left: list[str] = []
    sentinel = env.settings.stack_name
    for channel in pending:
        try:
            if channel == "runbook":
                start_runbook(env, announcement)
            elif channel == "sns":
                env.sns.publish(
                    TopicArn=env.settings.topic_arn,
                    Subject=subject(announcement),
                    Message=plain_text(announcement, sentinel),
                )
            else:
                url = _slack_url(env)
                if not url:
                    logger.warning("sentinel secret has no webhook_url: Slack not told")
                    continue
                env.post_slack(url, slack_payload(announcement, sentinel))
        except Exception as exc:  # one channel down must not keep the other from speaking
            logger.error(
                "sentinel announcement not delivered",
                extra={"channel": channel, "error": str(exc)},
            )
            left.append(channel)
    return left


def start_runbook(env: Environment, announcement: Announcement) -> None:
    """Start the standby region's outage runbook for the episode; a start that already
    happened (Lambda's retry, a replayed check) is done."""
    settings = env.settings
    start = runbook_start(
        announcement, service=settings.runbook_service, dry_run=settings.runbook_dry_run
    )
    try:
        env.sfn.start_execution(
            stateMachineArn=settings.runbook_arn, name=start.name, input=start.input
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
            raise
    logger.info("standby outage runbook started", extra={"execution": start.name})


def _with_runbook(settings: SentinelSettings, announcement: Announcement) -> Announcement:
    """The announcement saying which runbook it starts (only ``down`` starts one)."""
    start = runbook_start(
        announcement, service=settings.runbook_service, dry_run=settings.runbook_dry_run
    )
    region = settings.runbook_arn.split(":")[3]
    mode = "dry run" if settings.runbook_dry_run else "not a dry run"
    line = f"Outage runbook started in {region}: {start.name} ({mode}; docs/runbook.md)."
    return announcement.model_copy(update={"reasons": [*announcement.reasons, line]})


def run(env: Environment, *, now: datetime, account: str) -> dict[str, Any]:
    """One check at ``now``; a summary of what it decided and sent (also logged)."""
    settings = env.settings
    store = SentinelStateStore(
        env.dynamodb,
        settings.table_name,
        region=settings.primary_region,
        stack=settings.primary_stack,
    )
    state, revision = store.get()
    stats = CallStats()
    decision = decide(state, observe(env, now=now, account=account, stats=stats), policy(settings))
    new: State = decision.state
    if decision.announcement is not None:
        announcement, channels = decision.announcement, ["sns", "slack"]
        if settings.runbook_arn and announcement.kind == "down":
            announcement, channels = _with_runbook(settings, announcement), ["runbook", *channels]
        new = new.model_copy(update={"outbox": announcement, "pending": channels})
    elif not decision.replay and new.pending:
        # Lambda's retries of its own check are over (the event is in the dead-letter queue):
        # a later check does not send an old announcement again.
        logger.warning("sentinel announcement dropped", extra={"pending": new.pending})
        new = new.model_copy(update={"outbox": None, "pending": []})
    if not decision.replay:
        try:
            revision = store.put(new, revision)
        except ConflictError:
            logger.info("another check judged this time first", extra={"now": now.isoformat()})
            return {"status": new.status.value, "announced": None, "conflict": True}
    summary: dict[str, Any] = {
        "status": new.status.value,
        "missed": new.missed,
        "announced": decision.announcement.kind if decision.announcement else None,
        "replay": decision.replay,
        "aws_calls": stats.calls,
    }
    if new.outbox is not None and new.pending:
        left = deliver(env, new.outbox, new.pending)
        done = new.model_copy(update={"pending": left, "outbox": new.outbox if left else None})
        store.put(done, revision)
        summary["pending"] = left
        if left:
            raise ChatDeliveryError(f"sentinel announcement still pending on {', '.join(left)}")
    logger.info("sentinel check", extra=summary)
    return summary
