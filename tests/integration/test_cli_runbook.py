"""``vigil runbook``, ``incidents``, ``alerts`` and ``notify`` against moto."""

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from tests.factories import labels
from vigil.adapters.alert_store import AlertStore
from vigil.adapters.incident_store import ApprovalStore, IncidentStore
from vigil.adapters.routing_store import SilenceStore
from vigil.alerting.silences import new_silence
from vigil.core.model import Alert, AlertState, Evidence, Severity
from vigil.runbook.failover import FailoverPlans
from vigil.runbook.gate import ApprovalState, request_approval
from vigil.runbook.incident import Incident, RunbookInput, RunbookPorts, TimelineEntry
from vigil.runbook.steps import open_incident
from vigil_cli.main import main

from .conftest import TABLE

NOW = datetime(2026, 11, 26, 21, 0, tzinfo=UTC)


def _vigil(*argv: str, now: datetime = NOW) -> int:
    return main(["--table", TABLE, "--region", "us-east-1", *argv], clock=lambda: now)


def _state_machine() -> str:
    iam = boto3.client("iam")
    role = iam.create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    definition = {"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}}
    return boto3.client("stepfunctions").create_state_machine(
        name="vigil-runbook", definition=json.dumps(definition), roleArn=role
    )["stateMachineArn"]


def test_start_sends_the_validated_input_with_the_callers_identity(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = _state_machine()

    code = _vigil(
        "runbook", "start", "--service", "lambda", "--affected-region", "eu-west-1",
        "--reason", "5xx on checkout", "--plan", "ssm-flip", "--state-machine-arn", arn,
    )  # fmt: skip

    out = capsys.readouterr().out
    [execution] = boto3.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]
    sent = json.loads(
        boto3.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])[
            "input"
        ]
    )
    assert code == 0
    assert execution["name"] == "manual-lambda-eu-west-1-20261126T210000Z"
    assert sent == {
        "service": "lambda",
        "region": "eu-west-1",
        "severity": "critical",
        "reason": "5xx on checkout",
        "dry_run": True,
        "failover_plan": "ssm-flip",
        "failover_on_our_side": False,
        "requested_by": "arn:aws:sts::123456789012:user/moto",
        "source": "manual",
    }
    assert f"execution: {execution['executionArn']}" in out
    assert "dry run" in out
    assert "#/v2/executions/details/" in out


def test_live_and_as_override_the_dry_run_and_the_identity(table: str) -> None:
    arn = _state_machine()

    _vigil(
        "runbook", "start", "--service", "s3", "--affected-region", "us-east-1", "--reason", "503s",
        "--live", "--as", "ana", "--name", "inc-42", "--state-machine-arn", arn,
    )  # fmt: skip

    sfn = boto3.client("stepfunctions")
    [execution] = sfn.list_executions(stateMachineArn=arn)["executions"]
    sent = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert (execution["name"], sent["dry_run"], sent["requested_by"]) == ("inc-42", False, "ana")


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


