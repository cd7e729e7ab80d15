"""The outage stages: suspect or lift outages from the batch's breaches, and settle them
(store what changed with its announcement, start runbooks, release what they muted)."""

from collections import defaultdict
from typing import Literal

from aws_lambda_powertools import Logger

from vigil.alerting.messages import addressed
from vigil.alerting.outbox import OutboxEntry
from vigil.core.model import (
    Alert,
    AlertState,
    Notification,
    NotifyReason,
    RunbookStart,
    SignalBatch,
)
from vigil.evaluation.flow import Intake, Muted, Settled
from vigil.evaluation.ports import AlertStorePort, Evaluation
from vigil.health.outages import (
    Outage,
    OutageChange,
    Release,
    outage_notification,
    runbook_start,
    service_of,
    suspicion,
)
from vigil.rules.base import Breach
from vigil.rules.document import RulesConfig

logger = Logger(child=True)


def suspect_outages(ctx: Evaluation, intake: Intake) -> Intake:
    """When correlating, group the batch's breaches by service and region; suspect or lift
    outages. The steps are recorded in the intake's outage ledger."""
    outages = intake.outages
    if not ctx.correlates or outages is None:
        return intake
    config = ctx.rules.outage
    counted = [b for b in intake.judged.breaches.values() if b.labels.kind in config.kinds]
    groups: dict[tuple[str, str], list[Breach]] = defaultdict(list)
    for breach in counted:
        groups[(service_of(breach.labels.kind), breach.labels.region)].append(breach)
    covered = {service_of(kind) for kind in ctx.batch.covered_kinds if kind in config.kinds}
    for key, outage in list(outages.open.items()):
        if outage is not None and outage.is_open and key[0] in covered:
            groups.setdefault(key, [])
    for (service, region), group in groups.items():
        current = outages.current(service, region)
        step = suspicion(
            current,
            group,
            service=service,
            region=region,
            now=ctx.batch.collected_at,
            batch_id=ctx.batch.batch_id,
            config=config,
            lift=current is None or reads_every_account(ctx.batch, current, config.kinds),
        )
        if step is not None:
            outages.record(step)
    return intake


def settle_outages(ctx: Evaluation, muted: Muted) -> Settled:
    """Store the outages this batch changed, each with its announcement in the outbox, and
    the alerts each muted; start runbooks, release alerts.

    The outage notices go before the Health notices; the released alerts after the events
    muting let through.
    """
    intake = muted.stepped.intake
    outages = intake.outages
    if ctx.correlation is None or outages is None:
        return Settled(muted, intake.notices, muted.events, [])
    for outage, fingerprint in muted.by_outage:
        outages.mute(outage, fingerprint)
    notifications: list[Notification] = []
    released: list[tuple[Alert, NotifyReason]] = []
    runbooks: list[RunbookStart] = []
    mode: Literal["start", "suggest"] = ctx.rules.outage.runbook
    for touched in outages.settled():
        if touched.before == touched.after:
            continue
        if touched.change is None:
            ctx.correlation.outages.save(touched.before, touched.after)
            continue
        release: Release | None = None
        if touched.change is OutageChange.RESOLVED:
            release, events = _release(touched.after, ctx.store, ctx.rules)
            released += events
        notice = outage_notification(
            touched.after,
            touched.change,
            stack=ctx.stack,
            runbook=mode,
            runbook_arn=ctx.correlation.runbook_arn,
            release=release,
        )
        notices = [addressed(notice, r) for r in ctx.root]
        entries = [OutboxEntry.decided_by(n, ctx.batch) for n in notices]
        ctx.correlation.outages.save(touched.before, touched.after, entries)
        notifications += notices
        opened = touched.before is None or not touched.before.is_open
        if mode == "start" and opened and touched.change is not OutageChange.RESOLVED:
            runbooks.append(runbook_start(touched.after))
        logger.info(
            "outage",
            extra={"incident": touched.after.incident, "change": touched.change.value},
        )
    return Settled(muted, notifications + intake.notices, muted.events + released, runbooks)


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


def reads_every_account(batch: SignalBatch, outage: Outage, kinds: list[str]) -> bool:
    """Whether ``batch`` read every account ``outage`` spans in its region, for the outage's
    kinds: a batch without scopes reads all it covers; a merged one (ADR 51) only the accounts
    and regions its parts were collected in."""
    accounts = {account.id for account in outage.accounts} or {outage.account}
    for kind in kinds:
        if service_of(kind) != outage.service:
            continue
        within = batch.scope_of(kind)
        if within is not None and any((a, outage.region) not in within for a in accounts):
            return False
    return True
