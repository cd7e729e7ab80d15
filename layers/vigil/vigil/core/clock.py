"""Time helpers. The layer never reads the wall clock: ``now`` comes from the event (or from
the ``vigil`` command, which reads it and passes it in)."""

from datetime import UTC, datetime, timedelta

from vigil.core.errors import InvalidEventError


def parse_time(value: object, *, field: str) -> datetime:
    """Parse an ISO 8601 timestamp from an event into an aware UTC datetime."""
    if not isinstance(value, str) or not value:
        raise InvalidEventError(f"{field}: expected an ISO 8601 timestamp, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidEventError(f"{field}: {value!r} is not an ISO 8601 timestamp") from exc
    if parsed.tzinfo is None:
        raise InvalidEventError(f"{field}: {value!r} has no time zone; use UTC (Z)")
    return parsed.astimezone(UTC)


def floor_minute(moment: datetime) -> datetime:
    """Truncate to the start of the minute."""
    return moment.replace(second=0, microsecond=0)


def iso(moment: datetime) -> str:
    """Format as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def minutes(value: int) -> timedelta:
    return timedelta(minutes=value)
