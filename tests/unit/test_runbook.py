"""The outage runbook's domain: open, assess, confirm, the gate's branches, monitor, finish."""

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.models.blocks import Block

from tests.factories import labels
from tests.fakes import MemoryApprovalStore
from tests.schemas import problems
from vigil.channels.buttons import APPROVE, DECLINE
from vigil.channels.chatbot import chatbot_notification
from vigil.channels.slack import slack_message
from vigil.channels.teams import teams_message
from vigil.channels.webhook import webhook_payload
from vigil.core.errors import InvalidRunbookInput, VigilError
from vigil.core.model import (
    Alert,
    AlertState,
    ChatPayload,
    Evidence,
    HealthEvent,
    Notification,
    Severity,
)
from vigil.health.outages import Outage
from vigil.runbook.failover import FailoverAction, FailoverActionError, FailoverPlans
from vigil.runbook.gate import ApprovalState, Refusal
from vigil.runbook.incident import (
    Decision,
    Incident,
    IncidentAlreadyOpen,
    Phase,
    RunbookPorts,
    ScopeLock,
    ScopeTakenError,
)
from vigil.runbook.steps import (
    approval_expired,
    assess,
    confirm,
    declined,
    failover,
    finish,
    monitor,
    open_incident,
    request_gate,
)

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
PLANS = FailoverPlans.model_validate(
    {
        "plans": {
            "to-west": {
                "description": "Serve from us-west-2",
                "failback": "Flip the flag back.",
                "actions": [
                    {"type": "ssm_parameter", "name": "/vigil/failover/region", "value": "w"},
                    {"type": "ssm_parameter", "name": "/vigil/failover/other", "value": "x"},
                ],
            }
        }
    }
)


class Incidents:
    """IncidentStore in memory, scope locks included (the moto tests check the real one)."""

    def __init__(self) -> None:
        self.bodies: dict[str, str] = {}
        self.order: list[str] = []
        self.locks: dict[tuple[str, str], ScopeLock] = {}

    def open(
        self,
        incident_id: str,
        body: str,
        *,
        opened_at: datetime,
        lock: ScopeLock | None = None,
        replacing: str | None = None,
    ) -> bool:
        if incident_id in self.bodies:
            return False
        if lock is not None:
            held = self.locks.get((lock.service, lock.region))
            if held is not None and held.incident_id not in (incident_id, replacing):
                raise ScopeTakenError(held)
            self.locks[(lock.service, lock.region)] = lock
        self.bodies[incident_id] = body
        self.order.insert(0, incident_id)
        return True

    def get(self, incident_id: str) -> str | None:
        return self.bodies.get(incident_id)

    def save(self, incident_id: str, body: str) -> None:
        self.bodies[incident_id] = body

    def close(self, incident_id: str, body: str, *, service: str, region: str) -> None:
        self.bodies[incident_id] = body
        held = self.locks.get((service, region))
        if held is not None and held.incident_id == incident_id:
            del self.locks[(service, region)]

    def scope_lock(self, service: str, region: str) -> ScopeLock | None:
        return self.locks.get((service, region))

    def recent(self, limit: int) -> list[str]:
        return [self.bodies[i] for i in self.order[:limit]]


class Page:
    def __init__(self) -> None:
        self.published: list[tuple[datetime, list[str]]] = []
        self.pages: dict[str, str] = {}

    def publish(self, incident: Incident, index: list[Incident], *, now: datetime) -> None:
        self.pages[incident.incident_id] = incident.phase.public
        self.published.append((now, [f"{i.incident_id}:{i.phase.public}" for i in index]))


class Signals:
    def __init__(self, alerts: list[Alert] | None = None, outage: Outage | None = None) -> None:
        self.alerts = alerts or []
        self.outage_record = outage

    def open_alerts(self, service: str, region: str) -> list[Alert]:
        return [a for a in self.alerts if a.labels.region == region]

    def outage(self, service: str, region: str) -> Outage | None:
        return self.outage_record


class Health:
    def __init__(self, events: list[HealthEvent] | None = None, down: bool = False) -> None:
        self.events = events or []
        self.down = down

    def open_issues(self, service: str, region: str, *, now: datetime) -> list[HealthEvent]:
        if self.down:
            raise VigilError("no Health endpoint answered")
        return self.events


class Topic:
    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def publish(self, notification: Notification) -> None:
        self.sent.append(notification)


