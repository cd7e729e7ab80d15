"""Failover plans: validated configuration, actions in order, the first failure stops."""

from datetime import UTC, datetime

import pytest

from vigil.core.errors import ConfigError
from vigil.runbook.failover import (
    FailoverAction,
    FailoverActionError,
    FailoverPlans,
    failback_guidance,
    run_plan,
)

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
DOC = """{"plans": {"west": {"description": "to us-west-2", "actions": [
  {"type": "route53_weight", "hosted_zone_id": "Z1", "record_name": "api.example.com.",
   "record_type": "A", "set_identifier": "west", "weight": 100},
  {"type": "ssm_parameter", "name": "/vigil/failover/region", "value": "us-west-2"}]}}}"""


class Runner:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.applied: list[str] = []

    def preview(self, action: FailoverAction) -> str:
        return f"change {action.target()}"

    def apply(self, action: FailoverAction) -> str:
        if self.fail:
            raise FailoverActionError(f"{action.target()}: Throttling")
        self.applied.append(action.target())
        return f"changed {action.target()}"


def test_plans_parse_when_their_targets_are_allowed() -> None:
    plans = FailoverPlans.from_json(
        DOC, hosted_zone_ids=frozenset({"Z1"}), parameter_prefix="/vigil/failover/"
    )

    plan = plans.get("west")
    assert plan is not None
    assert [a.type for a in plan.actions] == ["route53_weight", "ssm_parameter"]


def test_targets_the_role_may_not_change_are_refused_at_cold_start() -> None:
    with pytest.raises(ConfigError) as caught:
        FailoverPlans.from_json(DOC, hosted_zone_ids=frozenset({"Z9"}), parameter_prefix="/app/")

    message = str(caught.value)
    assert "plans.west.actions.0: hosted zone Z1 is not in FailoverHostedZoneIds" in message
    assert "plans.west.actions.1: parameter /vigil/failover/region is outside" in message


def test_a_malformed_plan_names_the_field() -> None:
    with pytest.raises(ConfigError, match=r"plans\.west\.actions\.0\.arc_routing_control"):
        FailoverPlans.from_json(
            '{"plans": {"west": {"description": "x", "actions": [{"type":'
            ' "arc_routing_control", "state": "Maybe"}]}}}'
        )


def test_run_plan_applies_in_order_and_failback_undoes_in_reverse() -> None:
    plans = FailoverPlans.from_json(DOC)
    plan = plans.get("west")
    assert plan is not None
    runner = Runner()

    records = run_plan(
        "west",
        plan,
        dry_run=False,
        runners={"route53_weight": runner, "ssm_parameter": runner},
        now=T0,
    )
    guidance = failback_guidance("west", plan, records)

    assert [r.ok for r in records] == [True, True]
    assert runner.applied[0].startswith("record api.example.com. A (west)")
    assert guidance[1].startswith("- undo on parameter /vigil/failover/region")


def test_the_first_failure_stops_the_plan_and_a_missing_runner_is_a_failure() -> None:
    plan = FailoverPlans.from_json(DOC).get("west")
    assert plan is not None

    failed = run_plan(
        "west", plan, dry_run=False, runners={"route53_weight": Runner(fail=True)}, now=T0
    )
    unknown = run_plan("west", plan, dry_run=True, runners={}, now=T0)

    assert [(r.ok, r.detail) for r in failed] == [
        (False, "FAILED: record api.example.com. A (west) in hosted zone Z1: Throttling")
    ]
    assert unknown[0].detail == "FAILED: no runner for action type 'route53_weight'"
