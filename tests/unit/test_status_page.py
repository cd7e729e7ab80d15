"""The end-user status pages: components from the config, human times in a time zone, an Atom
feed per page, 90 days of history, and dry runs kept off the public page.

Cases come from docs/runbook.md, "Status page"; issue 12 (two incidents at once must not share
one page); issue 16 (the headline "lambda in us-east-1", raw ISO times, no components, no feed,
a dry run published to customers); RFC 4287 (Atom: sections 4.1.1 and 4.1.2 list the elements a
feed and an entry must carry, 4.2.7.1 the self link, 3.3 dates as RFC 3339 timestamps, XML 1.0's
Char production for what a feed can carry at all; the W3C feed validator's MissingSelf
warning); WCAG 2.2 (1.4.3, contrast of at least 4.5:1,
and its relative luminance formula)."""

import json
import re
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

import pytest

from emulator.status_page import CONFIG, NOW, sample_incidents, sample_pages
from vigil.core.errors import ConfigError
from vigil.core.model import Severity
from vigil.rules.document import RulesConfig
from vigil.rules.status_page import StatusPageConfig
from vigil.runbook.incident import Incident, Phase, PublicUpdate, RunbookInput
from vigil.runbook.status_page import (
    PALETTE,
    StatusPage,
    affected_components,
    component_states,
    documents,
    headline,
    human_time,
    incident_document,
    incident_html,
    incident_keys,
    index_document,
    index_html,
)

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ATOM = "{http://www.w3.org/2005/Atom}"
PAGE = StatusPage("Acme", CONFIG)
PLAIN = StatusPage("Acme")


def _incident(
    phase: Phase,
    status: str = "open",
    *,
    incident_id: str = "inc-1",
    service: str = "lambda",
    region: str = "us-east-1",
    text: str = "Looking <into> it & more",
    resources: tuple[str, ...] = (),
    dry_run: bool = False,
    resolved_at: datetime | None = None,
) -> Incident:
    return Incident(
        incident_id=incident_id,
        status=status,  # type: ignore[arg-type]
        phase=phase,
        opened_at=T0,
        updated_at=T0 + timedelta(minutes=7),
        resolved_at=resolved_at,
        request=RunbookInput(
            service=service, region=region, reason="<b>errors</b>", dry_run=dry_run
        ),
        timeline=[],
        updates=[PublicUpdate(at=T0, phase=Phase.OPEN, text=text)],
        affected_resources=list(resources),
    )


