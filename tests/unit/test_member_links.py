"""A member reached by its role but without its OAM link in a watched region (ADR 54): one
``vigil.member_not_connected`` alert per (member, region) naming it and what to fix, resolved
by the discovery that finds the link; OAM not answering keeps the last known state; off, no
call.

The cases come from the OAM API Reference: a source account shares its metrics with a
monitoring account through a link to the monitoring account's sink, in one Region
("multiple accounts within a Region"); ``ListSinks`` and ``ListAttachedLinks`` list the
monitoring account's sinks and the links attached to each, every page by ``NextToken``; a link
names the resource types it shares (``AWS::CloudWatch::Metric`` for metrics); the operations
answer ``InternalServiceFault`` (HTTP 500) and, as every AWS API, throttling and
``AccessDeniedException`` ("Common Errors").
"""

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.factories import ACCOUNT, REGION, T0
from tests.unit.test_organization_members import (
    DENIED,
    PAYMENTS,
    SANDBOX,
    SEARCH,
    FakeOrganization,
    FakeRoles,
    FakeStore,
    _batch,
    _config,
)
from vigil.accounts.members import AccountInventory, Check, ListedAccount
from vigil.adapters.oam_links import OamLinks, link_account
from vigil.adapters.stats import CallStats
from vigil.core.model import SignalBatch
from vigil.rules.document import RulesConfig
from vigil.rules.kinds import judge
from vigil.rules.organization import MEMBER_KIND, OrganizationConfig

OTHER = "eu-west-1"
MONITORING = ListedAccount(ACCOUNT, "monitoring", "ACTIVE", ())


class FakeLinks:
    """Linked accounts per region; a region mapped to ``None`` is OAM not answering."""

    def __init__(self, linked: dict[str, frozenset[str] | None]) -> None:
        self.answers = linked
        self.asked: list[str] = []

    def linked(self, region: str) -> frozenset[str] | None:
        self.asked.append(region)
        return self.answers.get(region, frozenset())


def _cycle(
    links: FakeLinks | None,
    store: FakeStore,
    *,
    roles: dict[str, Check] | None = None,
    config: OrganizationConfig | None = None,
    discovery: bool = True,
    listed: tuple[ListedAccount, ...] = (MONITORING, PAYMENTS, SEARCH),
) -> SignalBatch:
    inventory = AccountInventory(
        config or _config(),
        FakeOrganization(list(listed)),
        FakeRoles(roles or {}),
        store,
        account=ACCOUNT,
        region=REGION,
        discovery=discovery,
        now=T0,
        links=links,
        regions=[REGION, OTHER],
    )
    return inventory.signals(_batch())


def _alerts(batch: SignalBatch) -> list[tuple[str, str]]:
    return [(s.labels.account, s.labels.region) for s in batch.signals]


def test_a_missing_link_is_one_alert_per_region_naming_it_and_the_fix() -> None:
    # Given payments linked in us-east-1 only, search linked in both regions
    links = FakeLinks({REGION: frozenset({PAYMENTS.id, SEARCH.id}), OTHER: frozenset({SEARCH.id})})

    batch = _cycle(links, FakeStore())

    # Then one signal: payments in eu-west-1, in that region, named
    assert MEMBER_KIND in batch.covered_kinds
    (signal,) = batch.signals
    assert (signal.labels.kind, signal.labels.resource, signal.labels.account) == (
        MEMBER_KIND,
        PAYMENTS.id,
        PAYMENTS.id,
    )
    assert signal.labels.region == OTHER
    assert signal.tags == {"account_name": "payments-prod"}
    found = judge(signal, RulesConfig())
    assert found is not None
    assert found.evidence.summary == (
        "Member account payments-prod (111111111111) shares no metrics with Vigil in"
        " eu-west-1: it has no OAM link that shares AWS::CloudWatch::Metric with the monitoring"
        " account's sink there. Deploy the member template in eu-west-1 with that region's"
        ' SinkArn (see README, "Watch an Organization").'
    )
    # OAM is asked once per region; the stack's own account needs no link.
    assert links.asked == [REGION, OTHER]


def test_a_member_without_any_link_has_one_alert_in_each_region_apart_from_each_other() -> None:
    batch = _cycle(FakeLinks({}), FakeStore())

    assert sorted(_alerts(batch)) == [
        (PAYMENTS.id, OTHER),
        (PAYMENTS.id, REGION),
        (SEARCH.id, OTHER),
        (SEARCH.id, REGION),
    ]
    assert len({s.labels.fingerprint for s in batch.signals}) == 4


def test_the_alert_stays_between_discoveries_and_resolves_once_the_link_is_found() -> None:
    store = FakeStore()
    _cycle(FakeLinks({REGION: frozenset({PAYMENTS.id, SEARCH.id})}), store)
    # An ordinary cycle reads the stored members: same signals, no OAM call.
    links = FakeLinks({})
    kept = _cycle(links, store, discovery=False)
    assert sorted(_alerts(kept)) == [(PAYMENTS.id, OTHER), (SEARCH.id, OTHER)]
    assert links.asked == []

    # When the next discovery finds the links in eu-west-1
    both = frozenset({PAYMENTS.id, SEARCH.id})
    resolved = _cycle(FakeLinks({REGION: both, OTHER: both}), store)

    # Then no signal, the kind covered: the alerts resolve
    assert resolved.signals == []
    assert MEMBER_KIND in resolved.covered_kinds


