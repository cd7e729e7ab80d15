"""``vigil alerts list|show`` and ``vigil routes test``: open alerts and where alerts go.

``alerts list`` prints the pending and firing alerts (one Scan of the state table's sparse
index), filtered by ``--match`` (Alertmanager matchers, :mod:`vigil_cli.filters`), ``--state``
and ``--severity``. ``alerts show ID`` finds one open alert by its fingerprint or a prefix
that names exactly one, and prints its labels, state, evidence, the silences muting it and
the notification groups it is in. ``routes test`` routes a set of labels through the rules
config (amtool's ``config routes test``): the routes taken, their receivers and group keys,
with the functions' own :func:`vigil.rules.routing.destinations`.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from vigil.adapters.routing_store import GroupStore, SilenceStore
from vigil.adapters.views import TableViews
from vigil.alerting.grouping import Group
from vigil.alerting.notify import repeat_for
from vigil.core.clock import iso
from vigil.core.errors import VigilError
from vigil.core.model import Alert
from vigil.rules.document import RulesConfig
from vigil.rules.matchers import Matcher
from vigil.rules.routing import LABEL_NAMES, destinations, label_values
from vigil_cli.output import Document, Listing

MIN_PREFIX = 4
"""The shortest fingerprint prefix ``alerts show`` accepts."""


class UnknownAlertError(VigilError):
    """No open alert has this fingerprint (or the prefix names several)."""


def _values(alert: Alert) -> dict[str, str]:
    return label_values(alert.labels, alert.severity, alert.tags)


def list_alerts(
    views: TableViews,
    silences: SilenceStore,
    *,
    now: datetime,
    filters: Iterable[Matcher] = (),
    states: Iterable[str] = (),
    severities: Iterable[str] = (),
) -> Listing:
    wanted_states, wanted_severities, matchers = set(states), set(severities), list(filters)
    current = silences.current(now)
    rows = []
    for alert in views.open_alerts():
        values = _values(alert)
        if wanted_states and alert.state.value not in wanted_states:
            continue
        if wanted_severities and alert.severity.value not in wanted_severities:
            continue
        if not all(m.matches(values) for m in matchers):
            continue
        muting = [s.silence_id for s in current if s.mutes(values, now)]
        rows.append(
            (
                alert.fingerprint,
                alert.labels.kind,
                alert.labels.resource,
                alert.severity.value,
                alert.state.value,
                iso(alert.fired_at or alert.first_seen),
                ", ".join(muting) or "-",
            )
        )
    filtered = bool(matchers or wanted_states or wanted_severities)
    return Listing(
        ("FINGERPRINT", "KIND", "RESOURCE", "SEVERITY", "STATE", "SINCE", "SILENCED BY"),
        rows,
        empty="No open alert matches." if filtered else "No open alerts.",
    )


def find_alert(alerts: list[Alert], given: str) -> Alert:
    """The alert whose fingerprint is ``given`` or starts with it (:data:`MIN_PREFIX` or more
    characters, naming exactly one)."""
    exact = [a for a in alerts if a.fingerprint == given]
    if exact:
        return exact[0]
    if len(given) < MIN_PREFIX:
        raise UnknownAlertError(
            f"{given!r}: give at least {MIN_PREFIX} characters of a fingerprint (vigil alerts list)"
        )
    found = [a for a in alerts if a.fingerprint.startswith(given)]
    if not found:
        raise UnknownAlertError(f"no open alert has a fingerprint starting {given!r}")
    if len(found) > 1:
        names = ", ".join(a.fingerprint for a in found)
        raise UnknownAlertError(f"{given!r} names {len(found)} alerts ({names}): give more")
    return found[0]


def show_alert(
    given: str, *, views: TableViews, silences: SilenceStore, groups: GroupStore, now: datetime
) -> Document:
    alert = find_alert(views.open_alerts(), given)
    values = _values(alert)
    muting = [s for s in silences.current(now) if s.mutes(values, now)]
    member_of = [g for g in groups.open_groups() if alert.fingerprint in {*g.members, *g.flushed}]
    evidence = alert.evidence
    data: dict[str, Any] = {
        "fingerprint": alert.fingerprint,
        "labels": values,
        "state": alert.state.value,
        "severity": alert.severity.value,
        "first_seen": iso(alert.first_seen),
        "fired_at": iso(alert.fired_at) if alert.fired_at else None,
        "last_seen": iso(alert.last_seen),
        "evidence": {
            "summary": evidence.summary,
            "value": evidence.value,
            "threshold": evidence.threshold,
            "unit": evidence.unit,
            "window_seconds": evidence.window_seconds,
            "observed_at": iso(evidence.observed_at),
            "errors": [
                {"type": e.error_type, "message": e.message, "count": e.count}
                for e in evidence.errors
            ],
        },
        "silenced_by": [s.silence_id for s in muting],
        "notifications": {
            "count": alert.notify_count,
            "last_at": iso(alert.last_notified) if alert.last_notified else None,
            "last_reason": alert.last_reason.value if alert.last_reason else None,
        },
        "groups": [_group(g, alert.fingerprint) for g in member_of],
    }
    return Document(_alert_text(data), data)


def _group(group: Group, fingerprint: str) -> dict[str, Any]:
    member = group.members.get(fingerprint) or group.flushed.get(fingerprint)
    last = group.last_notification
    return {
        "group_id": group.group_id,
        "receiver": group.receiver,
        "route": group.route,
        "key": group.key,
        "member_state": member.state if member else None,
        "last_flush": iso(group.last_flush) if group.last_flush else None,
        "last_notification": last.subject if last else None,
        "acknowledged": (
            {
                "by": group.acknowledged.by,
                "at": iso(group.acknowledged.at),
                "via": group.acknowledged.via,
                "comment": group.acknowledged.comment,
            }
            if group.acknowledged
            else None
        ),
    }


def _alert_text(data: dict[str, Any]) -> str:
    evidence, sent = data["evidence"], data["notifications"]
    lines = [
        f"Alert:      {data['fingerprint']}",
        f"State:      {data['state']} ({data['severity']}),"
        f" since {data['fired_at'] or data['first_seen']}",
        "Labels:     " + " ".join(f"{k}={v}" for k, v in data["labels"].items()),
        f"Evidence:   {evidence['summary']}",
        f"            {evidence['value']:g} against {evidence['threshold']:g} {evidence['unit']}"
        f" over {evidence['window_seconds'] // 60} min, observed {evidence['observed_at']}",
        *[f"  error:    {e['type']}: {e['message']} ({e['count']})" for e in evidence["errors"]],
        f"Silenced:   {', '.join(data['silenced_by']) or 'no'}",
        f"Notified:   {sent['count']} time(s)"
        + (f", last {sent['last_reason']} at {sent['last_at']}" if sent["last_at"] else ""),
        "Groups:" if data["groups"] else "Groups:     none open",
        *[
            f"  {g['receiver']:<16} {g['key']}  ({g['member_state'] or '-'};"
            f" last sent {g['last_flush'] or 'never'}"
            + (
                f"; acknowledged by {g['acknowledged']['by']} at {g['acknowledged']['at']}"
                if g["acknowledged"]
                else ""
            )
            + ")"
            for g in data["groups"]
        ],
    ]
    return "\n".join(lines)


def test_routes(rules: RulesConfig, labels: dict[str, str], *, source: str) -> Document:
    """Where an alert with ``labels`` goes: every route it takes, its receivers and group key.

    ``service`` is derived from ``kind`` as the functions derive it; a label not given is
    empty (and matches only patterns that match the empty value)."""
    values = dict(labels)
    if "kind" in values and "service" not in values:
        values["service"] = values["kind"].split(".", 1)[0]
    keyed = dict.fromkeys(LABEL_NAMES, "") | values
    repeat = repeat_for(values.get("kind", ""), rules)
    taken = destinations(rules.routing, keyed, repeat_interval=repeat)
    routes: list[dict[str, Any]] = [
        {
            "route": d.route,
            "receivers": list(d.receivers),
            "group_by": list(d.group_by),
            "group_key": d.group_key(keyed),
            "group_wait": _seconds(d.group_wait),
            "group_interval": _seconds(d.group_interval),
            "repeat_interval": _seconds(d.repeat_interval),
            "mute_time_intervals": list(d.mute_time_intervals),
            "active_time_intervals": list(d.active_time_intervals),
        }
        for d in taken
    ]
    receivers = list(dict.fromkeys(r for d in taken for r in d.receivers))
    data: dict[str, Any] = {
        "labels": values,
        "config": source,
        "receivers": receivers,
        "routes": routes,
    }
    text = "\n".join(
        [
            ",".join(receivers),
            *[
                f"  {r['route']}: {', '.join(r['receivers'])}  group {r['group_key']}"
                f"  (wait {r['group_wait']}s, interval {r['group_interval']}s,"
                f" repeat {r['repeat_interval']}s)"
                for r in routes
            ],
        ]
    )
    return Document(text, data)


def _seconds(value: timedelta) -> int:
    return int(value.total_seconds())
