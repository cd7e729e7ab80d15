"""The DynamoDB, Kinesis and stream-consumer dials, through the real template.

Given the data-dials scenario, each of the seven dials fires and resolves: DynamoDB capacity
(an index found by the hourly sweep, a throttled table on the drill-down), throttles and system
errors; Kinesis write throttles (escalating), shard capacity and iterator age; and a Lambda
function reading a DynamoDB stream falling behind. A healthy cycle requests no DynamoDB or
Kinesis metric.
"""

from collections.abc import Iterator

import pytest

from emulator import Emulator
from tests.e2e.scenario_runs import (
    LAMBDA_FAST_PATH,
    STACK_FUNCTIONS,
    STACK_METRICS,
    collector_cycles,
    emails,
    play_scenario,
)

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture(scope="module")
def data() -> Iterator[Emulator]:
    yield from play_scenario("data-dials")


def test_every_data_dial_fires_and_resolves(data: Emulator) -> None:
    # Notifications of one evaluation are published in parallel: compare them sorted.
    assert sorted(emails(data)) == sorted(
        [
            ("09:55", "[WARNING] DynamoDB throttles firing: orders"),
            ("09:55", "[CRITICAL] DynamoDB capacity firing: orders"),
            ("09:55", "[WARNING] DynamoDB system errors firing: orders"),
            ("10:00", "[WARNING] Kinesis write throttles firing: clicks"),
            ("10:00", "[CRITICAL] Kinesis shard capacity firing: clicks"),
            ("10:05", "[CRITICAL] Kinesis write throttles escalated: clicks"),
            ("10:05", "[CRITICAL] Lambda stream iterator age firing: orders-projector"),
            ("10:05", "[WARNING] DynamoDB capacity firing: catalog/index/by-brand"),
            ("10:05", "[WARNING] Kinesis iterator age firing: clicks"),
            ("10:10", "[RESOLVED] DynamoDB capacity resolved: catalog/index/by-brand"),
            ("10:10", "[RESOLVED] DynamoDB system errors resolved: orders"),
            ("10:15", "[RESOLVED] DynamoDB capacity resolved: orders"),
            ("10:15", "[RESOLVED] DynamoDB throttles resolved: orders"),
            ("10:20", "[RESOLVED] Kinesis shard capacity resolved: clicks"),
            ("10:20", "[RESOLVED] Kinesis write throttles resolved: clicks"),
            ("10:25", "[RESOLVED] Lambda stream iterator age resolved: orders-projector"),
            ("10:25", "[RESOLVED] Kinesis iterator age resolved: clicks"),
        ]
    )


def test_the_evidence_names_the_capacity_the_lag_and_the_retention(data: Emulator) -> None:
    bodies = {email.subject: email.body for email in data.mailbox.emails}

    orders = bodies["[CRITICAL] DynamoDB capacity firing: orders"]
    assert "writes 45 of 50 units/s" in orders
    index = bodies["[WARNING] DynamoDB capacity firing: catalog/index/by-brand"]
    # Found by the sweep: judged on the hour's peak minute.
    assert "reads 17 of 20 units/s" in index
    assert "over 60 min" in index
    shards = bodies["[CRITICAL] Kinesis shard capacity firing: clicks"]
    assert "95% of the shards' write capacity" in shards
    projector = bodies["[CRITICAL] Lambda stream iterator age firing: orders-projector"]
    assert "13 h behind, 54% of the 1 d retention" in projector
    assert "deleted unread" in projector
    assert (
        "7 h behind, 29% of the 1 d retention"
        in bodies["[WARNING] Kinesis iterator age firing: clicks"]
    )
    assert "120 write throttle events" in bodies["[WARNING] DynamoDB throttles firing: orders"]


def test_a_healthy_cycle_requests_no_table_or_stream_metric(data: Emulator) -> None:
    cycles = {c["batch_id"][-5:-1]: c for c in collector_cycles(data)}

    # Before anything throttles: the Lambda fast path (and the stack's own workflows and
    # reserved function) and 4
    # ListMetrics requests only; the 09:35 discovery also reads the object counts of the three
    # buckets without request metrics: the emulator's code bucket and the stack's runbook and
    # batch buckets.
    for at in ("0935", "0940", "0945", "0950"):
        assert cycles[at]["metrics_by_stage"] == {
            "fast": LAMBDA_FAST_PATH + STACK_METRICS,
            "drill": 0,
            "sweep": 3 if at == "0935" else 0,
        }
        assert cycles[at]["api_calls"]["ListMetrics"] == 4
    assert [at for at, c in cycles.items() if c["discovered"]] == ["0935", "1005"]
    assert cycles["1005"]["resources"] == {
        # No function is listed: with the error stream their errors are swept once a day.
        "lambda": 0,
        # The collector's on-failure destination, CollectorDeadLetterQueue.
        "sqs": 1,
        "event-sources": 1,
        # orders, catalog, sessions and Vigil's own state table.
        "dynamodb": 4,
        "kinesis": 1,
        # The emulator's code bucket, the stack's runbook and batch buckets; its two workflows.
        "s3": 3,
        "states": 2,
        "apigateway": 0,
        "quotas": 0,
        # SlackActionsFunction and ErrorStreamFunction, the stack's reserved functions.
        "reserved": 2,
        # Every function: the scenario's workload and the stack's, each with a time-out.
        "duration": 1 + STACK_FUNCTIONS,
    }
    # The sweep reads what the cycle has not read already: each provisioned table's and index's
    # consumed capacity (orders is on the drill-down), the stream's and the consumer's iterator
    # age (5); and, as this cycle discovers, the object counts of the code bucket and the
    # runbook and batch buckets (3). The functions' errors are not swept hourly: with the error
    # stream, once a day (docs/rules.md, collection.function_sweep_minutes).
    assert cycles["1005"]["metrics_by_stage"]["sweep"] == 5 + 3
