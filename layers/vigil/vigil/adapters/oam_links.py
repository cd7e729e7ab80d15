"""The accounts linked to the monitoring account's OAM sinks, per region (ADR 54): which members
share their metrics with Vigil there.

In a region, ``ListSinks`` gives the monitoring account's sinks (the OAM API Reference: "Use
this operation in a monitoring account to return the list of sinks created in that account"),
and ``ListAttachedLinks`` with each sink's ARN as ``SinkIdentifier`` the links attached to it,
every page of both. Each item's ``LinkArn`` (``arn:aws:oam:<region>:<account>:link/<id>``)
names the source account. A link whose ``ResourceTypes`` leave out
``AWS::CloudWatch::Metric`` shares no metrics and does not count; an item without
``ResourceTypes`` counts (nothing says it shares none).

Any failure (throttled, a 5xx, ``AccessDenied``, a connection error) answers ``None``: nothing
is known about that region's links, and each member keeps its last known state there.
"""

from collections.abc import Callable, Iterator
from typing import Any

from aws_lambda_powertools import Logger

from vigil.adapters.paging import counted_pages
from vigil.adapters.stats import CallStats

logger = Logger(child=True)

# No type stubs are installed for the OAM client; it is typed ``Any``.
OamClient = Any

METRICS = "AWS::CloudWatch::Metric"
"""The resource type a link must share for its account's metrics to reach the sink."""


class _Unanswered(Exception):
    pass


def link_account(arn: str) -> str | None:
    """The account of a link ARN (its fifth field), or ``None`` when it is not one."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "oam" or not parts[5].startswith("link/"):
        return None
    return parts[4] or None


class OamLinks:
    """The linked accounts of one region at a time, asked of that region's OAM client."""

    def __init__(self, clients: Callable[[str], OamClient], stats: CallStats | None = None) -> None:
        self._clients = clients
        self.stats = stats or CallStats()

    def _pages(self, client: "OamClient", api: str, operation: str, **kwargs: Any) -> Iterator[Any]:
        return counted_pages(
            client.get_paginator(operation).paginate(**kwargs),
            api=api,
            stats=self.stats,
            failed=_Unanswered,
        )

    def linked(self, region: str) -> frozenset[str] | None:
        """The accounts with a link sharing metrics to a sink of the monitoring account in
        ``region``; ``None`` when OAM did not answer."""
        client = self._clients(region)
        try:
            sinks = [
                str(sink["Arn"])
                for page in self._pages(client, "ListSinks", "list_sinks")
                for sink in page.get("Items", [])
            ]
            accounts: set[str] = set()
            for sink in sinks:
                for page in self._pages(
                    client, "ListAttachedLinks", "list_attached_links", SinkIdentifier=sink
                ):
                    for item in page.get("Items", []):
                        types = item.get("ResourceTypes")
                        account = link_account(str(item.get("LinkArn", "")))
                        if account is not None and (types is None or METRICS in types):
                            accounts.add(account)
        except _Unanswered as exc:
            logger.warning(
                "OAM did not answer: the members' links there keep their last known state",
                extra={"region": region, "error": str(exc)[:500]},
            )
            return None
        return frozenset(accounts)
