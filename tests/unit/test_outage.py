"""Outage correlation in the evaluation: suspect, confirm, mute, release, start the runbook.

The suggested command is checked against the ``vigil`` command's own parser
(``vigil_cli.main.build_parser``), and the rendered notice against the channels' formats
(slack_sdk's Block Kit models, the Adaptive Card 1.4 and Amazon Q Developer schemas in
tests/schemas, the webhook's docs/schemas/webhook-v1.schema.json).
"""

import json
import shlex

from slack_sdk.models.blocks import Block

from tests.factories import T0, batch, error_signal, minutes
from tests.fakes import MemoryAlertStore, MemoryHealthStore, MemoryOutageStore
from tests.schemas import problems
from tests.unit.test_health import health_event
from vigil.channels.chatbot import chatbot_notification
from vigil.channels.slack import slack_message
from vigil.channels.teams import teams_message
from vigil.channels.webhook import webhook_payload
from vigil.core.model import ChatPayload, EvaluationResult, Notification, SignalBatch
from vigil.evaluation.pipeline import OutagePorts, evaluate
from vigil.health.outages import OutageState
from vigil.rules.document import RulesConfig
from vigil_cli.main import build_parser

RUNBOOK = "arn:aws:states:us-east-1:123456789012:stateMachine:runbook"


class World:
    def __init__(self, rules: str = "{}") -> None:
        # Fire at once (no `for`), so each step of the story is one evaluation.
        overrides = {"lambda_errors": {"for_minutes": 0}} | json.loads(rules)
        self.rules = RulesConfig.from_json(json.dumps(overrides))
        self.alerts = MemoryAlertStore()
        self.outages = MemoryOutageStore()
        self.ports = OutagePorts(
            outages=self.outages, health=MemoryHealthStore(), runbook_arn=RUNBOOK
        )

    def run(self, signal_batch: SignalBatch) -> EvaluationResult:
        return evaluate(
            signal_batch,
            rules=self.rules,
            store=self.alerts,
            routing=self.alerts.routing,
            stack="vigil",
            correlation=self.ports,
        )

    def errors(self, minute: int, *resources: str) -> EvaluationResult:
        at = T0 + minutes(minute)
        signals = [error_signal(r, invocations=10_000, errors=2_000, at=at) for r in resources]
        return self.run(batch(at, *signals))

    def health(self, minute: int, **changes: object) -> EvaluationResult:
        at = T0 + minutes(minute)
        event = health_event(last_updated=at, **changes)
        return self.run(
            SignalBatch(
                batch_id=f"health-{minute}",
                source="health",
                collected_at=at,
                covered_kinds=[],
                signals=[],
                health_events=[event],
            )
        )


def subjects(result: EvaluationResult) -> list[str]:
    return [n.subject for n in result.notifications]


def test_three_failing_functions_raise_one_suspected_outage_and_mute_their_alerts() -> None:
    world = World()

    first = world.errors(0, "a", "b", "c")
    second = world.errors(5, "a", "b", "c")

    assert subjects(first) == ["[CRITICAL] Suspected AWS outage: lambda in us-east-1"]
    assert first.summary.muted == 3
    assert subjects(second) == []
    message = json.loads(first.notifications[0].message)["email"]
    assert "  - a lambda.errors: 2,000 errors in 10,000 invocations over 5 min (20.00%)" in message
    assert f"\n    {COMMAND}\n" in message
    assert "stepfunctions" not in message
    assert len(world.alerts.items) == 3  # muted, still recorded


COMMAND = (
    "vigil --stack vigil --region us-east-1 runbook start --service lambda"
    " --affected-region us-east-1"
    " --name outage-lambda-us-east-1-20261102T0900Z"
    " --reason 'AWS outage suspected: lambda in us-east-1; 3 resources failing'"
)


def _chat(notification: Notification) -> ChatPayload:
    return ChatPayload.model_validate_json(json.loads(notification.message)["lambda"])


def test_the_suggested_command_is_the_vigil_command_a_person_runs() -> None:
    notice = World().errors(0, "a", "b", "c").notifications[0]

    command = _chat(notice).command
    args = build_parser().parse_args(shlex.split(command or "")[1:])  # after "vigil"

    assert command == COMMAND
    assert (args.stack, args.region, args.command, args.action) == (
        "vigil",
        "us-east-1",
        "runbook",
        "start",
    )
    assert (args.service, args.scope_region, args.name, args.live) == (
        "lambda",
        "us-east-1",
        "outage-lambda-us-east-1-20261102T0900Z",
        False,
    )
    assert args.reason == "AWS outage suspected: lambda in us-east-1; 3 resources failing"
    assert "stepfunctions" not in _chat(notice).text
    assert _chat(notice).text.endswith("Runbook:   not started. To start it (a dry run), run:")


