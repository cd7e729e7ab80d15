"""OutageRunbook workflow task: the runbook's steps, chosen by ``step``."""

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from vigil.adapters.table import IncidentStore
from vigil.clock import parse_time
from vigil.errors import InvalidEventError
from vigil.observability import logger, tracer
from vigil.runbook import open_incident
from vigil.settings import CommonSettings


@cache
def _deps() -> tuple[CommonSettings, IncidentStore]:
    settings = CommonSettings.from_env()
    return settings, IncidentStore(boto3.client("dynamodb"), settings.table_name)


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings, store = _deps()
    step = event.get("step")
    if step != "open":
        raise InvalidEventError(f"runbook task: unknown step {step!r}; expected 'open'")
    name = event.get("execution_name")
    if not isinstance(name, str) or not name:
        raise InvalidEventError("runbook task: execution_name is missing")
    incident, notification = open_incident(
        event.get("input"),
        incident_id=name,
        started_at=parse_time(event.get("started_at"), field="runbook task: started_at"),
        store=store,
        stack=settings.stack_name,
    )
    logger.info("incident opened", extra={"incident_id": incident.incident_id})
    return {
        "incident": incident.model_dump(mode="json"),
        "notification": notification.model_dump(mode="json"),
    }
