"""Parsing of the events that start Vigil's functions, with errors that say where."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from vigil.core.clock import parse_time
from vigil.core.errors import InvalidEventError, describe_validation


def scheduled_time(event: object) -> datetime:
    """``now`` of a scheduled run: the Scheduler's ``<aws.scheduler.scheduled-time>`` input
    or an EventBridge scheduled event's ``time``."""
    if not isinstance(event, dict):
        raise InvalidEventError(
            f"scheduled event: expected a JSON object, got {type(event).__name__}"
        )
    return parse_time(event.get("time"), field="scheduled event: time")


def parse_model[M: BaseModel](model: type[M], payload: Any, *, what: str) -> M:
    """Validate ``payload`` against a contract; the error lists every wrong field."""
    try:
        if isinstance(payload, str | bytes):
            return model.model_validate_json(payload)
        return model.model_validate(payload)
    except ValidationError as exc:
        raise InvalidEventError(f"{what}: {describe_validation(exc)}") from exc
