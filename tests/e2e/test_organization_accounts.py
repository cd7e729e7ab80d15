"""Organization mode's member accounts through the real template (issue 17, item 1; ADR 50).

An Organization of the monitoring account and three members (moto's Organizations:
``create_organization`` and ``create_account``): ``payments-prod`` and ``search-prod`` have the
member template (its role ``vigil-member`` and its OAM link to the stack's sink, deployed
through each account's StackSet execution role, ``emulator.organization``); ``sandbox`` does
not. The emulator plays AWS's ``AccessDenied`` for a member role that does not
exist (``emulator/member_roles.py``). The rules config turns the mode on, discovers every
cycle, reads account tags (an exclude filter no account matches) and routes by the account's
name: ``account_name="sandbox"`` goes to the sandbox owners' Slack.

The sandbox's "member not connected" alert fires once, naming the account and what to fix; the
member template is then deployed there and the next discovery resolves it.
"""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from emulator import Emulator
from emulator.organization import deploy_member_template, stackset_session
from tests.e2e.scenario_runs import ALERT_EMAIL, collector_cycles

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.allow_hosts(["127.0.0.1"]),
    # STS's model has no AccessDenied shape (AWS sends it as a generic error): moto says so.
    pytest.mark.filterwarnings("ignore:Exception\\(_AccessDenied\\):UserWarning"),
]

MEMBERS = ("payments-prod", "search-prod", "sandbox")
ORGANIZATION_ID = "o-a1b2c3d4e5"
RULES = {
    "outage": {"enabled": False},
    "collection": {"discovery_minutes": 5},
    "organization": {
        "enabled": True,
        "exclude": {"tags": [{"key": "vigil", "values": ["ignore"]}]},
    },
    "routing": {
        "receivers": [
            {"name": "default", "email": True, "slack": "webhook_url"},
            {"name": "sandbox-owners", "slack": "sandbox_url"},
        ],
        "route": {
            "receivers": ["default"],
            "group_by": ["..."],
            "group_wait": "0s",
            "routes": [{"matchers": ['account_name="sandbox"'], "receivers": ["sandbox-owners"]}],
        },
    },
}


def _scenario(directory: Path) -> Path:
    document = {
        "name": "organization-accounts",
        "description": "Three member accounts, one without the member role, fixed at 20m.",
        "start": "2026-12-07T09:00:00Z",
        "duration": "35m",
        "cycle": "rate(5 minutes)",
        "parameters": {"RulesConfig": RULES},
    }
    path = directory / "organization-accounts.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _organization() -> dict[str, str]:
    """The three members, by name: their account ids."""
    organizations = boto3.client("organizations")
    organizations.create_organization(FeatureSet="ALL")
    root = organizations.list_roots()["Roots"][0]["Id"]
    workloads = organizations.create_organizational_unit(ParentId=root, Name="workloads")
    ou = workloads["OrganizationalUnit"]["Id"]
    ids = {}
    for name in MEMBERS:
        created = organizations.create_account(AccountName=name, Email=f"{name}@example.com")
        account = created["CreateAccountStatus"]["AccountId"]
        organizations.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ou)
        ids[name] = account
    return ids


def _deploy_member_template(emu: Emulator, account: str) -> None:
    """The member template in ``account``, as the StackSet deploys it: the role and the link."""
    deployment = emu.deployment
    deploy_member_template(
        stackset_session(account, deployment.region),
        monitoring_account=deployment.account_id,
        organization_id=ORGANIZATION_ID,
        sink_arn=deployment.outputs["OamSinkArn"],
        stack_name=deployment.stack_name,
        role_region=deployment.region,
    )


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Emulator, dict[str, Any]]]:
    scenario = _scenario(tmp_path_factory.mktemp("scenario"))
    with Emulator.start(
        scenario=scenario,
        parameters={"AlertEmail": ALERT_EMAIL, "OrganizationId": ORGANIZATION_ID},
    ) as emu:
        emu.set_chat_secret(
            {
                "webhook_url": emu.slack.webhook_url,
                "sandbox_url": emu.slack.base_url + "/sandbox",
            }
        )
        ids = _organization()
        _deploy_member_template(emu, ids["payments-prod"])
        _deploy_member_template(emu, ids["search-prod"])
        emu.play(until=emu.now + timedelta(minutes=20))
        before = {
            "sandbox_posts": [p.payload for p in emu.slack.posts if p.path == "/sandbox"],
            "other_posts": [p.payload for p in emu.slack.posts if p.path != "/sandbox"],
            "emails": [email.subject for email in emu.mailbox.emails],
        }
        _deploy_member_template(emu, ids["sandbox"])
        emu.play()
        yield emu, {"ids": ids, **before}


def _text(payload: dict[str, Any]) -> str:
    return str(payload)


def test_the_member_without_the_role_raises_one_alert_naming_it(
    played: tuple[Emulator, dict[str, Any]],
) -> None:
    _, seen = played
    sandbox = seen["ids"]["sandbox"]

    # One alert for the account over four cycles that each saw it refused, routed by its name.
    assert [p["text"] for p in seen["sandbox_posts"]] == [
        f"[WARNING] Member account not connected firing: {sandbox}"
    ]
    body = _text(seen["sandbox_posts"][0])
    assert "Member account sandbox" in body
    assert "role/vigil-member cannot be assumed" in body
    assert "AccessDenied" in body
    assert "Deploy the member StackSet to its OU or account" in body
    # The connected members raise nothing; nothing went to the default receiver.
    assert seen["other_posts"] == []
    assert seen["emails"] == []


def test_creating_the_role_resolves_it(played: tuple[Emulator, dict[str, Any]]) -> None:
    emu, seen = played
    sandbox = seen["ids"]["sandbox"]

    posts = [p.payload["text"] for p in emu.slack.posts if p.path == "/sandbox"]

    assert posts == [
        f"[WARNING] Member account not connected firing: {sandbox}",
        f"[RESOLVED] Member account not connected resolved: {sandbox}",
    ]
    assert emu.failures == []


def test_each_discovery_walked_the_organization_and_assumed_each_member_once(
    played: tuple[Emulator, dict[str, Any]],
) -> None:
    emu, _ = played
    cycles = collector_cycles(emu)

    discovered = [cycle for cycle in cycles if cycle["members"]["chosen"]]
    assert discovered
    for cycle in discovered:
        calls = cycle["api_calls"]
        # The root, and the workloads OU: accounts and child OUs of each.
        assert calls["ListRoots"] == 1
        assert calls["ListAccountsForParent"] == 2
        assert calls["ListChildren"] == 2
        # The monitoring account is watched directly: three members assumed, four tag reads.
        assert calls["AssumeRole"] == 3
        assert calls["ListTagsForResource"] == 4
        assert cycle["members"]["chosen"] == 4
