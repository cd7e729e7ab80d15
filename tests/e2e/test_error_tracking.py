"""Error tracking through the real template (docs/architecture.md, ADR 42): the
``error-tracking`` scenario's error lines reach the error stream by the account's subscription
filter policy.

A quiet function's first errors are alerted within 2 minutes, naming the exception and a trace;
a second, new exception type raises a "new error type" alert; a storm of 10,000 error lines in
a minute makes a bounded number of writes and one Lambda errors alert.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from emulator import Emulator
from tests.e2e.scenario_runs import collector_cycles, emails, play_scenario

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]

FAILED_AT = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def played() -> Iterator[Emulator]:
    yield from play_scenario("error-tracking")


def _stream_runs(emu: Emulator) -> list[dict[str, Any]]:
    records = emu.logs["ErrorStreamFunction"].records()
    return [r for r in records if r.get("message") == "error stream" and "function" in r]


def test_a_quiet_functions_first_errors_alert_within_two_minutes_naming_the_error(
    played: Emulator,
) -> None:
    fired = next(
        email
        for email in played.mailbox.emails
        if email.subject == "[WARNING] Lambda errors firing: batch-job"
    )
    posts = [p for p in played.slack.delivered if "Lambda errors firing: batch-job" in p.title]

    assert fired.sent_at - FAILED_AT <= timedelta(minutes=2)  # the hourly sweep took 35 min
    assert "KeyError" in fired.body
    assert "'user_id'" in fired.body
    assert len(posts) == 1
    slack = str(posts[0].payload)
    assert "KeyError" in slack
    assert "#xray:traces/1-" in slack  # the sample trace of the Powertools record


def test_every_new_type_alerts_once_and_a_storm_of_a_known_type_does_not(
    played: Emulator,
) -> None:
    new_types = [(at, s) for at, s in emails(played) if "New error type" in s]

    assert new_types == [
        ("09:11", "[WARNING] New error type firing: ingest"),
        ("09:31", "[WARNING] New error type firing: batch-job"),
        ("09:51", "[WARNING] New error type firing: batch-job"),
    ]
    second = [e for e in played.mailbox.emails if e.sent_at.minute == 51]
    assert "TypeError" in second[0].body


def test_the_storm_is_one_alert_and_a_bounded_number_of_writes(played: Emulator) -> None:
    storm = [d for d in played.log_subscriptions.deliveries if d.function == "ingest"]
    at_storm = [d for d in storm if d.at.hour == 10]
    runs = [r for r in _stream_runs(played) if r["function"] == "ingest"]
    storm_runs = runs[-len(at_storm) :]
    writes = sum(
        r["api_calls"].get("UpdateItem", 0) + r["api_calls"].get("PutItem", 0) for r in storm_runs
    )
    items = boto3.client("dynamodb").query(
        TableName=played.deployment.outputs["StateTableName"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "ERRORS#ingest"}},
    )["Items"]
    ingest = [s for _, s in emails(played) if s.endswith(": ingest") and "Lambda errors" in s]

    assert sum(len(d.events) for d in at_storm) == 10_000
    assert len(at_storm) <= 10  # CloudWatch Logs batches a log group's lines
    assert writes <= 3 * len(at_storm) + 2  # a minute item and a group a delivery, one wake
    assert [i["sk"]["S"].split("#")[0] for i in items].count("GROUP") == 1
    assert ingest == [
        "[CRITICAL] Lambda errors firing: ingest",
        "[RESOLVED] Lambda errors resolved: ingest",
    ]


def test_a_healthy_account_sends_no_line_and_no_cycle_sweeps_the_functions(
    played: Emulator,
) -> None:
    data = [d for d in played.log_subscriptions.deliveries if d.message_type == "DATA_MESSAGE"]

    assert {d.function for d in data} == {"batch-job", "ingest"}  # search-api logs no error
    # The hourly sweep reads the object counts of the stack's 3 buckets (no table or stream
    # here); the daily sweep of the 11 functions' errors (3 workloads, 8 of the stack) is not due.
    swept = {cycle["metrics_by_stage"]["sweep"] for cycle in collector_cycles(played)}
    assert swept == {0, 3}
    assert all("search-api" not in s for _, s in emails(played))
