"""What flows from one stage of the evaluation to the next (``vigil.evaluation.pipeline``).

Each stage's output holds the previous stage's, so the summary at the end can count what
every stage did.
"""

from dataclasses import dataclass, field

from vigil.alerting.lifecycle import Transition
from vigil.core.model import Alert, Notification, NotifyReason, RunbookStart, Signal
from vigil.evaluation.ledger import OutageLedger
from vigil.health.outages import Outage
from vigil.rules.base import Breach


@dataclass(frozen=True)
class Judged:
    """The batch's breaches by fingerprint, and every alert to step: the breaching ones,
    then the active alerts of the kinds the batch covers."""

    breaches: dict[str, Breach]
    candidates: list[str]
    calm: dict[str, Signal] = field(default_factory=dict)
    """The signals judged normal, by fingerprint: what a resolving alert shows."""


@dataclass(frozen=True)
class Intake:
    """The Health notices to send, and the outages read or touched (``None`` without the
    outage ports)."""

    judged: Judged
    notices: list[Notification]
    outages: OutageLedger | None


@dataclass(frozen=True)
class Stepped:
    """Every candidate alert's transition, stored."""

    intake: Intake
    transitions: list[Transition]


@dataclass(frozen=True)
class Muted:
    """The alert events that go on to routing, and those muted: by an open outage (with
    the outage), by a silence, by an inhibit rule."""

    stepped: Stepped
    events: list[tuple[Alert, NotifyReason]]
    by_outage: list[tuple[Outage, str]]
    silenced: int
    inhibited: int
    quiet: list[Alert] = field(default_factory=list)
    """Alerts resolved without a word (an event kind, or ``send_resolved`` off): their groups
    let them go unannounced, so that firing again is news again."""


@dataclass(frozen=True)
class Settled:
    """The outage notices followed by the Health notices; the alert events to route, those
    an ended outage released included; the runbooks to start."""

    muted: Muted
    notifications: list[Notification]
    events: list[tuple[Alert, NotifyReason]]
    runbooks: list[RunbookStart]


@dataclass(frozen=True)
class Routed:
    """Every notification decided: the Health and outage notices, then the groups'."""

    settled: Settled
    notifications: list[Notification]
