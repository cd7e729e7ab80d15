"""The Organization benchmark (benchmarks/organization.py) on small Organizations: the requests
of a discovery grow with the accounts (one ``AssumeRole`` each, pages of the tree walk), an
ordinary cycle reads one ``Query`` whatever their number, and a tag filter adds one
``ListTagsForResource`` per account listed (the management account included); the collection
of the members' metrics costs per target what one target costs (whatever its functions in a
healthy cycle; one more metric per function in the hourly sweep; two more calls per function
at the target's own discovery minute), plus the collect workflow's fixed part."""

from typing import Any

import pytest

from benchmarks.organization import (
    OUS,
    REGIONS,
    map_run,
    measure,
    measure_collection,
    moments,
)
from vigil.accounts.fanout import BUDGET_SECONDS, MAX_TARGETS, Target
from vigil.dials.base import discovery_due, sweep_due, window_for
from vigil.rules.document import RulesConfig


@pytest.fixture(scope="module")
def small() -> dict[str, object]:
    return measure(12)


def test_a_discovery_checks_each_member_once_and_writes_them_in_one_item(
    small: dict[str, object],
) -> None:
    discovery = small["discovery"]
    assert isinstance(discovery, dict)
    by_api = discovery["by_api"]
    # the 12 members and the monitoring (here management) account, which is not assumed
    assert discovery["members"] == 12 + 1
    assert by_api["AssumeRole"] == 12
    assert by_api["ListRoots"] == 1
    # the root and each OU: one page of accounts and one of child OUs each
    assert by_api["ListAccountsForParent"] == by_api["ListChildren"] == 1 + OUS
    assert by_api["PutItem"] == 1
    stored = small["stored"]
    assert isinstance(stored, dict)
    assert stored["items"] == 1


def test_a_cycle_between_discoveries_reads_one_query(small: dict[str, object]) -> None:
    assert small["cycle"] == {"members": 12 + 1, "requests": 1, "by_api": {"Query": 1}}


def test_a_tag_filter_reads_each_listed_accounts_tags(small: dict[str, object]) -> None:
    tagged, plain = small["discovery_tags"], small["discovery"]
    assert isinstance(tagged, dict)
    assert isinstance(plain, dict)
    assert tagged["by_api"]["ListTagsForResource"] == 12 + 1
    assert tagged["requests"] == plain["requests"] + 12 + 1


# ------------------------------------------------------------------------------- collection
# Two tiny Organizations, each member and region a target collected for real on moto through
# the OAM sink (benchmarks/organization.py, measure_collection): the issue 17 claim is that the
# healthy cycle grows with the targets, not with the functions each holds (ADR 51's fast path:
# account aggregates), while the hourly sweep asks every function's Errors (no error stream
# beyond the stack's own account and region) and a target's discovery, at its own minute of the
# hour, reads every function.


@pytest.fixture(scope="module")
def collection() -> dict[str, Any]:
    # the third: 200 members of 4 functions, 401 targets, one past the bound
    return measure_collection(((2, 12), (3, 4), (200, 4)), measured=1)


def test_every_member_is_read_through_its_link_in_each_region(collection: dict[str, Any]) -> None:
    linked = collection["linked_members"]
    assert set(linked) == set(REGIONS)
    # the member measured of each size, linked in both regions
    assert all(len(accounts) == 2 for accounts in linked.values())


def test_targets_of_one_size_make_the_same_calls(collection: dict[str, Any]) -> None:
    for size in ("12", "4"):
        one = collection["per_target"][size]
        # the member in each of the 2 regions
        assert one["targets_measured"] == 2
        assert all(case["identical"] for case in one["cases"].values())


def test_a_healthy_cycle_does_not_grow_with_the_functions(collection: dict[str, Any]) -> None:
    big, small = (collection["per_target"][size]["cases"] for size in ("12", "4"))
    assert big["healthy"]["metrics_requested"] == small["healthy"]["metrics_requested"]
    assert big["healthy"]["api_calls"] == small["healthy"]["api_calls"]
    # one role assumed and one batch written per target and cycle, no function read
    assert big["healthy"]["api_calls"]["AssumeRole"] == 1
    assert big["healthy"]["api_calls"]["PutObject"] == 1
    assert "GetFunctionConcurrency" not in big["healthy"]["api_calls"]


