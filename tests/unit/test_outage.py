"""Outage correlation in the evaluation: suspect, confirm, mute, release, start the runbook."""

import json

from tests.factories import T0, batch, error_signal, minutes
from tests.fakes import MemoryAlertStore, MemoryHealthStore, MemoryOutageStore
from tests.unit.test_health import health_event
from vigil.core.model import EvaluationResult, SignalBatch
from vigil.evaluation.pipeline import OutagePorts, evaluate
from vigil.health.outages import OutageState
from vigil.rules.document import RulesConfig

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
    assert "aws stepfunctions start-execution --state-machine-arn " + RUNBOOK in message
    assert len(world.alerts.items) == 3  # muted, still recorded


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
