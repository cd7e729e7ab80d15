"""The AWS Health API, behind :class:`vigil.health.collect.HealthApiPort`.

AWS Health has two regional endpoints in an active-passive pair (us-east-1, us-east-2) and a
global name, ``global.health.amazonaws.com``, whose DNS CNAME points at the active one. Each
poll resolves it, asks the active region first and fails over to the other one when it
cannot be reached or answers with a server error after the client's own retries (botocore's
standard mode retries 5xx answers, throttling and time-outs). An account without a Business or
Enterprise support plan gets ``SubscriptionRequiredException``: that becomes
:class:`HealthSubscriptionRequired`, never a crash.

With ``organization=True`` (deployed in an AWS Organizations management or delegated
administrator account, with the organizational view turned on) the ``*ForOrganization``
calls are used instead: each event is expanded to the member accounts it affects, and each
(event, account) pair is tracked and notified on its own.

moto has no Health backend: tests use botocore's ``Stubber``, and the emulator answers these
calls from scenario data (``emulator.health``).
"""

import re
import socket
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from vigil.adapters.stats import CallStats
from vigil.core.errors import VigilError
from vigil.core.model import HealthEvent
from vigil.health.events import from_api

HealthClient = Any  # no type stubs for the health client are installed

logger = Logger(child=True)

GLOBAL_ENDPOINT = "global.health.amazonaws.com"
HEALTH_REGIONS = ("us-east-1", "us-east-2")
DETAILS_PER_CALL = 10  # DescribeEventDetails and DescribeAffectedEntities take 10 ARNs
_REGION_IN_NAME = re.compile(r"^health\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com\.?$")
_FAILOVER_CODES = {"InternalFailure", "InternalServerError", "ServiceUnavailable"}


class HealthApiUnavailable(VigilError):
    """Neither Health endpoint answered; the poll is skipped, events keep flowing."""


class HealthSubscriptionRequired(HealthApiUnavailable):
    """The account has no Business or Enterprise support plan (SubscriptionRequiredException)."""


def dns_active_region(
    resolve: Callable[[str], tuple[str, list[str], list[str]]] | None = None,
) -> str | None:
    """The region the global Health name points at (its CNAME), or ``None`` if DNS does not
    say; ``resolve`` defaults to ``socket.gethostbyname_ex``."""
    try:
        canonical, aliases, _ = (resolve or socket.gethostbyname_ex)(GLOBAL_ENDPOINT)
    except OSError as exc:
        logger.warning("could not resolve the Health global endpoint", extra={"error": str(exc)})
        return None
    for name in (canonical, *aliases):
        match = _REGION_IN_NAME.match(name)
        if match and match.group(1) in HEALTH_REGIONS:
            return match.group(1)
    return None


def failover_order(active: str | None) -> list[str]:
    """The active region first, then the passive one."""
    if active not in HEALTH_REGIONS:
        return list(HEALTH_REGIONS)
    return [active, *(r for r in HEALTH_REGIONS if r != active)]