def test_every_channel_shows_the_command_as_code() -> None:
    payload = _chat(World().errors(0, "a", "b", "c").notifications[0])

    slack = slack_message(payload)
    for block in slack["blocks"]:
        Block.parse(block).validate_json()  # type: ignore[union-attr]
    code = [b for b in slack["blocks"] if b["type"] == "rich_text"]
    assert code == [
        {
            "type": "rich_text",
            "elements": [
                {"type": "rich_text_preformatted", "elements": [{"type": "text", "text": COMMAND}]}
            ],
        }
    ]
    teams = teams_message(payload)
    assert problems("teams", teams) == []
    mono = [
        block["text"]
        for block in teams["attachments"][0]["content"]["body"]
        if block.get("fontType") == "monospace"
    ]
    assert mono == [COMMAND]  # nothing in it that Markdown would read
    chatbot = chatbot_notification(payload)
    assert problems("chatbot", chatbot) == []
    assert f"```\n{COMMAND}\n```" in chatbot["content"]["description"]
    webhook = webhook_payload(payload)
    assert problems("webhook", webhook) == []
    assert webhook["command"] == COMMAND


def test_a_notice_without_a_command_serialises_and_renders_as_before() -> None:
    world = World('{"outage": {"runbook": "start"}}')
    payload = _chat(world.errors(0, "a", "b", "c").notifications[0])

    assert payload.command is None
    assert "command" not in json.loads(payload.model_dump_json())
    assert "command" not in webhook_payload(payload)
    assert not [b for b in slack_message(payload)["blocks"] if b["type"] == "rich_text"]
    assert "Runbook:   started automatically (dry run)." in payload.text


def test_two_failing_functions_are_just_two_alerts() -> None:
    world = World()

    result = world.errors(0, "a", "b")

    assert len(result.notifications) == 2
    assert world.outages.items == {}


def test_health_confirms_the_suspicion_with_aws_text_and_closes_it_releasing_alerts() -> None:
    world = World()
    world.errors(0, "a", "b", "c")

    confirmed = world.health(7)
    world.errors(10, "a")
    closed = world.health(30, status="closed", description="Resolved.")

    assert subjects(confirmed) == ["[CRITICAL] AWS outage confirmed by AWS: lambda in us-east-1"]
    assert "Increased error rates." in confirmed.notifications[0].message
    assert subjects(closed) == [
        "[RESOLVED] AWS outage over: lambda in us-east-1",
        "[CRITICAL] Lambda errors still firing: a",
    ]
    assert world.outages.items[("lambda", "us-east-1")].state is OutageState.RESOLVED


def test_a_suspicion_lifts_when_fewer_resources_fail() -> None:
    world = World()
    world.errors(0, "a", "b", "c")

    lifted = world.errors(5, "a")

    assert subjects(lifted)[0] == "[RESOLVED] AWS outage over: lambda in us-east-1"
    assert "suspicion is lifted" in lifted.notifications[0].message
    assert "[CRITICAL] Lambda errors still firing: a" in subjects(lifted)


def test_start_mode_asks_the_workflow_for_one_idempotent_runbook_per_incident() -> None:
    world = World('{"outage": {"runbook": "start"}}')

    suspected = world.errors(0, "a", "b", "c")
    confirmed = world.health(7)

    assert [r.name for r in suspected.runbooks] == ["outage-lambda-us-east-1-20261102T0900Z"]
    assert json.loads(suspected.runbooks[0].input)["source"] == "vigil"
    assert confirmed.runbooks == []


def test_a_health_issue_for_an_unwatched_service_is_a_plain_health_notice() -> None:
    world = World()

    result = world.health(0, service="EC2", event_type_code="AWS_EC2_OPERATIONAL_ISSUE")

    assert subjects(result) == ["[AWS HEALTH] EC2 issue in us-east-1: AWS_EC2_OPERATIONAL_ISSUE"]
    assert world.outages.items == {}


def test_with_inhibition_off_the_alerts_still_go_out() -> None:
    world = World('{"outage": {"inhibit": false}}')

    result = world.errors(0, "a", "b", "c")

    assert len(result.notifications) == 4
    assert result.summary.muted == 0


def test_one_organization_event_notifies_each_affected_account_once() -> None:
    world = World()
    rds = {"service": "RDS", "event_type_code": "AWS_RDS_MAINTENANCE_SCHEDULED"}

    first = world.health(0, account="111111111111", **rds)
    second = world.health(0, account="222222222222", **rds)
    again = world.health(0, account="111111111111", **rds)

    assert len(first.notifications) == len(second.notifications) == 1
    assert again.notifications == []