class Reports:
    def __init__(self) -> None:
        self.stored: dict[str, str] = {}

    def store(self, incident_id: str, markdown: str, document: str) -> tuple[str, str]:
        self.stored[incident_id] = markdown
        return f"s3://b/reports/{incident_id}/report.md", f"https://console/{incident_id}"


class Runner:
    def __init__(self, fail_on: str | None = None) -> None:
        self.applied: list[str] = []
        self.fail_on = fail_on

    def preview(self, action: FailoverAction) -> str:
        return f"set {action.target()}"

    def apply(self, action: FailoverAction) -> str:
        if action.target().endswith(self.fail_on or "\0"):
            raise FailoverActionError(f"{action.target()}: AccessDenied")
        self.applied.append(action.target())
        return f"set {action.target()}"


def _ports() -> RunbookPorts:
    return RunbookPorts(incidents=Incidents(), status_page=Page(), stack="vigil", plans=PLANS)


def _issue(status: str = "open", updated: datetime = T0) -> HealthEvent:
    return HealthEvent(
        arn="arn:aws:health:us-east-1::event/LAMBDA/X/1",
        service="LAMBDA",
        event_type_code="AWS_LAMBDA_OPERATIONAL_ISSUE",
        category="issue",
        region="us-east-1",
        status=status,  # type: ignore[arg-type]
        last_updated=updated,
        description="Increased errors",
        affected_entities=["fn-a"],
    )


def _alert(resource: str = "orders-api") -> Alert:
    return Alert(
        labels=labels(resource),
        state=AlertState.FIRING,
        severity=Severity.CRITICAL,
        first_seen=T0,
        last_seen=T0,
        evidence=Evidence(
            summary="errors",
            value=0.2,
            unit="ratio",
            threshold=0.05,
            window_seconds=300,
            observed_at=T0,
        ),
        last_batch="b1",
    )


def _opened(ports: RunbookPorts, **request: object) -> Incident:
    raw = {"service": "lambda", "region": "us-east-1", "reason": "errors", **request}
    incident, _ = open_incident(raw, incident_id="inc-1", started_at=T0, ports=ports)
    return incident


def test_bad_input_names_every_wrong_field() -> None:
    with pytest.raises(InvalidRunbookInput) as caught:
        open_incident(
            {"service": "Lambda!", "region": "moon", "dry_run": "maybe"},
            incident_id="x",
            started_at=T0,
            ports=_ports(),
        )

    for field in ("service:", "region:", "reason:", "dry_run:"):
        assert field in str(caught.value)


def test_a_retried_open_finds_its_own_record_and_publishes_the_page() -> None:
    ports = _ports()
    first = _opened(ports)
    again = _opened(ports, reason="a different reason")

    assert again == first
    assert ports.status_page.published[-1] == (T0, ["inc-1:Investigating"])  # type: ignore[attr-defined]


def test_assess_counts_affected_resources_from_alerts_health_and_the_outage() -> None:
    ports = _ports()
    _opened(ports)
    signals = Signals(alerts=[_alert("orders-api"), _alert("search-api")])

    incident = assess("inc-1", now=T0, ports=ports, signals=signals, health=Health([_issue()]))

    assert incident.aws_confirmed is True
    assert incident.affected_resources == ["fn-a", "orders-api", "search-api"]
    assert incident.timeline[-1].text.startswith("Assessed: AWS Health confirms an issue; 2 open")


def test_without_the_health_api_assess_falls_back_to_the_outage_record() -> None:
    ports = _ports()
    _opened(ports)
    incident = assess("inc-1", now=T0, ports=ports, signals=Signals(), health=Health(down=True))

    assert incident.aws_confirmed is False
    assert incident.assessment is not None
    assert incident.assessment.health_source.startswith("Health API unavailable")


@pytest.mark.parametrize(
    ("aws", "on_our_side", "offered"),
    [(True, False, True), (False, False, False), (False, True, True)],
)
def test_failover_is_offered_on_our_side_only_when_asked(
    aws: bool, on_our_side: bool, offered: bool
) -> None:
    ports = _ports()
    _opened(ports, failover_plan="to-west", failover_on_our_side=on_our_side)

    incident, notification, offer = confirm("inc-1", aws_confirmed=aws, now=T0, ports=ports)

    assert offer is offered
    assert incident.phase is Phase.CONFIRM
    assert ("AWS confirms" in notification.subject) is aws


