"""A fake AWS Health, fed by a scenario's ``health:`` section.

moto has no Health backend (it answers Health requests with a 404 "Not yet implemented"). The
emulator stands in for both halves of AWS Health, so the real collector code runs unchanged:

* **The API.** Requests to ``health.us-east-1.amazonaws.com`` and ``health.us-east-2...``
  (``DescribeEvents``, ``DescribeEventDetails``, ``DescribeAffectedEntities``, JSON protocol)
  are answered in-process from the scenario's events as they stand at simulated time, with
  pagination (``maxResults``/``nextToken``). ``support_plan: false`` answers every call with
  ``SubscriptionRequiredException``. No Health request ever leaves the process.
* **The global endpoint's DNS.** ``socket.gethostbyname_ex("global.health.amazonaws.com")``
  answers with a CNAME to the scenario's ``active_region`` (default ``us-east-1``).
* **EventBridge.** Each event update is delivered, at its simulated time, as an ``aws.health``
  event to the Lambda targets of the stack's EventBridge rules whose pattern matches it
  (moto stores rules but delivers to no Lambda target).

Scenario section::

    health:
      support_plan: true              # false: the API answers SubscriptionRequiredException
      active_region: us-east-1        # where global.health.amazonaws.com points
      events:
        - service: LAMBDA
          event_type_code: AWS_LAMBDA_OPERATIONAL_ISSUE
          category: issue             # or accountNotification, scheduledChange, ...
          region: us-east-1
          eventbridge: true           # also delivered as an aws.health event (default true)
          accounts: [111111111111]    # member accounts it affects, for the organizational
                                      # view (*ForOrganization calls); none: a public event
          updates:                    # offsets from the scenario start
            - {at: 25m, status: open, description: Increased error rates, entities: [fn-a]}
            - {at: 70m, status: closed, description: Resolved.}
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from unittest import mock

from moto.events.models import events_backends

from emulator._aws import ACCOUNT_ID, REGION, JsonAnswer, json_service, parse_arn
from emulator.clock import parse_duration
from emulator.errors import ScenarioError

_HEALTH_URL = re.compile(r"^https://health\.(us-east-[12])\.amazonaws\.com/?$")
_GLOBAL_NAME = "global.health.amazonaws.com"
_CATEGORIES = {"issue", "accountNotification", "scheduledChange", "investigation"}
_STATUSES = {"open", "upcoming", "closed"}
_EVENT_KEYS = {
    "arn",
    "service",
    "event_type_code",
    "category",
    "region",
    "eventbridge",
    "updates",
    "accounts",
}
_UPDATE_KEYS = {"at", "status", "description", "entities"}


@dataclass(frozen=True)
class HealthUpdate:
    at: timedelta
    status: str
    description: str
    entities: tuple[str, ...]


@dataclass(frozen=True)
class ScenarioHealthEvent:
    arn: str
    service: str
    event_type_code: str
    category: str
    region: str
    eventbridge: bool
    updates: tuple[HealthUpdate, ...]
    accounts: tuple[str, ...] = ()


@dataclass(frozen=True)
class HealthScenario:
    support_plan: bool
    active_region: str
    events: tuple[ScenarioHealthEvent, ...]


def parse_health(document: object, length: timedelta) -> HealthScenario | None:
    """Validate a scenario's ``health:`` section (``None`` if absent)."""

    if document is None:
        return None
    if not isinstance(document, Mapping):
        raise ScenarioError("health: expected a mapping")
    extra = set(document) - {"support_plan", "active_region", "events"}
    if extra:
        raise ScenarioError(f"health: unknown field(s) {', '.join(sorted(map(str, extra)))}")
    support = document.get("support_plan", True)
    if not isinstance(support, bool):
        raise ScenarioError(f"health.support_plan: expected true or false, got {support!r}")
    active = document.get("active_region", "us-east-1")
    if active not in ("us-east-1", "us-east-2"):
        raise ScenarioError(f"health.active_region: us-east-1 or us-east-2, got {active!r}")
    events: list[ScenarioHealthEvent] = []
    for index, item in enumerate(document.get("events") or []):
        where = f"health.events[{index}]"
        if not isinstance(item, Mapping):
            raise ScenarioError(f"{where}: expected a mapping")
        unknown = set(item) - _EVENT_KEYS
        if unknown:
            raise ScenarioError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
        for key in ("service", "event_type_code", "category", "region"):
            if not isinstance(item.get(key), str) or not item[key]:
                raise ScenarioError(f"{where}.{key}: missing")
        if item["category"] not in _CATEGORIES:
            raise ScenarioError(f"{where}.category: one of {', '.join(sorted(_CATEGORIES))}")
        updates: list[HealthUpdate] = []
        for number, update in enumerate(item.get("updates") or []):
            uwhere = f"{where}.updates[{number}]"
            if not isinstance(update, Mapping) or set(update) - _UPDATE_KEYS:
                raise ScenarioError(f"{uwhere}: fields {', '.join(sorted(_UPDATE_KEYS))}")
            at = parse_duration(update.get("at"), f"{uwhere}.at")
            if at > length:
                raise ScenarioError(f"{uwhere}.at: after the end of the scenario")
            if updates and at <= updates[-1].at:
                raise ScenarioError(f"{uwhere}.at: must be after the previous update")
            if update.get("status") not in _STATUSES:
                raise ScenarioError(f"{uwhere}.status: one of {', '.join(sorted(_STATUSES))}")
            entities = update.get("entities") or []
            if not isinstance(entities, list):
                raise ScenarioError(f"{uwhere}.entities: expected a list")
            updates.append(
                HealthUpdate(
                    at=at,
                    status=str(update["status"]),
                    description=str(update.get("description", "")),
                    entities=tuple(str(e) for e in entities),
                )
            )
        if not updates:
            raise ScenarioError(f"{where}.updates: expected a non-empty list")
        code = str(item["event_type_code"])
        arn = item.get("arn") or (
            f"arn:aws:health:{item['region']}::event/{item['service']}/{code}/{code}_{index}"
        )
        events.append(
            ScenarioHealthEvent(
                arn=str(arn),
                service=str(item["service"]),
                event_type_code=code,
                category=str(item["category"]),
                region=str(item["region"]),
                eventbridge=bool(item.get("eventbridge", True)),
                updates=tuple(updates),
                accounts=_accounts(item.get("accounts"), f"{where}.accounts"),
            )
        )
    return HealthScenario(support, str(active), tuple(events))


