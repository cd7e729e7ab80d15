"""Slack through a bot token (slack_sdk's ``WebClient``), and where group threads are kept.

``chat.postMessage`` opens a thread (or replies in one with ``thread_ts``) and answers the
message's ``ts``; ``chat.update`` edits a message by ``channel`` and ``ts``. The bot must be
a member of the channel and have the ``chat:write`` scope. Connection errors, 429 answers
(after their ``Retry-After``) and 5xx answers are retried as for webhooks; Slack's own
refusals (``ok: false``) raise ``ChatDeliveryError`` naming the method and the error, so the
event ends in the chat dead-letter queue after Lambda's retries; those that refuse the token or
the channel for good (``REFUSED``, from the ``chat.postMessage`` errors at
api.slack.com/methods/chat.postMessage) raise ``ChatDestinationRefused``, as no retry can help,
and ``message_not_found`` raises ``ChatMessageGone``.

``api_url`` is Slack's Web API (``https://slack.com/api/``) unless the chat secret names
another Slack-compatible endpoint (``slack_api_url``), as the local emulator does.

:class:`SlackUserGroups` reads who is in a user group for the Slack endpoint's approvers
(``usergroups.users.list``, scope ``usergroups:read``, rate tier 2: 20 a minute): one attempt
with a short timeout, the answer cached for a few minutes on the request's own time.
"""

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from vigil.adapters.slack import retry_handlers
from vigil.adapters.stats import CallStats
from vigil.core.errors import (
    ChatDeliveryError,
    ChatDestinationRefused,
    ChatMessageGone,
    VigilError,
)
from vigil.core.observability import http_logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SLACK_API_URL = "https://slack.com/api/"

REFUSED = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "not_in_channel",
        "channel_not_found",
        "is_archived",
        "restricted_action",
        "ekm_access_denied",
    }
)
"""Web API errors that refuse the token or the channel until someone changes them."""


class SlackBot:
    def __init__(
        self,
        token: str,
        channel: str,
        *,
        stats: CallStats,
        api_url: str = SLACK_API_URL,
        timeout: int = 10,
    ) -> None:
        self._client = WebClient(
            token=token,
            base_url=api_url,
            timeout=timeout,
            retry_handlers=retry_handlers(),
            logger=http_logger(token),
        )
        self._channel = channel
        self._stats = stats

    @property
    def channel(self) -> str:
        return self._channel

    def post(self, message: dict[str, Any], *, thread_ts: str | None = None) -> str:
        extra = {"thread_ts": thread_ts} if thread_ts else {}
        response = self._call(
            "chat.postMessage",
            channel=self._channel,
            text=message["text"],
            blocks=message["blocks"],
            **extra,
        )
        return str(response["ts"])

    def update(self, ts: str, message: dict[str, Any]) -> None:
        self._call(
            "chat.update",
            channel=self._channel,
            ts=ts,
            text=message["text"],
            blocks=message["blocks"],
        )

    def _call(self, method: str, **arguments: Any) -> dict[str, Any]:
        self._stats.count(f"slack:{method}")
        try:
            response = self._client.api_call(method, json=arguments)
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            failure = (
                ChatMessageGone
                if error == "message_not_found"
                else ChatDestinationRefused
                if error in REFUSED
                else ChatDeliveryError
            )
            raise failure(f"Slack {method} in {self._channel}: {error or exc}") from exc
        except Exception as exc:  # urllib errors after slack_sdk's own retries
            raise ChatDeliveryError(f"Slack {method} unreachable: {exc}") from exc
        return dict(response.data) if isinstance(response.data, dict) else {}


class MembershipUnavailableError(VigilError):
    """A user group's members could not be read (Slack unreachable, refused, or no token)."""


GROUP_CACHE = timedelta(minutes=5)
GROUP_LOOKUP_TIMEOUT = 1.0
"""Seconds; one attempt (no retries), so a slow Slack cannot hold the endpoint's answer."""


class SlackUserGroups:
    """Members of Slack user groups through ``usergroups.users.list``
    (https://api.slack.com/methods/usergroups.users.list: ``{"ok": true, "users": [...]}``;
    errors such as ``no_such_subteam``, ``missing_scope``, ``invalid_auth``,
    ``plan_upgrade_required``). A disabled group lists nobody (``include_disabled`` is not
    sent). Answers are cached for :data:`GROUP_CACHE` from ``now``; failures are not cached.
    """

    def __init__(
        self,
        token: str,
        *,
        stats: CallStats,
        api_url: str = SLACK_API_URL,
        timeout: float = GROUP_LOOKUP_TIMEOUT,
    ) -> None:
        self._client = WebClient(
            token=token, base_url=api_url, retry_handlers=[], logger=http_logger(token)
        )
        # slack_sdk passes the timeout to urllib as is; its annotation says int.
        setattr(self._client, "timeout", timeout)  # noqa: B010
        self._stats = stats
        self._cache: dict[str, tuple[datetime, frozenset[str]]] = {}

    def members(self, group_id: str, *, now: datetime) -> frozenset[str]:
        cached = self._cache.get(group_id)
        if cached is not None and timedelta(0) <= now - cached[0] < GROUP_CACHE:
            return cached[1]
        self._stats.count("slack:usergroups.users.list")
        try:
            # Form-encoded, the token in the Authorization header (slack_sdk's way).
            response = self._client.api_call(
                "usergroups.users.list", params={"usergroup": group_id}
            )
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            raise MembershipUnavailableError(
                f"Slack usergroups.users.list {group_id}: {error or exc}"
            ) from exc
        except Exception as exc:  # urllib errors: unreachable, timed out
            raise MembershipUnavailableError(
                f"Slack usergroups.users.list {group_id} unreachable: {exc}"
            ) from exc
        users = response.data.get("users") if isinstance(response.data, dict) else None
        if not isinstance(users, list):
            raise MembershipUnavailableError(
                f"Slack usergroups.users.list {group_id}: no users in the answer"
            )
        members = frozenset(str(u) for u in users)
        self._cache[group_id] = (now, members)
        return members


class ThreadStore:
    """``THREAD#<receiver>#<group_id>`` / ``<channel>``: the ts that opened the thread."""

    def __init__(
        self, client: "DynamoDBClient", table: str, *, retention: timedelta, stats: CallStats
    ) -> None:
        self._client = client
        self._table = table
        self._retention = retention
        self._stats = stats

    @staticmethod
    def _key(receiver: str, group_id: str, channel: str) -> dict[str, Any]:
        return {"pk": {"S": f"THREAD#{receiver}#{group_id}"}, "sk": {"S": channel}}

    def get(self, receiver: str, group_id: str, channel: str) -> str | None:
        self._stats.count("dynamodb:GetItem")
        item = self._client.get_item(
            TableName=self._table, Key=self._key(receiver, group_id, channel), ConsistentRead=True
        ).get("Item")
        return item["ts"]["S"] if item else None

    def put(self, receiver: str, group_id: str, channel: str, ts: str, *, at: datetime) -> None:
        self._stats.count("dynamodb:PutItem")
        expires = int((at + self._retention).timestamp())
        self._client.put_item(
            TableName=self._table,
            Item={
                **self._key(receiver, group_id, channel),
                "ts": {"S": ts},
                "opened_at": {"S": at.isoformat()},
                "ttl": {"N": str(expires)},
            },
        )

    def close(self, receiver: str, group_id: str, channel: str) -> None:
        self._stats.count("dynamodb:DeleteItem")
        self._client.delete_item(TableName=self._table, Key=self._key(receiver, group_id, channel))
