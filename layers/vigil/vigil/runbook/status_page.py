"""The end-user status pages: static HTML (no JavaScript) and JSON, rebuilt at every phase.

Each incident has its own page, written from its own record only
(``status/incidents/<id>.html`` and ``.json``), so two incidents running at once never
overwrite each other's; the index (``status/index.html``, ``status/status.json``, keys that
never change, so a CDN or a link in a status banner keeps working) lists the recent
incidents with their phase and a link to each page.

Only end-user wording goes here (each incident's public updates): no resource names, no
people, no internal links. The HTML asks browsers to re-read it every minute with a plain
``<meta http-equiv="refresh">``.
"""

import html
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from vigil.core.clock import iso
from vigil.runbook.incident import Incident

HTML_KEY = "status/index.html"
JSON_KEY = "status/status.json"
INCIDENT_PREFIX = "status/incidents/"
SCHEMA_VERSION = 1

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;"
    "color:#1b1b1b}.incident{border:1px solid #ccc;border-radius:6px;padding:1rem;"
    "margin:1rem 0}.phase{font-weight:bold}.ok{color:#1a7f37}.open{color:#b35900}"
    "ol{padding-left:1.2rem}time{font-variant-numeric:tabular-nums}"
)


def incident_keys(incident_id: str) -> tuple[str, str]:
    """The object keys of an incident's page and its JSON twin."""
    return f"{INCIDENT_PREFIX}{incident_id}.html", f"{INCIDENT_PREFIX}{incident_id}.json"


def _link(incident_id: str, suffix: str) -> str:
    """The page's address relative to ``status/`` (the index's folder)."""
    return f"incidents/{quote(incident_id, safe='')}{suffix}"


def _status_of(incident: Incident) -> str:
    return "resolved" if incident.status == "resolved" else "open"


def _summary(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.incident_id,
        "service": incident.request.service,
        "region": incident.request.region,
        "status": _status_of(incident),
        "phase": incident.phase.public,
        "opened_at": iso(incident.opened_at),
        "updated_at": iso(incident.last_update),
        "resolved_at": iso(incident.resolved_at) if incident.resolved_at else None,
        "updates": [
            {"at": iso(u.at), "phase": u.phase.public, "text": u.text}
            for u in reversed(incident.updates)
        ],
    }


def incident_document(incident: Incident, *, now: datetime, title: str) -> str:
    """The JSON twin of one incident's page."""
    return json.dumps(
        {"version": SCHEMA_VERSION, "title": title, "updated_at": iso(now), **_summary(incident)},
        indent=2,
    )


def index_document(incidents: Sequence[Incident], *, now: datetime, title: str) -> str:
    """The JSON twin of the index, for status banners and tools."""
    return json.dumps(
        {
            "version": SCHEMA_VERSION,
            "title": title,
            "updated_at": iso(now),
            "operational": all(i.status == "resolved" for i in incidents),
            "incidents": [
                _summary(i)
                | {
                    "page": _link(i.incident_id, ".html"),
                    "document": _link(i.incident_id, ".json"),
                }
                for i in incidents
            ],
        },
        indent=2,
    )


def _head(title: str, headline: str) -> list[str]:
    esc = html.escape
    return [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta http-equiv="refresh" content="60">',
        f"<title>{esc(title)}: {esc(headline)}</title>",
        f"<style>{_STYLE}</style></head><body>",
    ]


def _updated(now: datetime) -> str:
    return (
        f'<p>Page updated <time id="page-updated" datetime="{iso(now)}">{iso(now)}</time>'
        " (UTC).</p>"
    )


def incident_html(incident: Incident, *, now: datetime, title: str) -> str:
    """One incident's page: its phase, last update and every update, newest first; built
    from its record alone, everything escaped, the same without scripts."""
    esc = html.escape
    req = incident.request
    scope = f"{req.service} in {req.region}"
    updated = iso(incident.last_update)
    state = "ok" if incident.status == "resolved" else "open"
    parts = [
        *_head(title, f"{scope}: {incident.phase.public}"),
        f'<p><a href="../index.html">{esc(title)}: all incidents</a></p>',
        f'<section class="incident" id="incident-{esc(incident.incident_id)}">',
        f"<h1>{esc(scope)}</h1>",
        f'<p id="summary" class="{state}">Current phase:'
        f' <span class="phase">{esc(incident.phase.public)}</span></p>',
        f'<p>Opened <time class="opened" datetime="{iso(incident.opened_at)}">'
        f"{iso(incident.opened_at)}</time> (UTC). Last update:"
        f' <time class="updated" datetime="{updated}">{updated}</time> (UTC)</p>',
        "<ol>",
    ]
    parts += [
        f'<li><time datetime="{iso(u.at)}">{iso(u.at)}</time>'
        f" <strong>{esc(u.phase.public)}</strong>: {esc(u.text)}</li>"
        for u in reversed(incident.updates)
    ]
    parts += ["</ol>", "</section>", _updated(now), "</body></html>"]
    return "\n".join(parts) + "\n"


def index_html(incidents: Sequence[Incident], *, now: datetime, title: str) -> str:
    """The index: how many incidents are ongoing, and each recent one with its phase, last
    update, latest update text and a link to its page; everything escaped."""
    esc = html.escape
    open_ones = [i for i in incidents if i.status != "resolved"]
    headline = (
        f"{len(open_ones)} ongoing incident{'s' if len(open_ones) != 1 else ''}"
        if open_ones
        else "All systems operational"
    )
    parts = [
        *_head(title, headline),
        f"<h1>{esc(title)}</h1>",
        f'<p id="summary" class="{"open" if open_ones else "ok"}">{esc(headline)}</p>',
        _updated(now),
    ]
    for incident in incidents:
        req = incident.request
        updated = iso(incident.last_update)
        latest = incident.updates[-1].text if incident.updates else ""
        parts += [
            f'<section class="incident" id="incident-{esc(incident.incident_id)}">',
            f'<h2><a href="{esc(_link(incident.incident_id, ".html"))}">'
            f"{esc(req.service)} in {esc(req.region)}</a></h2>",
            f'<p>Current phase: <span class="phase">{esc(incident.phase.public)}</span></p>',
            f'<p>Last update: <time class="updated" datetime="{updated}">{updated}</time>'
            " (UTC)</p>",
            *([f"<p>{esc(latest)}</p>"] if latest else []),
            "</section>",
        ]
    if not incidents:
        parts.append("<p>No incidents reported.</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
