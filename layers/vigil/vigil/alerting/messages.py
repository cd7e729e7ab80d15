"""Turn alert transitions into notifications: one SNS message with a body per protocol.

Email subscribers get a plain-text body and an ASCII subject (SNS rejects other subjects);
the chat function gets the structured ``ChatPayload`` JSON. Severity, status and category
travel as message attributes so SNS filter policies can route on them.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from vigil.alerting.grouping import Group
from vigil.alerting.links import request_lines_link, resource_links, trace_link
from vigil.core.clock import iso
from vigil.core.model import (
    ALARM_STATE,
    Alert,
    AlertState,
    AlertView,
    ChatPayload,
    Evidence,
    Labels,
    Link,
    Notification,
    NotifyReason,
    Severity,
    Signal,
    SignalBatch,
    format_amount,
)
from vigil.rules.base import plural
from vigil.rules.document import RulesConfig
from vigil.rules.kinds import kind_title
from vigil.rules.organization import ACCOUNT_NAME_LABEL
from vigil.rules.overrides import RUNBOOK_TAG
from vigil.rules.routing import Receiver
from vigil.rules.volume import KIND_SPECS

_REASON_WORDS = {
    NotifyReason.FIRING: "firing",
    NotifyReason.ESCALATED: "escalated",
    NotifyReason.REPEAT: "still firing",
    NotifyReason.RESOLVED: "resolved",
}


def links_for(alert: Alert, *, stack: str | None = None, runbook: str | None = None) -> list[Link]:
    """The alert's links: its runbook first when the config names one, then the console pages
    of its resource (``vigil.alerting.links``)."""
    links = [Link(label="Runbook", url=runbook)] if runbook else []
    return links + resource_links(alert.labels, window_end=alert.evidence.observed_at, stack=stack)


def error_links(alert: Alert) -> dict[str, list[Link]]:
    """Each tracked error's links: a sample trace, and its request's log lines over the alert's
    window (widened to the sample when it was seen outside it)."""
    labels, evidence = alert.labels, alert.evidence
    end = evidence.observed_at
    start = end - timedelta(seconds=evidence.window_seconds)
    found: dict[str, list[Link]] = {}
    for group in evidence.errors:
        links = [trace_link(labels.region, group.trace_id)] if group.trace_id else []
        if group.request_id:
            links.append(
                request_lines_link(
                    labels.region,
                    labels.resource,
                    group.request_id,
                    start=min(start, group.last_seen) - _MARGIN,
                    end=max(end, group.last_seen) + _MARGIN,
                )
            )
        if shown := [link for link in links if link is not None]:
            found[group.fingerprint] = shown
    return found


_MARGIN = timedelta(minutes=1)
"""Around a request's lines: a log line is stamped when written, its metric at the minute."""

type Runbooks = Callable[[Labels], str | None]
"""The runbook URL the config names for an alert's labels (``vigil.rules.overrides``)."""


def _no_runbook(_labels: Labels) -> str | None:
    return None


def runbook_lookup(rules: RulesConfig, batch: SignalBatch) -> Runbooks:
    """The runbooks of an evaluation's alerts: by the config's ``overrides`` and the
    ``vigil:runbook`` tag of each resource, whose tags its signal in ``batch`` carries (an
    alert with no signal in the batch, a resolved one, is matched without tags)."""
    tagged = {s.labels.fingerprint: s.tags for s in batch.signals if s.tags}
    if not rules.overrides and not any(RUNBOOK_TAG in tags for tags in tagged.values()):
        return _no_runbook

    def runbook(labels: Labels) -> str | None:
        return rules.runbook_url(labels, tagged.get(labels.fingerprint, {}))

    return runbook