def test_approve_decides_once_and_a_second_decision_is_refused_with_who_and_when(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _gate(dry_run=True)  # a live one needs approvers.iam_principals (test_cli_approvers.py)

    first = _vigil("runbook", "approve", "inc-1", "--comment", "AWS confirmed", "--as", "ana")
    second = _vigil("runbook", "decline", "inc-1", "--as", "bo", now=NOW + timedelta(minutes=1))

    captured = capsys.readouterr()
    approval = ApprovalStore(boto3.client("dynamodb"), TABLE).get("inc-1")
    assert (first, second) == (0, 1)
    # --as names the person; the caller's ARN (moto's GetCallerIdentity answer) is kept with it
    ana = "ana (AWS arn:aws:sts::123456789012:user/moto)"
    assert f"approved failover route53-record (dry run) of incident inc-1 as {ana}" in (
        captured.out
    )
    assert f"refused: incident inc-1 was already approved by {ana} at 2026-11-26T21:00:00Z" in (
        captured.err
    )
    assert approval is not None
    assert (approval.state, approval.comment, approval.decided_by) == (
        ApprovalState.APPROVED,
        "AWS confirmed",
        ana,
    )


def test_deciding_an_incident_without_a_gate_exits_2(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _vigil("runbook", "decline", "inc-404", "--as", "ana") == 2
    assert "inc-404 has no approval to decide" in capsys.readouterr().err


def _incident(incident_id: str, opened: datetime) -> None:
    incident = Incident(
        incident_id=incident_id,
        status="open",
        opened_at=opened,
        request=RunbookInput(service="lambda", region="us-east-1", reason="errors everywhere"),
        timeline=[TimelineEntry(at=opened, phase="open", text="Runbook started (manual)")],
    )
    IncidentStore(boto3.client("dynamodb"), TABLE).open(
        incident_id, incident.model_dump_json(), opened_at=opened
    )


def test_incidents_list_newest_first_and_show_the_timeline_and_approval(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _incident("inc-old", NOW - timedelta(hours=3))
    _incident("inc-1", NOW - timedelta(minutes=5))
    _gate()

    assert _vigil("incidents", "list") == 0
    listing = capsys.readouterr().out.splitlines()
    assert _vigil("incidents", "show", "inc-1") == 0
    shown = capsys.readouterr().out

    assert listing[0].split() == [
        "ID", "STATUS", "PHASE", "OPENED", "SCOPE", "SEVERITY", "MODE", "REASON"
    ]  # fmt: skip
    assert [line.split()[0] for line in listing[1:]] == ["inc-1", "inc-old"]
    assert "Approval:  pending, lapses at 2026-11-26T21:28:00Z" in shown
    assert "2026-11-26T20:55:00Z  open       Runbook started (manual)" in shown
    assert _vigil("incidents", "show", "nope") == 2


def _alert(resource: str, state: AlertState, severity: Severity) -> Alert:
    return Alert(
        labels=labels(resource),
        state=state,
        severity=severity,
        first_seen=NOW - timedelta(minutes=20),
        last_seen=NOW,
        fired_at=NOW - timedelta(minutes=15) if state is AlertState.FIRING else None,
        evidence=Evidence(
            value=0.2,
            threshold=0.01,
            unit="Ratio",
            window_seconds=300,
            observed_at=NOW,
            summary="errors",
        ),
        last_batch="b1",
    )


def test_alerts_list_shows_open_alerts_and_the_silence_muting_each(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    alerts = AlertStore(boto3.client("dynamodb"), TABLE, retention=timedelta(days=7))
    alerts.save(None, _alert("orders-api", AlertState.FIRING, Severity.CRITICAL))
    alerts.save(None, _alert("billing", AlertState.PENDING, Severity.WARNING))
    alerts.save(None, _alert("gone", AlertState.RESOLVED, Severity.WARNING))
    SilenceStore(boto3.client("dynamodb"), TABLE).create(
        new_silence(
            "abcdef0123456789",
            match={"resource": "orders-*"},
            starts_at=NOW - timedelta(minutes=1),
            duration=timedelta(hours=1),
            now=NOW,
            created_by="ana",
        )
    )

    assert _vigil("alerts", "list") == 0

    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    orders, billing = labels("orders-api").fingerprint, labels("billing").fingerprint
    assert rows == [
        ["FINGERPRINT", "KIND", "RESOURCE", "SEVERITY", "STATE", "SINCE", "SILENCED", "BY"],
        [orders, "lambda.errors", "orders-api", "critical", "firing", "2026-11-26T20:45:00Z",
         "abcdef0123456789"],
        [billing, "lambda.errors", "billing", "warning", "pending", "2026-11-26T20:40:00Z", "-"],
    ]  # fmt: skip


def test_no_open_alerts_says_so(table: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _vigil("alerts", "list") == 0
    assert capsys.readouterr().out.strip() == "No open alerts."


def test_lists_print_json_for_scripts_with_the_table_columns_as_keys(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 13: one library renders the tables; ``-o json`` after the command for scripts."""
    alerts = AlertStore(boto3.client("dynamodb"), TABLE, retention=timedelta(days=7))
    alerts.save(None, _alert("orders-api", AlertState.FIRING, Severity.CRITICAL))
    _incident("inc-1", NOW - timedelta(minutes=5))

    assert _vigil("alerts", "list", "-o", "json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert _vigil("incidents", "list", "--output", "json") == 0
    incidents = json.loads(capsys.readouterr().out)
    assert _vigil("incidents", "list", "--all", "-o", "json") == 0
    everything = json.loads(capsys.readouterr().out)
    assert _vigil("alerts", "list", "-o", "yaml") == 2

    assert listed == [
        {
            "fingerprint": labels("orders-api").fingerprint,
            "kind": "lambda.errors",
            "resource": "orders-api",
            "severity": "critical",
            "state": "firing",
            "since": "2026-11-26T20:45:00Z",
            "silenced_by": "-",
        }
    ]
    assert [(i["id"], i["status"], i["mode"]) for i in incidents] == [("inc-1", "open", "dry run")]
    assert everything == incidents


def test_an_empty_list_is_an_empty_json_array(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _vigil("alerts", "list", "-o", "json") == 0
    assert json.loads(capsys.readouterr().out) == []


def test_notify_test_publishes_with_the_attributes_real_alerts_carry(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="email-like")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={
            "FilterPolicy": json.dumps({"severity": ["critical", "warning"], "channels": ["email"]})
        },
    )

    assert main(["notify", "test", "--topic-arn", topic], clock=lambda: NOW) == 0
    assert (
        main(["notify", "test", "--severity", "info", "--topic-arn", topic], clock=lambda: NOW) == 0
    )

    [message] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    envelope = json.loads(message["Body"])
    attributes = {k: v["Value"] for k, v in envelope["MessageAttributes"].items()}
    assert attributes["severity"] == "warning"
    assert attributes["category"] == "test"
    assert json.loads(attributes["channels"]) == ["email", "slack"]
    assert envelope["Subject"] == "[WARNING] Vigil test notification"
    assert "published test-20261126T210000Z-" in capsys.readouterr().out


def _open_runbook(arn: str, name: str, *, region: str = "eu-west-1") -> str:
    """An incident opened by the runbook's first step, for an execution that runs."""
    sfn = boto3.client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=arn, name=name)["executionArn"]
    open_incident(
        {"service": "lambda", "region": region, "reason": "5xx", "requested_by": "alice"},
        incident_id=name,
        started_at=NOW - timedelta(minutes=20),
        ports=RunbookPorts(
            incidents=IncidentStore(boto3.client("dynamodb"), TABLE),
            status_page=_NoPage(),
            stack="vigil",
            plans=FailoverPlans(),
        ),
        execution_arn=execution,
    )
    return execution


class _NoPage:
    def publish(self, incident: Incident, index: list[Incident], *, now: datetime) -> None:
        pass


def test_start_is_refused_naming_the_open_incident_of_the_same_scope(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 12: a second runbook for the same service and region must not start.
    arn = _state_machine()
    _open_runbook(arn, "manual-lambda-eu-west-1-20261126T204000Z")

    code = _vigil(
        "runbook", "start", "--service", "lambda", "--affected-region", "eu-west-1",
        "--reason", "5xx on checkout", "--state-machine-arn", arn,
    )  # fmt: skip
    other_region = _vigil(
        "runbook", "start", "--service", "lambda", "--affected-region", "us-west-2",
        "--reason", "5xx on checkout", "--state-machine-arn", arn,
    )  # fmt: skip

    err = capsys.readouterr().err
    names = [
        e["name"]
        for e in boto3.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]
    ]
    assert (code, other_region) == (1, 0)
    assert err == (
        "vigil: refused: lambda in eu-west-1 already has an open incident:"
        " manual-lambda-eu-west-1-20261126T204000Z, opened 2026-11-26T20:40:00Z"
        " (manual by alice); one runbook runs per service and region: follow that one"
        " (vigil incidents show manual-lambda-eu-west-1-20261126T204000Z), or stop its"
        " execution before starting another; see docs/runbook.md\n"
    )
    assert sorted(names) == [
        "manual-lambda-eu-west-1-20261126T204000Z",
        "manual-lambda-us-west-2-20261126T210000Z",
    ]


def test_start_takes_over_the_scope_of_a_stopped_runbook(table: str) -> None:
    # docs/runbook.md: a runbook stopped by hand leaves its incident open; it must not block.
    arn = _state_machine()
    stopped = _open_runbook(arn, "inc-stopped")
    boto3.client("stepfunctions").stop_execution(executionArn=stopped, cause="false alarm")

    code = _vigil(
        "runbook", "start", "--service", "lambda", "--affected-region", "eu-west-1",
        "--reason", "5xx again", "--name", "inc-next", "--state-machine-arn", arn,
    )  # fmt: skip

    assert code == 0
