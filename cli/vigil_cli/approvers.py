"""Who may decide a live failover with ``vigil runbook approve|decline`` (issue 12, ADR 32).

IAM is the guard: deciding needs ``states:SendTaskSuccess`` and write access to the state
table, and nothing here can stop a caller who has both. ``approvers.iam_principals`` is the
policy check on top, with the Slack buttons' semantics: a live failover is decided only by a
listed IAM user or role (an assumed-role session matches its role, see
:func:`vigil.runbook.gate.iam_principal_listed`), nobody while the list is empty; a dry run is
open to anyone; with ``approvers.live_approvals`` 2 the two approvals must come from two
distinct caller ARNs. A refusal is recorded on the gate and announced like a Slack one.

The list is read from the rules config the stack runs with: the last valid document its
functions stored in the state table (``CONFIG#rules`` / ``LAST_GOOD``, vigil.rules.loading).
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

from vigil.adapters.config_store import LastGoodConfig
from vigil.adapters.stats import CallStats
from vigil.rules.document import ApproversConfig, RulesConfig
from vigil.runbook.gate import Approval, iam_principal_listed, require_listed

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def approvers_in_use(client: "DynamoDBClient", table: str) -> ApproversConfig:
    """The ``approvers`` section of the stack's rules config (the defaults if none is stored:
    then nobody may decide a live failover)."""
    stored = LastGoodConfig(client, table, stats=CallStats()).get()
    if stored is None:
        return ApproversConfig()
    return RulesConfig.from_json(stored[0], source="the stack's last good rules config").approvers


def command_authorization(
    caller_arn: str, approvers: ApproversConfig
) -> Callable[[Approval], None]:
    """The check :func:`vigil.runbook.gate.decide` runs for the caller on the pending gate."""
    listed = approvers.iam_principals
    return require_listed(
        caller_arn, lambda arn: iam_principal_listed(arn, listed), configured=bool(listed)
    )
