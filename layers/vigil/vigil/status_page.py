"""The end-user status page: static HTML (no JavaScript) and JSON, rebuilt at every phase.

Only end-user wording goes here (each incident's public updates): no resource names, no
people, no internal links. The object keys never change (``status/index.html``,
``status/status.json``), so a CDN or a link in a status banner keeps working; the HTML asks
browsers to re-read it every minute with a plain ``<meta http-equiv="refresh">``.
"""

import html
import json
from collections.abc import Sequence
from datetime import datetime

from vigil.clock import iso
from vigil.runbook import Incident

HTML_KEY = "status/index.html"
JSON_KEY = "status/status.json"
SCHEMA_VERSION = 1

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;"
    "color:#1b1b1b}.incident{border:1px solid #ccc;border-radius:6px;padding:1rem;"
    "margin:1rem 0}.phase{font-weight:bold}.ok{color:#1a7f37}.open{color:#b35900}"
    "ol{padding-left:1.2rem}time{font-variant-numeric:tabular-nums}"
)


def _status_of(incident: Incident) -> str:
    return "resolved" if incident.status == "resolved" else "open"


def status_document(incidents: Sequence[Incident], *, now: datetime, title: str) -> str:
    """The JSON twin of the page, for status banners and tools."""
    return json.dumps(
        {
            "version": SCHEMA_VERSION,
            "title": title,
            "updated_at": iso(now),
            "operational": all(i.status == "resolved" for i in incidents),
            "incidents": [
                {
                    "id": i.incident_id,
                    "service": i.request.service,
                    "region": i.request.region,
                    "status": _status_of(i),
                    "phase": i.phase.public,
                    "opened_at": iso(i.opened_at),
                    "updated_at": iso(i.last_update),
                    "resolved_at": iso(i.resolved_at) if i.resolved_at else None,
                    "updates": [
                        {"at": iso(u.at), "phase": u.phase.public, "text": u.text}
                        for u in reversed(i.updates)
                    ],
                }
                for i in incidents
            ],
        },
        indent=2,
    )


def status_html(incidents: Sequence[Incident], *, now: datetime, title: str) -> str:
    """The page itself; everything is escaped, and it reads the same without scripts."""
    esc = html.escape
    open_ones = [i for i in incidents if i.status != "resolved"]
    headline = (
        f"{len(open_ones)} ongoing incident{'s' if len(open_ones) != 1 else ''}"
        if open_ones
        else "All systems operational"
    )
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta http-equiv="refresh" content="60">',
        f"<title>{esc(title)}: {esc(headline)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f'<p id="summary" class="{"open" if open_ones else "ok"}">{esc(headline)}</p>',
        f'<p>Page updated <time id="page-updated" datetime="{iso(now)}">{iso(now)}</time>'
        " (UTC).</p>",
    ]
    for incident in incidents:
        req = incident.request
        updated = iso(incident.last_update)
        parts += [
            f'<section class="incident" id="incident-{esc(incident.incident_id)}">',
            f"<h2>{esc(req.service)} in {esc(req.region)}</h2>",
            f'<p>Current phase: <span class="phase">{esc(incident.phase.public)}</span></p>',
            f'<p>Last update: <time class="updated" datetime="{updated}">{updated}</time>'
            " (UTC)</p>",
            "<ol>",
        ]
        parts += [
            f'<li><time datetime="{iso(u.at)}">{iso(u.at)}</time>'
            f" <strong>{esc(u.phase.public)}</strong>: {esc(u.text)}</li>"
            for u in reversed(incident.updates)
        ]
        parts += ["</ol>", "</section>"]
    if not incidents:
        parts.append("<p>No incidents reported.</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
