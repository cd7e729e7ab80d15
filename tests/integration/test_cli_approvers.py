"""``vigil runbook approve|decline`` with ``approvers.iam_principals`` (issue 12), against moto.

The rules config is the one the stack's functions stored as the last good one; the caller's
ARN is what STS answers (moto answers one fixed ARN, so the tests name the caller instead).
Cases: the issue's list (an unlisted principal refused, the same principal twice in
two-approver mode refused) and the matching rules of docs/runbook.md ("Who may decide").
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from vigil.adapters.config_store import LastGoodConfig
from vigil.adapters.incident_store import ApprovalStore
from vigil.adapters.stats import CallStats
from vigil.rules.loading import digest_of
from vigil.runbook.gate import Approval, ApprovalState, request_approval
from vigil_cli import main as cli

from .conftest import TABLE, TOPIC_ARN

NOW = datetime(2026, 11, 26, 21, 0, tzinfo=UTC)
ROLE = "arn:aws:iam::123456789012:role/teams/Oncall"
ANA = "arn:aws:sts::123456789012:assumed-role/Oncall/ana"
BOB = "arn:aws:sts::123456789012:assumed-role/Oncall/bob"
EVE = "arn:aws:sts::123456789012:assumed-role/Developer/eve"


@pytest.fixture
def caller(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The caller's ARN as STS would answer it: set ``caller[0]``."""
    who = [ANA]
    monkeypatch.setattr(cli.Stack, "caller_arn", lambda self: who[0])
    monkeypatch.setattr(cli.Stack, "output", lambda self, key, given=None: given or TOPIC_ARN)
    return who


def _rules(approvers: dict[str, Any]) -> None:
    document = json.dumps({"approvers": approvers})
    LastGoodConfig(boto3.client("dynamodb"), TABLE, stats=CallStats()).put(
        document, digest_of(document)
    )


def _gate(*, dry_run: bool = False) -> None:
    request_approval(
        "inc-1",
        token="tok",
        plan="route53-record",
        dry_run=dry_run,
        now=NOW - timedelta(minutes=2),
        timeout=timedelta(minutes=30),
        store=ApprovalStore(boto3.client("dynamodb"), TABLE),
    )


def _vigil(*argv: str) -> int:
    return cli.main(["--table", TABLE, "--region", "us-east-1", *argv], clock=lambda: NOW)


def _approval() -> Approval:
    approval = ApprovalStore(boto3.client("dynamodb"), TABLE).get("inc-1")
    assert approval is not None
    return approval


@pytest.mark.parametrize(
    "case",
    [
        ({}, "no approvers are configured"),  # the default: nobody decides a live failover
        ({"iam_principals": [ROLE]}, f"{EVE} is not one of them"),
    ],
)
def test_a_caller_not_listed_is_refused_a_live_failover_and_the_refusal_is_recorded(
    table: str,
    caller: list[str],
    alerts_topic: Callable[[], list[dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
    case: tuple[dict[str, Any], str],
) -> None:
    approvers, why = case
    _rules(approvers)
    _gate()
    caller[0] = EVE

    code = _vigil("runbook", "approve", "inc-1", "--as", "eve")

    approval = _approval()
    err = capsys.readouterr().err
    [notice] = alerts_topic()
    assert code == 1
    assert "vigil: refused: a live failover of incident inc-1 needs an approver" in err
    assert why in err
    assert approval.state is ApprovalState.PENDING
    [refusal] = approval.refusals
    assert (refusal.principal, refusal.by, refusal.via, refusal.action, refusal.at) == (
        EVE,
        f"eve (AWS {EVE})",
        "command",
        "approve",
        NOW,
    )
    assert (
        notice["Subject"]
        == "[WARNING] [LIVE] Refused: approve failover route53-record of incident inc-1"
    )


def test_a_session_of_a_listed_role_decides_a_live_failover(
    table: str, caller: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    _rules({"iam_principals": [ROLE]})
    _gate()

    code = _vigil("runbook", "decline", "inc-1", "--comment", "recovering")

    approval = _approval()
    assert code == 0
    assert (approval.state, approval.decided_by) == (ApprovalState.DECLINED, ANA)
    assert approval.refusals == []


def test_a_dry_run_is_open_to_any_caller(table: str, caller: list[str]) -> None:
    _rules({"iam_principals": [ROLE]})
    _gate(dry_run=True)
    caller[0] = EVE

    assert _vigil("runbook", "approve", "inc-1") == 0
    assert _approval().state is ApprovalState.APPROVED


def test_two_approvals_need_two_distinct_callers(
    table: str,
    caller: list[str],
    alerts_topic: Callable[[], list[dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _rules({"iam_principals": [ROLE], "live_approvals": 2})
    _gate()

    first = _vigil("runbook", "approve", "inc-1")
    again = _vigil("runbook", "approve", "inc-1", "--as", "ana again")
    waiting = _approval()
    caller[0] = BOB
    second = _vigil("runbook", "approve", "inc-1")

    out, err = capsys.readouterr()
    approval = _approval()
    assert (first, again, second) == (0, 1, 0)
    assert "first approval of failover route53-record of incident inc-1 recorded" in out
    assert "needs a second, different approver" in err
    assert (waiting.state, waiting.first_approver, waiting.refusal_count) == (
        ApprovalState.PENDING,
        ANA,
        1,
    )
    assert approval.state is ApprovalState.APPROVED
    assert approval.decided_by == f"{ANA} and {BOB}"
    assert len(alerts_topic()) == 1
