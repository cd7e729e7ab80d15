"""The delivery log on moto: a claim is one conditional put, taken over only once its lease ran
out, released only by its holder; records written before claims existed read as delivered."""

from datetime import timedelta

import boto3

from tests.factories import T0
from vigil.adapters.delivery_log import DeliveryLog
from vigil.channels.delivery import CLAIM_LEASE, ClaimState


def _log(table: str) -> DeliveryLog:
    return DeliveryLog(boto3.client("dynamodb"), table, retention=timedelta(days=30))


def test_a_claim_keeps_copies_out_until_recorded_and_channels_apart(table: str) -> None:
    log = _log(table)

    first = log.claim("n1", "slack", at=T0, lease=CLAIM_LEASE)
    copy = log.claim("n1", "slack", at=T0 + timedelta(seconds=44), lease=CLAIM_LEASE)
    other_channel = log.claim("n1", "teams:teams_url", at=T0, lease=CLAIM_LEASE)
    log.record("n1", "slack", at=T0 + timedelta(seconds=1))
    after = log.claim("n1", "slack", at=T0 + timedelta(hours=1), lease=CLAIM_LEASE)

    assert first.state is ClaimState.CLAIMED
    assert first.token
    assert copy.state is ClaimState.HELD
    assert other_channel.state is ClaimState.CLAIMED
    assert after.state is ClaimState.DELIVERED  # a delivery never expires into a claim


def test_a_claim_past_its_lease_is_taken_over_and_the_late_holder_cannot_free_it(
    table: str,
) -> None:
    log = _log(table)
    crashed = log.claim("n1", "slack", at=T0, lease=CLAIM_LEASE)

    retry = log.claim("n1", "slack", at=T0 + CLAIM_LEASE, lease=CLAIM_LEASE)
    log.release("n1", "slack", token=crashed.token)  # the old holder fails late
    copy = log.claim("n1", "slack", at=T0 + CLAIM_LEASE, lease=CLAIM_LEASE)
    log.release("n1", "slack", token=retry.token)  # the holder's post fails
    again = log.claim("n1", "slack", at=T0 + CLAIM_LEASE, lease=CLAIM_LEASE)

    assert retry.state is ClaimState.CLAIMED
    assert retry.token != crashed.token
    assert copy.state is ClaimState.HELD
    assert again.state is ClaimState.CLAIMED


def test_a_release_after_the_record_leaves_the_delivery(table: str) -> None:
    log = _log(table)
    claim = log.claim("n1", "slack", at=T0, lease=CLAIM_LEASE)
    log.record("n1", "slack", at=T0)

    log.release("n1", "slack", token=claim.token)

    assert log.claim("n1", "slack", at=T0, lease=CLAIM_LEASE).state is ClaimState.DELIVERED


def test_a_record_written_before_claims_existed_reads_as_delivered(table: str) -> None:
    boto3.client("dynamodb").put_item(
        TableName=table,
        Item={
            "pk": {"S": "DELIVERY#n1"},
            "sk": {"S": "slack"},
            "delivered_at": {"S": T0.isoformat()},
            "ttl": {"N": "1800000000"},
        },
    )

    claim = _log(table).claim("n1", "slack", at=T0 + timedelta(days=1), lease=CLAIM_LEASE)

    assert claim.state is ClaimState.DELIVERED