class HealthApi:
    def __init__(
        self,
        client_for: Callable[[str], HealthClient],
        *,
        active_region: Callable[[], str | None] = dns_active_region,
        stats: CallStats | None = None,
        organization: bool = False,
    ) -> None:
        self._client_for = client_for
        self._active_region = active_region
        self.stats = stats or CallStats()
        self._organization = organization
        self.failures = 0
        """Endpoint attempts that failed after botocore's own retries (each fails over)."""

    def events(
        self, *, since: datetime, account: str, keep: Callable[[HealthEvent], bool]
    ) -> list[HealthEvent]:
        """Events updated since ``since`` that ``keep`` accepts, with description and entities."""
        last: Exception | None = None
        for region in failover_order(self._active_region()):
            fetch = self._organization_events if self._organization else self._events
            try:
                return fetch(self._client_for(region), since, account, keep)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code == "SubscriptionRequiredException":
                    raise HealthSubscriptionRequired(
                        "the AWS Health API needs a Business or Enterprise support plan"
                    ) from exc
                if code not in _FAILOVER_CODES:
                    raise
                last = exc
            except (
                EndpointConnectionError,
                ConnectTimeoutError,
                ReadTimeoutError,
                ConnectionClosedError,
            ) as exc:
                last = exc
            self.failures += 1
            logger.warning(
                "Health endpoint failed, failing over",
                extra={"region": region, "error": str(last)},
            )
        raise HealthApiUnavailable(f"no Health endpoint answered: {last}") from last

    def _events(
        self,
        client: HealthClient,
        since: datetime,
        account: str,
        keep: Callable[[HealthEvent], bool],
    ) -> list[HealthEvent]:
        summaries: list[dict[str, Any]] = []
        for page in self._pages(
            client,
            "describe_events",
            filter={"lastUpdatedTimes": [{"from": since}]},
            maxResults=100,
        ):
            for item in page.get("events", []):
                preview = from_api(item, description="", entities=[], account=account)
                if keep(preview):
                    summaries.append(item)
        events: list[HealthEvent] = []
        for start in range(0, len(summaries), DETAILS_PER_CALL):
            chunk = summaries[start : start + DETAILS_PER_CALL]
            arns = [str(item["arn"]) for item in chunk]
            descriptions = self._descriptions(client, arns)
            entities = self._entities(client, arns)
            events += [
                from_api(
                    item,
                    description=descriptions.get(str(item["arn"]), ""),
                    entities=entities.get(str(item["arn"]), []),
                    account=account,
                )
                for item in chunk
            ]
        return events

    def _organization_events(
        self,
        client: HealthClient,
        since: datetime,
        account: str,
        keep: Callable[[HealthEvent], bool],
    ) -> list[HealthEvent]:
        """The organizational view: one event per affected member account.

        A public event (a service issue) belongs to no member account: it is asked for
        without an account and kept once, under this account, as the event feed keeps it.
        """
        wanted: list[tuple[dict[str, Any], str, str | None]] = []
        for page in self._pages(
            client,
            "describe_events_for_organization",
            filter={"lastUpdatedTime": {"from": since}},
            maxResults=100,
        ):
            for item in page.get("events", []):
                members: list[tuple[str, str | None]] = (
                    [(member, member) for member in self._affected_accounts(client, item)]
                    if item.get("eventScopeCode") == "ACCOUNT_SPECIFIC"
                    else [(account, None)]
                )
                for member, asked_as in members:
                    preview = from_api(item, description="", entities=[], account=member)
                    if keep(preview):
                        wanted.append((item, member, asked_as))
        events: list[HealthEvent] = []
        for start in range(0, len(wanted), DETAILS_PER_CALL):
            chunk = wanted[start : start + DETAILS_PER_CALL]
            filters = [_account_filter(str(item["arn"]), asked) for item, _, asked in chunk]
            descriptions = self._organization_descriptions(client, filters)
            entities = self._organization_entities(client, filters)
            events += [
                from_api(
                    item,
                    description=descriptions.get((str(item["arn"]), asked), ""),
                    entities=entities.get((str(item["arn"]), asked), []),
                    account=member,
                )
                for item, member, asked in chunk
            ]
        return events

    def _affected_accounts(self, client: HealthClient, item: dict[str, Any]) -> list[str]:
        return [
            str(member)
            for page in self._pages(
                client, "describe_affected_accounts_for_organization", eventArn=item["arn"]
            )
            for member in page.get("affectedAccounts", [])
        ]

    def _organization_descriptions(
        self, client: HealthClient, filters: list[dict[str, str]]
    ) -> dict[tuple[str, str | None], str]:
        self.stats.count("DescribeEventDetailsForOrganization")
        response = client.describe_event_details_for_organization(
            organizationEventDetailFilters=filters
        )
        return {
            (str(item["event"]["arn"]), item.get("awsAccountId")): str(
                item.get("eventDescription", {}).get("latestDescription", "")
            )
            for item in response.get("successfulSet", [])
        }

    def _organization_entities(
        self, client: HealthClient, filters: list[dict[str, str]]
    ) -> dict[tuple[str, str | None], list[str]]:
        found: dict[tuple[str, str | None], list[str]] = {}
        for page in self._pages(
            client,
            "describe_affected_entities_for_organization",
            organizationEntityFilters=filters,
        ):
            for entity in page.get("entities", []):
                if entity.get("entityValue"):
                    key = (str(entity["eventArn"]), entity.get("awsAccountId"))
                    found.setdefault(key, []).append(str(entity["entityValue"]))
        return found

    def _descriptions(self, client: HealthClient, arns: list[str]) -> dict[str, str]:
        self.stats.count("DescribeEventDetails")
        response = client.describe_event_details(eventArns=arns)
        return {
            str(item["event"]["arn"]): str(
                item.get("eventDescription", {}).get("latestDescription", "")
            )
            for item in response.get("successfulSet", [])
        }

    def _entities(self, client: HealthClient, arns: list[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for page in self._pages(client, "describe_affected_entities", filter={"eventArns": arns}):
            for entity in page.get("entities", []):
                if entity.get("entityValue"):
                    found.setdefault(str(entity["eventArn"]), []).append(str(entity["entityValue"]))
        return found

    def _pages(self, client: HealthClient, operation: str, **kwargs: Any) -> Iterator[Any]:
        """Follow ``nextToken``, counting each call."""
        token: str | None = None
        api = "".join(part.title() for part in operation.split("_"))
        while True:
            self.stats.count(api)
            page = getattr(client, operation)(**kwargs, **({"nextToken": token} if token else {}))
            yield page
            token = page.get("nextToken")
            if not token:
                return


def _account_filter(arn: str, account: str | None) -> dict[str, str]:
    return {"eventArn": arn, **({"awsAccountId": account} if account else {})}
