"""Every branch of the OutageRunbook, through the real template in the emulator.

AWS Health reports a Lambda issue in us-east-1 from 10:00 to 11:30 (simulated); the gate is
answered with ``vigil.runbook.gate.decide`` and ``TaskCallback`` (SendTaskSuccess), as the Slack
endpoint and the ``vigil`` command do; the monitor loop's Wait states run on the simulated
clock (default interval 5 minutes, heartbeat 30 minutes, approval time-out 30 minutes)."""

import re
from collections.abc import Iterator
from datetime import timedelta

import boto3
import pytest

from emulator import Emulator
from tests.e2e.runbook_support import (
    ROUTING_CONTROL,
    START,
    UNKNOWN_CONTROL,
    active_region,
    answer,
    approval,
    bucket,
    describe,
    incident,
    render,
    runbook_emulator,
    start,
    status_page,
    status_page_versions,
    subjects,
    weights,
)
from vigil.runbook.gate import ApprovalClosedError, ApprovalState

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]

AWS_ISSUE = {"service": "lambda", "region": "us-east-1"}
CLOSED_AT = START + timedelta(minutes=90)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with runbook_emulator() as emulator:
        yield emulator


def _finish(emu: Emulator, arn: str) -> dict[str, object]:
    emu.advance_to(CLOSED_AT + timedelta(minutes=10))
    return describe(arn)


def test_aws_confirmed_approved_failover_changes_every_target_and_resolves(
    emu: Emulator,
) -> None:
    arn = start(emu, "approved-1", **AWS_ISSUE, dry_run=False, failover_plan="to-west")
    asked = approval(emu, "approved-1")
    buttons = [
        element
        for post in emu.slack.posts
        for block in post.payload.get("blocks", [])
        if block["type"] == "actions"
        for element in block["elements"]
    ]

    assert describe(arn)["status"] == "RUNNING"
    assert asked is not None
    assert asked.state is ApprovalState.PENDING
    assert asked.expires_at == START + timedelta(minutes=30)
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        ("runbook_approve", "approved-1"),
        ("runbook_decline", "approved-1"),
    ]
    assert subjects(emu)[:3] == [
        "[CRITICAL] Outage runbook started: lambda in us-east-1",
        "[CRITICAL] AWS confirms an outage: lambda in us-east-1",
        "[CRITICAL] [LIVE] Approve failover to-west? lambda in us-east-1",
    ]
    ask = next(e for e in emu.mailbox.emails if "Approve failover" in e.subject)
    assert "Mode:      LIVE - an approved failover changes routing" in ask.body
    assert "button" not in ask.body.lower()  # email has none (issue 15)
    assert " runbook approve approved-1\n" in ask.body

    emu.advance(timedelta(minutes=3))
    answer(emu, "approved-1", approve=True, actor="bob", comment="go")

    assert emu.arc.states[ROUTING_CONTROL] == "On"
    assert weights() == {"east": 100, "west": 100}
    assert active_region() == "us-west-2"
    assert "[CRITICAL] [LIVE] Failover to-west executed: lambda in us-east-1" in subjects(emu)

    result = _finish(emu, arn)
    record = incident(emu, "approved-1")
    report = (
        boto3.client("s3")
        .get_object(Bucket=bucket(emu), Key="reports/approved-1/report.md")["Body"]
        .read()
        .decode()
    )
    resolved = next(e for e in emu.mailbox.emails if e.subject.startswith("[RESOLVED]"))

    assert result["status"] == "SUCCEEDED"
    assert record.status == "resolved"
    assert record.resolved_at == START + timedelta(minutes=93)
    assert record.report_key == f"s3://{bucket(emu)}/reports/approved-1/report.md"
    assert "- Decision: approved by bob at 2026-03-02T10:03:00Z (go)" in report
    assert "- Duration: 1 h 33 min" in report
    assert "- orders-api" in report
    assert "Fail back in reverse order" in report
    assert record.report_url is not None
    assert record.report_url in resolved.body
    assert "undo on routing control" in resolved.body


