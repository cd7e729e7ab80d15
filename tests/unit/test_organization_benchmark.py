"""The Organization discovery benchmark (benchmarks/organization.py) on a small Organization:
the requests of a discovery grow with the accounts (one ``AssumeRole`` each, pages of the tree
walk), an ordinary cycle reads one ``Query`` whatever their number, and a tag filter adds one
``ListTagsForResource`` per account listed (the management account included)."""

import pytest

from benchmarks.organization import OUS, measure


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
