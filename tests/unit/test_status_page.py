"""The end-user status page: the phase and last update of each incident, escaped, no script."""

import json
from datetime import UTC, datetime, timedelta

from vigil.runbook import Incident, Phase, PublicUpdate, RunbookInput
from vigil.status_page import status_document, status_html

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _incident(phase: Phase, status: str = "open") -> Incident:
    return Incident(
        incident_id="inc-1",
        status=status,  # type: ignore[arg-type]
        phase=phase,
        opened_at=T0,
        updated_at=T0 + timedelta(minutes=7),
        request=RunbookInput(service="lambda", region="us-east-1", reason="<b>errors</b>"),
        timeline=[],
        updates=[PublicUpdate(at=T0, phase=Phase.OPEN, text="Looking <into> it & more")],
    )


def test_the_page_shows_phase_and_last_update_and_escapes_text() -> None:
    page = status_html([_incident(Phase.FAILOVER)], now=T0 + timedelta(minutes=8), title="Acme")

    assert '<span class="phase">Mitigating</span>' in page
    assert (
        '<time class="updated" datetime="2026-03-02T10:07:00Z">2026-03-02T10:07:00Z</time>' in page
    )
    assert "Looking &lt;into&gt; it &amp; more" in page
    assert "<script" not in page
    assert "1 ongoing incident" in page


def test_the_json_twin_says_operational_once_everything_is_resolved() -> None:
    document = json.loads(
        status_document([_incident(Phase.RESOLVED, "resolved")], now=T0, title="Acme")
    )

    assert document["operational"] is True
    assert document["incidents"][0]["phase"] == "Resolved"
    assert document["incidents"][0]["updated_at"] == "2026-03-02T10:07:00Z"


def test_an_empty_page_reads_all_operational() -> None:
    assert "All systems operational" in status_html([], now=T0, title="Acme")
