"""``vigil alerts ack ID [--comment TEXT]``: acknowledge an alert's notification groups (ADR 44).

``ID`` is a group id (as ``alerts show`` and the PagerDuty incident's dedup key give it) or an
alert fingerprint: every open group the alert fires in. An acknowledged group stops repeating
until it resolves, a member's severity rises above the acknowledged one, or a new member fires;
a receiver with PagerDuty has its incident acknowledged too (by the next evaluation). IAM is the
guard, as for silences: acknowledging needs write access to the state table; the caller's
identity (``operations.identity_name`` of its ARN) is recorded as who acknowledged.

The routing config is the one the stack runs with (its last good rules config in the state
table), so the receiver's PagerDuty key is the one the functions use.
"""

from datetime import datetime

from vigil.alerting.acknowledge import acknowledge_target
from vigil.alerting.notify import GroupStorePort
from vigil.core.clock import iso
from vigil.rules.routing import RoutingConfig
from vigil_cli.output import Listing

COLUMNS = (
    "Group ID",
    "Group",
    "Receiver",
    "Outcome",
    "Acknowledged by",
    "Acknowledged at",
    "Firing",
)


def acknowledge_alerts(
    groups: GroupStorePort,
    target: str,
    *,
    by: str,
    now: datetime,
    routing: RoutingConfig,
    stack: str,
    comment: str | None = None,
) -> Listing:
    """Acknowledge what ``target`` names; one row per group. Raises
    ``vigil.alerting.acknowledge.NothingAcknowledged`` (a one-line error) when no open group
    has that id or that alert firing."""
    done = acknowledge_target(
        groups, target, by=by, via="cli", now=now, routing=routing, stack=stack, comment=comment
    )
    rows = [
        (a.group_id, a.key, a.receiver, a.outcome, a.by, iso(a.at), str(a.firing)) for a in done
    ]
    return Listing(COLUMNS, rows, empty="Nothing acknowledged.")