# ---------------------------------------------------------------------------- config
def test_the_rules_config_takes_a_status_page_section() -> None:
    rules = RulesConfig.from_json(
        json.dumps(
            {
                "status_page": {
                    "title": "Acme status",
                    "time_zone": "Europe/Paris",
                    "components": [{"name": "Checkout", "services": ["lambda"]}],
                }
            }
        )
    )

    assert rules.status_page.components[0].name == "Checkout"
    assert rules.status_page.zone.key == "Europe/Paris"
    assert RulesConfig.from_json("{}").status_page.components == []


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"time_zone": "CET+1"}, "is not an IANA time zone"),
        ({"time_zone": "Mars/Olympus"}, "is not an IANA time zone"),
        ({"components": [{"name": "Checkout"}]}, "would match every incident"),
        (
            {
                "components": [
                    {"name": "Checkout", "services": ["lambda"]},
                    {"name": "checkout", "regions": ["us-east-1"]},
                ]
            },
            "listed twice",
        ),
        ({"components": [{"name": "X", "services": ["Lambda"]}]}, "status_page.components.0"),
        ({"url": "http://status.example.com/"}, "status_page.url"),
        ({"url": "https://status.example.com"}, "status_page.url"),
        ({"colour": "red"}, "status_page.colour"),
    ],
)
def test_a_wrong_status_page_section_is_refused_naming_the_field(
    section: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        RulesConfig.from_json(json.dumps({"status_page": section}))


def test_a_component_matches_when_every_list_it_gives_matches() -> None:
    checkout, search, _, notifications = CONFIG.components

    assert checkout.affected_by("lambda", "us-east-1", ["orders-api"])
    assert checkout.affected_by("dynamodb", "eu-west-1", ["orders-table"])
    assert not checkout.affected_by("lambda", "us-east-1", ["search-indexer"])
    assert not checkout.affected_by("lambda", "us-east-1", [])  # not found affected (yet)
    assert search.affected_by("lambda", "ap-south-1", ["search-indexer"])
    assert notifications.affected_by("sqs", "eu-west-1", [])
    assert not notifications.affected_by("sqs", "us-east-1", [])


# ---------------------------------------------------------------------------- wording
def test_the_headline_names_the_components_never_the_aws_service() -> None:
    both = _incident(Phase.CONFIRM, resources=("orders-api", "search-indexer"))
    warning = both.model_copy(
        update={"request": both.request.model_copy(update={"severity": Severity.WARNING})}
    )

    assert affected_components(both, CONFIG) == ["Checkout", "Search"]
    assert headline(both, CONFIG) == "Checkout and Search: outage"
    assert headline(warning, CONFIG) == "Checkout and Search: degraded performance"
    # Issue 16: "lambda in us-east-1" was the headline; with no component it is neutral.
    assert headline(both, StatusPageConfig()) == "Service disruption"
    page = incident_html(both, now=T0, page=PLAIN)
    assert "lambda" not in page
    assert "us-east-1" not in page


def test_three_components_read_as_a_list() -> None:
    config = StatusPageConfig.model_validate(
        {"components": [{"name": n, "services": ["lambda"]} for n in ("A", "B", "C")]}
    )

    assert headline(_incident(Phase.OPEN), config) == "A, B and C: outage"


@pytest.mark.parametrize(
    ("moment", "zone", "shown"),
    [
        (datetime(2026, 12, 6, 13, 5, tzinfo=UTC), "Europe/Berlin", "Dec 6, 14:05 CET"),
        (datetime(2026, 7, 6, 13, 5, tzinfo=UTC), "Europe/Berlin", "Jul 6, 15:05 CEST"),
        (datetime(2026, 12, 6, 13, 5, tzinfo=UTC), "UTC", "Dec 6, 13:05 UTC"),
        (datetime(2026, 12, 6, 3, 5, tzinfo=UTC), "America/New_York", "Dec 5, 22:05 EST"),
        (datetime(2025, 12, 31, 23, 30, tzinfo=UTC), "UTC", "Dec 31, 2025, 23:30 UTC"),
    ],
)
def test_times_read_as_people_write_them_in_the_configured_zone(
    moment: datetime, zone: str, shown: str
) -> None:
    config = StatusPageConfig(time_zone=zone)

    assert human_time(moment, config.zone, now=datetime(2026, 12, 6, 14, tzinfo=UTC)) == shown


# ---------------------------------------------------------------------------- HTML
def test_an_incident_page_shows_phase_times_and_escapes_text() -> None:
    incident = _incident(Phase.FAILOVER, resources=("orders-api",))
    page = incident_html(incident, now=T0 + timedelta(minutes=8), page=PAGE)

    assert "<h1>Checkout: outage</h1>" in page
    assert '<p class="affected">Affected: Checkout</p>' in page
    assert '<span class="phase">Mitigating</span>' in page
    assert '<time class="updated" datetime="2026-03-02T10:07:00Z">Mar 2, 11:07 CET</time>' in page
    assert "Looking &lt;into&gt; it &amp; more" in page
    assert "<b>errors</b>" not in page  # the reason is internal, and never raw HTML
    assert "<script" not in page
    assert '<a href="../index.html">' in page
    assert (
        '<link rel="alternate" type="application/atom+xml" title="Acme: Checkout: outage"'
        ' href="inc-1.atom">' in page
    )
    assert page.count('<section class="incident"') == 1


def test_the_index_lists_components_ongoing_incidents_and_links_each_page() -> None:
    one = _incident(Phase.MONITOR, incident_id="manual-lambda-1", resources=("orders-api",))
    two = _incident(Phase.CONFIRM, incident_id="odd&<id>", service="sqs", region="eu-west-1")
    page = index_html([one, two], now=T0, page=PAGE)

    assert "2 ongoing incidents" in page
    assert '<a href="incidents/manual-lambda-1.html">Checkout: outage</a>' in page
    # A name with characters HTML or a URL would read is quoted in the link, escaped in text.
    assert '<a href="incidents/odd%26%3Cid%3E.html">Notifications: outage</a>' in page
    assert 'id="incident-odd&amp;&lt;id&gt;"' in page
    assert (
        '<li><span class="component">Sign-in</span>'
        ' <span class="state operational">Operational</span></li>' in page
    )
    assert '<span class="state outage">Outage</span>' in page
    assert '<link rel="alternate" type="application/atom+xml"' in page
    assert '<a href="feed.atom">Follow updates (Atom feed)</a>' in page
    assert "<script" not in page


def test_component_states_take_the_worst_ongoing_impact() -> None:
    critical = _incident(Phase.OPEN, resources=("orders-api",))
    warning = _incident(Phase.OPEN, incident_id="w", resources=("search-x",))
    warning = warning.model_copy(
        update={"request": warning.request.model_copy(update={"severity": Severity.WARNING})}
    )

    assert component_states([critical, warning], CONFIG) == {
        "Checkout": "outage",
        "Search": "degraded",
        "Sign-in": "operational",
        "Notifications": "operational",
    }


def test_history_lists_the_last_90_days_resolved_incidents_by_day() -> None:
    page = sample_pages()["status/index.html"]
    history = page[page.index('id="history"') :]

    assert "All systems operational" not in page
    assert re.findall(r"<h3>([^<]+)</h3>", history) == [
        "Dec 3, 2026",
        "Nov 19, 2026",
        "Oct 27, 2026",
    ]
    assert "manual-cognito-1" not in page  # resolved 120 days ago
    assert "rehearsal-1" not in page  # a dry run
    assert "Notifications: degraded performance" in history


def test_an_empty_index_reads_all_operational_with_no_history() -> None:
    page = index_html([], now=T0, page=PLAIN)

    assert "All systems operational" in page
    assert "No incidents in the last 90 days." in page
    assert 'id="components"' not in page  # none configured


def _luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def _contrast(one: str, two: str) -> float:
    high, low = sorted((_luminance(one), _luminance(two)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("text", ["ink", "muted", "ok", "warn", "bad", "link"])
def test_every_text_colour_reads_on_the_page_at_wcag_aa(text: str) -> None:
    assert _contrast(PALETTE[text], PALETTE["paper"]) >= 4.5


# ---------------------------------------------------------------------------- JSON
def test_the_json_index_gives_components_incidents_and_history() -> None:
    document = json.loads(sample_pages()["status/status.json"])

    assert document["version"] == 2
    assert document["operational"] is False
    assert document["time_zone"] == "Europe/Berlin"
    assert document["components"][:2] == [
        {"name": "Checkout", "status": "outage"},
        {"name": "Search", "status": "outage"},
    ]
    [ongoing] = document["incidents"]
    assert ongoing["headline"] == "Checkout and Search: outage"
    assert ongoing["feed"] == "incidents/manual-lambda-20261206.atom"
    assert "service" not in ongoing  # no AWS service for customers
    assert [i["id"] for i in document["history"]] == [
        "manual-dynamodb-1",
        "manual-sqs-1",
        "manual-ec2-1",
    ]


def test_an_incident_document_holds_only_its_own_incident() -> None:
    document = json.loads(incident_document(_incident(Phase.OPEN), now=T0, page=PLAIN))

    assert (document["id"], document["phase"], document["updates"][0]["phase"]) == (
        "inc-1",
        "Investigating",
        "Investigating",
    )
    assert document["headline"] == "Service disruption"
    assert json.loads(index_document([], now=T0, page=PLAIN))["operational"] is True


# ---------------------------------------------------------------------------- Atom
def _feed(text: str) -> ET.Element:
    assert text.startswith(
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"'
    )
    return ET.fromstring(text.encode())  # raises on anything not well-formed


def _check_rfc4287(feed: ET.Element) -> None:
    """RFC 4287 4.1.1 and 4.1.2: what a feed and each entry must carry, once each."""
    assert feed.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert len(feed.findall(f"{ATOM}{name}")) == 1, name
    assert feed.find(f"{ATOM}author/{ATOM}name") is not None  # so entries need none
    assert len(feed.findall(f"{ATOM}link[@rel='self']")) == 1
    assert len(feed.findall(f"{ATOM}link[@rel='alternate']")) == 1
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")  # RFC 3339 (section 3.3)
    for entry in feed.findall(f"{ATOM}entry"):
        for name in ("id", "title", "updated"):
            assert len(entry.findall(f"{ATOM}{name}")) == 1, name
        assert entry.find(f"{ATOM}content") is not None
        assert entry.find(f"{ATOM}link[@rel='alternate']") is not None
        assert stamp.match(entry.findtext(f"{ATOM}updated") or "")
        assert (entry.findtext(f"{ATOM}id") or "").startswith("urn:uuid:")
    ids = [e.findtext(f"{ATOM}id") for e in feed.findall(f"{ATOM}entry")]
    assert len(ids) == len(set(ids))


def test_the_index_feed_has_one_entry_per_public_update_newest_first() -> None:
    feed = _feed(sample_pages()["status/feed.atom"])
    _check_rfc4287(feed)
    entries = feed.findall(f"{ATOM}entry")

    assert feed.findtext(f"{ATOM}title") == "Acme status"
    assert feed.findtext(f"{ATOM}updated") == "2026-12-06T13:05:00Z"  # the newest update
    assert len(entries) == 4 + 3 * 4  # the ongoing incident's 4, 3 each for 4 past ones
    assert entries[0].findtext(f"{ATOM}title") == "Checkout and Search: outage: Monitoring"
    link = entries[0].find(f"{ATOM}link")
    assert link is not None
    assert link.get("href") == "incidents/manual-lambda-20261206.html"
    assert all("rehearsal" not in (e.findtext(f"{ATOM}id") or "") for e in entries)


def test_an_incident_feed_links_relative_to_status_or_to_the_configured_address() -> None:
    incident = _incident(Phase.OPEN, text="Bad \x00\x1b<char> & more")
    base = "{http://www.w3.org/XML/1998/namespace}base"
    relative = {d.key: d.body for d in documents(incident, [incident], now=T0, page=PLAIN)}
    absolute_page = StatusPage("Acme", StatusPageConfig(url="https://status.example.com/"))
    absolute = {d.key: d.body for d in documents(incident, [incident], now=T0, page=absolute_page)}

    feed = _feed(relative["status/incidents/inc-1.atom"])
    _check_rfc4287(feed)
    assert feed.get(base) == "../"
    assert feed.findtext(f"{ATOM}title") == "Acme: Service disruption"
    assert feed.findtext(f"{ATOM}entry/{ATOM}content") == "Bad <char> & more"
    own = _feed(absolute["status/incidents/inc-1.atom"])
    _check_rfc4287(own)
    assert own.get(base) is None
    assert own.findtext(f"{ATOM}id") == "https://status.example.com/incidents/inc-1.atom"
    self_link = own.find(f"{ATOM}link[@rel='self']")
    assert self_link is not None
    assert self_link.get("href") == "https://status.example.com/incidents/inc-1.atom"
    # The same publish twice gives the same ids: a reader shows no update twice.
    again = {d.key: d.body for d in documents(incident, [incident], now=T0, page=PLAIN)}
    assert again == relative


def test_an_empty_feed_is_still_a_valid_feed() -> None:
    incident = _incident(Phase.OPEN).model_copy(update={"updates": []})
    feed = _feed(
        {d.key: d.body for d in documents(incident, [], now=T0, page=PLAIN)}["status/feed.atom"]
    )

    _check_rfc4287(feed)
    assert feed.findtext(f"{ATOM}updated") == "2026-03-02T10:00:00Z"


# ---------------------------------------------------------------------------- dry runs
def test_a_dry_run_writes_only_its_preview_and_a_live_run_only_public_pages() -> None:
    live = sample_pages()
    preview = sample_pages(preview=True)

    assert sorted(live) == [
        "status/feed.atom",
        "status/incidents/manual-lambda-20261206.atom",
        "status/incidents/manual-lambda-20261206.html",
        "status/incidents/manual-lambda-20261206.json",
        "status/index.html",
        "status/status.json",
    ]
    assert all(key.startswith("preview/status/") for key in preview)
    assert "preview/status/incidents/rehearsal-1.html" in preview
    # The preview shows only dry runs, and says it is not published.
    assert "manual-lambda-20261206" not in preview["preview/status/index.html"]
    assert (
        "Preview of a dry run: this page is not published"
        in (preview["preview/status/incidents/rehearsal-1.html"])
    )
    assert '<meta name="robots" content="noindex">' in preview["preview/status/index.html"]
    assert json.loads(preview["preview/status/status.json"])["preview"] is True


def test_incident_pages_live_under_status_incidents_and_previews_apart() -> None:
    assert incident_keys("inc-1") == (
        "status/incidents/inc-1.html",
        "status/incidents/inc-1.json",
        "status/incidents/inc-1.atom",
    )
    assert incident_keys("inc-1", preview=True)[0] == "preview/status/incidents/inc-1.html"


def test_the_sample_is_newest_opened_first_like_the_store() -> None:
    incidents = sample_incidents()

    assert incidents == sorted(incidents, key=lambda i: i.opened_at, reverse=True)
    assert NOW.tzinfo is UTC


@pytest.mark.parametrize("preview", [False, True], ids=["public", "preview"])
def test_every_page_is_self_contained(preview: bool) -> None:
    # No script, font, image or stylesheet from anywhere: one file renders the whole page.
    pages = {k: v for k, v in sample_pages(preview=preview).items() if k.endswith(".html")}

    assert len(pages) == 2
    for key, page in pages.items():
        assert not re.search(r"<script|<img|<iframe|src=|@import|url\(|https?://", page), key
        assert re.findall(r'<link rel="([^"]+)"', page) == ["alternate"], key
        assert page.startswith('<!doctype html>\n<html lang="en">'), key