def test_the_status_page_shows_each_phase_and_its_update_time_in_chromium(
    emu: Emulator,
) -> None:
    arn = start(emu, "page-1", **AWS_ISSUE, dry_run=False, failover_plan="to-west")
    emu.advance(timedelta(minutes=2))
    answer(emu, "page-1", approve=True, actor="bob", comment="go")
    _finish(emu, arn)

    seen = []
    # The incident's own page (the index is checked with two incidents in
    # test_runbook_one_per_scope.py).
    for html in status_page_versions(emu, "status/incidents/page-1.html"):
        dom = render(html)
        phase = re.search(r'<span class="phase">([^<]+)</span>', dom)
        updated = re.search(r'<time class="updated" datetime="([^"]+)">([^<]+)</time>', dom)
        assert "lambda" not in dom  # customers read components, never AWS services
        assert phase, dom[:500]
        assert updated, dom[:500]
        assert "<script" not in html
        seen.append((phase.group(1), updated.group(2)))

    assert seen == [
        ("Investigating", "Mar 2, 10:00 UTC"),
        ("Investigating", "Mar 2, 10:00 UTC"),
        ("Identified", "Mar 2, 10:00 UTC"),
        ("Identified", "Mar 2, 10:00 UTC"),
        ("Mitigating", "Mar 2, 10:02 UTC"),
        ("Monitoring", "Mar 2, 10:32 UTC"),
        ("Monitoring", "Mar 2, 10:47 UTC"),
        ("Monitoring", "Mar 2, 11:17 UTC"),
        ("Resolved", "Mar 2, 11:32 UTC"),
    ]


def test_declined_failover_changes_nothing_and_keeps_monitoring(emu: Emulator) -> None:
    arn = start(emu, "declined-1", **AWS_ISSUE, dry_run=False, failover_plan="to-west")
    answer(emu, "declined-1", approve=False, actor="carol", comment="AWS is mitigating")

    record = incident(emu, "declined-1")

    assert emu.arc.states[ROUTING_CONTROL] == "Off"
    assert weights() == {"east": 100, "west": 0}
    assert active_region() is None
    assert record.decision is not None
    assert (record.decision.decision, record.decision.by) == ("declined", "carol")
    assert "[CRITICAL] [LIVE] Failover declined by carol: lambda in us-east-1" in subjects(emu)
    assert describe(arn)["status"] == "RUNNING"
    assert _finish(emu, arn)["status"] == "SUCCEEDED"
    assert incident(emu, "declined-1").actions == []


def test_an_unanswered_gate_times_out_escalates_and_does_not_fail_over(emu: Emulator) -> None:
    arn = start(emu, "timeout-1", **AWS_ISSUE, dry_run=False, failover_plan="to-west")
    emu.advance(timedelta(minutes=29))

    assert approval(emu, "timeout-1").state is ApprovalState.PENDING  # type: ignore[union-attr]

    emu.advance(timedelta(minutes=2))
    record = incident(emu, "timeout-1")

    assert approval(emu, "timeout-1").state is ApprovalState.EXPIRED  # type: ignore[union-attr]
    assert "[PAGE] [LIVE] Failover approval timed out: lambda in us-east-1" in subjects(emu)
    assert record.decision is not None
    assert record.decision.decision == "expired"
    assert record.escalations
    assert emu.arc.states[ROUTING_CONTROL] == "Off"
    assert active_region() is None
    with pytest.raises(ApprovalClosedError, match="lapsed"):
        answer(emu, "timeout-1", approve=True, actor="late", comment="too late")
    assert _finish(emu, arn)["status"] == "SUCCEEDED"


def test_a_failing_action_is_recorded_escalated_and_monitoring_goes_on(emu: Emulator) -> None:
    arn = start(emu, "broken-1", **AWS_ISSUE, dry_run=False, failover_plan="broken")
    answer(emu, "broken-1", approve=True, actor="bob", comment="try it")

    record = incident(emu, "broken-1")
    failed = next(e for e in emu.mailbox.emails if "FAILED" in e.subject)

    assert failed.subject == "[PAGE] [LIVE] Failover broken FAILED: lambda in us-east-1"
    assert [(a.kind, a.ok) for a in record.actions] == [("arc_routing_control", False)]
    assert "ResourceNotFoundException" in record.actions[0].detail
    assert active_region() is None  # the plan stopped at its first failure
    assert record.escalations
    assert UNKNOWN_CONTROL not in emu.arc.states
    assert describe(arn)["status"] == "RUNNING"
    assert _finish(emu, arn)["status"] == "SUCCEEDED"


