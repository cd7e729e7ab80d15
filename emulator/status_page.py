"""A sample status page (components, an ongoing incident, 90 days of history, a dry run that
must stay out) rendered by the runbook's own code, and headless Chromium to look at pages:
the screenshots in docs/images (``scripts/status_page_screenshots.py``) and the page checks
in tests/unit/test_status_page_chromium.py."""

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

from vigil.core.model import Severity
from vigil.rules.status_page import StatusPageConfig
from vigil.runbook.incident import Incident, Phase, PublicUpdate, RunbookInput
from vigil.runbook.status_page import StatusPage, documents

CHROMIUM = Path(os.environ.get("VIGIL_CHROMIUM", "/usr/bin/chromium"))
NOW = datetime(2026, 12, 6, 13, 20, tzinfo=UTC)
PHONE = (390, 844)
DESKTOP = (1280, 900)

CONFIG = StatusPageConfig.model_validate(
    {
        "title": "Acme status",
        "time_zone": "Europe/Berlin",
        "components": [
            {"name": "Checkout", "services": ["lambda", "dynamodb"], "resources": ["orders-*"]},
            {"name": "Search", "services": ["lambda"], "resources": ["search-*"]},
            {"name": "Sign-in", "services": ["cognito-idp"]},
            {"name": "Notifications", "services": ["sns", "sqs"], "regions": ["eu-west-1"]},
        ],
    }
)


def _incident(
    incident_id: str,
    *,
    service: str,
    region: str,
    opened: datetime,
    updates: Sequence[tuple[timedelta, Phase, str]],
    resources: Sequence[str] = (),
    resolved: bool = True,
    dry_run: bool = False,
    severity: Severity = Severity.CRITICAL,
) -> Incident:
    public = [
        PublicUpdate(at=opened + after, phase=phase, text=text) for after, phase, text in updates
    ]
    last = public[-1]
    return Incident(
        incident_id=incident_id,
        status="resolved" if resolved else "open",
        phase=last.phase,
        opened_at=opened,
        updated_at=last.at,
        resolved_at=last.at if resolved else None,
        request=RunbookInput(
            service=service,
            region=region,
            reason="sample",
            dry_run=dry_run,
            severity=severity,
        ),
        timeline=[],
        updates=public,
        affected_resources=list(resources),
    )


def sample_incidents() -> list[Incident]:
    """Newest opened first, as the runbook reads them: an ongoing Checkout and Search outage,
    three resolved in the last 90 days, one older (left out) and a dry run (never public)."""
    minutes = timedelta(minutes=1)
    ongoing = _incident(
        "manual-lambda-20261206",
        service="lambda",
        region="us-east-1",
        opened=NOW - 75 * minutes,
        resources=["orders-api", "search-indexer"],
        resolved=False,
        updates=[
            (0 * minutes, Phase.OPEN, "We are investigating a problem affecting our service."),
            (
                4 * minutes,
                Phase.CONFIRM,
                "Our cloud provider has confirmed an issue that affects our service. We are"
                " working on it.",
            ),
            (
                21 * minutes,
                Phase.FAILOVER,
                "We are moving traffic away from the affected location.",
            ),
            (60 * minutes, Phase.MONITOR, "We are monitoring the situation."),
        ],
    )
    rehearsal = _incident(
        "rehearsal-1",
        service="lambda",
        region="us-east-1",
        opened=NOW - 30 * minutes,
        resources=["orders-api"],
        resolved=False,
        dry_run=True,
        updates=[
            (0 * minutes, Phase.OPEN, "We are investigating a problem affecting our service.")
        ],
    )
    day = timedelta(days=1)

    def past(incident_id: str, ago: timedelta, service: str, region: str, *res: str) -> Incident:
        return _incident(
            incident_id,
            service=service,
            region=region,
            opened=NOW - ago,
            resources=res,
            severity=Severity.WARNING if service == "sqs" else Severity.CRITICAL,
            updates=[
                (0 * minutes, Phase.OPEN, "We are investigating a problem affecting our service."),
                (
                    12 * minutes,
                    Phase.CONFIRM,
                    "We have identified the problem and are working on a fix.",
                ),
                (
                    47 * minutes,
                    Phase.RESOLVED,
                    "This incident has been resolved: everything is working normally again.",
                ),
            ],
        )

    return [
        rehearsal,
        ongoing,
        past("manual-dynamodb-1", 3 * day, "dynamodb", "us-east-1", "orders-table"),
        past("manual-sqs-1", 17 * day, "sqs", "eu-west-1", "mail-queue"),
        past("manual-ec2-1", 40 * day, "ec2", "eu-central-1"),
        past("manual-cognito-1", 120 * day, "cognito-idp", "us-east-1"),
    ]


def sample_pages(*, preview: bool = False) -> dict[str, str]:
    """The objects one publish of the ongoing incident writes (or of the dry run, with
    ``preview``), by key."""
    incidents = sample_incidents()
    incident = incidents[0] if preview else incidents[1]
    page = StatusPage("Acme status", CONFIG, preview=preview)
    return {d.key: d.body for d in documents(incident, incidents, now=NOW, page=page)}


def run_chromium(args: Sequence[str], html: str, *, size: tuple[int, int] = (1280, 900)) -> str:
    """Run headless Chromium on ``html`` (a file in a new folder, a new empty profile)."""
    with tempfile.TemporaryDirectory() as profile, tempfile.TemporaryDirectory() as pages:
        page = Path(pages) / "index.html"
        page.write_text(html, encoding="utf-8")
        result = subprocess.run(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--window-size={size[0]},{size[1]}",
                *args,
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=90,
            check=True,
        )
    shutil.rmtree(profile, ignore_errors=True)
    return result.stdout


def screenshot(html: str, target: Path, *, size: tuple[int, int]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    run_chromium([f"--screenshot={target.resolve()}"], html, size=size)


def measure(html: str, *, size: tuple[int, int]) -> tuple[int, int, float]:
    """The page's scroll width, its viewport's width and the body's font size in pixels, as
    Chromium lays the page out ``size`` wide.

    The page goes into a frame of that size (headless windows are at least 500 px wide); the
    script that reads it lives only in this wrapper, the pages themselves have none."""
    wrapper = (
        "<!doctype html><html><head><title>-</title></head><body style=margin:0>"
        f'<iframe id=page width={size[0]} height={size[1]} style=border:0 srcdoc="'
        + escape(html, quote=True)
        + '"></iframe><script>window.onload=()=>{const d=document.getElementById("page")'
        ".contentWindow;document.title=[d.document.documentElement.scrollWidth,d.innerWidth,"
        "d.getComputedStyle(d.document.body).fontSize].join(' ')}</script></body></html>"
    )
    dom = run_chromium(["--dump-dom"], wrapper, size=(max(size[0], 500) + 20, size[1] + 20))
    start = dom.index("<title>") + len("<title>")
    scroll, inner, font = dom[start : dom.index("</title>")].split()
    return int(scroll), int(inner), float(font.removesuffix("px"))
