"""The collect workflow's domain (ADR 51): which targets a minute has, how every target's batch
becomes one, and how a batch's scopes keep an uncollected account's alerts.

Cases from issue 17: "one slow or denied account never delays or fails the others" (a failed
target keeps its alerts and raises one alert naming it), "one regional incident across
accounts is one grouped message" (one merged batch), and the ASL the template ships
(``statemachines/collect.asl.json``: Map with MaxConcurrency, per-iteration Retry, Catch and
TimeoutSeconds, as the Step Functions Developer Guide's Map and error-handling pages describe).
"""

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.factories import ACCOUNT, REGION, T0, error_signal
from tests.fakes import MemoryAlertStore
from vigil.accounts.fanout import (
    BUDGET_SECONDS,
    MAX_TARGETS,
    Part,
    Target,
    bounded,
    merged,
    named,
    scoped,
    targets,
    too_late,
    watched_regions,
)
from vigil.accounts.members import Connection, Member
from vigil.alerting.lifecycle import step
from vigil.core.model import AlertState, Labels, Signal, SignalBatch
from vigil.evaluation.alerts import judge_batch
from vigil.rules.document import RulesConfig
from vigil.rules.kinds import judge
from vigil.rules.organization import ACCOUNT_NAME_LABEL, MEMBER_KIND

ROOT = Path(__file__).resolve().parents[2]
MEMBER_A, MEMBER_B = "222222222222", "333333333333"
EU = "eu-west-1"


def _member(account: str, name: str, connection: Connection = Connection.CONNECTED) -> Member:
    return Member(id=account, name=name, connection=connection)


def _batch(
    *signals: object, batch_id: str = "metrics-home", kinds: tuple[str, ...] = ()
) -> SignalBatch:
    return SignalBatch(
        batch_id=batch_id,
        source="metrics",
        collected_at=T0,
        covered_kinds=list(kinds or ("lambda.errors",)),
        signals=list(signals),
    )


def _in(account: str, region: str, resource: str = "orders-api", errors: float = 50) -> Signal:
    signal = error_signal(resource, invocations=100, errors=errors)
    return signal.model_copy(
        update={"labels": signal.labels.model_copy(update={"account": account, "region": region})}
    )


def test_targets_are_every_account_in_every_watched_region_but_the_stacks_own() -> None:
    members = [
        _member(MEMBER_A, "payments-prod"),
        _member(MEMBER_B, "sandbox", Connection.NOT_CONNECTED),
        _member(ACCOUNT, "monitoring"),
        _member("444444444444", "new", Connection.UNKNOWN),
    ]

    found = targets(account=ACCOUNT, region=REGION, regions=[EU, REGION], members=members)

    assert [(t.account, t.region, t.member) for t in found] == [
        (ACCOUNT, EU, False),
        (MEMBER_A, REGION, True),
        (MEMBER_A, EU, True),
        # An account not checked yet is tried: its iteration finds out.
        ("444444444444", REGION, True),
        ("444444444444", EU, True),
    ]
    assert found[1].name == "payments-prod"
    assert watched_regions(REGION, [EU, REGION]) == [REGION, EU]


def test_one_account_and_region_has_no_targets_and_nothing_changes() -> None:
    assert targets(account=ACCOUNT, region=REGION, regions=[], members=None) == []
    assert targets(account=ACCOUNT, region=REGION, regions=[REGION], members=[]) == []


def test_targets_beyond_the_bound_are_failed_parts_not_silence() -> None:
    members = [_member(f"{n:012d}", f"m{n}") for n in range(1, 202)]

    found = targets(account=ACCOUNT, region=REGION, regions=[EU], members=members)
    chosen, beyond = bounded(found)

    # 200 members x 2 regions + the stack's account in eu-west-1 = 403 targets.
    assert len(found) == 403
    assert len(chosen) == MAX_TARGETS == 400
    assert [part.target for part in beyond] == found[400:]
    assert all(part.ref is None and "more than 400" in (part.error or "") for part in beyond)
    # Their alerts come with the home batch: one per target not read.
    home = merged(_batch(), [], beyond, now=T0)
    assert [s.labels.account for s in home.signals] == [p.target.account for p in beyond]
    # 400 targets and 400 parts fit in Step Functions' 256 KB payload with room to spare.
    part = Part(target=found[0], ref=None, error="States.Timeout").model_dump_json()
    assert len(part.encode()) * MAX_TARGETS < 256 * 1024 * 0.7


