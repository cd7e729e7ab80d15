"""Organization mode's member inventory (docs/rules.md, ``organization``; ADR 50): which accounts
are chosen, what a role check that cannot tell keeps, the "member not connected" signal, and
the ``account_name`` label routes and silences match on.

Account ids, OU ids (``ou-<root suffix>-<8 to 32>``) and the ``ACTIVE``/``SUSPENDED`` statuses
are as AWS Organizations' API reference writes them (``Account``, ``OrganizationalUnit``).
"""

from datetime import timedelta
from typing import Any

import pytest

from tests.factories import ACCOUNT, REGION, T0, error_signal
from vigil.accounts.members import (
    AccountInventory,
    Check,
    Connection,
    ListedAccount,
    MemberNames,
    OrganizationUnavailable,
    UngrantedRole,
    choose,
    named_batch,
)
from vigil.alerting.lifecycle import step
from vigil.alerting.silences import new_silence
from vigil.core.errors import ConfigError
from vigil.core.model import SignalBatch
from vigil.rules.document import RulesConfig
from vigil.rules.kinds import judge
from vigil.rules.organization import MEMBER_KIND, OrganizationConfig
from vigil.rules.routing import destinations, label_values

PROD_OU = "ou-ab12-prod0001"
PAYMENTS_OU = "ou-ab12-paym0001"
SANDBOX_OU = "ou-ab12-sand0001"
PAYMENTS = ListedAccount("111111111111", "payments-prod", "ACTIVE", (PROD_OU, PAYMENTS_OU))
SEARCH = ListedAccount("222222222222", "search-prod", "ACTIVE", (PROD_OU,))
SANDBOX = ListedAccount("333333333333", "sandbox", "ACTIVE", (SANDBOX_OU,))
CLOSED = ListedAccount("444444444444", "closed", "SUSPENDED", (PROD_OU,))
MONITORING = ListedAccount(ACCOUNT, "monitoring", "ACTIVE", ())
TAGS = {SANDBOX.id: {"env": "sandbox"}, PAYMENTS.id: {"team": "payments"}}


class FakeOrganization:
    def __init__(self, listed: list[ListedAccount], *, fails: bool = False) -> None:
        self.listed = listed
        self.fails = fails
        self.tag_reads: list[str] = []

    def accounts(self) -> list[ListedAccount]:
        if self.fails:
            raise OrganizationUnavailable("ListChildren failed: TooManyRequestsException")
        return self.listed

    def tags(self, account: str) -> dict[str, str]:
        self.tag_reads.append(account)
        return TAGS.get(account, {})


class FakeRoles:
    role_name = "vigil-member"

    def __init__(self, answers: dict[str, Check]) -> None:
        self.answers = answers
        self.assumed: list[str] = []

    def check(self, account: str) -> Check:
        self.assumed.append(account)
        return self.answers.get(account, Check(Connection.CONNECTED))


class FakeStore:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] | None = None
        self.writes = 0

    def members(self) -> list[dict[str, Any]] | None:
        return self.records

    def remember_members(self, records: list[dict[str, Any]], *, at: Any) -> None:
        self.records = records
        self.writes += 1


def _config(**fields: Any) -> OrganizationConfig:
    return OrganizationConfig.model_validate({"enabled": True, **fields})


def _inventory(
    config: OrganizationConfig,
    organization: FakeOrganization,
    roles: Any,
    store: FakeStore,
    *,
    discovery: bool = True,
) -> AccountInventory:
    return AccountInventory(
        config,
        organization,
        roles,
        store,
        account=ACCOUNT,
        region=REGION,
        discovery=discovery,
        now=T0,
    )


def _batch(*signals: Any) -> SignalBatch:
    return SignalBatch(
        batch_id="b1",
        source="metrics",
        collected_at=T0,
        covered_kinds=["lambda.errors"],
        signals=list(signals),
    )


DENIED = Check(
    Connection.NOT_CONNECTED,
    "AccessDenied: User: arn:aws:sts::123456789012:assumed-role/vigil-collect/x is not"
    " authorized to perform: sts:AssumeRole on resource: arn:aws:iam::333333333333:role/"
    "vigil-member",
)


