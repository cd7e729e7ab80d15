"""The chat delivery log in the state table: pk ``DELIVERY#<notification id>``, sk
``<channel>``, ``ttl``.
"""

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from vigil.channels.delivery import Claim, ClaimState

if TYPE_CHECKING:
    pass
from vigil.adapters.table import (
    RetainedStore,
    conditional_failed,
    epoch,
    epoch_ms,
    from_item,
    to_item,
)


class DeliveryLog(RetainedStore):
    """Per notification and channel: a claim while a delivery posts, then the delivery.

    ``claim`` is one conditional put: it succeeds when there is no item, or when the item is
    a claim whose lease has run out (its holder crashed); otherwise it reports the item it
    found, ``delivered`` or ``held`` by a live delivery. ``release`` deletes the claim only if
    it is still the caller's (its token), so a late failure cannot free another's claim.
    Items written before claims existed (``delivered_at`` only) read as ``delivered``.
    """

    def claim(self, notification_id: str, channel: str, *, at: datetime, lease: timedelta) -> Claim:
        token = uuid.uuid4().hex
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(
                    {
                        "pk": f"DELIVERY#{notification_id}",
                        "sk": channel,
                        "state": ClaimState.CLAIMED.value,
                        "token": token,
                        "claimed_at": at.isoformat(),
                        "lease_until_ms": epoch_ms(at + lease),
                        "ttl": epoch(at + self._retention),
                    }
                ),
                ConditionExpression=(
                    "attribute_not_exists(pk) OR (#state = :claimed AND lease_until_ms <= :now)"
                ),
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=to_item(
                    {":claimed": ClaimState.CLAIMED.value, ":now": epoch_ms(at)}
                ),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not conditional_failed(exc):
                raise
            old = exc.response.get("Item")
            found = from_item(old) if isinstance(old, dict) else {}
            held = found.get("state") == ClaimState.CLAIMED.value
            return Claim(ClaimState.HELD if held else ClaimState.DELIVERED)
        return Claim(ClaimState.CLAIMED, token)

    def record(self, notification_id: str, channel: str, *, at: datetime) -> None:
        self._client.put_item(
            TableName=self._table,
            Item=to_item(
                {
                    "pk": f"DELIVERY#{notification_id}",
                    "sk": channel,
                    "state": ClaimState.DELIVERED.value,
                    "delivered_at": at.isoformat(),
                    "ttl": epoch(at + self._retention),
                }
            ),
        )

    def release(self, notification_id: str, channel: str, *, token: str) -> None:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=to_item({"pk": f"DELIVERY#{notification_id}", "sk": channel}),
                ConditionExpression="#state = :claimed AND #token = :token",
                ExpressionAttributeNames={"#state": "state", "#token": "token"},
                ExpressionAttributeValues=to_item(
                    {":claimed": ClaimState.CLAIMED.value, ":token": token}
                ),
            )
        except ClientError as exc:
            if not conditional_failed(exc):
                raise  # taken over or delivered meanwhile: not ours to free
