"""AWS Health events: normalise, filter, de-duplicate and announce.

Two feeds deliver the same events: the ``aws.health`` EventBridge rule (primary; needs no
support plan) and the catch-up poll of the Health API. Each event version is identified by
its ARN and ``last_updated``; :func:`track` compares it with what the state table holds and
decides whether a reader hears about it:

    (unseen) --open/upcoming--> NEW      (unseen) --closed--> RESOLVED (once)
    seen     --status, description or affected entities changed--> UPDATED
    seen     --closed--> RESOLVED        anything older or unchanged --> nothing
"""

import fnmatch
import hashlib
import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Protocol

from pydantic import AwareDatetime, Field, ValidationError

from vigil.clock import iso
from vigil.errors import InvalidEventError, describe_validation
from vigil.model import (
    ChatPayload,
    Contract,
    HealthEvent,
    Notification,
    NotifyReason,
    Severity,
)
from vigil.notifications import publishable
from vigil.rules import HealthConfig, HealthMatch

MAX_ENTITIES_LISTED = 20


class HealthChange(StrEnum):
    NEW = "new"
    UPDATED = "updated"
    RESOLVED = "resolved"


class HealthRecord(Contract):
    """What the state table remembers of one Health event for one account.

    An organization's event can affect many accounts under one ARN; each account's version
    of it is tracked (and notified) on its own: pk ``HEALTH#<arn>#<account>``.
    """

    version: Literal[1] = 1
    arn: str
    account: str | None = None
    last_updated: AwareDatetime
    status: Literal["open", "upcoming", "closed"]
    digest: Annotated[str, Field(description="Hash of the description and affected entities.")]
    notify_count: int = 0
    revision: int = 0


class HealthStorePort(Protocol):
    def get(self, arn: str, account: str | None) -> HealthRecord | None: ...

    def save(self, before: HealthRecord | None, after: HealthRecord) -> None: ...