def view(
    alert: Alert,
    *,
    now: datetime | None = None,
    stack: str | None = None,
    runbooks: Runbooks = _no_runbook,
    errors: bool = True,
) -> AlertView:
    """The alert as a notification carries it; without ``errors``, its tracked errors left out
    (a group message details the first :data:`MAX_ERROR_VIEWS` alerts' errors only)."""
    evidence = alert.evidence
    if not errors and evidence.errors:
        evidence = evidence.model_copy(update={"errors": []})
        alert = alert.model_copy(update={"evidence": evidence})
    return AlertView(
        fingerprint=alert.fingerprint,
        labels=alert.labels,
        state=alert.state,
        severity=alert.severity,
        evidence=evidence,
        first_seen=alert.first_seen,
        fired_at=alert.fired_at,
        resolved_at=alert.resolved_at,
        links=links_for(alert, stack=stack, runbook=runbooks(alert.labels)),
        at=now,
        error_links=error_links(alert),
        account_name=alert.tags.get(ACCOUNT_NAME_LABEL, ""),
    )


def evidence_now(alert: Alert, signal: Signal | None, *, at: datetime) -> Evidence:
    """What a resolving alert shows: the value of the signal its rule judged normal, or, with
    no signal for its kind in the batch (collectors leave out nothing to report), none at
    ``at``: "0 errors in 1,200 invocations over 5 min (0.00%), below 1.00%"."""
    before = alert.evidence
    if signal is None:
        window = before.window_text
        return Evidence(
            value=0.0,
            threshold=before.threshold,
            unit=before.unit,
            window_seconds=before.window_seconds,
            observed_at=at,
            summary=f"No {kind_title(alert.labels.kind)} in the last {window}",
        )
    same_unit = signal.unit == before.unit
    now = Evidence(
        value=signal.value,
        threshold=before.threshold if same_unit else 0.0,
        unit=signal.unit,
        window_seconds=signal.window_seconds,
        observed_at=signal.observed_at,
        summary="",
        samples=signal.samples,
    )
    if signal.unit == ALARM_STATE:  # a CloudWatch alarm back to OK says why in its own words
        reason = signal.context.get("reason", "").rstrip(".")
        return now.model_copy(update={"summary": "Now OK" + (f": {reason}" if reason else "")})
    spec = KIND_SPECS.get(alert.labels.kind)
    if spec is not None:
        events, volume = signal.samples.get(spec.event, 0.0), signal.samples.get(spec.volume, 0.0)
        said = (
            f"{plural(events, spec.event[:-1])} in {plural(volume, spec.volume[:-1])}"
            f" over {now.window_text} ({format_amount(signal.value, signal.unit)})"
        )
    else:
        counts = ", ".join(
            f"{name.replace('_', ' ')} {value:,.6g}" for name, value in signal.samples.items()
        )
        said = f"{format_amount(signal.value, signal.unit)} over {now.window_text}" + (
            f" ({counts})" if counts else ""
        )
    if same_unit:
        word = "below" if signal.value < before.threshold else "judged normal against"
        said += f", {word} {format_amount(before.threshold, before.unit)}"
    return now.model_copy(update={"summary": f"Now {said}"})


def title_for(alert: Alert, reason: NotifyReason) -> str:
    what = kind_title(alert.labels.kind)
    label = "RESOLVED" if reason is NotifyReason.RESOLVED else alert.severity.value.upper()
    return f"[{label}] {what} {_REASON_WORDS[reason]}: {alert.labels.resource}"


# A grouped message lists every alert in its text, and carries the first ones in full.
MAX_GROUP_VIEWS = 20
MAX_ERROR_VIEWS = 5
"""Alerts of one message shown with their tracked errors and links (about 9 KB each at most),
so that a storm's message stays far below SNS's 256 KB and its group item below DynamoDB's
400 KB (ADR 28)."""
_GROUP_LINES = 100


@dataclass(frozen=True)
class Headline:
    """A notification reduced to what a digest lists of it."""

    severity: Severity
    subject: str


