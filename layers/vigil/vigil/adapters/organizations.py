"""Organization mode's AWS side (ADR 50): the Organization's accounts (AWS Organizations), the
member role assumed in each (STS), and the member inventory kept in the state table.

- :class:`OrganizationTree` walks the tree from the root: ``ListRoots``, then for each parent
  ``ListAccountsForParent`` and ``ListChildren`` (``ORGANIZATIONAL_UNIT``) for the OUs below it,
  every page, so each account comes with its OU path; ``ListTagsForResource`` only when a tag
  filter asks. Any failure becomes :class:`~vigil.accounts.members.OrganizationUnavailable`
  (the stored members stay).
- :class:`MemberRoles` assumes ``arn:<partition>:iam::<id>:role/<role_name>`` with the session
  name ``vigil-<stack>``. AWS refuses a role that is missing or does not trust the caller with
  ``AccessDenied`` (STS ``AssumeRole``, "Errors"): that account is not connected. Throttling,
  5xx and connection errors say nothing about the member: its state is unknown.
- :class:`MemberStore` keeps the members in the state table in parts (pk ``MEMBERS``, sk
  ``part#0000``...) of at most :data:`PART_BYTES`, since an item holds at most 400 KB (about
  2,000 members a part). It reads them with one ``Query`` and never deletes: parts a smaller
  discovery no longer counts are left and ignored.
"""

import json
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from vigil.accounts.members import Check, Connection, ListedAccount, OrganizationUnavailable
from vigil.adapters.paging import counted_pages
from vigil.adapters.stats import CallStats
from vigil.core.clock import iso
from vigil.core.errors import VigilError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sts import STSClient

# No type stubs are installed for the Organizations client; it is typed ``Any``.
OrganizationsClient = Any

# Errors that say the member role cannot be assumed: STS AssumeRole answers AccessDenied for a
# role that does not exist or does not trust the caller; the others are IAM's names for a
# missing role, kept in case STS is fronted by a proxy that passes them through.
REFUSED = frozenset(
    {"AccessDenied", "AccessDeniedException", "NoSuchEntity", "NoSuchEntityException"}
)
PART_BYTES = 300_000
"""A part's records, serialised: under DynamoDB's 400 KB item limit with room for the keys."""
_PK = "MEMBERS"


