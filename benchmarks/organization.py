"""What Organization mode's discovery costs per number of member accounts, measured on moto.

An Organization of N member accounts spread over 10 OUs under the root (moto's Organizations),
the state table as the template defines it, and the collector's own adapters
(``vigil.adapters.organizations``: the tree walk, the role check, the member store) driven by
``vigil.accounts.members.AccountInventory`` as the collector drives it:

- ``discovery``: the hourly walk of the tree, the ``sts:AssumeRole`` check of every member and
  the members written to the state table;
- ``discovery_tags``: the same with a tag filter in ``organization.include`` (one
  ``ListTagsForResource`` per account: the only per-account Organizations call);
- ``cycle``: an ordinary collection cycle between discoveries, which reads the stored members
  back.

Per case: the AWS requests by API (moto pages ``ListAccountsForParent`` and ``ListChildren`` as
AWS does, 20 a page by default), the DynamoDB items written and their bytes, and the monthly
count at the default schedule (a discovery an hour, a cycle every 5 minutes). Collecting the
members' metrics is not built yet (ADR 50); this measures what is.

    .venv/bin/python benchmarks/organization.py [--accounts 50,200] [--json]

Counts are exact for moto's paging; AWS's pages may hold more.
"""

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "layers", "vigil")]

from benchmarks.moto_stack import ACCOUNT, BENCH_ENV, TABLE, create_state_table  # noqa: E402

if __name__ == "__main__":
    os.environ.update(BENCH_ENV)

from unittest import mock  # noqa: E402

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from vigil.accounts.members import AccountInventory  # noqa: E402
from vigil.adapters.organizations import (  # noqa: E402
    MemberRoles,
    MemberStore,
    OrganizationTree,
    parts,
)
from vigil.adapters.stats import CallStats  # noqa: E402
from vigil.rules.organization import OrganizationConfig  # noqa: E402

OUS = 10
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
DISCOVERIES_A_MONTH = 24 * 30
CYCLES_A_MONTH = 12 * 24 * 30


def _organization(accounts: int) -> None:
    client = boto3.client("organizations")
    client.create_organization(FeatureSet="ALL")
    root = client.list_roots()["Roots"][0]["Id"]
    ous = [
        client.create_organizational_unit(ParentId=root, Name=f"ou-{i}")["OrganizationalUnit"]["Id"]
        for i in range(OUS)
    ]
    for index in range(accounts):
        created = client.create_account(
            AccountName=f"member-{index:04d}",
            Email=f"member-{index:04d}@example.com",
            Tags=[{"Key": "vigil", "Value": "watch"}],
        )["CreateAccountStatus"]
        client.move_account(
            AccountId=created["AccountId"],
            SourceParentId=root,
            DestinationParentId=ous[index % OUS],
        )


def _inventory(config: OrganizationConfig, stats: CallStats, *, discovery: bool) -> int:
    inventory = AccountInventory(
        config,
        OrganizationTree(boto3.client("organizations"), stats=stats),
        MemberRoles(boto3.client("sts"), role_name=config.role_name, stack="bench", stats=stats),
        MemberStore(boto3.client("dynamodb"), TABLE, stats=stats),
        account=ACCOUNT,
        region="us-east-1",
        discovery=discovery,
        now=NOW,
    )
    members = inventory.members()
    return len(members or [])


def measure(accounts: int) -> dict[str, Any]:
    """The three cases for an Organization of ``accounts`` members."""
    plain = OrganizationConfig(enabled=True)
    tagged = OrganizationConfig.model_validate(
        {"enabled": True, "include": {"tags": [{"key": "vigil", "values": ["watch"]}]}}
    )
    result: dict[str, Any] = {"accounts": accounts}
    with mock.patch.dict(os.environ, BENCH_ENV), mock_aws():
        boto3.setup_default_session()  # in the benchmark's region, whatever ran before
        create_state_table()
        _organization(accounts)
        for case, config, discovery in (
            ("discovery_tags", tagged, True),
            # last, so that the cycle reads back what the plain discovery stored
            ("discovery", plain, True),
            ("cycle", plain, False),
        ):
            stats = CallStats()
            members = _inventory(config, stats, discovery=discovery)
            result[case] = {"members": members, "requests": stats.calls, "by_api": stats.by_api}
        stored = MemberStore(boto3.client("dynamodb"), TABLE).members() or []
        chunks = parts(stored)
        result["stored"] = {"items": len(chunks), "bytes": sum(len(c.encode()) for c in chunks)}
    result["month"] = {
        "discovery_requests": result["discovery"]["requests"] * DISCOVERIES_A_MONTH,
        "cycle_requests": result["cycle"]["requests"] * (CYCLES_A_MONTH - DISCOVERIES_A_MONTH),
    }
    return result


def _table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| Accounts | Discovery requests | of which AssumeRole | With a tag filter | Cycle "
        "requests | Stored items / bytes | Requests a month |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        month = r["month"]["discovery_requests"] + r["month"]["cycle_requests"]
        lines.append(
            f"| {r['accounts']:,} | {r['discovery']['requests']:,}"
            f" | {r['discovery']['by_api'].get('AssumeRole', 0):,}"
            f" | {r['discovery_tags']['requests']:,} | {r['cycle']['requests']:,}"
            f" | {r['stored']['items']} / {r['stored']['bytes']:,} | {month:,} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", default="50,200", help="comma-separated member counts")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    results = [measure(int(n)) for n in args.accounts.split(",")]
    print(json.dumps(results, indent=2) if args.json else _table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