def _accounts(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(re.fullmatch(r"\d{12}", str(a)) for a in value):
        raise ScenarioError(f"{where}: expected a list of 12-digit account ids")
    return tuple(str(a) for a in value)


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


def _rfc1123(moment: datetime) -> str:
    return moment.strftime("%a, %d %b %Y %H:%M:%S GMT")


class FakeHealth:
    """The Health API, its DNS name and its EventBridge events; see the module docstring."""

    def __init__(
        self, scenario: HealthScenario, *, start: datetime, now: Callable[[], datetime]
    ) -> None:
        self.scenario = scenario
        self.start = start
        self._now = now
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        """``(region, operation, request body)`` of every API call answered."""
        self._delivered: set[tuple[str, int]] = set()

    # ------------------------------------------------------------------ state at a time
    def _current(self, event: ScenarioHealthEvent) -> tuple[HealthUpdate, datetime] | None:
        now = self._now()
        seen = [u for u in event.updates if self.start + u.at <= now]
        return (seen[-1], self.start + seen[-1].at) if seen else None

    def _summary(self, event: ScenarioHealthEvent, update: HealthUpdate, at: datetime) -> Any:
        first = self.start + event.updates[0].at
        return {
            "arn": event.arn,
            "service": event.service,
            "eventTypeCode": event.event_type_code,
            "eventTypeCategory": event.category,
            "region": event.region,
            "startTime": _epoch(first),
            **({"endTime": _epoch(at)} if update.status == "closed" else {}),
            "lastUpdatedTime": _epoch(at),
            "statusCode": update.status,
            "eventScopeCode": "ACCOUNT_SPECIFIC",
        }

    # ------------------------------------------------------------------ the API
    def answer(self, region: str, target: str, body: dict[str, Any]) -> tuple[int, str]:
        operation = target.rsplit(".", 1)[-1]
        self.requests.append((region, operation, body))
        if not self.scenario.support_plan:
            return 400, json.dumps(
                {
                    "__type": "SubscriptionRequiredException",
                    "message": "AWS Premium Support Subscription is required to use this service.",
                }
            )
        current = {e.arn: (e, *c) for e in self.scenario.events if (c := self._current(e))}
        if operation == "DescribeEvents":
            ranges = body.get("filter", {}).get("lastUpdatedTimes", [])
            since = min((float(r.get("from", 0)) for r in ranges), default=0.0)
            items = [
                self._summary(event, update, at)
                for event, update, at in current.values()
                if _epoch(at) >= since
            ]
            return self._page(items, body, "events")
        if operation == "DescribeEventDetails":
            successful = [
                {
                    "event": self._summary(*current[arn]),
                    "eventDescription": {"latestDescription": current[arn][1].description},
                    "eventMetadata": {},
                }
                for arn in body.get("eventArns", [])
                if arn in current
            ]
            return 200, json.dumps({"successfulSet": successful, "failedSet": []})
        if operation == "DescribeAffectedEntities":
            entities = [
                {"entityValue": value, "eventArn": arn, "awsAccountId": ACCOUNT_ID}
                for arn in body.get("filter", {}).get("eventArns", [])
                if arn in current
                for value in current[arn][1].entities
            ]
            return self._page(entities, body, "entities")
        if operation.endswith("ForOrganization"):
            return self._organization(operation, body, current)
        return 400, json.dumps(
            {"__type": "InvalidAction", "message": f"the emulator does not fake {operation}"}
        )

    @staticmethod
    def _page(items: list[Any], body: dict[str, Any], key: str) -> tuple[int, str]:
        size = int(body.get("maxResults") or 10)
        offset = int(str(body.get("nextToken") or "page0").removeprefix("page"))
        page: dict[str, Any] = {key: items[offset : offset + size]}
        if offset + size < len(items):
            page["nextToken"] = f"page{offset + size}"  # at least 4 characters, as AWS's
        return 200, json.dumps(page)

    # ------------------------------------------------------------------ EventBridge
    def due_events(self, until: datetime) -> Iterator[dict[str, Any]]:
        """The ``aws.health`` EventBridge events of updates at or before ``until`` not yet
        delivered, in time order."""
        pending = sorted(
            (self.start + update.at, index, number, event, update)
            for index, event in enumerate(self.scenario.events)
            if event.eventbridge
            for number, update in enumerate(event.updates)
            if (event.arn, number) not in self._delivered and self.start + update.at <= until
        )
        for at, _, number, event, update in pending:
            self._delivered.add((event.arn, number))
            first = self.start + event.updates[0].at
            yield {
                "version": "0",
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{event.arn}#{number}")),
                "detail-type": "AWS Health Event",
                "source": "aws.health",
                "account": ACCOUNT_ID,
                "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": REGION,
                "resources": list(update.entities),
                "detail": {
                    "eventArn": event.arn,
                    "service": event.service,
                    "eventTypeCode": event.event_type_code,
                    "eventTypeCategory": event.category,
                    "eventScopeCode": "ACCOUNT_SPECIFIC",
                    "communicationId": f"{event.arn}-{number}",
                    "startTime": _rfc1123(first),
                    **({"endTime": _rfc1123(at)} if update.status == "closed" else {}),
                    "lastUpdatedTime": _rfc1123(at),
                    "statusCode": update.status,
                    "eventRegion": event.region,
                    "eventDescription": [
                        {"language": "en_US", "latestDescription": update.description}
                    ],
                    "affectedEntities": [{"entityValue": e} for e in update.entities],
                    "affectedAccount": ACCOUNT_ID,
                },
            }

    # ------------------------------------------------------------------ patches
    def _organization(
        self, operation: str, body: dict[str, Any], current: dict[str, Any]
    ) -> tuple[int, str]:
        """The organizational view: events with their scope, affected accounts, and details
        and entities asked for per (event, account) filter."""

        def summary(arn: str) -> Any:
            event, update, at = current[arn]
            scope = "ACCOUNT_SPECIFIC" if event.accounts else "PUBLIC"
            return self._summary(event, update, at) | {"eventScopeCode": scope}

        def known(filters: list[dict[str, str]]) -> list[dict[str, str]]:
            return [f for f in filters if f.get("eventArn") in current]

        if operation == "DescribeEventsForOrganization":
            since = float(body.get("filter", {}).get("lastUpdatedTime", {}).get("from", 0))
            items = [summary(arn) for arn, (_, _, at) in current.items() if _epoch(at) >= since]
            return self._page(items, body, "events")
        if operation == "DescribeAffectedAccountsForOrganization":
            arn = body.get("eventArn", "")
            accounts = list(current[arn][0].accounts) if arn in current else []
            return self._page(accounts, body, "affectedAccounts")
        if operation == "DescribeEventDetailsForOrganization":
            successful = [
                {
                    **({"awsAccountId": f["awsAccountId"]} if "awsAccountId" in f else {}),
                    "event": summary(f["eventArn"]),
                    "eventDescription": {
                        "latestDescription": current[f["eventArn"]][1].description
                    },
                }
                for f in known(body.get("organizationEventDetailFilters", []))
            ]
            return 200, json.dumps({"successfulSet": successful, "failedSet": []})
        if operation == "DescribeAffectedEntitiesForOrganization":
            entities = [
                {
                    "entityValue": value,
                    "eventArn": f["eventArn"],
                    "awsAccountId": f.get("awsAccountId", ACCOUNT_ID),
                }
                for f in known(body.get("organizationEntityFilters", []))
                for value in current[f["eventArn"]][1].entities
            ]
            return self._page(entities, body, "entities")
        return 400, json.dumps(
            {"__type": "InvalidAction", "message": f"the emulator does not fake {operation}"}
        )

    @contextlib.contextmanager
    def installed(self) -> Iterator[FakeHealth]:
        fake = self
        original_resolve = socket.gethostbyname_ex

        def answer(match: re.Match[str], target: str, body: dict[str, Any]) -> JsonAnswer:
            status, text = fake.answer(match.group(1), target, body)
            return status, {"Content-Type": "application/x-amz-json-1.1"}, text

        def gethostbyname_ex(name: str) -> tuple[str, list[str], list[str]]:
            if name.rstrip(".") == _GLOBAL_NAME:
                active = f"health.{fake.scenario.active_region}.amazonaws.com"
                return active, [_GLOBAL_NAME], ["127.0.0.1"]
            return original_resolve(name)

        with (
            json_service(_HEALTH_URL.match, answer),
            mock.patch.object(socket, "gethostbyname_ex", gethostbyname_ex),
        ):
            yield self


def rule_targets(event: Mapping[str, Any]) -> list[str]:
    """Names of the Lambda functions the stack's EventBridge rules route ``event`` to."""
    bus = events_backends[ACCOUNT_ID][REGION].event_buses["default"]
    names: list[str] = []
    for rule in bus.rules.values():
        if rule.state != "ENABLED" or not rule.event_pattern.matches_event(cast(Any, dict(event))):
            continue
        for target in rule.targets:
            _, service, _, _, resource = parse_arn(str(target["Arn"]))
            if service == "lambda":
                names.append(resource.split(":")[1])
    return names
