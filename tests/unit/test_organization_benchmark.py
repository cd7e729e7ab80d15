"""The Organization benchmark (benchmarks/organization.py) on small Organizations: the requests
of a discovery grow with the accounts (one ``AssumeRole`` each, pages of the tree walk), an
ordinary cycle reads one ``Query`` whatever their number, and a tag filter adds one
``ListTagsForResource`` per account listed (the management account included); the collection
of the members' metrics costs per target what one target costs, whatever its functions in a
healthy cycle, plus the collect workflow's fixed part."""

from typing import Any

import pytest

from benchmarks.organization import OUS, REGIONS, measure, measure_collection


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
# account aggregates), while the sweeps list every function.


@pytest.fixture(scope="module")
def collection() -> dict[str, Any]:
    return measure_collection(((2, 12), (3, 4)), measured=1)


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
    # one role assumed and one batch written per target and cycle
    assert big["healthy"]["api_calls"]["AssumeRole"] == 1
    assert big["healthy"]["api_calls"]["PutObject"] == 1
    # while the hourly sweep reads each function (its reserved concurrency, its destinations)
    # and the daily function sweep requests each function's Errors
    assert big["sweep"]["calls"] - small["sweep"]["calls"] == 2 * (12 - 4)
    assert (
        big["function_sweep"]["metrics_requested"] - small["function_sweep"]["metrics_requested"]
        == 12 - 4
    )


def test_the_organization_is_targets_times_one_target_plus_the_fixed_part(
    collection: dict[str, Any],
) -> None:
    for org in collection["organizations"]:
        one = collection["per_target"][str(org["functions"])]["cases"]
        # each member in each region, and the monitoring account in the other region
        targets = org["members"] * 2 + 1
        assert org["targets"] == targets
        assert org["map_rounds"] == 1
        for case, cycle in org["cycles"].items():
            # the home batch's PutObject and the collect workflow's StartExecution; the
            # merge's GetObject of each part and of the home batch, and Evaluate's start
            assert cycle["fixed_calls"] == 2 + (targets + 1) + 1
            assert cycle["calls"] == targets * one[case]["calls_on_aws"] + cycle["fixed_calls"]
            assert cycle["metrics_requested"] == targets * one[case]["metrics_requested"]
            assert cycle["api_calls"]["GetObject"] == targets + 1
            assert cycle["api_calls"]["StartExecution"] == 2
            assert cycle["lambda_invocations"] == targets + 1
        assert org["monthly_usd"] == pytest.approx(sum(org["monthly_usd_by_item"].values()))
