"""AWS Health events: normalise, filter, de-duplicate and announce.

Two feeds deliver the same events: the ``aws.health`` EventBridge rule (primary; needs no
support plan) and the catch-up poll of the Health API. Each event version is identified by
its ARN and ``last_updated``; :func:`track` compares it with what the state table holds and
decides whether a reader hears about it:

    (unseen) --open/upcoming--> NEW      (unseen) --closed--> RESOLVED (once)
    seen     --status, description or affected entities changed--> UPDATED
    seen     --closed--> RESOLVED        anything older or unchanged --> nothing

Parsing is strict only where Vigil needs a value (the ARN, service, event type code and
times); a category, status code, scope or actionability AWS adds later passes through and is
shown as AWS spells it. An event with more affected entities than fit one EventBridge event
comes as pages (``detail.page``/``totalPages``); :func:`merge_page` folds them into one event
(ADR 30). An event carries at most :data:`MAX_ENTITIES_LISTED` entities, with the count and a
hash of all of them, so no number of entities can outgrow a workflow input or a table item.
"""

import fnmatch
import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, NamedTuple, Protocol

from pydantic import AwareDatetime, Field, ValidationError

from vigil.alerting.messages import account_label, publishable, warning_notice
from vigil.alerting.outbox import OutboxEntry
from vigil.core.clock import iso
from vigil.core.errors import InvalidEventError, describe_validation
from vigil.core.model import (
    ChatPayload,
    Contract,
    HealthEvent,
    Link,
    Notification,
    NotifyReason,
    Severity,
)
from vigil.rules.health import HealthConfig, HealthMatch

MAX_ENTITIES_LISTED = 20
"""Entities an event carries (the first in sort order) and an email lists."""
MAX_ENTITIES_CHAT = 10
"""Entities a chat message lists; the rest are counted."""
MAX_PAGES = 1000
"""More pages than this (each up to 256 KB of entities) is not an event Vigil can merge."""
_HASH_MODULUS = 2**128


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
    status: str
    digest: Annotated[str, Field(description="Hash of the description and affected entities.")]
    notify_count: int = 0
    revision: int = 0


class HealthStorePort(Protocol):
    def get(self, arn: str, account: str | None) -> HealthRecord | None: ...

    def save(
        self, before: HealthRecord | None, after: HealthRecord, outbox: Sequence[OutboxEntry] = ()
    ) -> None:
        """Write ``after`` if ``before`` is still stored, with the notifications it decided."""
        ...


class PageSummary(Contract):
    count: Annotated[int, Field(ge=0)]
    digest: Annotated[str, Field(description="entity_set_hash of the page's entities.")]


class HealthPages(Contract):
    """The pages of one version (``last_updated``) of a multi-page event seen so far.

    Bounded whatever the number of entities: per page a count and a hash, and the union's
    first :data:`MAX_ENTITIES_LISTED` entities (pk ``HEALTHPAGES#<arn>#<account>``).
    """

    version: Literal[1] = 1
    arn: str
    account: str | None = None
    last_updated: AwareDatetime
    total_pages: Annotated[int, Field(ge=2, le=MAX_PAGES)]
    pages: dict[int, PageSummary]
    entities: list[str] = Field(default_factory=list, max_length=MAX_ENTITIES_LISTED)
    revision: int = 0

    @property
    def complete(self) -> bool:
        return len(self.pages) >= self.total_pages


class AccountNamesPort(Protocol):
    def name(self, account: str) -> str | None:
        """The account's name in the Organization; ``None`` when it is not a known member."""
        ...


class HealthPagesPort(Protocol):
    def get(self, arn: str, account: str | None) -> HealthPages | None: ...

    def save(self, before: HealthPages | None, after: HealthPages) -> None:
        """Store ``after`` if the stored revision is still ``before``'s; ``ConflictError`` if
        another page got there first."""
        ...


class Page(NamedTuple):
    number: int
    total: int


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


def entity_set_hash(entities: list[str]) -> str:
    """A hash of a set of entities that does not depend on their order or on how they were
    split: the sum of the entities' hashes, so the hashes of disjoint pages add up to the
    hash of their union."""
    total = sum(int(hashlib.sha256(e.encode()).hexdigest()[:32], 16) for e in set(entities))
    return f"{total % _HASH_MODULUS:032x}"


def _add_hashes(digests: list[str]) -> str:
    return f"{sum(int(d, 16) for d in digests) % _HASH_MODULUS:032x}"


def _entity_fields(entities: list[str]) -> dict[str, Any]:
    """The first entities in sort order, with the count and hash of all when some are cut."""
    every = sorted(set(entities))
    if len(every) <= MAX_ENTITIES_LISTED:
        return {"affected_entities": every}
    return {
        "affected_entities": every[:MAX_ENTITIES_LISTED],
        "affected_entity_count": len(every),
        "entities_digest": entity_set_hash(every),
    }


