"""Organization mode's adapters (ADR 50): the tree walk on moto's Organizations, the member
role check on botocore's Stubber (moto's ``AssumeRole`` accepts any role, existing or not, so
AWS's refusal is played from the error AWS documents: STS ``AssumeRole``, "Errors",
``AccessDenied``), and the member store in parts on moto's DynamoDB."""

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.factories import ACCOUNT, T0
from vigil.accounts.members import Connection, OrganizationUnavailable, UngrantedRole
from vigil.adapters.organizations import (
    MemberRoles,
    MemberStore,
    OrganizationTree,
    parts,
)
from vigil.adapters.stats import CallStats
from vigil.compose.collect_metrics import Environment, member_roles
from vigil.compose.settings import CollectorSettings
from vigil.rules.document import RulesConfig


def _account(client: Any, name: str, parent: str, root: str) -> str:
    created = client.create_account(AccountName=name, Email=f"{name}@example.com")
    account = created["CreateAccountStatus"]["AccountId"]
    client.move_account(AccountId=account, SourceParentId=root, DestinationParentId=parent)
    return account


def test_the_tree_is_walked_from_the_root_with_each_accounts_ou_path(aws: None) -> None:
    client = boto3.client("organizations")
    client.create_organization(FeatureSet="ALL")
    root = client.list_roots()["Roots"][0]["Id"]
    prod = client.create_organizational_unit(ParentId=root, Name="prod")["OrganizationalUnit"]
    payments = client.create_organizational_unit(ParentId=prod["Id"], Name="payments")[
        "OrganizationalUnit"
    ]
    paying = _account(client, "payments-prod", payments["Id"], root)
    searching = _account(client, "search-prod", prod["Id"], root)
    client.tag_resource(ResourceId=paying, Tags=[{"Key": "team", "Value": "payments"}])
    stats = CallStats()
    tree = OrganizationTree(client, stats)

    listed = {account.name: account for account in tree.accounts()}

    assert listed["payments-prod"].path == (prod["Id"], payments["Id"])
    assert listed["payments-prod"].ou == payments["Id"]
    assert listed["search-prod"].path == (prod["Id"],)
    assert listed["search-prod"].id == searching
    # The management account moto creates sits at the root.
    assert [a.path for a in listed.values() if a.name not in {"payments-prod", "search-prod"}] == [
        ()
    ]
    assert {account.status for account in listed.values()} == {"ACTIVE"}
    assert tree.tags(paying) == {"team": "payments"}
    # One page each: the root, three parents' accounts and OUs, one tag read.
    assert stats.by_api == {
        "ListRoots": 1,
        "ListAccountsForParent": 3,
        "ListChildren": 3,
        "ListTagsForResource": 1,
    }


def test_every_page_is_read_and_a_throttle_keeps_the_inventory() -> None:
    client = boto3.client("organizations", region_name="us-east-1")
    tree = OrganizationTree(client)
    account = {"Id": "111111111111", "Name": "a", "Status": "ACTIVE"}
    with Stubber(client) as stubber:
        stubber.add_response("list_roots", {"Roots": [{"Id": "r-ab12"}]})
        stubber.add_response(
            "list_accounts_for_parent",
            {"Accounts": [account], "NextToken": "2"},
            {"ParentId": "r-ab12"},
        )
        stubber.add_response(
            "list_accounts_for_parent",
            {"Accounts": [{**account, "Id": "222222222222", "Name": "b"}]},
            {"ParentId": "r-ab12", "NextToken": "2"},
        )
        stubber.add_response(
            "list_children",
            {"Children": []},
            {"ParentId": "r-ab12", "ChildType": "ORGANIZATIONAL_UNIT"},
        )
        assert [a.name for a in tree.accounts()] == ["a", "b"]
        stubber.add_response("list_roots", {"Roots": [{"Id": "r-ab12"}]})
        # Organizations' throttle (API reference, "Common errors"): TooManyRequestsException.
        stubber.add_client_error(
            "list_accounts_for_parent", "TooManyRequestsException", http_status_code=400
        )
        with pytest.raises(OrganizationUnavailable, match="ListAccountsForParent"):
            tree.accounts()