def test_the_gate_asks_with_two_buttons_carrying_the_incident_id() -> None:
    ports, approvals, topic = _ports(), MemoryApprovalStore(), Topic()
    _opened(ports, failover_plan="to-west")

    request_gate(
        "inc-1",
        token="tok",
        now=T0,
        timeout=timedelta(minutes=30),
        ports=ports,
        approvals=approvals,
        topic=topic,
    )

    message = topic.sent[0].message
    assert approvals.items["inc-1"].expires_at == T0 + timedelta(minutes=30)
    assert '"action_id":"runbook_approve"' in message.replace(" ", "").replace("\\", "")
    assert '"value":"inc-1"' in message.replace(" ", "").replace("\\", "")
    assert "tok" not in message


@pytest.mark.parametrize(
    ("dry_run", "tag", "mode"),
    [
        (True, "[DRY RUN]", "DRY RUN - no change will be made"),
        (False, "[LIVE]", "LIVE - an approved failover changes routing"),
    ],
)
def test_the_gate_says_dry_run_or_live_in_every_channel_and_email_names_no_button(
    dry_run: bool, tag: str, mode: str
) -> None:
    """Issue 15: only the email said whether the run was live, and it said "with the buttons
    below" though email has none. Slack's Block Kit models (slack_sdk) and the Adaptive
    Card 1.4 and Amazon Q Developer schemas (tests/schemas) check the rendered messages."""
    ports, approvals, topic = _ports(), MemoryApprovalStore(), Topic()
    _opened(ports, failover_plan="to-west", dry_run=dry_run)

    request_gate(
        "inc-1",
        token="t",
        now=T0,
        timeout=timedelta(minutes=30),
        ports=ports,
        approvals=approvals,
        topic=topic,
    )

    sent = topic.sent[0]
    email = json.loads(sent.message)["email"]
    chat = ChatPayload.model_validate_json(json.loads(sent.message)["lambda"])
    commands = [
        f"vigil --stack {ports.stack} runbook approve inc-1",
        f"vigil --stack {ports.stack} runbook decline inc-1",
    ]
    assert sent.subject == f"[CRITICAL] {tag} Approve failover to-west? lambda in us-east-1"
    assert f"Mode:      {mode}" in email
    assert "button" not in email.lower()
    assert "\n".join(f"    {c}" for c in commands) in email
    assert chat.title.startswith(f"[CRITICAL] {tag} ")
    assert chat.text.startswith(f"Mode:      {mode}\n")
    assert chat.command == "\n".join(commands)
    assert ("approvers" in chat.text) is not dry_run
    slack = slack_message(chat)
    for block in slack["blocks"]:
        Block.parse(block).validate_json()  # type: ignore[union-attr]
    assert tag in slack["text"]
    assert [b["action_id"] for b in slack["blocks"][-2]["elements"]] == [APPROVE, DECLINE]
    teams = teams_message(chat)
    assert problems("teams", teams) == []
    assert tag in json.dumps(teams)
    chatbot = chatbot_notification(chat)
    assert problems("chatbot", chatbot) == []
    assert tag in chatbot["content"]["title"]
    assert mode in chatbot["content"]["description"]
    assert webhook_payload(chat)["command"] == chat.command


def test_a_lapsed_gate_records_expiry_pages_and_changes_nothing() -> None:
    ports, approvals = _ports(), MemoryApprovalStore()
    _opened(ports, failover_plan="to-west")
    request_gate(
        "inc-1",
        token="t",
        now=T0,
        timeout=timedelta(minutes=1),
        ports=ports,
        approvals=approvals,
        topic=Topic(),
    )

    incident, notification = approval_expired(
        "inc-1", now=T0 + timedelta(minutes=1), ports=ports, approvals=approvals
    )

    assert approvals.items["inc-1"].state is ApprovalState.EXPIRED
    assert notification.subject.startswith("[PAGE] [DRY RUN] Failover approval timed out")
    assert incident.actions == []
    assert incident.decision == Decision(decision="expired", at=T0 + timedelta(minutes=1))