@dataclass(frozen=True)
class GroupMessage:
    """What a group is about to say, decided cheaply: its title and severity are known before
    anything is rendered, so flood control can fold it without the cost of rendering."""

    group: Group
    firing: list[Alert]
    resolved: list[Alert]
    reason: NotifyReason
    """How it reads (a lone alert that joined late reads "still firing")."""
    group_reason: NotifyReason
    """Why the group speaks; with the group and the batch it names the notification."""

    @property
    def ordered(self) -> list[Alert]:
        return [*self.firing, *self.resolved]

    @property
    def title(self) -> str:
        if len(self.ordered) == 1:
            return title_for(self.ordered[0], self.reason)
        return _group_title(self.firing, self.resolved, self.reason)

    @property
    def severity(self) -> Severity:
        if not self.firing:
            return max((a.severity for a in self.resolved), key=lambda s: s.rank)
        return max((a.severity for a in self.firing), key=lambda s: s.rank)

    @property
    def headline(self) -> Headline:
        return Headline(self.severity, ascii_subject(self.title))


def group_message(
    group: Group,
    alerts: dict[str, Alert],
    reason: NotifyReason,
    *,
    event_reasons: dict[str, NotifyReason],
) -> GroupMessage:
    """What the group says: a single alert reads as it always did; several are listed.

    A lone alert that joins its group through a repeat (released by an outage, or out of an
    expired silence) reads "still firing": it has been firing for a while.
    """
    members = [(fp, group.members[fp]) for fp in group.members if fp in alerts]
    # a member kept firing (``keep_firing_for``) reads as firing, whatever its alert says
    firing = [
        alerts[fp].model_copy(update={"state": AlertState.FIRING, "resolved_at": None})
        if alerts[fp].state is AlertState.RESOLVED
        else alerts[fp]
        for fp, m in members
        if m.state == "firing"
    ]
    resolved = [alerts[fp] for fp, m in members if m.state == "resolved"]
    reads = reason
    if len(firing) + len(resolved) == 1 and reason is NotifyReason.FIRING:
        alert = [*firing, *resolved][0]
        if event_reasons.get(alert.fingerprint) is NotifyReason.REPEAT:
            reads = NotifyReason.REPEAT
    return GroupMessage(group, firing, resolved, reads, reason)


def group_notification(
    message: GroupMessage,
    *,
    stack: str,
    batch_id: str,
    receiver: Receiver,
    now: datetime | None = None,
    runbooks: Runbooks = _no_runbook,
) -> Notification:
    """The rendered notification of a group's message: chat payload and email body. ``now``
    is the evaluation's time, which says for how long each alert has fired; ``runbooks``
    names each alert's runbook."""
    group, reason = message.group, message.reason
    firing, resolved, ordered = message.firing, message.resolved, message.ordered
    notification_id = hashlib.sha256(
        f"{group.group_id}|{batch_id}|{message.group_reason.value}".encode()
    ).hexdigest()[:24]
    title = message.title
    views = [
        view(a, now=now, stack=stack, runbooks=runbooks, errors=index < MAX_ERROR_VIEWS)
        for index, a in enumerate(ordered[:MAX_GROUP_VIEWS])
    ]
    if len(ordered) == 1:
        alert = ordered[0]
        text = email_text(alert, reason, stack=stack, shown=views[0])
        summary = alert.evidence.summary
    else:
        listed = [
            f"- [{'RESOLVED' if a in resolved else a.severity.value.upper()}]"
            f" {a.labels.resource} {a.labels.kind}: {a.evidence.summary}"
            for a in ordered[:_GROUP_LINES]
        ]
        if len(ordered) > _GROUP_LINES:
            listed.append(f"- ...and {len(ordered) - _GROUP_LINES} more")
        summary = "\n".join(listed[:40])
        # the email lists every alert; the first ones with when and their first links
        detailed = [
            line
            for index, item in enumerate(listed)
            for line in [item, *(_email_details(views[index]) if index < len(views) else [])]
        ]
        text = (
            "\n".join([title, "", *detailed, "", "--", f"Vigil ({stack}) - group {group.key}"])
            + "\n"
        )
    chat = ChatPayload(
        notification_id=notification_id,
        category="alert",
        reason=reason,
        severity=message.severity,
        title=title,
        text=summary,
        stack=stack,
        alerts=views,
        receiver=receiver.name,
        group_id=group.group_id,
    )
    return publishable(
        chat, text=text, status="firing" if firing else "resolved", receiver=receiver
    )


