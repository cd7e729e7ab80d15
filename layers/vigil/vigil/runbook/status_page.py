"""The end-user status pages: static HTML (no JavaScript), JSON and Atom, rebuilt at every phase.

Each incident has its own page, written from its own record only
(``status/incidents/<id>.html``, ``.json`` and ``.atom``), so two incidents running at once
never overwrite each other's; the index (``status/index.html``, ``status/status.json``,
``status/feed.atom``, keys that never change, so a CDN, a feed reader or a link in a status
banner keeps working) shows each configured component's status (operational, degraded,
outage), the ongoing incidents and the incidents resolved in the last 90 days, by day.

Customers read product components, never AWS services: an incident names the components
(rules config ``status_page.components``) whose services, regions and resources match it, and
falls back to a neutral wording when none does. Times are shown in the configured time zone.
Only end-user wording goes here (each incident's public updates): no resource names, no
people, no internal links; everything is escaped for HTML or XML at render time.

A dry run is never published: its pages go under ``preview/status/`` (not served; the
runbook's messages link them) with a banner saying so, and the public pages are left as they
were (ADR 46).
"""

import html
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from vigil.core.clock import iso
from vigil.core.model import Severity
from vigil.rules.status_page import StatusPageConfig
from vigil.runbook.incident import Incident

PUBLIC_PREFIX = "status/"
PREVIEW_PREFIX = "preview/status/"
HTML_KEY = "status/index.html"
JSON_KEY = "status/status.json"
FEED_KEY = "status/feed.atom"
INCIDENT_PREFIX = "status/incidents/"
SCHEMA_VERSION = 2
HISTORY_DAYS = 90
HISTORY_INCIDENTS = 50
"""How many recently opened incidents a publish reads: the page's bound (ADR 46)."""
FEED_ENTRIES = 50
ATOM = "http://www.w3.org/2005/Atom"
XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"
HTML_TYPE = "text/html; charset=utf-8"
JSON_TYPE = "application/json"
ATOM_TYPE = "application/atom+xml; charset=utf-8"

Impact = Literal["operational", "degraded", "outage"]
_RANK: dict[Impact, int] = {"operational": 0, "degraded": 1, "outage": 2}
_IMPACT_TEXT: dict[Impact, str] = {
    "operational": "Operational",
    "degraded": "Degraded performance",
    "outage": "Outage",
}
_NEUTRAL: dict[Impact, str] = {
    "degraded": "Degraded performance",
    "outage": "Service disruption",
}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Characters XML 1.0 cannot carry at all (escaping does not help): dropped from feed text.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

PALETTE = {
    "ink": "#1b1b1b",
    "muted": "#4a4a4a",
    "line": "#c4c4c4",
    "ok": "#116329",
    "warn": "#8a4600",
    "bad": "#a40e26",
    "link": "#0b57a4",
    "paper": "#ffffff",
}
"""Every text colour reads on ``paper`` (and ``paper`` on ok/bad banners) at WCAG AA's 4.5:1
or more (tests/unit/test_status_page.py)."""

_STYLE = (
    ":root{color-scheme:light;"
    + "".join(f"--{name}:{value};" for name, value in PALETTE.items())
    + "}"
    "*{box-sizing:border-box}"
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;line-height:1.5;"
    "max-width:48rem;margin:0 auto;padding:1rem;color:var(--ink);background:var(--paper);"
    "overflow-wrap:anywhere}"
    "h1{font-size:1.6rem;margin:.5rem 0 1rem}h2{font-size:1.2rem;margin:2rem 0 .5rem}"
    "h3{font-size:1rem;margin:1rem 0 .25rem}"
    "a{color:var(--link)}"
    ".banner{padding:.75rem 1rem;border-radius:6px;font-weight:600;color:var(--paper);margin:0}"
    ".banner.ok{background:var(--ok)}.banner.open{background:var(--bad)}"
    ".preview{border:2px dashed var(--warn);color:var(--warn);padding:.5rem 1rem;"
    "border-radius:6px;font-weight:600}"
    ".components{list-style:none;padding:0;margin:0;border:1px solid var(--line);"
    "border-radius:6px}"
    ".components li{display:flex;flex-wrap:wrap;justify-content:space-between;gap:.25rem 1rem;"
    "padding:.6rem 1rem;border-top:1px solid var(--line)}"
    ".components li:first-child{border-top:0}"
    ".state{font-weight:600}.operational{color:var(--ok)}.degraded{color:var(--warn)}"
    ".outage{color:var(--bad)}"
    ".incident{border:1px solid var(--line);border-radius:6px;padding:.25rem 1rem;"
    "margin:1rem 0}"
    ".meta{color:var(--muted);font-size:.95rem}"
    "ol.updates,ul.days{padding-left:1.2rem}ol.updates li{margin:.5rem 0}"
    "time{font-variant-numeric:tabular-nums;white-space:nowrap}"
    "footer{margin-top:2rem;border-top:1px solid var(--line);color:var(--muted);"
    "font-size:.9rem}"
)


