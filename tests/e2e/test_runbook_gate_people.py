"""A real OutageRunbook parked on its approval gate, decided by people: the ``vigil`` command
and the Slack buttons of the workflow's own approval message (through the stack's function
URL, signature checked), in the emulator with the runbook's failover targets and an AWS Health
issue for Lambda in us-east-1 (``tests/e2e/runbook_support.py``)."""

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from emulator import Emulator
from tests.e2e.runbook_support import (
    START,
    approval,
    describe,
    incident,
    runbook_emulator,
    start,
    weights,
)
from tests.e2e.scenario_runs import press_slack_button
from vigil.runbook.gate import ApprovalState
from vigil_cli.main import main

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]

SIGNING_SECRET = "9d1c7e3a5b2f4d6e8a0c"
BOB = "bob (AWS arn:aws:sts::123456789012:user/moto)"
"""``--as bob`` and the caller's ARN, as moto's GetCallerIdentity answers (issue 12)."""
STACK = ["--stack", "vigil", "--region", "us-east-1"]


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with runbook_emulator() as emulator:
        emulator.set_secret(
            "SlackSigningSecret",
            {"signing_secret": SIGNING_SECRET, "hooks_url": emulator.slack.base_url},
        )
        emulator.update_rules(json.dumps({"approvers": {"slack_users": ["U07ONCALL"]}}))
        yield emulator


def _vigil(emu: Emulator, *argv: str) -> int:
    return main([*STACK, *argv], clock=lambda: emu.now)


def _button(emu: Emulator, action_id: str, incident_id: str) -> dict[str, Any]:
    """The button of the workflow's approval message, as Slack received it."""
    return next(
        element
        for post in emu.slack.posts
        for block in (post.payload or {}).get("blocks", [])
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == action_id and element.get("value") == incident_id
    )


def _press(
    emu: Emulator,
    button: dict[str, Any],
    *,
    secret: str,
    user: tuple[str, str] = ("U07ONCALL", "oncall"),
) -> dict[str, Any]:
    answer = press_slack_button(
        emu,
        button["action_id"],
        button["value"],
        secret=secret,
        user=user,
        response_path="/actions/T000/2/gate",
    )
    emu.settle()
    return answer


def test_the_command_starts_a_runbook_that_waits_and_approves_it(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    started = _vigil(
        emu, "runbook", "start", "--service", "lambda", "--affected-region", "us-east-1",
        "--reason", "orders-api 5xx", "--plan", "to-west", "--name", "cli-1", "--as", "ana",
    )  # fmt: skip
    emu.settle()
    waiting = approval(emu, "cli-1")
    assert _vigil(emu, "incidents", "show", "cli-1") == 0
    shown = capsys.readouterr().out

    approved = _vigil(emu, "runbook", "approve", "cli-1", "--as", "bob", "--comment", "go")
    emu.settle()
    again = _vigil(emu, "runbook", "decline", "cli-1", "--as", "carol")

    record = incident(emu, "cli-1")
    assert (started, approved, again) == (0, 0, 1)
    assert waiting is not None
    assert waiting.state is ApprovalState.PENDING
    assert "Approval:  pending, lapses at 2026-03-02T10:30:00Z" in shown
    assert record.decision is not None
    assert (record.decision.decision, record.decision.by) == ("approved", BOB)
    assert weights() == {"east": 100, "west": 0}  # a dry run changes nothing
    assert f"already approved by {BOB}" in capsys.readouterr().err


def test_the_slack_decline_button_refuses_a_forgery_and_decides_when_signed(
    emu: Emulator,
) -> None:
    # Another region than cli-1's: one runbook runs per service and region.
    arn = start(emu, "slack-1", service="lambda", region="us-east-2", dry_run=False,
                failover_plan="to-west", failover_on_our_side=True)  # fmt: skip
    decline = _button(emu, "runbook_decline", "slack-1")

    forged = _press(emu, decline, secret="a-guess")
    # issue 12: a guest's signed press decided a live failover; only U07ONCALL is listed
    guest = _press(emu, decline, secret=SIGNING_SECRET, user=("W0GUEST", "guest"))
    pending = approval(emu, "slack-1")
    signed = _press(emu, decline, secret=SIGNING_SECRET)

    decided = approval(emu, "slack-1")
    record = incident(emu, "slack-1")
    replies = [p.payload["text"] for p in emu.slack.posts if p.path == "/actions/T000/2/gate"]
    assert forged["statusCode"] == 401
    assert guest["statusCode"] == 200
    assert json.loads(guest["body"]) == {}  # acknowledged; the press is acted on, queued
    assert pending is not None
    assert pending.state is ApprovalState.PENDING
    # issue 12: the guest's refusal is on the gate and announced in the channel
    assert [(r.principal, r.action, r.via) for r in pending.refusals] == [
        ("W0GUEST", "decline", "slack")
    ]
    notices = [p.payload for p in emu.slack.posts if "Refused: decline" in json.dumps(p.payload)]
    assert len(notices) == 1
    assert signed["statusCode"] == 200
    assert decided is not None
    assert (decided.state, decided.decided_by) == (
        ApprovalState.DECLINED,
        "oncall (Slack U07ONCALL)",
    )
    assert decided.decided_at == START
    assert record.decision is not None
    assert record.decision.decision == "declined"
    # the Declined step copies the refusal into the incident's timeline (and its report)
    assert [e.text for e in record.timeline if e.text.startswith("Refused to decline")] == [
        "Refused to decline failover to-west (slack) for guest (Slack W0GUEST): "
        + pending.refusals[0].reason
    ]
    assert weights() == {"east": 100, "west": 0}
    assert describe(arn)["status"] == "RUNNING"  # declined: it keeps monitoring
    assert len(replies) == 2
    assert "needs an approver" in replies[0]
    assert "declined by oncall (Slack U07ONCALL)" in replies[1]


def test_once_aws_recovers_the_incidents_are_resolved_and_show_their_report(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emu.advance_to(START + timedelta(minutes=100))  # AWS Health closes the issue at 90 min

    assert _vigil(emu, "incidents", "list") == 0
    still_open = capsys.readouterr().out
    assert _vigil(emu, "incidents", "list", "--all") == 0
    everything = capsys.readouterr().out
    assert _vigil(emu, "incidents", "show", "cli-1") == 0
    shown = capsys.readouterr().out

    assert still_open.strip() == "No open incidents (--all lists resolved ones)."
    assert {line.split()[0] for line in everything.splitlines()[1:]} == {"cli-1", "slack-1"}
    assert "Status:    resolved (phase resolved" in shown
    assert f"Approval:  approved by {BOB} at 2026-03-02T10:00:00Z (go)" in shown
    assert "Report:    " in shown
    assert "reports/cli-1/report.md" in shown
