"""Builders for domain objects used across the test suites."""

import base64
import gzip
import json
from datetime import UTC, datetime, timedelta

from vigil.core.model import Labels, Signal, SignalBatch

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ACCOUNT = "123456789012"
REGION = "us-east-1"


def labels(resource: str = "orders-api", kind: str = "lambda.errors") -> Labels:
    return Labels(kind=kind, resource=resource, account=ACCOUNT, region=REGION)


def error_signal(resource: str, *, invocations: float, errors: float, at: datetime = T0) -> Signal:
    return Signal(
        source="metrics",
        labels=labels(resource),
        value=round(errors / invocations * 100, 4) if invocations else 100.0,
        unit="Percent",
        window_seconds=300,
        observed_at=at,
        samples={"errors": errors, "invocations": invocations},
    )


def throttle_signal(
    resource: str, *, invocations: float, throttles: float, at: datetime = T0
) -> Signal:
    requests = invocations + throttles
    return Signal(
        source="metrics",
        labels=labels(resource, "lambda.throttles"),
        value=round(throttles / requests * 100, 4),
        unit="Percent",
        window_seconds=300,
        observed_at=at,
        samples={"throttles": throttles, "requests": requests, "invocations": invocations},
    )


def batch(at: datetime, *signals: Signal) -> SignalBatch:
    return SignalBatch(
        batch_id=f"metrics-{ACCOUNT}-{REGION}-{at:%Y%m%dT%H%M}Z",
        source="metrics",
        collected_at=at,
        covered_kinds=["lambda.errors", "lambda.throttles"],
        signals=list(signals),
    )


def minutes(count: int) -> timedelta:
    return timedelta(minutes=count)


def awslogs_data(document: object) -> str:
    """``awslogs.data`` as CloudWatch Logs writes it for a subscriber: base64 of gzip of JSON
    (CloudWatch Logs User Guide, "Real-time processing of log data with subscriptions")."""
    return base64.b64encode(gzip.compress(json.dumps(document).encode(), mtime=0)).decode()


CONTROL_MESSAGE = {
    "messageType": "CONTROL_MESSAGE",
    "owner": "CloudwatchLogs",
    "logGroup": "",
    "logStream": "",
    "subscriptionFilters": [],
    "logEvents": [
        {
            "id": "",
            "timestamp": 1432826855000,
            "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose.",
        }
    ],
}
"""The message CloudWatch Logs sends to check a destination (the AWS guide's sample)."""