@dataclass(frozen=True)
class StatusPage:
    """What every page of one publish shares: its title, the config, whether it is a preview."""

    title: str
    config: StatusPageConfig = field(default_factory=StatusPageConfig)
    preview: bool = False

    @property
    def prefix(self) -> str:
        return PREVIEW_PREFIX if self.preview else PUBLIC_PREFIX

    @property
    def zone(self) -> ZoneInfo:
        return self.config.zone


@dataclass(frozen=True)
class PageObject:
    key: str
    body: str
    content_type: str


def incident_keys(incident_id: str, *, preview: bool = False) -> tuple[str, str, str]:
    """The object keys of an incident's page, its JSON twin and its Atom feed."""
    base = f"{PREVIEW_PREFIX if preview else PUBLIC_PREFIX}incidents/{incident_id}"
    return f"{base}.html", f"{base}.json", f"{base}.atom"


def _link(incident_id: str, suffix: str) -> str:
    """The page's address relative to ``status/`` (the index's folder)."""
    return f"incidents/{quote(incident_id, safe='')}{suffix}"


# ---------------------------------------------------------------------------- wording
def impact_of(incident: Incident) -> Impact:
    """Outage for a critical incident, degraded performance otherwise; operational once
    resolved."""
    if incident.status == "resolved":
        return "operational"
    return "outage" if incident.request.severity is Severity.CRITICAL else "degraded"


def affected_components(incident: Incident, config: StatusPageConfig) -> list[str]:
    """The configured components the incident touches, in the config's order."""
    req = incident.request
    return [
        c.name
        for c in config.components
        if c.affected_by(req.service, req.region, incident.affected_resources)
    ]


