"""Evaluate one signal batch: judge, step each alert's lifecycle, decide notifications.

With the Health and outage ports given, it also de-duplicates the batch's AWS Health events,
correlates outages (``vigil.health.outages``) and mutes the alert notifications an open outage
explains.
"""

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from aws_lambda_powertools import Logger

from vigil.alerting.lifecycle import Transition, step
from vigil.alerting.messages import MAX_MESSAGES, addressed
from vigil.alerting.notify import GroupStorePort, notify_groups
from vigil.alerting.outbox import OutboxEntry, OutboxPort
from vigil.alerting.silences import SilenceStorePort
from vigil.core.errors import ConflictError
from vigil.core.model import (
    Alert,
    AlertState,
    EvaluationResult,
    EvaluationSummary,
    HealthEvent,
    Notification,
    NotifyReason,
    RunbookStart,
    SignalBatch,
)
from vigil.health.events import HealthChange, HealthStorePort, health_notification, track
from vigil.health.outages import (
    Outage,
    OutageChange,
    OutageStep,
    OutageStorePort,
    Release,
    health_update,
    outage_notification,
    runbook_start,
    service_of,
    suspicion,
)
from vigil.rules.document import Breach, RulesConfig, judge
from vigil.rules.routing import Receiver, inhibited, label_values

logger = Logger(child=True)

MAX_CONFLICT_RETRIES = 3
MAX_CHANGES_LISTED = 20


class AlertStorePort(Protocol):
    def get(self, fingerprint: str) -> Alert | None: ...

    def get_many(self, fingerprints: Sequence[str]) -> dict[str, Alert]: ...

    def active(self, kind: str) -> list[str]: ...

    def save(self, before: Alert | None, after: Alert | None) -> None: ...

    def save_many(self, changes: Sequence[tuple[Alert | None, Alert | None]]) -> list[str]:
        """Write each change as :meth:`save` would; the fingerprints that lost a race."""
        ...


@dataclass(frozen=True)
class RoutingPorts:
    """Where notification groups, silences and the outbox of decided notifications are
    stored."""

    groups: GroupStorePort
    silences: SilenceStorePort
    outbox: OutboxPort


@dataclass(frozen=True)
class OutagePorts:
    """What outage correlation needs: where outages and Health events are stored, and the
    runbook to start or suggest."""

    outages: OutageStorePort
    health: HealthStorePort
    runbook_arn: str


@dataclass
class _Outages:
    """The outages one evaluation read or touched, keyed by (service, region)."""

    store: OutageStorePort
    open: dict[tuple[str, str], Outage | None] = field(default_factory=dict)
    steps: dict[tuple[str, str], OutageStep] = field(default_factory=dict)
    muting: dict[tuple[str, str], dict[str, None]] = field(default_factory=dict)

    def record(self, step: OutageStep) -> None:
        key = (step.after.service, step.after.region)
        first = self.steps.get(key)
        before = first.before if first else step.before
        change = step.change or (first.change if first else None)
        self.steps[key] = OutageStep(before, step.after, change)
        self.open[key] = step.after

    def current(self, service: str, region: str) -> Outage | None:
        """The latest outage of a service and region, open or not (read once)."""
        key = (service, region)
        if key not in self.open:
            self.open[key] = self.store.get(service, region)
        return self.open[key]

    def explaining(self, alert: Alert, rules: RulesConfig) -> Outage | None:
        labels = alert.labels
        outage = self.open.get((service_of(labels.kind), labels.region))
        return outage if outage is not None and outage.explains(alert, rules.outage) else None

    def mute(self, outage: Outage, fingerprint: str) -> None:
        """Remember that ``outage`` muted an alert; :meth:`settled` records them all at once
        (one copy per outage, not one per alert: a storm mutes thousands)."""
        key = (outage.service, outage.region)
        self.muting.setdefault(key, {})[fingerprint] = None
        if key not in self.steps:
            self.steps[key] = OutageStep(outage, outage, None)

    def settled(self) -> list[OutageStep]:
        """The steps of this evaluation, with the alerts each outage muted recorded."""
        steps = []
        for key, touched in self.steps.items():
            muting = self.muting.get(key)
            after = touched.after.with_muted(list(muting)) if muting else touched.after
            steps.append(OutageStep(touched.before, after, touched.change))
        return steps