def eventbridge_page(event: dict[str, Any]) -> Page | None:
    """``detail.page`` of ``detail.totalPages`` (AWS sends them as strings), or ``None`` for
    an event that comes whole."""
    detail = event.get("detail")
    if not isinstance(detail, dict) or detail.get("totalPages") in (None, "", "1", 1):
        return None
    try:
        page = Page(int(detail.get("page") or 0), int(detail["totalPages"]))
    except (TypeError, ValueError) as exc:
        raise InvalidEventError(
            f"aws.health event: detail.page/totalPages: {detail.get('page')!r} of"
            f" {detail.get('totalPages')!r} are not page numbers"
        ) from exc
    if not 1 <= page.number <= page.total <= MAX_PAGES:
        raise InvalidEventError(
            f"aws.health event: detail.page: page {page.number} of {page.total} is out of range"
            f" (1 to {MAX_PAGES} pages)"
        )
    return page


def from_eventbridge(event: object) -> HealthEvent:
    """Normalise an ``aws.health`` EventBridge event (``AWS Health Event`` or ``AWS Health
    Abuse Event``, one page of it if paged); errors name the field.

    A missing ``statusCode`` (abuse reports have come without one) reads as ``open``: AWS
    is announcing it."""
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
            "category": detail.get("eventTypeCategory") or "unknown",
            "region": detail.get("eventRegion") or event.get("region"),
            "account": detail.get("affectedAccount") or event.get("account"),
            "status": detail.get("statusCode") or "open",
            "scope": detail.get("eventScopeCode"),
            "actionability": detail.get("actionability"),
            "start_time": _optional_time(detail.get("startTime"), field="detail.startTime"),
            "end_time": _optional_time(detail.get("endTime"), field="detail.endTime"),
            "last_updated": parse_health_time(last_updated, field="detail.lastUpdatedTime"),
            "description": description,
            **_entity_fields(entities),
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
            "category": event.get("eventTypeCategory") or "unknown",
            "region": event.get("region"),
            "account": account,
            "status": event.get("statusCode") or "open",
            "scope": event.get("eventScopeCode"),
            "actionability": event.get("actionability"),
            "start_time": _optional_time(event.get("startTime"), field="startTime"),
            "end_time": _optional_time(event.get("endTime"), field="endTime"),
            "last_updated": parse_health_time(
                event.get("lastUpdatedTime"), field="lastUpdatedTime"
            ),
            "description": description,
            **_entity_fields(entities),
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
    "scope": "detail.eventScopeCode",
    "actionability": "detail.actionability",
}
_API_NAMES = {
    "arn": "arn",
    "service": "service",
    "event_type_code": "eventTypeCode",
    "category": "eventTypeCategory",
    "region": "region",
    "status": "statusCode",
    "scope": "eventScopeCode",
    "actionability": "actionability",
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
        and (not match.actionabilities or event.actionability in match.actionabilities)
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
    """A hash of what a reader reads: the description and every affected entity (through
    their hash and count when not all are listed)."""
    entities: object = sorted(event.affected_entities)
    if event.entities_digest is not None:
        entities = [event.entities_digest, event.entity_count]
    body = json.dumps([event.description, entities])
    return hashlib.sha256(body.encode()).hexdigest()[:20]


def merge_page(
    pages: HealthPages | None, event: HealthEvent, page: Page
) -> tuple[HealthPages | None, HealthEvent | None]:
    """Fold one page of a multi-page event into what was seen of its version.

    Returns what to store (``None``: nothing) and the whole event once every page of the
    version is in (``None`` until then). A page seen before changes nothing, but a complete
    version is returned again, so a retried delivery still reaches the evaluation (which
    finds nothing new). A newer version starts over; a page of an older one is dropped.
    The pages of one version are disjoint (AWS splits one list), so their counts and hashes
    add up.
    """
    if pages is not None and event.last_updated < pages.last_updated:
        return None, None
    summary = PageSummary(
        count=event.entity_count,
        digest=event.entities_digest or entity_set_hash(event.affected_entities),
    )
    if pages is None or event.last_updated > pages.last_updated:
        pages = HealthPages(
            arn=event.arn,
            account=event.account,
            last_updated=event.last_updated,
            total_pages=page.total,
            pages={},
            revision=pages.revision if pages else 0,
        )
    if page.number in pages.pages:
        return None, (_whole(pages, event) if pages.complete else None)
    after = pages.model_copy(
        update={
            "pages": pages.pages | {page.number: summary},
            "entities": sorted({*pages.entities, *event.affected_entities})[:MAX_ENTITIES_LISTED],
        }
    )
    return after, (_whole(after, event) if after.complete else None)


def _whole(pages: HealthPages, event: HealthEvent) -> HealthEvent:
    count = sum(p.count for p in pages.pages.values())
    if count <= MAX_ENTITIES_LISTED:
        listed: dict[str, Any] = {"affected_entity_count": None, "entities_digest": None}
    else:
        digests = [p.digest for p in pages.pages.values()]
        listed = {"affected_entity_count": count, "entities_digest": _add_hashes(digests)}
    return event.model_copy(update={"affected_entities": pages.entities, **listed})


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
_UNKNOWN_CATEGORY_SEVERITY = Severity.WARNING  # a category AWS added later: worth a look
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


def utc(moment: datetime) -> str:
    """A time as people read it: ``2025-03-14 09:30 UTC``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def when(event: HealthEvent) -> list[tuple[str, str]]:
    """When it happens, as (label, time): a scheduled change's maintenance window, else
    when the event started (and ended)."""
    start, end = event.start_time, event.end_time
    if event.category == "scheduledChange" and start:
        return [("Window", f"{utc(start)} to {utc(end)}" if end else f"from {utc(start)}")]
    times = [("Started", start), ("Ended", end)]
    return [(label, utc(moment)) for label, moment in times if moment]


def entity_lines(event: HealthEvent, *, limit: int) -> list[str]:
    """The affected resources (entities), the first ``limit`` of them, the rest counted."""
    if not event.affected_entities:
        return []
    shown = event.affected_entities[:limit]
    lines = [f"Affected resources ({event.entity_count}):"]
    lines += [f"  - {entity}" for entity in shown]
    if event.entity_count > len(shown):
        lines.append(f"  - and {event.entity_count - len(shown)} more")
    return lines


def health_lines(event: HealthEvent, account_name: str | None = None) -> list[str]:
    """The facts of an event, for email bodies (its description comes first); the affected
    account by ``account_name`` too when it is a known member."""
    lines = [
        event.description.strip() or "(AWS gave no description)",
        "",
        f"Service:    {event.service}",
        f"Event type: {event.event_type_code} ({event.category})",
        f"Region:     {event.region}",
        f"Status:     {event.status}",
    ]
    if event.actionability:
        lines.append(f"Action:     {event.actionability}")
    if event.scope:
        lines.append(f"Scope:      {event.scope}")
    if event.account:
        lines.append(f"Account:    {account_label(event.account, account_name)}")
    lines += [f"{label + ':':<11} {moment}" for label, moment in when(event)]
    lines.append(f"Updated:    {utc(event.last_updated)}")
    if entities := entity_lines(event, limit=MAX_ENTITIES_LISTED):
        lines += ["", *entities]
    lines += ["", f"AWS Health: {console_link(event)}"]
    return lines


def chat_lines(event: HealthEvent, account_name: str | None = None) -> list[str]:
    """The facts of an event for chat, before its description: the window or start time,
    and the affected resources (capped at :data:`MAX_ENTITIES_CHAT`). They come first so
    that a channel that caps a long description cuts the description, not them."""
    lines = [f"{label}: {moment}" for label, moment in when(event)]
    if event.actionability:
        lines.append(f"Action: {event.actionability}")
    if event.account:
        lines.append(f"Account: {account_label(event.account, account_name)}")
    entities = entity_lines(event, limit=MAX_ENTITIES_CHAT)
    return [*lines, *entities, "", event.description.strip() or event.event_type_code]


def health_notification(
    event: HealthEvent, change: HealthChange, *, stack: str, account_name: str | None = None
) -> Notification:
    """What a reader hears of an event; ``account_name`` names its affected account (an
    Organization's member, for the organizational view), plain text escaped per channel."""
    version = f"{iso(event.last_updated)}|{digest(event)}|{event.status}"
    notification_id = hashlib.sha256(
        f"health|{event.arn}|{event.account}|{version}|{change.value}".encode()
    ).hexdigest()[:24]
    title = health_title(event, change)
    severity = _SEVERITY.get(event.category, _UNKNOWN_CATEGORY_SEVERITY)
    body = health_lines(event, account_name)
    text = "\n".join([title, "", *body, "", "--", f"Vigil ({stack})"]) + "\n"
    chat = ChatPayload(
        notification_id=notification_id,
        category="health",
        reason=_REASON[change],
        severity=severity,
        title=title,
        text="\n".join(chat_lines(event, account_name)),
        stack=stack,
        alerts=[],
        links=[Link(label="AWS Health event", url=console_link(event))],
    )
    return publishable(
        chat, text=text, status="resolved" if change is HealthChange.RESOLVED else "firing"
    )


def parked_notification(event_id: str, reason: str, *, stack: str, table: str) -> Notification:
    """The self-watch notice for an ``aws.health`` event Vigil cannot read and parked.

    Its id is derived from the EventBridge event id, so a redelivered event is posted once.
    """
    title = f"[WARNING] Vigil self-watch: AWS Health event {event_id} parked"
    where = f"state table {table}, pk HEALTHPARKED#{event_id}, sk STATE"
    lines = [
        "An aws.health event could not be read and was parked, not retried:",
        reason,
        "",
        f"EventBridge event id: {event_id}",
        f"Parked in: {where}",
        "Until Vigil reads this kind of event, check AWS Health in the console.",
    ]
    return warning_notice(
        title,
        lines,
        key=f"health-parked|{event_id}",
        stack=stack,
        category="self-watch",
        footer=f"Vigil ({stack})",
    )