def _joined(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def headline(incident: Incident, config: StatusPageConfig) -> str:
    """The incident's title for customers, e.g. ``Checkout and Search: outage``; without a
    matching component, a neutral wording."""
    impact: Impact = "outage" if incident.request.severity is Severity.CRITICAL else "degraded"
    names = affected_components(incident, config)
    if names:
        return f"{_joined(names)}: {_IMPACT_TEXT[impact].lower()}"
    return _NEUTRAL[impact]


def human_time(moment: datetime, zone: ZoneInfo, *, now: datetime) -> str:
    """``Dec 6, 14:05 CET`` (the year too when it is not ``now``'s)."""
    local = moment.astimezone(zone)
    year = f" {local.year}," if local.year != now.astimezone(zone).year else ""
    return f"{_MONTHS[local.month - 1]} {local.day},{year} {local:%H:%M} {local.tzname()}"


def _day(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{_MONTHS[local.month - 1]} {local.day}, {local.year}"


def _time(moment: datetime, page: StatusPage, now: datetime, css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    text = html.escape(human_time(moment, page.zone, now=now))
    return f'<time{cls} datetime="{iso(moment)}">{text}</time>'


def component_states(incidents: Sequence[Incident], config: StatusPageConfig) -> dict[str, Impact]:
    """Each configured component's worst impact among the ongoing incidents."""
    states: dict[str, Impact] = {c.name: "operational" for c in config.components}
    for incident in incidents:
        impact = impact_of(incident)
        for name in affected_components(incident, config):
            if _RANK[impact] > _RANK[states[name]]:
                states[name] = impact
    return states


def _ongoing(incidents: Sequence[Incident]) -> list[Incident]:
    return [i for i in incidents if i.status != "resolved"]


def _history(incidents: Sequence[Incident], now: datetime) -> list[Incident]:
    """Incidents resolved in the last 90 days, latest resolved first."""
    since = now - timedelta(days=HISTORY_DAYS)
    done = [
        i for i in incidents if i.status == "resolved" and i.resolved_at and i.resolved_at >= since
    ]
    return sorted(done, key=lambda i: i.resolved_at or i.opened_at, reverse=True)


# ---------------------------------------------------------------------------- JSON
def _summary(incident: Incident, config: StatusPageConfig) -> dict[str, Any]:
    return {
        "id": incident.incident_id,
        "headline": headline(incident, config),
        "components": affected_components(incident, config),
        "impact": impact_of(incident),
        "status": "resolved" if incident.status == "resolved" else "open",
        "phase": incident.phase.public,
        "opened_at": iso(incident.opened_at),
        "updated_at": iso(incident.last_update),
        "resolved_at": iso(incident.resolved_at) if incident.resolved_at else None,
        "updates": [
            {"at": iso(u.at), "phase": u.phase.public, "text": u.text}
            for u in reversed(incident.updates)
        ],
    }


def incident_document(incident: Incident, *, now: datetime, page: StatusPage) -> str:
    """The JSON twin of one incident's page."""
    return json.dumps(
        {
            "version": SCHEMA_VERSION,
            "title": page.title,
            "preview": page.preview,
            "updated_at": iso(now),
            **_summary(incident, page.config),
        },
        indent=2,
    )


def index_document(incidents: Sequence[Incident], *, now: datetime, page: StatusPage) -> str:
    """The JSON twin of the index, for status banners and tools."""
    ongoing = _ongoing(incidents)

    def listed(incident: Incident) -> dict[str, Any]:
        return _summary(incident, page.config) | {
            "page": _link(incident.incident_id, ".html"),
            "document": _link(incident.incident_id, ".json"),
            "feed": _link(incident.incident_id, ".atom"),
        }

    return json.dumps(
        {
            "version": SCHEMA_VERSION,
            "title": page.title,
            "preview": page.preview,
            "updated_at": iso(now),
            "time_zone": page.config.time_zone,
            "operational": not ongoing,
            "components": [
                {"name": name, "status": state}
                for name, state in component_states(ongoing, page.config).items()
            ],
            "incidents": [listed(i) for i in ongoing],
            "history": [listed(i) for i in _history(incidents, now)],
        },
        indent=2,
    )


# ---------------------------------------------------------------------------- HTML
def _head(page: StatusPage, heading: str, feed: str) -> list[str]:
    esc = html.escape
    return [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta http-equiv="refresh" content="60">',
        *(['<meta name="robots" content="noindex">'] if page.preview else []),
        f"<title>{esc(page.title)}: {esc(heading)}</title>",
        f'<link rel="alternate" type="application/atom+xml" title="{esc(page.title)}:'
        f' {esc(heading)}" href="{esc(feed)}">',
        f"<style>{_STYLE}</style></head><body>",
    ]


def _preview_banner(page: StatusPage) -> list[str]:
    if not page.preview:
        return []
    return [
        '<p class="preview" role="note">Preview of a dry run: this page is not published;'
        " customers see the public page, which the dry run left untouched.</p>"
    ]


def _footer(page: StatusPage, now: datetime, feed: str) -> list[str]:
    return [
        "<footer>",
        f"<p>Page updated {_time(now, page, now)}."
        f" Times are in {html.escape(page.config.time_zone)}.",
        f' <a href="{html.escape(feed)}">Follow updates (Atom feed)</a></p>',
        "</footer>",
    ]


def incident_html(incident: Incident, *, now: datetime, page: StatusPage) -> str:
    """One incident's page: the components it affects, its phase, times and every update,
    newest first; built from its record alone, everything escaped, no script."""
    esc = html.escape
    title = headline(incident, page.config)
    names = affected_components(incident, page.config)
    state = "ok" if incident.status == "resolved" else "open"
    feed = _link(incident.incident_id, ".atom").removeprefix("incidents/")
    times = [f"Opened {_time(incident.opened_at, page, now, 'opened')}"]
    times.append(f"last update {_time(incident.last_update, page, now, 'updated')}")
    if incident.resolved_at:
        times.append(f"resolved {_time(incident.resolved_at, page, now, 'resolved')}")
    parts = [
        *_head(page, title, feed),
        f'<header><p><a href="../index.html">{esc(page.title)}: current status</a></p></header>',
        "<main>",
        *_preview_banner(page),
        f'<section class="incident" id="incident-{esc(incident.incident_id)}">',
        f"<h1>{esc(title)}</h1>",
        f'<p id="summary" class="{state}">Current phase:'
        f' <span class="phase">{esc(incident.phase.public)}</span></p>',
        *([f'<p class="affected">Affected: {esc(", ".join(names))}</p>'] if names else []),
        f'<p class="meta">{"; ".join(times)}</p>',
        "<h2>Updates</h2>",
        '<ol class="updates" reversed>',
    ]
    parts += [
        f"<li><strong>{esc(u.phase.public)}</strong> ({_time(u.at, page, now)}): {esc(u.text)}</li>"
        for u in reversed(incident.updates)
    ]
    parts += ["</ol>", "</section>", "</main>", *_footer(page, now, feed), "</body></html>"]
    return "\n".join(parts) + "\n"


def index_html(incidents: Sequence[Incident], *, now: datetime, page: StatusPage) -> str:
    """The index: the overall state, each component's status, the ongoing incidents (phase,
    last update, latest text, a link to each page) and the last 90 days' resolved incidents
    by day; everything escaped."""
    esc = html.escape
    ongoing = _ongoing(incidents)
    summary = (
        f"{len(ongoing)} ongoing incident{'s' if len(ongoing) != 1 else ''}"
        if ongoing
        else "All systems operational"
    )
    feed = "feed.atom"
    parts = [
        *_head(page, summary, feed),
        f"<header><h1>{esc(page.title)}</h1></header>",
        "<main>",
        *_preview_banner(page),
        f'<p id="summary" class="banner {"open" if ongoing else "ok"}" role="status">'
        f"{esc(summary)}</p>",
    ]
    states = component_states(ongoing, page.config)
    if states:
        parts += ['<section aria-labelledby="components"><h2 id="components">Components</h2>']
        parts.append('<ul class="components">')
        parts += [
            f'<li><span class="component">{esc(name)}</span>'
            f' <span class="state {state}">{_IMPACT_TEXT[state]}</span></li>'
            for name, state in states.items()
        ]
        parts += ["</ul>", "</section>"]
    if ongoing:
        parts.append('<section aria-labelledby="ongoing"><h2 id="ongoing">Ongoing incidents</h2>')
        for incident in ongoing:
            latest = incident.updates[-1].text if incident.updates else ""
            parts += [
                f'<section class="incident" id="incident-{esc(incident.incident_id)}">',
                f'<h3><a href="{esc(_link(incident.incident_id, ".html"))}">'
                f"{esc(headline(incident, page.config))}</a></h3>",
                f'<p class="meta">Current phase: <span class="phase">'
                f"{esc(incident.phase.public)}</span>; last update"
                f" {_time(incident.last_update, page, now, 'updated')}</p>",
                *([f"<p>{esc(latest)}</p>"] if latest else []),
                "</section>",
            ]
        parts.append("</section>")
    parts += _history_html(incidents, now=now, page=page)
    parts += ["</main>", *_footer(page, now, feed), "</body></html>"]
    return "\n".join(parts) + "\n"


def _history_html(incidents: Sequence[Incident], *, now: datetime, page: StatusPage) -> list[str]:
    esc = html.escape
    parts = [
        '<section aria-labelledby="history">',
        f'<h2 id="history">Past incidents (last {HISTORY_DAYS} days)</h2>',
    ]
    done = _history(incidents, now)
    if not done:
        return [*parts, f"<p>No incidents in the last {HISTORY_DAYS} days.</p>", "</section>"]
    days: dict[str, list[Incident]] = {}
    for incident in done:
        days.setdefault(_day(incident.resolved_at or incident.opened_at, page.zone), []).append(
            incident
        )
    for day, listed in days.items():
        parts += [f"<h3>{esc(day)}</h3>", '<ul class="days">']
        parts += [
            f'<li><a href="{esc(_link(i.incident_id, ".html"))}">'
            f"{esc(headline(i, page.config))}</a>"
            f' <span class="meta">({_time(i.opened_at, page, now)} to'
            f" {_time(i.resolved_at or i.opened_at, page, now)})</span></li>"
            for i in listed
        ]
        parts.append("</ul>")
    parts.append("<p>No other incidents in this period.</p>")
    return [*parts, "</section>"]


# ---------------------------------------------------------------------------- Atom
def _xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


def _absolute(page: StatusPage, relative: str) -> str:
    return f"{page.config.url}{relative}" if page.config.url else relative


def _uuid(*parts: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, '|'.join(('vigil-status', *parts)))}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = _xml_text(text)
    return element


def feed_xml(
    incidents: Sequence[Incident],
    *,
    now: datetime,
    page: StatusPage,
    self_link: str,
    page_link: str,
    feed_id: str,
    base: str = "",
    subject: str | None = None,
) -> str:
    """An Atom feed (RFC 4287) with one entry per public update, newest first (at most 50);
    ``self_link`` and ``page_link`` are relative to ``status/``, which ``base`` (``xml:base``)
    reaches from the feed's own folder when the config gives no public address."""
    entries = sorted(
        (
            (update.at, n, incident)
            for incident in incidents
            for n, update in enumerate(incident.updates)
        ),
        key=lambda e: (e[0], e[2].incident_id, e[1]),
        reverse=True,
    )[:FEED_ENTRIES]
    # The namespace as a plain attribute: children unprefixed, no global prefix registered.
    root = ET.Element("feed", {"xmlns": ATOM})
    if base and not page.config.url:
        root.set(f"{{{XML_NAMESPACE}}}base", base)
    _sub(root, "id", page.config.url + self_link if page.config.url else feed_id)
    title = f"{page.title}: {subject}" if subject else page.title
    _sub(root, "title", title + (" (dry-run preview)" if page.preview else ""))
    _sub(root, "updated", iso(entries[0][0]) if entries else iso(now))
    _sub(_sub(root, "author"), "name", page.title)
    _sub(root, "link", rel="self", type="application/atom+xml", href=_absolute(page, self_link))
    _sub(root, "link", rel="alternate", type="text/html", href=_absolute(page, page_link))
    for at, n, incident in entries:
        update = incident.updates[n]
        entry = _sub(root, "entry")
        _sub(entry, "id", _uuid(incident.incident_id, str(n), iso(at)))
        _sub(entry, "title", f"{headline(incident, page.config)}: {update.phase.public}")
        _sub(entry, "updated", iso(at))
        _sub(entry, "published", iso(at))
        link = _absolute(page, _link(incident.incident_id, ".html"))
        _sub(entry, "link", rel="alternate", type="text/html", href=link)
        _sub(entry, "content", update.text, type="text")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# ---------------------------------------------------------------------------- publish
def documents(
    incident: Incident, index: Sequence[Incident], *, now: datetime, page: StatusPage
) -> list[PageObject]:
    """Every object one publish writes, under the page's prefix: the incident's page, JSON
    and feed (from its record alone), then the index's. The index lists only incidents of
    the same kind as the page: live ones on the public page, dry runs on the preview."""
    shown = [i for i in index if i.request.dry_run == page.preview]
    page_key, document_key, feed_key = incident_keys(incident.incident_id, preview=page.preview)
    own = _link(incident.incident_id, "")
    return [
        PageObject(page_key, incident_html(incident, now=now, page=page), HTML_TYPE),
        PageObject(document_key, incident_document(incident, now=now, page=page), JSON_TYPE),
        PageObject(
            feed_key,
            feed_xml(
                [incident],
                now=now,
                page=page,
                self_link=f"{own}.atom",
                page_link=f"{own}.html",
                feed_id=_uuid("incident", incident.incident_id),
                base="../",
                subject=headline(incident, page.config),
            ),
            ATOM_TYPE,
        ),
        PageObject(f"{page.prefix}index.html", index_html(shown, now=now, page=page), HTML_TYPE),
        PageObject(
            f"{page.prefix}status.json", index_document(shown, now=now, page=page), JSON_TYPE
        ),
        PageObject(
            f"{page.prefix}feed.atom",
            feed_xml(
                shown,
                now=now,
                page=page,
                self_link="feed.atom",
                page_link="index.html",
                feed_id=_uuid("index", page.title),
            ),
            ATOM_TYPE,
        ),
    ]
