"""Log-groups mode (``ErrorStreamMode=log-groups``, ADR 42): the discovery puts Vigil's
subscription filter on each watched function's log group, for accounts whose account-level
subscription filter policy is taken.

The functions already subscribed are stored (``DISCOVERY#log_subscriptions``), so a discovery
asks CloudWatch Logs only about functions it has not subscribed yet, at most
``PER_DISCOVERY`` of them (``DescribeSubscriptionFilters`` and ``PutSubscriptionFilter`` are
control-plane calls with low rate quotas): 1,000 functions are all subscribed after 5 hourly
discoveries, and a new function within the hour after its first discovery. A log group that
does not exist yet (a function never invoked) is tried again at the next discovery; one that
already holds two other filters (CloudWatch Logs' limit) is reported, never overwritten.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

PER_DISCOVERY = 200
FAMILY = "log_subscriptions"


class Subscription(StrEnum):
    SUBSCRIBED = "subscribed"
    FULL = "full"
    """The log group holds two filters of others: CloudWatch Logs' limit."""
    MISSING = "missing"
    """No log group yet: the function has never logged."""


class InventoryStore(Protocol):
    """Where the discovery keeps what it found (the collector's state, as the dials use it)."""

    def inventory(self, family: str) -> list[dict[str, Any]] | None: ...

    def remember_inventory(
        self, family: str, records: list[dict[str, Any]], *, at: datetime
    ) -> None: ...


class SubscriptionsPort(Protocol):
    def subscribe(self, log_group: str) -> Subscription: ...


@dataclass(frozen=True)
class Subscribed:
    """What one discovery did: the functions now subscribed, and those it could not."""

    subscribed: list[str]
    full: list[str]
    missing: list[str]


def subscribe_functions(
    functions: Iterable[str],
    *,
    port: SubscriptionsPort,
    state: InventoryStore,
    now: datetime,
    limit: int = PER_DISCOVERY,
    log_group: Callable[[str], str] = "/aws/lambda/{}".format,
) -> Subscribed:
    """Subscribe the watched functions not subscribed yet (at most ``limit``)."""
    names = sorted(set(functions))
    records = state.inventory(FAMILY) or []
    known = {str(record.get("function")) for record in records} & set(names)
    found: dict[Subscription, list[str]] = {kind: [] for kind in Subscription}
    for name in [name for name in names if name not in known][:limit]:
        found[port.subscribe(log_group(name))].append(name)
    now_known = sorted(known | set(found[Subscription.SUBSCRIBED]))
    if now_known != sorted(str(record.get("function")) for record in records):
        state.remember_inventory(FAMILY, [{"function": name} for name in now_known], at=now)
    return Subscribed(
        subscribed=now_known, full=found[Subscription.FULL], missing=found[Subscription.MISSING]
    )