def test_the_section_is_off_by_default_with_the_member_template_role_name() -> None:
    config = RulesConfig().organization

    assert (config.enabled, config.role_name) == (False, "vigil-member")
    assert config.chooses(SANDBOX.id, SANDBOX.path, {})


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ('{"organization": {"include": {"ous": ["ou-bad"]}}}', "organization.include.ous.0"),
        (
            '{"organization": {"exclude": {"accounts": ["12345"]}}}',
            "organization.exclude.accounts.0",
        ),
        ('{"organization": {"role_name": "vigil member"}}', "organization.role_name"),
        (
            '{"organization": {"include": {"tags": [{"key": ""}]}}}',
            "organization.include.tags.0.key",
        ),
        (
            '{"organization": {"include": {"accounts": ["111111111111"]},'
            ' "exclude": {"accounts": ["111111111111"]}}}',
            "account 111111111111 is both included and excluded",
        ),
    ],
)
def test_an_invalid_section_names_the_field(document: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        RulesConfig.from_json(document)


def test_include_by_ou_reaches_nested_ous_and_exclude_by_account_wins() -> None:
    config = _config(include={"ous": [PROD_OU]}, exclude={"accounts": [SEARCH.id]})
    organization = FakeOrganization([PAYMENTS, SEARCH, SANDBOX, CLOSED])

    chosen = choose(organization.listed, config, organization.tags)

    # PAYMENTS sits in an OU below PROD_OU; CLOSED is not ACTIVE.
    assert [account.name for account in chosen] == ["payments-prod"]
    assert organization.tag_reads == []  # no tag filter: no ListTagsForResource


def test_tags_are_read_only_when_a_tag_filter_is_set() -> None:
    config = _config(exclude={"tags": [{"key": "env", "values": ["sandbox"]}]})
    organization = FakeOrganization([PAYMENTS, SEARCH, SANDBOX, CLOSED])

    chosen = choose(organization.listed, config, organization.tags)

    assert [account.name for account in chosen] == ["payments-prod", "search-prod"]
    # Read for the active accounts only.
    assert organization.tag_reads == [PAYMENTS.id, SEARCH.id, SANDBOX.id]


def test_a_refused_member_gives_one_signal_naming_it_and_what_to_fix() -> None:
    store = FakeStore()
    roles = FakeRoles({SANDBOX.id: DENIED})
    inventory = _inventory(
        _config(), FakeOrganization([MONITORING, PAYMENTS, SANDBOX]), roles, store
    )

    batch = inventory.signals(_batch())

    # The stack's own account is watched directly and never assumed.
    assert roles.assumed == [PAYMENTS.id, SANDBOX.id]
    assert MEMBER_KIND in batch.covered_kinds
    (signal,) = batch.signals
    assert (signal.labels.kind, signal.labels.resource, signal.labels.account) == (
        MEMBER_KIND,
        SANDBOX.id,
        SANDBOX.id,
    )
    assert signal.tags == {"account_name": "sandbox"}
    found = judge(signal, RulesConfig())
    assert found is not None
    summary = found.evidence.summary
    assert summary.startswith("Member account sandbox (333333333333) is not connected")
    assert "role/vigil-member" in summary
    assert "AccessDenied" in summary
    assert "Deploy the member StackSet" in summary
    assert "Watch an Organization" in summary
    assert inventory.counts.summary() == {
        "listed": 3,
        "chosen": 3,
        "connected": 2,
        "not_connected": 1,
        "unknown": 0,
        "listing_failed": False,
        "unlinked": 0,
        "links_unanswered": 0,
    }


def test_ordinary_cycles_read_the_stored_members_and_keep_speaking() -> None:
    store = FakeStore()
    _inventory(
        _config(), FakeOrganization([SANDBOX]), FakeRoles({SANDBOX.id: DENIED}), store
    ).signals(_batch())
    roles = FakeRoles({})
    organization = FakeOrganization([SANDBOX], fails=True)

    batch = _inventory(_config(), organization, roles, store, discovery=False).signals(_batch())

    # Same signal each cycle (one alert, stepped by the lifecycle), with no AWS call.
    assert [s.labels.resource for s in batch.signals] == [SANDBOX.id]
    assert roles.assumed == []
    assert store.writes == 1


def test_the_member_resolves_once_a_discovery_assumes_its_role() -> None:
    store = FakeStore()
    _inventory(
        _config(), FakeOrganization([SANDBOX]), FakeRoles({SANDBOX.id: DENIED}), store
    ).signals(_batch())

    batch = _inventory(_config(), FakeOrganization([SANDBOX]), FakeRoles({}), store).signals(
        _batch()
    )

    # Covered without a signal: the active alert of that account resolves.
    assert batch.signals == []
    assert MEMBER_KIND in batch.covered_kinds


def test_a_throttled_check_keeps_the_last_known_state() -> None:
    store = FakeStore()
    _inventory(
        _config(), FakeOrganization([SANDBOX]), FakeRoles({SANDBOX.id: DENIED}), store
    ).signals(_batch())
    throttled = Check(Connection.UNKNOWN, "Throttling: Rate exceeded")

    batch = _inventory(
        _config(), FakeOrganization([SANDBOX]), FakeRoles({SANDBOX.id: throttled}), store
    ).signals(_batch())

    assert [s.context["problem"] for s in batch.signals] == [DENIED.problem]
    # A first check that cannot tell raises nothing.
    fresh = FakeStore()
    first = _inventory(
        _config(), FakeOrganization([SANDBOX]), FakeRoles({SANDBOX.id: throttled}), fresh
    ).signals(_batch())
    assert first.signals == []
    assert fresh.records == [
        {
            "id": SANDBOX.id,
            "name": "sandbox",
            "ou": SANDBOX_OU,
            "connection": "unknown",
            "problem": "Throttling: Rate exceeded",
            "unlinked": [],
        }
    ]


def test_organizations_not_answering_keeps_the_stored_members_or_says_nothing() -> None:
    store = FakeStore()
    failing = FakeOrganization([SANDBOX], fails=True)

    first = _inventory(_config(), failing, FakeRoles({}), store)
    batch = first.signals(_batch())

    # No member known yet: the kind is not covered, so no alert resolves on no news.
    assert MEMBER_KIND not in batch.covered_kinds
    assert first.counts.listing_failed
    _inventory(
        _config(), FakeOrganization([SANDBOX]), FakeRoles({SANDBOX.id: DENIED}), store
    ).signals(_batch())
    kept = _inventory(_config(), failing, FakeRoles({}), store).signals(_batch())
    assert [s.labels.resource for s in kept.signals] == [SANDBOX.id]


def test_off_it_neither_lists_nor_speaks() -> None:
    organization = FakeOrganization([SANDBOX], fails=True)
    batch = _batch(error_signal("orders-api", invocations=100, errors=5))

    out = _inventory(OrganizationConfig(), organization, FakeRoles({}), FakeStore()).signals(batch)

    assert out == batch


def test_a_role_name_the_stack_may_not_assume_names_both_settings() -> None:
    check = UngrantedRole(role_name="ops-reader", granted="vigil-member").check(SANDBOX.id)

    assert check.connection is Connection.NOT_CONNECTED
    assert "organization.role_name is ops-reader" in (check.problem or "")
    assert "MemberRoleName parameter is vigil-member" in (check.problem or "")


def _member_signal() -> Any:
    signal = error_signal("charge-api", invocations=100, errors=5)
    return signal.model_copy(
        update={"labels": signal.labels.model_copy(update={"account": PAYMENTS.id})}
    )


def test_a_members_alerts_carry_its_name_and_route_and_silence_by_it() -> None:
    # The example of docs/rules.md, "Organization mode": a route and a silence by account name.
    rules = RulesConfig.from_json(
        """{"routing": {"receivers": [{"name": "default", "email": true},
                                       {"name": "payments", "email": true}],
                        "route": {"receivers": ["default"],
                                  "routes": [{"matchers": ["account_name=\\"payments-prod\\""],
                                              "receivers": ["payments"]}]}}}"""
    )
    store = FakeStore()
    own = error_signal("orders-api", invocations=100, errors=5)
    batch = _inventory(
        _config(), FakeOrganization([MONITORING, PAYMENTS]), FakeRoles({}), store
    ).signals(_batch(_member_signal(), own))

    member, mine = batch.signals
    assert member.tags == {"account_name": "payments-prod"}
    assert mine.tags == {"account_name": "monitoring"}
    found = judge(member, rules)
    assert found is not None
    # The alert keeps the label though tags.labels allowlists no tag (the lifecycle's filter).
    alert = step(None, found, now=T0, batch_id="b1", rules=rules).after
    assert alert is not None
    assert alert.tags == {"account_name": "payments-prod"}
    values = label_values(alert.labels, alert.severity, alert.tags)
    routed = destinations(rules.routing, values, repeat_interval=timedelta(hours=4))
    assert [d.receivers for d in routed] == [("payments",)]
    silence = new_silence(
        "s0000001",
        matchers=['account_name="payments-prod"'],
        starts_at=T0,
        duration=timedelta(hours=1),
        now=T0,
        created_by="test",
    )
    assert silence.mutes(values, T0)
    assert not silence.mutes(label_values(mine.labels, found.severity, mine.tags), T0)


def test_a_tag_label_the_resource_already_carries_is_kept() -> None:
    tagged = _member_signal().model_copy(update={"tags": {"account_name": "from-a-tag"}})

    batch = _inventory(_config(), FakeOrganization([PAYMENTS]), FakeRoles({}), FakeStore()).signals(
        _batch(tagged)
    )

    assert batch.signals[0].tags == {"account_name": "from-a-tag"}


def test_evaluate_names_the_members_of_batches_other_collectors_made() -> None:
    store = FakeStore()
    _inventory(_config(), FakeOrganization([PAYMENTS]), FakeRoles({}), store).signals(_batch())
    alarm = _member_signal().model_copy(update={"source": "alarms"})
    batch = _batch(alarm).model_copy(update={"source": "alarms"})

    assert named_batch(batch, MemberNames(store)).signals[0].tags == {
        "account_name": "payments-prod"
    }
    store.records = [{"name": "no id"}]
    assert named_batch(batch, MemberNames(store)) == batch