def test_oam_not_answering_in_a_region_keeps_each_members_last_state_there() -> None:
    store = FakeStore()
    _cycle(FakeLinks({REGION: frozenset({PAYMENTS.id, SEARCH.id})}), store)

    # eu-west-1 unanswered (throttled, a 5xx, denied); us-east-1 now misses search's link
    batch = _cycle(FakeLinks({REGION: frozenset({PAYMENTS.id}), OTHER: None}), store)

    assert sorted(_alerts(batch)) == [
        (PAYMENTS.id, OTHER),
        (SEARCH.id, OTHER),
        (SEARCH.id, REGION),
    ]
    # A first discovery OAM does not answer raises nothing there.
    first = _cycle(
        FakeLinks({REGION: frozenset({PAYMENTS.id, SEARCH.id}), OTHER: None}), FakeStore()
    )
    assert first.signals == []


def test_a_member_refused_its_role_has_the_role_alert_only() -> None:
    links = FakeLinks({})

    batch = _cycle(links, FakeStore(), roles={SEARCH.id: DENIED})

    # search: the role's alert in the home region; payments: its two link alerts
    assert sorted(_alerts(batch)) == [
        (PAYMENTS.id, OTHER),
        (PAYMENTS.id, REGION),
        (SEARCH.id, REGION),
    ]
    (role,) = [s for s in batch.signals if s.labels.account == SEARCH.id]
    assert "role" in role.context
    assert "link" not in role.context


def test_no_link_check_without_a_member_reached_by_its_role() -> None:
    links = FakeLinks({})

    batch = _cycle(links, FakeStore(), roles={SANDBOX.id: DENIED}, listed=(MONITORING, SANDBOX))

    assert links.asked == []
    assert _alerts(batch) == [(SANDBOX.id, REGION)]


def test_off_or_without_a_port_nothing_is_asked_and_nothing_changes() -> None:
    links = FakeLinks({})

    off = _cycle(links, FakeStore(), config=OrganizationConfig())
    without = _cycle(None, FakeStore())

    assert links.asked == []
    assert off == _batch()
    assert without.signals == []


def test_stored_members_of_before_links_were_checked_still_read() -> None:
    store = FakeStore()
    store.records = [{"id": PAYMENTS.id, "name": "payments-prod", "connection": "connected"}]

    batch = _cycle(FakeLinks({}), store, discovery=False)

    assert batch.signals == []
    assert MEMBER_KIND in batch.covered_kinds


# The adapter, with botocore's Stubber: the requests and answers of the OAM API Reference.

SINK = f"arn:aws:oam:{REGION}:{ACCOUNT}:sink/f3f42f60-f0f2-425c-1234-a1b2c3d4e5f6"


def _link(account: str, *types: str) -> dict[str, Any]:
    return {
        "LinkArn": f"arn:aws:oam:{REGION}:{account}:link/0123abcd-{account[:4]}",
        "Label": account,
        "ResourceTypes": list(types or ("AWS::CloudWatch::Metric", "AWS::Logs::LogGroup")),
    }


def _stubbed() -> tuple[Any, Stubber]:
    client = boto3.client(
        "oam", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    return client, Stubber(client)


def test_the_adapter_reads_every_page_of_every_sink() -> None:
    client, stub = _stubbed()
    stub.add_response("list_sinks", {"Items": [{"Arn": SINK, "Id": "f3f4", "Name": "vigil"}]}, {})
    stub.add_response(
        "list_attached_links",
        {"Items": [_link(PAYMENTS.id)], "NextToken": "t1"},
        {"SinkIdentifier": SINK},
    )
    stub.add_response(
        "list_attached_links",
        {"Items": [_link(SEARCH.id, "AWS::Logs::LogGroup"), _link(SANDBOX.id)]},
        {"SinkIdentifier": SINK, "NextToken": "t1"},
    )
    stats = CallStats()

    with stub:
        found = OamLinks(lambda region: client, stats).linked(REGION)

    # search's link shares log groups only: its metrics do not reach the sink
    assert found == frozenset({PAYMENTS.id, SANDBOX.id})
    assert stats.by_api == {"ListSinks": 1, "ListAttachedLinks": 2}
    stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 400),
        ("InternalServiceFault", 500),
        ("AccessDeniedException", 403),
    ],
)
def test_the_adapter_answers_unknown_when_oam_does_not_answer(code: str, status: int) -> None:
    client, stub = _stubbed()
    stub.add_response("list_sinks", {"Items": [{"Arn": SINK}]}, {})
    stub.add_client_error(
        "list_attached_links",
        service_error_code=code,
        http_status_code=status,
        expected_params={"SinkIdentifier": SINK},
    )

    with stub:
        assert OamLinks(lambda region: client).linked(REGION) is None


def test_a_link_arn_names_its_source_account() -> None:
    assert link_account(f"arn:aws:oam:{OTHER}:{PAYMENTS.id}:link/abc") == PAYMENTS.id
    assert link_account(SINK) is None
    assert link_account("not an arn") is None