def test_refused_decisions_enter_the_timeline_once_when_the_gate_closes() -> None:
    """Issue 12: a refused press is recorded on the approval by the Slack endpoint or the
    command; the step after the gate copies it into the incident's timeline (and report)."""
    ports, approvals = _ports(), MemoryApprovalStore()
    ports = dataclasses.replace(ports, approvals=approvals)
    _opened(ports, failover_plan="to-west")
    request_gate(
        "inc-1",
        token="t",
        now=T0,
        timeout=timedelta(minutes=30),
        ports=ports,
        approvals=approvals,
        topic=Topic(),
    )
    guest = Refusal(
        at=T0 + timedelta(minutes=2),
        by="guest (Slack W9)",
        principal="W9",
        action="approve",
        via="slack",
        reason="not an approver of live failovers",
    )
    gate = approvals.items["inc-1"]
    approvals.items["inc-1"] = gate.with_refusal(guest)
    decision = Decision(decision="declined", by="bob", at=T0 + timedelta(minutes=5))

    incident, _ = declined("inc-1", decision=decision, now=decision.at, ports=ports)
    again = declined("inc-1", decision=decision, now=decision.at, ports=ports)[0]

    refused = [e for e in incident.timeline if e.text.startswith("Refused to approve")]
    assert [(e.at, e.phase) for e in refused] == [(guest.at, "approval")]
    assert "guest (Slack W9)" in refused[0].text
    assert "not an approver" in refused[0].text
    assert [e.at for e in incident.timeline] == sorted(e.at for e in incident.timeline)
    assert sum(e.text.startswith("Refused") for e in again.timeline) == 1


def test_a_decline_is_recorded_with_who_and_why() -> None:
    ports = _ports()
    _opened(ports, failover_plan="to-west")
    decision = Decision(decision="declined", by="bob", at=T0, comment="AWS is on it")

    incident, notification = declined("inc-1", decision=decision, now=T0, ports=ports)

    assert incident.decision == decision
    assert notification.subject.startswith("[CRITICAL] [DRY RUN] Failover declined by bob")


def test_a_failing_action_stops_the_plan_and_escalates() -> None:
    ports = _ports()
    _opened(ports, failover_plan="to-west", dry_run=False)
    runner = Runner(fail_on="/vigil/failover/region")
    decision = Decision(decision="approved", by="bob", at=T0)

    incident, notification, ok = failover(
        "inc-1", decision=decision, now=T0, ports=ports, runners={"ssm_parameter": runner}
    )

    assert ok is False
    assert runner.applied == []
    assert [a.ok for a in incident.actions] == [False]
    assert notification.subject == "[PAGE] [LIVE] Failover to-west FAILED: lambda in us-east-1"
    assert incident.escalations


def test_a_dry_run_previews_every_action_and_applies_none() -> None:
    ports = _ports()
    _opened(ports, failover_plan="to-west")
    runner = Runner()

    incident, _, ok = failover(
        "inc-1",
        decision=Decision(decision="approved", by="bob", at=T0),
        now=T0,
        ports=ports,
        runners={"ssm_parameter": runner},
    )

    assert ok is True
    assert runner.applied == []
    assert [a.detail for a in incident.actions] == [
        "DRY RUN, nothing changed: would set parameter /vigil/failover/region",
        "DRY RUN, nothing changed: would set parameter /vigil/failover/other",
    ]


def _monitor(ports: RunbookPorts, at: datetime, health: Health, signals: Signals | None = None):  # type: ignore[no-untyped-def]
    return monitor(
        "inc-1",
        now=at,
        ports=ports,
        signals=signals or Signals(),
        health=health,
        heartbeat=timedelta(minutes=30),
        max_duration=timedelta(hours=2),
    )


def test_monitor_posts_on_change_and_on_heartbeat_only() -> None:
    ports = _ports()
    _opened(ports)
    assess("inc-1", now=T0, ports=ports, signals=Signals(), health=Health([_issue()]))

    _, same = _monitor(ports, T0 + timedelta(minutes=5), Health([_issue()]))
    _, changed = _monitor(
        ports, T0 + timedelta(minutes=10), Health([_issue(updated=T0 + timedelta(minutes=8))])
    )
    _, quiet = _monitor(
        ports, T0 + timedelta(minutes=15), Health([_issue(updated=T0 + timedelta(minutes=8))])
    )
    _, heartbeat = _monitor(
        ports, T0 + timedelta(minutes=40), Health([_issue(updated=T0 + timedelta(minutes=8))])
    )

    assert [v.notify for v in (same, changed, quiet, heartbeat)] == [False, True, False, True]
    assert heartbeat.notification is not None
    assert "heartbeat" in heartbeat.notification.subject


def test_monitor_says_recovered_when_everything_is_clear_and_expired_after_the_maximum() -> None:
    ports = _ports()
    _opened(ports)

    _, still = _monitor(ports, T0 + timedelta(hours=2), Health([_issue()]))
    _, clear = _monitor(ports, T0 + timedelta(hours=2), Health([]))

    assert still.status == "expired"
    assert clear.status == "recovered"