def test_a_dry_run_asks_for_approval_and_only_says_what_it_would_do(emu: Emulator) -> None:
    arn = start(emu, "dry-1", **AWS_ISSUE, dry_run=True, failover_plan="to-west")
    answer(emu, "dry-1", approve=True, actor="bob", comment="rehearsal")

    record = incident(emu, "dry-1")

    assert [a.detail for a in record.actions] == [
        f"DRY RUN, nothing changed: would set routing control {ROUTING_CONTROL} from Off to On",
        "DRY RUN, nothing changed: would set the weight of record api.example.com. A (west)"
        f" in hosted zone {record.request and _zone(record.actions[1].target)} from 0 to 100",
        "DRY RUN, nothing changed: would set parameter /vigil/failover/active-region from"
        " (not set) to 'us-west-2'",
    ]
    assert emu.arc.states[ROUTING_CONTROL] == "Off"
    assert weights() == {"east": 100, "west": 0}
    assert active_region() is None
    assert "[CRITICAL] [DRY RUN] Failover to-west previewed: lambda in us-east-1" in subjects(emu)
    assert _finish(emu, arn)["status"] == "SUCCEEDED"
    # Issue 16: a rehearsal published "AWS has confirmed an issue" to customers. Its pages
    # are a private preview, linked from every message; the public page was never written.
    keys = _keys(emu)
    assert [k for k in keys if k.startswith("status/")] == []
    assert "preview/status/incidents/dry-1.html" in keys
    assert "preview/status/index.html" in keys
    preview = render(status_page(emu, "preview/status/incidents/dry-1.html"))
    assert "Preview of a dry run: this page is not published" in preview
    assert '<span class="phase">Resolved</span>' in preview
    started = next(e for e in emu.mailbox.emails if "runbook started" in e.subject)
    assert "Preview:   https://" in started.body
    assert "prefix=preview/status/incidents/dry-1.html" in started.body


def _keys(emu: Emulator) -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket(emu))
    return sorted(str(o["Key"]) for o in listed.get("Contents", []))


def _zone(target: str) -> str:
    return target.rsplit(" ", 1)[-1]


def test_our_side_only_tells_people_to_look_at_our_changes_and_offers_no_failover(
    emu: Emulator,
) -> None:
    arn = start(emu, "ours-1", service="dynamodb", region="eu-west-1", failover_plan="to-west")

    confirm = next(e for e in emu.mailbox.emails if "Our-side" in e.subject)

    assert confirm.subject == (
        "[CRITICAL] Our-side problem (AWS reports no issue): dynamodb in eu-west-1"
    )
    assert "Failover is not offered" in confirm.body
    assert approval(emu, "ours-1") is None
    emu.advance(timedelta(minutes=5))
    assert describe(arn)["status"] == "SUCCEEDED"
    assert incident(emu, "ours-1").status == "resolved"


def test_our_side_offers_the_failover_when_the_input_asks_for_it(emu: Emulator) -> None:
    start(
        emu,
        "ours-2",
        service="dynamodb",
        region="eu-west-1",
        failover_plan="to-west",
        failover_on_our_side=True,
    )

    pending = approval(emu, "ours-2")

    assert pending is not None
    assert pending.plan == "to-west"
    assert pending.dry_run is True


def test_no_recovery_within_the_maximum_escalates_and_hands_over_to_humans() -> None:
    with runbook_emulator(MonitorMaxSeconds=3600) as emu:
        arn = start(emu, "long-1", **AWS_ISSUE)
        emu.advance(timedelta(minutes=61))

        result = describe(arn)
        record = incident(emu, "long-1")

        assert result["status"] == "SUCCEEDED"
        assert record.status == "handed_over"
        assert record.report_key is not None
        assert "[PAGE] Runbook handed over to humans: lambda in us-east-1" in subjects(emu)
        assert record.escalations[-1].startswith("ESCALATED: maximum duration reached")
