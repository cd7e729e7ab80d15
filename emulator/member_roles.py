"""AWS's refusal of a member role that does not exist, played on moto's STS.

moto's ``AssumeRole`` gives credentials for any role ARN, existing or not (its docstring: "the
role does not need to exist"). AWS refuses a role that is missing or does not trust the caller
with ``AccessDenied`` (STS API reference, ``AssumeRole``, "Errors"). While :func:`installed` is
active, an ``AssumeRole`` of a role named in ``names`` (Organization mode's member role,
``vigil-member`` by default) is refused that way unless the role exists in its account's moto
IAM; every other role is assumed as moto does. A test connects a member by creating the role
in that account's IAM, and disconnects it by deleting it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from unittest.mock import patch

from moto.iam.models import iam_backends
from moto.sts.exceptions import STSClientError
from moto.sts.models import STSBackend

MEMBER_ROLE = "vigil-member"


class _AccessDenied(STSClientError):
    code = "AccessDenied"


def _exists(role_arn: str) -> bool:
    parts = role_arn.split(":")
    partition, account, resource = parts[1], parts[4], parts[5]
    name = resource.split("/")[-1]
    return any(role.name == name for role in iam_backends[account][partition].get_roles())


@contextlib.contextmanager
def installed(names: frozenset[str] = frozenset({MEMBER_ROLE})) -> Iterator[None]:
    original = STSBackend.assume_role

    def assume_role(self: STSBackend, **kwargs: Any) -> Any:
        role_arn = str(kwargs["role_arn"])
        if role_arn.rsplit("/", 1)[-1] in names and not _exists(role_arn):
            raise _AccessDenied(
                "AccessDenied",
                f"User is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
            )
        return original(self, **kwargs)

    with patch.object(STSBackend, "assume_role", assume_role):
        yield