@pytest.mark.parametrize(
    ("code", "status", "connection"),
    [
        # A role that does not exist or does not trust the caller.
        ("AccessDenied", 403, Connection.NOT_CONNECTED),
        # Throttled or failing: says nothing of the member.
        ("Throttling", 400, Connection.UNKNOWN),
        ("InternalFailure", 500, Connection.UNKNOWN),
    ],
)
def test_the_role_check_tells_a_refusal_from_an_sts_that_cannot_answer(
    code: str, status: int, connection: Connection
) -> None:
    client = boto3.client("sts", region_name="us-east-1")
    stats = CallStats()
    roles = MemberRoles(client, role_name="vigil-member", stack="vigil", stats=stats)
    expected = {
        "RoleArn": "arn:aws:iam::333333333333:role/vigil-member",
        "RoleSessionName": "vigil-vigil",
        "DurationSeconds": 900,
    }
    with Stubber(client) as stubber:
        stubber.add_client_error(
            "assume_role", code, "no", http_status_code=status, expected_params=expected
        )
        check = roles.check("333333333333")

    assert check.connection is connection
    assert check.problem == f"{code}: no"


def test_an_assumed_role_is_connected(aws: None) -> None:
    roles = MemberRoles(boto3.client("sts"), role_name="vigil-member", stack="vigil")

    assert roles.check("333333333333").connection is Connection.CONNECTED


def test_members_are_stored_in_parts_and_read_back_whole(table: str) -> None:
    client = boto3.client("dynamodb")
    stats = CallStats()
    store = MemberStore(client, table, stats)
    members = [
        {"id": f"{n:012d}", "name": f"account-{n}", "ou": "ou-ab12-prod0001"} for n in range(5000)
    ]

    assert store.members() is None
    store.remember_members(members, at=T0)

    assert store.members() == members
    written = stats.by_api["PutItem"]
    assert written == len(parts(members)) > 1
    # A smaller discovery later: the parts it no longer counts are ignored.
    store.remember_members(members[:3], at=T0.replace(hour=10))
    assert store.members() == members[:3]


def test_parts_of_two_discoveries_are_refused(table: str) -> None:
    client = boto3.client("dynamodb")
    store = MemberStore(client, table)
    store.remember_members([{"id": "1"}] * 30_000, at=T0)
    client.put_item(
        TableName=table,
        Item={
            "pk": {"S": "MEMBERS"},
            "sk": {"S": "part#0001"},
            "records": {"S": "[]"},
            "parts": {"N": "9"},
            "discovered_at": {"S": "2026-11-02T10:00:00Z"},
        },
    )

    with pytest.raises(ValueError, match="parts of different discoveries"):
        store.members()


def test_a_part_stays_under_the_item_limit() -> None:
    records = [{"id": f"{n:012d}", "name": "x" * 50} for n in range(20_000)]

    chunks = parts(records)

    assert all(len(chunk.encode()) <= 300_000 for chunk in chunks)
    assert sum(chunk.count('"id"') for chunk in chunks) == 20_000


EVALUATE_ARN = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:vigil-evaluate"


def test_a_rules_config_naming_another_role_than_the_grant_assumes_nothing() -> None:
    settings = CollectorSettings.from_env(
        {
            "AWS_REGION": "us-east-1",
            "VIGIL_STACK_NAME": "vigil",
            "VIGIL_TABLE_NAME": "vigil-state",
            "VIGIL_EVALUATE_STATE_MACHINE_ARN": EVALUATE_ARN,
            "VIGIL_BATCH_BUCKET": "vigil-batches",
            "VIGIL_MEMBER_ROLE_NAME": "vigil-member",
        }
    )
    rules = RulesConfig.from_json('{"organization": {"enabled": true, "role_name": "ops-reader"}}')
    sts = boto3.client("sts", region_name="us-east-1")
    granted = Environment(settings=settings, rules=RulesConfig(), clients={"sts": sts})
    ungranted = Environment(settings=settings, rules=rules, clients={"sts": sts})

    assert isinstance(member_roles(granted, CallStats()), MemberRoles)
    roles = member_roles(ungranted, CallStats())
    assert isinstance(roles, UngrantedRole)
    assert roles.role_name == "ops-reader"