def test_the_report_has_the_timeline_duration_resources_actions_and_approver() -> None:
    ports, reports = _ports(), Reports()
    _opened(ports, failover_plan="to-west", dry_run=False)
    assess("inc-1", now=T0, ports=ports, signals=Signals([_alert()]), health=Health([_issue()]))
    failover(
        "inc-1",
        decision=Decision(decision="approved", by="bob", at=T0 + timedelta(minutes=3)),
        now=T0 + timedelta(minutes=3),
        ports=ports,
        runners={"ssm_parameter": Runner()},
    )

    incident, notification = finish(
        "inc-1", outcome="resolved", now=T0 + timedelta(minutes=75), ports=ports, reports=reports
    )
    report = reports.stored["inc-1"]

    assert incident.status == "resolved"
    assert incident.report_url == "https://console/inc-1"
    assert "- Duration: 1 h 15 min" in report
    assert "- Decision: approved by bob at 2026-03-02T10:03:00Z" in report
    assert "- orders-api" in report
    assert "ssm_parameter parameter /vigil/failover/region: set parameter" in report
    assert "[open] Runbook started (manual): errors" in report
    assert "Flip the flag back." in report
    assert notification.subject == "[RESOLVED] Outage over: lambda in us-east-1"
    assert "https://console/inc-1" in notification.message


def test_a_second_incident_of_the_same_scope_is_refused_until_the_first_ends() -> None:
    # Issue 12: two runbooks for lambda in us-east-1 shared one status page and both gates.
    ports = _ports()
    _opened(ports, requested_by="alice")
    raw = {"service": "lambda", "region": "us-east-1", "reason": "errors"}

    with pytest.raises(IncidentAlreadyOpen) as refused:
        open_incident(raw, incident_id="inc-2", started_at=T0, ports=ports)
    other, _ = open_incident(
        {**raw, "region": "eu-west-1"}, incident_id="inc-3", started_at=T0, ports=ports
    )
    finish("inc-1", outcome="resolved", now=T0 + timedelta(hours=1), ports=ports, reports=Reports())
    after, _ = open_incident(raw, incident_id="inc-2", started_at=T0, ports=ports)

    assert type(refused.value).__name__ == "IncidentAlreadyOpen"  # the workflow's error name
    assert "already has an open incident: inc-1, opened 2026-03-02T10:00:00Z (manual by alice)" in (
        str(refused.value)
    )
    assert (other.status, after.status) == ("open", "open")
    # Each incident's own page was written from its own record.
    assert ports.status_page.pages == {  # type: ignore[attr-defined]
        "inc-1": "Resolved",
        "inc-2": "Investigating",
        "inc-3": "Investigating",
    }


def test_a_dry_runs_messages_link_its_private_status_page_preview() -> None:
    # Issue 16: a rehearsal told customers "AWS has confirmed an issue"; its page is a
    # preview now, and the people running it are told where to read it.
    ports = dataclasses.replace(_ports(), status_preview=lambda i: f"https://console/{i}")
    raw = {"service": "lambda", "region": "us-east-1", "reason": "rehearsal"}

    _, dry = open_incident(raw, incident_id="dry-1", started_at=T0, ports=ports)
    _, live = open_incident(
        {**raw, "region": "eu-west-1", "dry_run": False},
        incident_id="live-1",
        started_at=T0,
        ports=_ports(),
    )
    _, keyed = open_incident(
        {**raw, "region": "eu-west-2"}, incident_id="dry-2", started_at=T0, ports=_ports()
    )

    line = "Preview:   https://console/dry-1 (status page of this dry run; never published)"
    assert line in json.loads(dry.message)["default"]
    assert "Preview:" not in json.loads(live.message)["default"]
    assert "Preview:   preview/status/incidents/dry-2.html" in json.loads(keyed.message)["default"]


def test_public_updates_name_no_aws_service_or_region() -> None:
    ports = _ports()
    _opened(ports)
    confirm("inc-1", aws_confirmed=True, now=T0, ports=ports)
    done, _ = finish("inc-1", outcome="resolved", now=T0, ports=ports, reports=Reports())

    texts = [u.text for u in done.updates]
    assert texts[0] == (
        "We are investigating a problem affecting our service. Next update as soon as we know more."
    )
    assert all("lambda" not in t and "us-east-1" not in t and "AWS" not in t for t in texts)