# ---------------------------------------------------------------------------- parsing
def parse_health_time(value: object, *, field: str) -> datetime:
    """Health times come as RFC 1123 in events (``Fri, 27 Jan 2023 01:43:21 GMT``), ISO 8601
    elsewhere; both are accepted."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = (
                parsedate_to_datetime(value)
                if "," in value
                else datetime.fromisoformat(value.replace("Z", "+00:00"))
            )
        except (TypeError, ValueError) as exc:
            raise InvalidEventError(f"{field}: {value!r} is not a timestamp") from exc
    else:
        raise InvalidEventError(f"{field}: expected a timestamp, got {value!r}")
    if moment.tzinfo is None:
        raise InvalidEventError(f"{field}: {value!r} has no time zone")
    return moment.astimezone(UTC)


def _optional_time(value: object, *, field: str) -> datetime | None:
    return None if value in (None, "") else parse_health_time(value, field=field)


def from_eventbridge(event: object) -> HealthEvent:
    """Normalise an ``aws.health`` EventBridge event; errors name the field."""
    if not isinstance(event, dict) or not isinstance(event.get("detail"), dict):
        raise InvalidEventError("aws.health event: detail: expected a JSON object")
    detail: dict[str, Any] = event["detail"]
    descriptions = detail.get("eventDescription") or []
    description = next(
        (
            str(d.get("latestDescription", ""))
            for d in descriptions
            if isinstance(d, dict) and str(d.get("language", "en_US")).startswith("en")
        ),
        "",
    )
    entities = [
        str(e["entityValue"])
        for e in detail.get("affectedEntities") or []
        if isinstance(e, dict) and e.get("entityValue")
    ]
    last_updated = detail.get("lastUpdatedTime") or event.get("time")
    return _validated(
        {
            "arn": detail.get("eventArn"),
            "service": detail.get("service"),
            "event_type_code": detail.get("eventTypeCode"),
            "category": detail.get("eventTypeCategory"),
            "region": detail.get("eventRegion") or event.get("region"),
            "account": detail.get("affectedAccount") or event.get("account"),
            "status": detail.get("statusCode"),
            "start_time": _optional_time(detail.get("startTime"), field="detail.startTime"),
            "end_time": _optional_time(detail.get("endTime"), field="detail.endTime"),
            "last_updated": parse_health_time(last_updated, field="detail.lastUpdatedTime"),
            "description": description,
            "affected_entities": sorted(set(entities)),
        },
        what="aws.health event detail",
        names=_EVENTBRIDGE_NAMES,
    )


def from_api(
    event: dict[str, Any], *, description: str, entities: list[str], account: str | None
) -> HealthEvent:
    """Normalise a ``DescribeEvents`` item with its details and affected entities."""
    return _validated(
        {
            "arn": event.get("arn"),
            "service": event.get("service"),
            "event_type_code": event.get("eventTypeCode"),
            "category": event.get("eventTypeCategory"),
            "region": event.get("region"),
            "account": account,
            "status": event.get("statusCode"),
            "start_time": _optional_time(event.get("startTime"), field="startTime"),
            "end_time": _optional_time(event.get("endTime"), field="endTime"),
            "last_updated": parse_health_time(
                event.get("lastUpdatedTime"), field="lastUpdatedTime"
            ),
            "description": description,
            "affected_entities": sorted(set(entities)),
        },
        what="Health API event",
        names=_API_NAMES,
    )


_EVENTBRIDGE_NAMES = {
    "arn": "detail.eventArn",
    "service": "detail.service",
    "event_type_code": "detail.eventTypeCode",
    "category": "detail.eventTypeCategory",
    "region": "detail.eventRegion",
    "account": "detail.affectedAccount",
    "status": "detail.statusCode",
}
_API_NAMES = {
    "arn": "arn",
    "service": "service",
    "event_type_code": "eventTypeCode",
    "category": "eventTypeCategory",
    "region": "region",
    "status": "statusCode",
}


def _validated(values: dict[str, Any], *, what: str, names: dict[str, str]) -> HealthEvent:
    """Validate, naming fields as the source spells them (``detail.statusCode``)."""
    try:
        return HealthEvent.model_validate(values)
    except ValidationError as exc:
        problems = []
        for problem in describe_validation(exc, show_input=True).split("; "):
            field, _, rest = problem.partition(":")
            problems.append(f"{names.get(field, field)}:{rest}")
        raise InvalidEventError(f"{what}: {'; '.join(problems)}") from exc


# ---------------------------------------------------------------------------- filtering
def _matches(match: HealthMatch, event: HealthEvent) -> bool:
    def any_pattern(patterns: list[str], value: str) -> bool:
        return not patterns or any(fnmatch.fnmatchcase(value, p) for p in patterns)

    return (
        (not match.categories or event.category in match.categories)
        and any_pattern(match.services, event.service)
        and any_pattern(match.event_type_codes, event.event_type_code)
        and (not match.regions or event.region in match.regions)
        and (not match.accounts or (event.account or "") in match.accounts)
    )


def wanted(event: HealthEvent, config: HealthConfig) -> bool:
    """Whether the rules config lets this event through (``health.include``/``exclude``)."""
    return (
        config.enabled
        and _matches(config.include, event)
        and not any(_matches(rule, event) for rule in config.exclude)
    )


# ---------------------------------------------------------------------------- de-duplication
def digest(event: HealthEvent) -> str:
    body = json.dumps([event.description, sorted(event.affected_entities)])
    return hashlib.sha256(body.encode()).hexdigest()[:20]


def track(
    record: HealthRecord | None, event: HealthEvent
) -> tuple[HealthRecord | None, HealthChange | None]:
    """What to store (``None``: nothing) and what a reader should hear about ``event``."""
    fresh = HealthRecord(
        arn=event.arn,
        account=event.account,
        last_updated=event.last_updated,
        status=event.status,
        digest=digest(event),
        revision=record.revision if record else 0,
        notify_count=record.notify_count if record else 0,
    )
    if record is None:
        change = HealthChange.RESOLVED if event.status == "closed" else HealthChange.NEW
        return _counted(fresh), change
    if event.last_updated < record.last_updated:
        return None, None  # an older version (the poll can lag the event feed)
    unchanged = fresh.status == record.status and fresh.digest == record.digest
    if unchanged:
        newer = event.last_updated > record.last_updated
        return (fresh if newer else None), None
    if record.status == "closed" and event.status == "closed":
        return fresh, None  # a closed event edited afterwards: not worth a message
    if event.status == "closed":
        return _counted(fresh), HealthChange.RESOLVED
    return _counted(fresh), HealthChange.UPDATED


def _counted(record: HealthRecord) -> HealthRecord:
    return record.model_copy(update={"notify_count": record.notify_count + 1})


# ---------------------------------------------------------------------------- messages
_SEVERITY = {
    "issue": Severity.WARNING,
    "investigation": Severity.WARNING,
    "scheduledChange": Severity.INFO,
    "accountNotification": Severity.INFO,
}
_REASON = {
    HealthChange.NEW: NotifyReason.FIRING,
    HealthChange.UPDATED: NotifyReason.REPEAT,
    HealthChange.RESOLVED: NotifyReason.RESOLVED,
}


def console_link(event: HealthEvent) -> str:
    return f"https://health.aws.amazon.com/health/home#/account/event-log?eventID={event.arn}"


def health_title(event: HealthEvent, change: HealthChange) -> str:
    label = "RESOLVED" if change is HealthChange.RESOLVED else "AWS HEALTH"
    verb = {"new": "", "updated": " updated", "resolved": " closed"}[change.value]
    return (
        f"[{label}] {event.service} {event.category}{verb} in {event.region}:"
        f" {event.event_type_code}"
    )


def health_lines(event: HealthEvent) -> list[str]:
    """The facts of an event, for email bodies (its description comes first)."""
    lines = [
        event.description.strip() or "(AWS gave no description)",
        "",
        f"Service:    {event.service}",
        f"Event type: {event.event_type_code} ({event.category})",
        f"Region:     {event.region}",
        f"Status:     {event.status}",
    ]
    if event.account:
        lines.append(f"Account:    {event.account}")
    if event.start_time:
        lines.append(f"Started:    {iso(event.start_time)}")
    if event.end_time:
        lines.append(f"Ended:      {iso(event.end_time)}")
    lines.append(f"Updated:    {iso(event.last_updated)}")
    if event.affected_entities:
        shown = event.affected_entities[:MAX_ENTITIES_LISTED]
        lines += ["", f"Affected resources ({len(event.affected_entities)}):"]
        lines += [f"  - {entity}" for entity in shown]
        if len(event.affected_entities) > len(shown):
            lines.append(f"  - ...and {len(event.affected_entities) - len(shown)} more")
    lines += ["", f"AWS Health: {console_link(event)}"]
    return lines


def health_notification(event: HealthEvent, change: HealthChange, *, stack: str) -> Notification:
    notification_id = hashlib.sha256(
        f"health|{event.arn}|{event.account}|{iso(event.last_updated)}|{change.value}".encode()
    ).hexdigest()[:24]
    title = health_title(event, change)
    severity = _SEVERITY[event.category]
    text = "\n".join([title, "", *health_lines(event), "", "--", f"Vigil ({stack})"]) + "\n"
    chat = ChatPayload(
        notification_id=notification_id,
        category="health",
        reason=_REASON[change],
        severity=severity,
        title=title,
        text=(event.description.strip() or event.event_type_code)[:2500]
        + (f"\nAccount {event.account}" if event.account else "")
        + f"\n<{console_link(event)}|AWS Health event>",
        stack=stack,
        alerts=[],
    )
    return publishable(
        chat, text=text, status="resolved" if change is HealthChange.RESOLVED else "firing"
    )