def _group_title(firing: list[Alert], resolved: list[Alert], reason: NotifyReason) -> str:
    kinds = {a.labels.kind for a in [*firing, *resolved]}
    kind = next(iter(kinds)) if len(kinds) == 1 else None
    what = kind_title(kind) if kind else "Alerts"
    counts = [f"{len(part)} {word}" for part, word in ((firing, "firing"), (resolved, "resolved"))]
    top = max((a.severity for a in firing), key=lambda s: s.rank, default=None)
    label = "RESOLVED" if top is None else top.value.upper()
    if reason is NotifyReason.REPEAT:
        counts[0] = f"{len(firing)} still firing"
    shown = ", ".join(c for c in counts if not c.startswith("0 "))
    return f"[{label}] {what}: {shown}"


def addressed(notification: Notification, receiver: Receiver) -> Notification:
    """A notification no route decided (Health, outage, digest) for one root receiver."""
    message = json.loads(notification.message)
    chat = ChatPayload.model_validate_json(message["lambda"])
    notification_id = hashlib.sha256(
        f"{notification.notification_id}|{receiver.name}".encode()
    ).hexdigest()[:24]
    message["lambda"] = chat.model_copy(
        update={"receiver": receiver.name, "notification_id": notification_id}
    ).model_dump_json()
    return notification.model_copy(
        update={
            "notification_id": notification_id,
            "message": json.dumps(message),
            "receiver": receiver.name,
            "channels": json.dumps(receiver.channels),
        }
    )


def alert_account(alert: AlertView) -> str:
    """The alert's account as notices name it (:func:`account_label`), by the ``account_name``
    label Organization mode puts on a member's alerts."""
    return account_label(alert.labels.account, alert.account_name)


def account_label(account: str, name: str | None) -> str:
    """An account as a notice names it: ``prod-payments (111111111111)``, or the id alone when
    its name is not known (the monitoring account, a stack outside an Organization). The name
    comes from Organizations, so it is plain text each channel escapes when it renders."""
    return f"{name} ({account})" if name else account


def ascii_subject(title: str) -> str:
    """SNS subjects must be ASCII, without line breaks, under 100 characters."""
    cleaned = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in title)
    return cleaned if len(cleaned) <= 99 else cleaned[:96] + "..."


def warning_notice(
    title: str,
    lines: list[str],
    *,
    key: str,
    stack: str,
    category: str,
    footer: str,
    chat_only: bool = False,
) -> Notification:
    """A one-off warning that is not an alert (a refused press, a parked event): its id is
    hashed from ``key``, so a retried publish posts once; names in ``lines`` are plain text,
    escaped per channel when rendered (ADR 33). ``chat_only`` skips email (SNS attribute
    ``channels`` ``["slack"]``)."""
    chat = ChatPayload(
        notification_id=hashlib.sha256(key.encode()).hexdigest()[:24],
        category=category,
        reason=NotifyReason.FIRING,
        severity=Severity.WARNING,
        title=title,
        text="\n".join(lines)[:2900],
        stack=stack,
        alerts=[],
    )
    text = "\n".join([title, "", *lines, "", "--", footer]) + "\n"
    notice = publishable(chat, text=text, status="firing")
    return notice.model_copy(update={"channels": '["slack"]'}) if chat_only else notice