def test_targets_discover_at_their_own_minute_spread_over_the_period() -> None:
    members = [_member(f"{n:012d}", f"m{n}") for n in range(1, 101)]
    found = targets(account=ACCOUNT, region=REGION, regions=[EU], members=members)

    offsets = [target.discovery_offset(60) for target in found]

    # Stable, within the period, and spread: no 5-minute slot holds more than a quarter.
    assert offsets == [target.discovery_offset(60) for target in found]
    assert all(0 <= offset < 60 for offset in offsets)
    slots = [sum(1 for o in offsets if o // 5 == slot) for slot in range(12)]
    assert max(slots) < len(found) / 4, slots


def test_an_iteration_after_the_budget_is_too_late() -> None:
    started = T0
    assert not too_late(started, started + timedelta(seconds=BUDGET_SECONDS))
    assert too_late(started, started + timedelta(seconds=BUDGET_SECONDS + 1))
    # The budget and an iteration's time-out end before the workflow's own time-out.
    assert BUDGET_SECONDS + 120 < 290


def test_a_part_speaks_only_for_its_account_and_region() -> None:
    batch = scoped(_batch(), account=MEMBER_A, region=EU, kinds=["lambda.errors"])

    assert batch.scope_of("lambda.errors") == frozenset({(MEMBER_A, EU)})
    assert batch.scope_of("vigil.member_not_connected") is None
    assert _batch().scope_of("lambda.errors") is None


def test_a_members_signals_carry_its_name_unless_a_tag_already_does() -> None:
    target = Target(account=MEMBER_A, region=EU, name="payments-prod", member=True)
    tagged = _in(MEMBER_A, EU).model_copy(update={"tags": {ACCOUNT_NAME_LABEL: "own"}})

    batch = named(_batch(_in(MEMBER_A, EU), tagged), target)

    assert [s.tags[ACCOUNT_NAME_LABEL] for s in batch.signals] == ["payments-prod", "own"]
    own = Target(account=ACCOUNT, region=EU)
    assert named(_batch(_in(ACCOUNT, EU)), own).signals[0].tags == {}


def test_the_merge_is_one_batch_with_every_part_and_one_alert_per_failed_target() -> None:
    home = scoped(
        _batch(_in(ACCOUNT, REGION)), account=ACCOUNT, region=REGION, kinds=["lambda.errors"]
    )
    part = scoped(
        _batch(_in(MEMBER_A, EU), batch_id="metrics-a"),
        account=MEMBER_A,
        region=EU,
        kinds=["lambda.errors"],
    )
    failed = Part(
        target=Target(account=MEMBER_B, region=EU, name="search-prod", member=True),
        error="States.Timeout",
    )

    batch = merged(home, [part], [failed], now=T0)

    assert batch.batch_id == "metrics-home"
    assert MEMBER_KIND in batch.covered_kinds
    assert batch.scope_of("lambda.errors") == frozenset({(ACCOUNT, REGION), (MEMBER_A, EU)})
    failure = batch.signals[-1]
    assert (failure.labels.kind, failure.labels.account, failure.labels.region) == (
        MEMBER_KIND,
        MEMBER_B,
        EU,
    )
    verdict = judge(failure, RulesConfig())
    assert verdict is not None
    assert verdict.evidence.summary.startswith(
        f"Account search-prod ({MEMBER_B}) was not collected in {EU}: States.Timeout."
    )


def test_a_target_not_collected_keeps_its_alerts_and_the_others_resolve() -> None:
    # Given orders-api firing in two members, in one region
    rules = RulesConfig()
    store = MemoryAlertStore()
    for account in (MEMBER_A, MEMBER_B):
        fired = judge(_in(account, EU), rules)
        assert fired is not None
        alert = step(None, fired, now=T0, batch_id="b0", rules=rules).after
        assert alert is not None
        store.items[alert.fingerprint] = alert.model_copy(update={"state": AlertState.FIRING})
    # When a merged batch has member A calm and member B not collected
    part = scoped(
        _batch(batch_id="metrics-a"), account=MEMBER_A, region=EU, kinds=["lambda.errors"]
    )
    home = scoped(_batch(), account=ACCOUNT, region=REGION, kinds=["lambda.errors"])
    batch = merged(home, [part], [], now=T0)
    judged = judge_batch(batch, rules, store.active)

    # Then only member A's alert is a candidate to resolve
    accounts = {store.items[f].labels.account for f in judged.candidates}
    assert accounts == {MEMBER_A}
    # And a batch without scopes (one account, one region) speaks for every alert of its kinds
    unscoped = judge_batch(_batch(), rules, store.active)
    assert len(unscoped.candidates) == 2


def test_the_labels_of_a_part_outside_the_merge_are_valid_labels() -> None:
    # A failed target's signal has a twelve-digit account and a region, as every alert's.
    Labels(kind=MEMBER_KIND, resource=MEMBER_A, account=MEMBER_A, region=EU)


@pytest.fixture(scope="module")
def definition() -> Any:
    return json.loads((ROOT / "statemachines" / "collect.asl.json").read_text())


def test_each_iteration_has_its_own_retry_time_out_and_catch(definition: Any) -> None:
    collect = definition["States"]["CollectTargets"]
    task = collect["ItemProcessor"]["States"]["CollectTarget"]

    assert collect["MaxConcurrency"] == 40
    assert task["ResultSelector"]["error.$"] == "$.Payload.error"
    assert task["TimeoutSeconds"] == 120
    assert definition["TimeoutSeconds"] == 290
    assert task["Parameters"]["Payload"]["entered.$"] == "$$.State.EnteredTime"
    assert "Lambda.TooManyRequestsException" in task["Retry"][0]["ErrorEquals"]
    assert task["Catch"][0]["ErrorEquals"] == ["States.ALL"]
    assert task["Catch"][0]["Next"] == "NotCollected"
    # The caught error's cause (up to 32 KB) is not carried: 400 parts must fit one output.
    assert "Cause" not in json.dumps(collect["ItemProcessor"]["States"]["NotCollected"])
    # The merge happens once, after every iteration, and is retried (idempotent by batch id).
    assert collect["Next"] == "Merge"
    assert definition["TimeoutSeconds"] <= 300


def test_a_failed_fan_out_or_merge_still_evaluates_the_home_batch(definition: Any) -> None:
    states = definition["States"]

    for name in ("CollectTargets", "Merge"):
        assert states[name]["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "EvaluateHomeAlone"}
        ]
    fallback = states["EvaluateHomeAlone"]
    assert fallback["Resource"] == "arn:aws:states:::states:startExecution"
    assert fallback["Parameters"]["Input.$"] == "$.home"
    assert fallback["Parameters"]["Name.$"] == "$.run"
    # The execution still fails, so CollectFailuresAlarm tells people.
    assert states[fallback["Next"]]["Type"] == "Fail"