class OrganizationTree:
    def __init__(self, client: OrganizationsClient, stats: CallStats | None = None) -> None:
        self._client = client
        self.stats = stats or CallStats()

    def _pages(self, api: str, operation: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        return counted_pages(
            self._client.get_paginator(operation).paginate(**kwargs),
            api=api,
            stats=self.stats,
            failed=OrganizationUnavailable,
        )

    def accounts(self) -> list[ListedAccount]:
        """Every account of the Organization with the OUs above it, walked from the root."""
        found: list[ListedAccount] = []
        parents: list[tuple[str, tuple[str, ...]]] = [
            (root["Id"], ())
            for page in self._pages("ListRoots", "list_roots")
            for root in page["Roots"]
        ]
        while parents:
            parent, path = parents.pop()
            for page in self._pages(
                "ListAccountsForParent", "list_accounts_for_parent", ParentId=parent
            ):
                found += [
                    ListedAccount(
                        id=account["Id"],
                        name=account.get("Name", account["Id"]),
                        status=account.get("Status", "ACTIVE"),
                        path=path,
                    )
                    for account in page["Accounts"]
                ]
            for page in self._pages(
                "ListChildren",
                "list_children",
                ParentId=parent,
                ChildType="ORGANIZATIONAL_UNIT",
            ):
                parents += [(child["Id"], (*path, child["Id"])) for child in page["Children"]]
        return sorted(found, key=lambda account: account.id)

    def tags(self, account: str) -> dict[str, str]:
        return {
            tag["Key"]: tag["Value"]
            for page in self._pages(
                "ListTagsForResource", "list_tags_for_resource", ResourceId=account
            )
            for tag in page["Tags"]
        }


class MemberRefused(VigilError):
    """The member role could not be assumed (refused, throttled or unreachable)."""


class MemberRoles:
    def __init__(
        self,
        client: "STSClient",
        *,
        role_name: str,
        stack: str,
        partition: str = "aws",
        stats: CallStats | None = None,
    ) -> None:
        self._client = client
        self._role_name = role_name
        # RoleSessionName: 2 to 64 of [\w+=,.@-]; a stack name is letters, digits and hyphens.
        self._session = f"vigil-{stack}"[:64]
        self._partition = partition
        self.stats = stats or CallStats()

    @property
    def role_name(self) -> str:
        return self._role_name

    def check(self, account: str) -> Check:
        arn = f"arn:{self._partition}:iam::{account}:role/{self._role_name}"
        self.stats.count("AssumeRole")
        try:
            # The shortest session STS allows: the credentials are not used in this slice.
            self._client.assume_role(
                RoleArn=arn, RoleSessionName=self._session, DurationSeconds=900
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            message = f"{code}: {error.get('Message', '')}".strip(": ")
            if code in REFUSED:
                return Check(Connection.NOT_CONNECTED, message)
            self.stats.count("AssumeRoleInconclusive")
            return Check(Connection.UNKNOWN, message)
        except BotoCoreError as exc:
            self.stats.count("AssumeRoleInconclusive")
            return Check(Connection.UNKNOWN, str(exc))
        return Check(Connection.CONNECTED)

    def credentials(self, account: str) -> dict[str, str]:
        """A session of the member role in ``account`` (15 minutes, the shortest STS allows),
        as boto3 takes it; ``MemberRefused`` with STS's answer when it cannot be assumed."""
        arn = f"arn:{self._partition}:iam::{account}:role/{self._role_name}"
        self.stats.count("AssumeRole")
        try:
            found = self._client.assume_role(
                RoleArn=arn, RoleSessionName=self._session, DurationSeconds=900
            )["Credentials"]
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            raise MemberRefused(f"{code}: {error.get('Message', '')}".strip(": ")) from exc
        except BotoCoreError as exc:
            raise MemberRefused(str(exc)) from exc
        return {
            "aws_access_key_id": found["AccessKeyId"],
            "aws_secret_access_key": found["SecretAccessKey"],
            "aws_session_token": found["SessionToken"],
        }


def parts(records: list[dict[str, Any]], limit: int = PART_BYTES) -> list[str]:
    """``records`` as JSON arrays of at most ``limit`` bytes each (one record is far smaller)."""
    chunks: list[str] = []
    current: list[str] = []
    size = 2
    for record in records:
        text = json.dumps(record, separators=(",", ":"), sort_keys=True)
        if current and size + len(text.encode()) + 1 > limit:
            chunks.append("[" + ",".join(current) + "]")
            current, size = [], 2
        current.append(text)
        size += len(text.encode()) + 1
    chunks.append("[" + ",".join(current) + "]")
    return chunks


class MemberStore:
    def __init__(
        self, client: "DynamoDBClient", table: str, stats: CallStats | None = None
    ) -> None:
        self._client = client
        self._table = table
        self.stats = stats or CallStats()

    def _items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": _PK}},
            "ConsistentRead": True,
        }
        while True:
            self.stats.count("Query")
            page = self._client.query(**kwargs)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def members(self) -> list[dict[str, Any]] | None:
        """The members the last discovery stored; ``None`` before any. Parts left over from a
        larger earlier discovery are ignored (the first part says how many there are); parts
        of two discoveries (one interrupted while writing) raise ``ValueError``: discover
        again."""
        items = sorted(self._items(), key=lambda item: item["sk"]["S"])
        if not items:
            return None
        count = int(items[0]["parts"]["N"])
        current = items[:count]
        if len(current) != count or {i["discovered_at"]["S"] for i in current} != {
            items[0]["discovered_at"]["S"]
        }:
            raise ValueError("state table MEMBERS: parts of different discoveries")
        records: list[dict[str, Any]] = []
        for item in current:
            loaded = json.loads(item["records"]["S"])
            if not isinstance(loaded, list):
                raise ValueError("state table MEMBERS: records is not a list")
            records += loaded
        return records

    def remember_members(self, records: list[dict[str, Any]], *, at: datetime) -> None:
        """Write the parts in order, the first last, so that a reader sees the new count only
        once every part it counts is written."""
        chunks = parts(records)
        for index in reversed(range(len(chunks))):
            self.stats.count("PutItem")
            self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": _PK},
                    "sk": {"S": f"part#{index:04d}"},
                    "records": {"S": chunks[index]},
                    "parts": {"N": str(len(chunks))},
                    "discovered_at": {"S": iso(at)},
                },
            )
