"""The end-user status pages: one page per incident (its phase, last update and updates,
escaped, no script) and an index linking the recent incidents.

Cases come from docs/runbook.md, "Status page": the per-incident keys and the index at the
keys that never change; issue 12 (two incidents at once must not share one page)."""

import json
from datetime import UTC, datetime, timedelta

from vigil.runbook.incident import Incident, Phase, PublicUpdate, RunbookInput
from vigil.runbook.status_page import (
    incident_document,
    incident_html,
    incident_keys,
    index_document,
    index_html,
)

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _incident(
    phase: Phase,
    status: str = "open",
    *,
    incident_id: str = "inc-1",
    service: str = "lambda",
    text: str = "Looking <into> it & more",
) -> Incident:
    return Incident(
        incident_id=incident_id,
        status=status,  # type: ignore[arg-type]
        phase=phase,
        opened_at=T0,
        updated_at=T0 + timedelta(minutes=7),
        request=RunbookInput(service=service, region="us-east-1", reason="<b>errors</b>"),
        timeline=[],
        updates=[PublicUpdate(at=T0, phase=Phase.OPEN, text=text)],
    )


def test_an_incident_page_shows_phase_and_last_update_and_escapes_text() -> None:
    page = incident_html(_incident(Phase.FAILOVER), now=T0 + timedelta(minutes=8), title="Acme")

    assert '<span class="phase">Mitigating</span>' in page
    assert (
        '<time class="updated" datetime="2026-03-02T10:07:00Z">2026-03-02T10:07:00Z</time>' in page
    )
    assert "Looking &lt;into&gt; it &amp; more" in page
    assert "<b>errors</b>" not in page  # the reason is internal, and never raw HTML
    assert "<script" not in page
    assert '<a href="../index.html">' in page


def test_an_incident_page_holds_only_its_own_incident() -> None:
    page = incident_html(_incident(Phase.OPEN), now=T0, title="Acme")
    document = json.loads(incident_document(_incident(Phase.OPEN), now=T0, title="Acme"))

    assert page.count('<section class="incident"') == 1
    assert (document["id"], document["phase"], document["updates"][0]["phase"]) == (
        "inc-1",
        "Investigating",
        "Investigating",
    )


def test_the_index_lists_every_incident_with_a_link_to_its_page() -> None:
    one = _incident(Phase.MONITOR, incident_id="manual-lambda-1")
    two = _incident(Phase.CONFIRM, incident_id="odd&<id>", service="dynamodb", text="Second")
    page = index_html([one, two], now=T0, title="Acme")

    assert "2 ongoing incidents" in page
    assert '<a href="incidents/manual-lambda-1.html">lambda in us-east-1</a>' in page
    # A name with characters HTML or a URL would read is quoted in the link, escaped in text.
    assert '<a href="incidents/odd%26%3Cid%3E.html">dynamodb in us-east-1</a>' in page
    assert 'id="incident-odd&amp;&lt;id&gt;"' in page
    assert "<p>Second</p>" in page
    assert "<script" not in page


def test_the_json_index_says_operational_once_everything_is_resolved() -> None:
    document = json.loads(
        index_document([_incident(Phase.RESOLVED, "resolved")], now=T0, title="Acme")
    )

    assert document["operational"] is True
    assert document["incidents"][0]["phase"] == "Resolved"
    assert document["incidents"][0]["updated_at"] == "2026-03-02T10:07:00Z"
    assert document["incidents"][0]["page"] == "incidents/inc-1.html"
    assert document["incidents"][0]["document"] == "incidents/inc-1.json"


def test_an_empty_index_reads_all_operational() -> None:
    assert "All systems operational" in index_html([], now=T0, title="Acme")


def test_incident_pages_live_under_status_incidents() -> None:
    assert incident_keys("inc-1") == (
        "status/incidents/inc-1.html",
        "status/incidents/inc-1.json",
    )