def test_the_sweep_asks_each_functions_errors_and_the_discovery_reads_each_function(
    collection: dict[str, Any],
) -> None:
    big, small = (collection["per_target"][size]["cases"] for size in ("12", "4"))
    # the hourly sweep: one more metric per function (its Errors), no function read
    assert big["sweep"]["metrics_requested"] - small["sweep"]["metrics_requested"] == 12 - 4
    assert big["sweep"]["calls"] == small["sweep"]["calls"]
    # the discovery: its reserved concurrency and its destinations, no more metrics
    assert big["discovery"]["calls"] - small["discovery"]["calls"] == 2 * (12 - 4)
    assert big["discovery"]["metrics_requested"] == big["healthy"]["metrics_requested"]
    for case in ("discovery", "sweep_discovery"):
        assert big[case]["api_calls"]["GetFunctionConcurrency"] == 12
        assert big[case]["api_calls"]["ListFunctionEventInvokeConfigs"] == 12
    assert big["sweep_discovery"]["metrics_requested"] == big["sweep"]["metrics_requested"]


def test_each_cycle_is_measured_at_a_minute_of_its_kind() -> None:
    # the collector's own schedule functions decide: every offset of the hour but the sweep's
    rules = RulesConfig()
    for account in ("111111111111", "222222222222", "333333333333", "444444444444"):
        target = Target(account=account, region="eu-west-1", member=True)
        offset = target.discovery_offset(60)
        at = moments(target, rules)
        for case, sweep, discovery in (
            ("sweep", True, False),
            ("healthy", False, False),
            ("discovery", False, True),
        ):
            now = at[case]
            if now is None:
                # only a target whose minute is the sweep's has no cycle without the other
                assert offset == 0
                assert case != "healthy"
                continue
            window = window_for(now, rules)
            assert sweep_due(window, rules) is sweep
            assert discovery_due(window, rules, offset=offset) is discovery


def test_the_organization_is_targets_times_one_target_plus_the_fixed_part(
    collection: dict[str, Any],
) -> None:
    for org in collection["organizations"][:2]:
        one = collection["per_target"][str(org["functions"])]["cases"]
        # each member in each region, and the monitoring account in the other region
        targets = org["members"] * 2 + 1
        assert org["targets"] == org["targets_read"] == targets
        assert org["map_rounds"] == 1
        for case in ("healthy", "sweep"):
            cycle = org["cycles"][case]
            # the home batch's PutObject and the collect workflow's StartExecution; the
            # merge's GetObject of each part and of the home batch, and Evaluate's start
            assert cycle["fixed_calls"] == 2 + (targets + 1) + 1
            assert cycle["calls"] == targets * one[case]["calls_on_aws"] + cycle["fixed_calls"]
            assert cycle["metrics_requested"] == targets * one[case]["metrics_requested"]
            assert cycle["api_calls"]["GetObject"] == targets + 1
            assert cycle["api_calls"]["StartExecution"] == 2
            assert cycle["lambda_invocations"] == targets + 1
        # the hour's cycles: each target discovers once, in one of its 12 cycles, the hourly
        # sweep in one of them; the worst cycle is the sweep with the busiest discoveries
        assert len(org["hour"]) == 12
        assert sum(cycle["sweep"] for cycle in org["hour"]) == 1
        assert sum(org["discoveries_per_cycle"]["hour"]) == targets
        worst = org["cycles"]["worst"]
        discovering = org["discoveries_per_cycle"]["max"]
        assert worst["discovering"] == discovering
        assert worst["calls"] == (
            (targets - discovering) * one["sweep"]["calls_on_aws"]
            + discovering * one["sweep_discovery"]["calls_on_aws"]
            + worst["fixed_calls"]
        )
        assert org["monthly_usd"] == pytest.approx(sum(org["monthly_usd_by_item"].values()))


def test_a_target_beyond_the_bound_is_a_failed_part_not_silence(
    collection: dict[str, Any],
) -> None:
    org = collection["organizations"][2]
    # 200 members in 2 regions and the monitoring account's other region: 401 targets, the
    # first 400 read, the last (the 200th member in eu-west-1) an alert of the stack's own batch
    assert (org["targets"], org["targets_read"]) == (401, MAX_TARGETS)
    assert org["merge"]["parts"] == MAX_TARGETS
    over = org["over_the_bound"]
    assert over["targets"] == 1
    (alert,) = over["alerts"]
    assert alert["kind"] == "vigil.member_not_connected"
    assert (alert["account"], alert["region"]) == (f"{100_000_000_000 + 199:012d}", REGIONS[1])
    assert "more than 400" in alert["collection"]


def test_the_map_hands_back_late_iterations_and_cuts_long_ones() -> None:
    # 3 at a time: the 4th starts at 100 s, the 7th at 200 s, past the 150-second budget
    run = map_run([100.0] * 6 + [100.0] * 3, concurrency=3)
    assert run["late"] == 3
    assert BUDGET_SECONDS == 150
    assert map_run([130.0], concurrency=1) == {"seconds": 120.0, "late": 0, "timed_out": 1}