def publishable(
    chat: ChatPayload,
    *,
    text: str,
    status: Literal["firing", "resolved"],
    receiver: Receiver | None = None,
) -> Notification:
    """The SNS notification for a chat payload: the plain-text body for email beside it, and
    the payload's id, severity and category as the routing attributes."""
    addressed = (
        {"receiver": receiver.name, "channels": json.dumps(receiver.channels)} if receiver else {}
    )
    return Notification(
        notification_id=chat.notification_id,
        subject=ascii_subject(chat.title),
        message=json.dumps({"default": text, "email": text, "lambda": chat.model_dump_json()}),
        severity=chat.severity,
        status=status,
        category=chat.category,
        **addressed,
    )


def _email_details(shown: AlertView) -> list[str]:
    """Under an alert of a group's email: since when, and its first two links."""
    return [f"  {shown.timing}", *(f"  {plain(link)}" for link in shown.links[:2])]


def plain(link: Link) -> str:
    return f"{link.label}: {link.url}"


def email_text(
    alert: Alert, reason: NotifyReason, *, stack: str, shown: AlertView | None = None
) -> str:
    """An alert's email: plain text, every link written out (email has no buttons)."""
    labels, evidence = alert.labels, alert.evidence
    shown = shown or view(alert, stack=stack)
    lines = [
        title_for(alert, reason),
        "",
        evidence.summary + ".",
        "",
        f"Resource:   {labels.resource}",
        f"Account:    {alert_account(shown)}",
        f"Region:     {labels.region}",
        f"Severity:   {alert.severity.value}",
        f"Value:      {evidence.describe_value()}",
        f"Window:     {evidence.window_text} ending {_hm(evidence.observed_at)}",
        f"When:       {shown.timing}",
        f"First seen: {_hm(alert.first_seen)}",
    ]
    if alert.fired_at:
        lines.append(f"Firing at:  {_hm(alert.fired_at)}")
    if alert.state is AlertState.RESOLVED and alert.resolved_at:
        lines.append(f"Resolved:   {_hm(alert.resolved_at)}")
    if evidence.errors:
        lines += ["", "Top errors:"]
        for group, line in zip(evidence.errors, shown.error_lines(), strict=True):
            lines.append(f"- {line}")
            lines += [f"    {plain(link)}" for link in shown.error_links.get(group.fingerprint, [])]
    if shown.links:
        lines += ["", *[plain(link) for link in shown.links]]
    lines += [
        "",
        "--",
        f"Vigil ({stack}) - alert {alert.fingerprint}, notification {alert.notify_count}",
    ]
    return "\n".join(lines) + "\n"


def _hm(moment: datetime) -> str:
    return iso(moment).replace("T", " ").replace("Z", " UTC")


MAX_MESSAGES = 30
"""Messages one evaluation sends at most; in a storm the rest fold into one digest. A person
reads a few grouped messages and a summary, never one message per alert (ADR 28)."""
DIGEST_LINES = 200


def digest(listed: list[Headline], *, total: int, stack: str, batch_id: str) -> Notification:
    """One notification standing for ``total`` messages flood control folded; it names the
    first ``DIGEST_LINES`` of them (``listed``, the most severe first)."""
    severity = listed[0].severity
    title = f"[{severity.value.upper()}] {total} more alert notifications from one evaluation"
    lines = [f"- {h.subject}" for h in listed[:DIGEST_LINES]]
    if total > len(lines):
        lines.append(f"- ...and {total - len(lines)} more")
    text = (
        "\n".join(
            [
                title,
                "",
                "Too many alerts changed state at once to send one by one:",
                "",
                *lines,
                "",
                "--",
                f"Vigil ({stack}) - evaluation {batch_id}",
            ]
        )
        + "\n"
    )
    notification_id = hashlib.sha256(f"digest|{batch_id}".encode()).hexdigest()[:24]
    chat = ChatPayload(
        notification_id=notification_id,
        category="alert",
        reason=NotifyReason.FIRING,
        severity=severity,
        title=title,
        text="\n".join(lines[:40]),
        stack=stack,
        alerts=[],
    )
    return publishable(chat, text=text, status="firing")
