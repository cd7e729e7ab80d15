"""One open incident per service and region, and a status page per incident (issue 12),
through the real template in the emulator.

Cases come from issue 12 ("One incident per scope": two runbooks for one service and region
ran side by side, both gates could be approved, and both wrote one status page) and from
docs/runbook.md, "One incident per service and region" and "Status page". AWS Health reports
a Lambda issue in us-east-1 from 10:00 to 11:30 (simulated, runbook_support); the tests run in
order on one emulator, the clock moving only in the last one."""

import json
import re
from collections.abc import Iterator
from datetime import timedelta

import boto3
import pytest

from emulator import Emulator
from tests.e2e.runbook_support import (
    START,
    bucket,
    describe,
    incident,
    render,
    runbook_emulator,
    start,
    status_page,
    subjects,
)
from vigil.adapters.incident_store import IncidentStore

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]

# Live runs: a dry run's pages are a private preview (test_runbook_branches.py).
LAMBDA_USE1 = {"service": "lambda", "region": "us-east-1", "dry_run": False}
DYNAMODB_EUW1 = {"service": "dynamodb", "region": "eu-west-1", "dry_run": False}
STARTED = "[CRITICAL] Outage runbook started: lambda in us-east-1"
# The components customers read (docs/runbook.md, "Status page").
STATUS_PAGE = {
    "status_page": {
        "time_zone": "Europe/Berlin",
        "components": [
            {"name": "Checkout", "services": ["lambda"], "regions": ["us-east-1"]},
            {"name": "Reports", "services": ["dynamodb"]},
        ],
    }
}


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with runbook_emulator(RulesConfig=json.dumps(STATUS_PAGE)) as emulator:
        yield emulator


def _store(emu: Emulator) -> IncidentStore:
    return IncidentStore(boto3.client("dynamodb"), emu.deployment.table_name)


def _keys(emu: Emulator) -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket(emu), Prefix="status/")
    return sorted(str(o["Key"]) for o in listed.get("Contents", []))


def test_a_second_runbook_for_the_same_scope_fails_naming_the_open_incident(
    emu: Emulator,
) -> None:
    first = start(emu, "scope-1", **LAMBDA_USE1)
    second = start(emu, "scope-2", **LAMBDA_USE1, requested_by="bob")

    refused = describe(second)
    assert describe(first)["status"] == "RUNNING"
    assert (refused["status"], refused["error"]) == ("FAILED", "IncidentAlreadyOpen")
    assert json.loads(refused["cause"])["errorMessage"] == (
        "lambda in us-east-1 already has an open incident: scope-1, opened"
        " 2026-03-02T10:00:00Z (manual by alice); one runbook runs per service and region:"
        " follow that one (vigil incidents show scope-1), or stop its execution before"
        " starting another; see docs/runbook.md"
    )
    # Refused before anything was written or announced: one record, one page, one message.
    assert _store(emu).get("scope-2") is None
    assert "status/incidents/scope-2.html" not in _keys(emu)
    assert subjects(emu).count(STARTED) == 1
    lock = _store(emu).scope_lock("lambda", "us-east-1")
    assert lock is not None
    assert (lock.incident_id, lock.execution_arn) == ("scope-1", first)


def test_two_scopes_have_their_own_pages_and_the_index_lists_both(emu: Emulator) -> None:
    start(emu, "scope-3", **DYNAMODB_EUW1)

    pages = {
        name: render(status_page(emu, f"status/incidents/{name}.html"))
        for name in ("scope-1", "scope-3")
    }
    index = render(status_page(emu, "status/index.html"))
    document = json.loads(status_page(emu, "status/status.json"))

    for name, scope in (("scope-1", "Checkout: outage"), ("scope-3", "Reports: outage")):
        dom = pages[name]
        assert dom.count('<section class="incident"') == 1, dom[:500]
        assert f'id="incident-{name}"' in dom
        assert f"<h1>{scope}</h1>" in dom
        assert re.search(r'<span class="phase">(Identified|Investigating)</span>', dom)
        assert f'<a href="incidents/{name}.html">{scope}</a>' in index
    assert "2 ongoing incidents" in index
    assert '<span class="state outage">Outage</span>' in index
    assert "Mar 2, 11:00 CET" in index  # 10:00 UTC in Berlin
    assert "<script" not in index
    assert [i["id"] for i in document["incidents"]] == ["scope-3", "scope-1"]
    assert [i["page"] for i in document["incidents"]] == [
        "incidents/scope-3.html",
        "incidents/scope-1.html",
    ]
    assert "status/incidents/scope-1.json" in _keys(emu)


def _execution(emu: Emulator, name: str) -> str:
    [arn] = [r.arn for r in emu.executions("OutageRunbookStateMachine") if r.name == name]
    return arn


def test_a_stopped_runbook_does_not_hold_its_scope(emu: Emulator) -> None:
    boto3.client("stepfunctions").stop_execution(
        executionArn=_execution(emu, "scope-3"), cause="false alarm"
    )

    again = start(emu, "scope-4", **DYNAMODB_EUW1)

    assert describe(again)["status"] == "RUNNING"
    assert incident(emu, "scope-3").status == "open"  # a stopped runbook leaves its record
    lock = _store(emu).scope_lock("dynamodb", "eu-west-1")
    assert lock is not None
    assert lock.incident_id == "scope-4"


def test_once_the_open_incident_resolves_the_scope_opens_again(emu: Emulator) -> None:
    emu.advance_to(START + timedelta(minutes=100))  # AWS Health closes the issue at 90 min
    again = start(emu, "scope-5", **LAMBDA_USE1)

    assert describe(_execution(emu, "scope-1"))["status"] == "SUCCEEDED"
    assert describe(again)["status"] == "RUNNING"
    assert incident(emu, "scope-1").status == "resolved"
    page = render(status_page(emu, "status/incidents/scope-1.html"))
    assert '<span class="phase">Resolved</span>' in page
    index = render(status_page(emu, "status/index.html"))
    assert '<a href="incidents/scope-5.html">Checkout: outage</a>' in index
    # scope-1 is in the history now, listed under the day it was resolved.
    history = index[index.index('id="history"') :]
    assert '<a href="incidents/scope-1.html">Checkout: outage</a>' in history
    assert "<h3>Mar 2, 2026</h3>" in history
