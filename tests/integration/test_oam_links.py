"""The OAM links adapter (``vigil.adapters.oam_links``; ADR 54) against the emulator's
``ListSinks`` and ``ListAttachedLinks`` (``emulator/oam_api.py``), with the sinks and links the
member and sink templates create.

The cases come from the OAM API Reference: ``ListSinks`` returns the sinks "created in that
account" (the caller, a monitoring account); ``ListAttachedLinks`` the "source account links
that are linked to this monitoring account sink", its ``SinkIdentifier`` the sink's ARN, its
items' ``LinkArn`` of the source account, pages by ``MaxResults`` and ``NextToken``;
``ResourceNotFoundException`` (HTTP 404) for a sink that does not exist; sinks and links are
regional ("multiple accounts within a Region").
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from emulator import metric_index, oam, oam_api
from vigil.accounts.fanout import watched_regions
from vigil.accounts.members import AccountInventory, Check, Connection, ListedAccount
from vigil.adapters.oam_links import OamLinks
from vigil.adapters.stats import CallStats
from vigil.core.model import SignalBatch
from vigil.rules.organization import OrganizationConfig

from .conftest import REGION
from .test_cross_account_metrics import (
    MEMBER,
    MEMBER_STACK,
    MONITORING,
    OTHER_MONITORING,
    OTHER_REGION,
    UNLINKED,
    _account,
    _create_stack,
    _link,
    _sink,
    logs_only_link,
)

NOW = datetime(2025, 3, 14, 10, 0, tzinfo=UTC)


@pytest.fixture
def linked(aws: None) -> Iterator[None]:
    """moto with the emulator's OAM answers, as Emulator.start installs them."""
    with metric_index.installed(), oam.installed(), oam_api.installed():
        yield


def _links(stats: CallStats | None = None) -> OamLinks:
    """The monitoring account's adapter, a client per region as the collector builds them."""
    return OamLinks(lambda region: boto3.client("oam", region_name=region), stats)


def test_the_members_linked_to_the_sink_of_each_region_are_listed(linked: None) -> None:
    # Given two members linked in us-east-1, one of them in eu-west-1 as well
    home_sink = _sink(REGION)
    _link(home_sink, REGION)
    _link(home_sink, REGION, account=UNLINKED)
    _link(_sink(OTHER_REGION), OTHER_REGION)

    # When each region is asked, Then each answers with the accounts linked there
    links = _links()
    assert links.linked(REGION) == frozenset({MEMBER, UNLINKED})
    assert links.linked(OTHER_REGION) == frozenset({MEMBER})
    # and a region without a sink links nobody
    assert links.linked("ap-southeast-2") == frozenset()


def test_every_page_is_read(linked: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given two links to the sink and pages of one item
    monkeypatch.setattr(oam_api, "PAGE", 1)
    sink = _sink(REGION)
    _link(sink, REGION)
    _link(sink, REGION, account=UNLINKED)
    stats = CallStats()

    # When the region is asked
    found = _links(stats).linked(REGION)

    # Then both pages of links are read: one ListSinks page, two ListAttachedLinks pages
    assert found == frozenset({MEMBER, UNLINKED})
    assert stats.by_api == {"ListSinks": 1, "ListAttachedLinks": 2}


def test_a_link_to_another_accounts_sink_does_not_count(linked: None) -> None:
    # Given the member linked to another monitoring account's sink only
    _sink(REGION)
    _link(_sink(REGION, account=OTHER_MONITORING), REGION)
    # When this monitoring account asks, Then the member is not linked to it
    assert _links().linked(REGION) == frozenset()


def test_a_link_that_shares_log_groups_only_does_not_count(linked: None) -> None:
    # Given the member's link to the sink shares log groups and no metrics
    _create_stack(_account(MEMBER), "logs-only", logs_only_link(_sink(REGION)))
    # When the region is asked, Then the member shares no metrics there
    assert _links().linked(REGION) == frozenset()


def test_a_deleted_member_stack_unlinks_it(linked: None) -> None:
    # Given a linked member
    _link(_sink(REGION), REGION)
    assert _links().linked(REGION) == frozenset({MEMBER})
    # When its stack instance is deleted, Then it is no longer linked
    _account(MEMBER).client("cloudformation").delete_stack(StackName=MEMBER_STACK)
    assert _links().linked(REGION) == frozenset()


def test_the_fake_refuses_a_sink_of_another_account(linked: None) -> None:
    # Given another monitoring account's sink
    other = _sink(REGION, account=OTHER_MONITORING)
    # When this account lists its links, Then OAM says it has no such sink (HTTP 404)
    with pytest.raises(ClientError) as raised:
        boto3.client("oam", region_name=REGION).list_attached_links(SinkIdentifier=other)
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


class _Organization:
    """The monitoring account and the two members, as Organizations lists them."""

    def accounts(self) -> list[ListedAccount]:
        return [
            ListedAccount(MONITORING, "monitoring", "ACTIVE", ()),
            ListedAccount(MEMBER, "payments-prod", "ACTIVE", ()),
            ListedAccount(UNLINKED, "search-prod", "ACTIVE", ()),
        ]

    def tags(self, account: str) -> dict[str, str]:
        return {}


class _Roles:
    """Every member's role assumed (the role check is test_member_account's)."""

    role_name = "vigil-member"

    def check(self, account: str) -> Check:
        return Check(Connection.CONNECTED)


class _Store:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] | None = None

    def members(self) -> list[dict[str, Any]] | None:
        return self.records

    def remember_members(self, records: list[dict[str, Any]], *, at: datetime) -> None:
        self.records = records


def _discovery(store: _Store, stats: CallStats) -> SignalBatch:
    """A discovery of the inventory with the adapter, both regions watched."""
    inventory = AccountInventory(
        OrganizationConfig(enabled=True),
        _Organization(),
        _Roles(),
        store,
        account=MONITORING,
        region=REGION,
        discovery=True,
        now=NOW,
        links=_links(stats),
        regions=watched_regions(REGION, [OTHER_REGION]),
    )
    empty = SignalBatch(
        batch_id="b1", source="metrics", collected_at=NOW, covered_kinds=[], signals=[]
    )
    return inventory.signals(empty)


def test_a_discovery_alerts_each_missing_link_until_it_is_deployed(linked: None) -> None:
    # Given both members linked in us-east-1, payments-prod alone in eu-west-1
    home_sink, other_sink = _sink(REGION), _sink(OTHER_REGION)
    _link(home_sink, REGION)
    _link(home_sink, REGION, account=UNLINKED)
    _link(other_sink, OTHER_REGION)
    store, stats = _Store(), CallStats()

    # When a discovery checks the links of both regions
    batch = _discovery(store, stats)

    # Then search-prod has one alert, in eu-west-1, and OAM was asked twice per region
    assert [(s.labels.account, s.labels.region, s.tags) for s in batch.signals] == [
        (UNLINKED, OTHER_REGION, {"account_name": "search-prod"})
    ]
    assert stats.by_api == {"ListSinks": 2, "ListAttachedLinks": 2}
    # and once its stack instance links it there, the next discovery resolves it
    _link(other_sink, OTHER_REGION, account=UNLINKED)
    assert _discovery(store, CallStats()).signals == []