def evaluate(
    batch: SignalBatch,
    *,
    rules: RulesConfig,
    store: AlertStorePort,
    routing: RoutingPorts,
    stack: str,
    correlation: OutagePorts | None = None,
) -> EvaluationResult:
    """Apply ``batch`` to the stored alerts; ``now`` is the batch's collection time.

    Every notification decided is committed to ``outbox`` with the state change that decided
    it (``routing.outbox``); :func:`vigil.alerting.outbox.deliver` publishes them. The result lists
    them too.
    """
    breaches: dict[str, Breach] = {}
    for signal in batch.signals:
        breach = judge(signal, rules)
        if breach is not None:
            breaches[breach.labels.fingerprint] = breach
    candidates = dict.fromkeys(breaches)
    for kind in batch.covered_kinds:
        candidates.update(dict.fromkeys(store.active(kind)))

    notifications: list[Notification] = []
    root = [rules.routing.receiver(name) for name in rules.routing.route.receivers or []]
    outages = _Outages(correlation.outages) if correlation is not None else None
    correlate = correlation is not None and rules.outage.enabled
    if correlation is not None and outages is not None:
        if correlate:
            for outage in correlation.outages.open_outages():
                outages.open[(outage.service, outage.region)] = outage
        notifications += _health(
            batch, rules, correlation, outages, stack, root=root, correlate=correlate
        )
        if correlate:
            _suspect(batch, list(breaches.values()), rules, outages)

    transitions: Counter[str] = Counter()
    changes: list[str] = []
    stepped = _step_all(list(candidates), breaches, batch, rules, store)
    for transition in stepped:
        if transition.changed:
            transitions[transition.name] += 1
            labels = transition.labels
            changes.append(f"{labels.resource} {labels.kind}: {transition.name}")
    muting = _mute(stepped, rules, outages, routing.silences, now=batch.collected_at)
    events = muting.events
    runbooks: list[RunbookStart] = []
    if correlation is not None and outages is not None:
        outage_notes, released, runbooks = _finish_outages(
            outages, batch, rules, store, correlation, stack=stack, root=root
        )
        notifications = outage_notes + notifications
        events += released
    # Health and outage notices always go out; the groups share the rest of the room.
    room = max(MAX_MESSAGES - len(notifications) // max(len(root), 1), 1)
    notifications += notify_groups(
        events,
        batch=batch,
        rules=rules,
        groups=routing.groups,
        alerts=store,
        outbox=routing.outbox,
        stack=stack,
        room=room,
    )
    summary = EvaluationSummary(
        batch_id=batch.batch_id,
        signals=len(batch.signals),
        breaches=len(breaches),
        transitions=dict(transitions),
        changes=changes[:MAX_CHANGES_LISTED],
        notifications=len(notifications),
        muted=muting.muted,
        silenced=muting.silenced,
        inhibited=muting.inhibited,
    )
    logger.info("evaluated", extra={"summary": summary.model_dump()})
    return EvaluationResult(notifications=notifications, summary=summary, runbooks=runbooks)


@dataclass
class _Muting:
    """The alert events that go on to routing, and how many were muted and why."""

    events: list[tuple[Alert, NotifyReason]] = field(default_factory=list)
    muted: int = 0
    silenced: int = 0
    inhibited: int = 0


def _mute(
    stepped: list[Transition],
    rules: RulesConfig,
    outages: _Outages | None,
    silences: SilenceStorePort,
    *,
    now: datetime,
) -> _Muting:
    """Drop the notifications an open outage, a silence or an inhibit rule mutes.

    The alerts themselves are stored whatever happens here. A resolution is never silenced
    or inhibited: its group drops it unless the receiver heard the alert fire.
    """
    firing = [
        label_values(t.after.labels, t.after.severity)
        for t in stepped
        if t.after is not None and t.after.state is AlertState.FIRING
    ]
    active = [s for s in silences.current(now) if s.active(now)]
    result = _Muting()
    for transition in stepped:
        alert, reason = transition.after, transition.notify
        if alert is None or reason is None:
            continue
        explaining = outages.explaining(alert, rules) if outages is not None else None
        values = label_values(alert.labels, alert.severity)
        mutable = reason is not NotifyReason.RESOLVED
        if outages is not None and explaining is not None:
            outages.mute(explaining, alert.fingerprint)
            result.muted += 1
            logger.info(
                "muted by an open outage",
                extra={"fingerprint": alert.fingerprint, "incident": explaining.incident},
            )
        elif mutable and any(s.mutes(values, now) for s in active):
            result.silenced += 1
            logger.info("silenced", extra={"fingerprint": alert.fingerprint})
        elif mutable and inhibited(rules.routing, values, firing):
            result.inhibited += 1
            logger.info("inhibited", extra={"fingerprint": alert.fingerprint})
        else:
            result.events.append((alert, reason))
    return result


def _health(
    batch: SignalBatch,
    rules: RulesConfig,
    ports: OutagePorts,
    outages: _Outages,
    stack: str,
    *,
    root: list[Receiver],
    correlate: bool,
) -> list[Notification]:
    """De-duplicate the batch's Health events; notify what a reader should hear about.

    When an event opens, confirms or ends an outage, the outage notification (which quotes
    AWS) stands in for the event's own NEW or RESOLVED message. Each record is saved with
    its notices (one per root receiver) in the outbox.
    """
    notifications: list[Notification] = []
    for event in batch.health_events:
        record = ports.health.get(event.arn, event.account)
        after, change = track(record, event)
        notices: list[Notification] = []
        if change is not None:
            step = _health_outage(event, batch, rules, outages) if correlate else None
            folded = step is not None and step.change is not None
            if folded and change is not HealthChange.UPDATED:
                logger.info("health event folded into the outage", extra={"arn": event.arn})
            else:
                notice = health_notification(event, change, stack=stack)
                notices = [addressed(notice, r) for r in root]
        if after is not None:
            ports.health.save(record, after, [OutboxEntry.decided_by(n, batch) for n in notices])
        notifications += notices
    return notifications


def _health_outage(
    event: HealthEvent, batch: SignalBatch, rules: RulesConfig, outages: _Outages
) -> OutageStep | None:
    step = health_update(
        outages.current(event.service_key, event.region),
        event,
        now=batch.collected_at,
        batch_id=batch.batch_id,
        config=rules.outage,
    )
    if step is not None:
        outages.record(step)
    return step


def _suspect(
    batch: SignalBatch, breaches: list[Breach], rules: RulesConfig, outages: _Outages
) -> None:
    """Group this batch's breaches by service and region; suspect or lift outages."""
    config = rules.outage
    counted = [b for b in breaches if b.labels.kind in config.kinds]
    groups: dict[tuple[str, str], list[Breach]] = defaultdict(list)
    for breach in counted:
        groups[(service_of(breach.labels.kind), breach.labels.region)].append(breach)
    covered = {service_of(kind) for kind in batch.covered_kinds if kind in config.kinds}
    for key, outage in list(outages.open.items()):
        if outage is not None and outage.is_open and key[0] in covered:
            groups.setdefault(key, [])
    for (service, region), group in groups.items():
        step = suspicion(
            outages.current(service, region),
            group,
            service=service,
            region=region,
            now=batch.collected_at,
            batch_id=batch.batch_id,
            config=config,
        )
        if step is not None:
            outages.record(step)


def _finish_outages(
    outages: _Outages,
    batch: SignalBatch,
    rules: RulesConfig,
    store: AlertStorePort,
    ports: OutagePorts,
    *,
    stack: str,
    root: list[Receiver],
) -> tuple[list[Notification], list[tuple[Alert, NotifyReason]], list[RunbookStart]]:
    """Store the outages this batch changed, each with its announcement in the outbox; start
    runbooks, release alerts."""
    notifications: list[Notification] = []
    released: list[tuple[Alert, NotifyReason]] = []
    runbooks: list[RunbookStart] = []
    mode: Literal["start", "suggest"] = rules.outage.runbook
    for touched in outages.settled():
        if touched.before == touched.after:
            continue
        if touched.change is None:
            ports.outages.save(touched.before, touched.after)
            continue
        release: Release | None = None
        if touched.change is OutageChange.RESOLVED:
            release, events = _release(touched.after, store, rules)
            released += events
        notice = outage_notification(
            touched.after,
            touched.change,
            stack=stack,
            runbook=mode,
            runbook_arn=ports.runbook_arn,
            release=release,
        )
        notices = [addressed(notice, r) for r in root]
        entries = [OutboxEntry.decided_by(n, batch) for n in notices]
        ports.outages.save(touched.before, touched.after, entries)
        notifications += notices
        opened = touched.before is None or not touched.before.is_open
        if mode == "start" and opened and touched.change is not OutageChange.RESOLVED:
            runbooks.append(runbook_start(touched.after))
        logger.info(
            "outage",
            extra={"incident": touched.after.incident, "change": touched.change.value},
        )
    return notifications, released, runbooks


def _release(
    outage: Outage, store: AlertStorePort, rules: RulesConfig
) -> tuple[Release, list[tuple[Alert, NotifyReason]]]:
    """Send what the outage muted and still matters: alerts still firing, and the
    resolution of alerts whose firing went out before the outage muted them.

    An outage lists at most ``MAX_MUTED_LISTED`` muted alerts; when it muted more, the
    active alerts it explains are read from the index as well, so none stays unheard.
    """
    candidates = dict.fromkeys(outage.muted)
    if outage.muted_total > len(outage.muted):
        for kind in rules.outage.kinds:
            if service_of(kind) == outage.service:
                candidates.update(dict.fromkeys(store.active(kind)))
    still: list[str] = []
    resolved = max(outage.muted_total - len(candidates), 0)
    events: list[tuple[Alert, NotifyReason]] = []
    alerts = store.get_many(list(candidates))
    for fingerprint in candidates:
        alert = alerts.get(fingerprint)
        if alert is None or alert.labels.region != outage.region:
            continue
        if alert.state is AlertState.FIRING:
            still.append(alert.labels.resource)
            reason = NotifyReason.REPEAT
        else:
            resolved += 1
            fired_before = alert.fired_at is not None and alert.fired_at < outage.opened_at
            if alert.state is not AlertState.RESOLVED or not fired_before:
                continue
            reason = NotifyReason.RESOLVED
        events.append((alert, reason))
    return Release(still_firing=still, resolved_meanwhile=resolved), events


def _step_all(
    fingerprints: list[str],
    breaches: dict[str, Breach],
    batch: SignalBatch,
    rules: RulesConfig,
    store: AlertStorePort,
) -> list[Transition]:
    """Step every candidate alert: read them in batches, decide, write the changed ones in
    batches; an alert that lost a race is read and decided again on its own."""
    stored = store.get_many(fingerprints)
    stepped = [
        step(
            stored.get(fingerprint),
            breaches.get(fingerprint),
            now=batch.collected_at,
            batch_id=batch.batch_id,
            rules=rules,
        )
        for fingerprint in fingerprints
    ]
    lost = set(store.save_many([(t.before, t.after) for t in stepped if t.changed]))
    if lost:
        logger.warning("alerts changed concurrently, re-reading", extra={"alerts": len(lost)})
    return [
        _apply(fingerprint, breaches.get(fingerprint), batch, rules, store)
        if fingerprint in lost
        else transition
        for fingerprint, transition in zip(fingerprints, stepped, strict=True)
    ]


def _apply(
    fingerprint: str,
    breach: Breach | None,
    batch: SignalBatch,
    rules: RulesConfig,
    store: AlertStorePort,
) -> Transition:
    """Read, decide, write conditionally; on a lost race, read again and decide again."""
    attempt = 0
    while True:
        attempt += 1
        current = store.get(fingerprint)
        transition = step(
            current,
            breach,
            now=batch.collected_at,
            batch_id=batch.batch_id,
            rules=rules,
        )
        if not transition.changed:
            return transition  # nothing to write; a replay may still hand back its notice
        try:
            store.save(transition.before, transition.after)
        except ConflictError:
            if attempt >= MAX_CONFLICT_RETRIES:
                raise
            logger.warning(
                "alert changed concurrently, re-reading",
                extra={"fingerprint": fingerprint},
            )
        else:
            return transition
