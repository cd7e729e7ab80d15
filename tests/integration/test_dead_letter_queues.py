"""SQS dead-letter queues on moto: discovery, depth, the cycle's cadence and its alert signal.

moto implements SQS, but not the ``AWS/SQS`` metrics or ``DeadLetterConfig`` in
``ListFunctions``: the tests put the age datapoints themselves and give discovery Lambda's
dead-letter target directly, or answer ``ListFunctions`` with botocore's Stubber.
"""

import json
from datetime import UTC, datetime, timedelta
from functools import cache

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from tests.fakes import FixedAccountSettings
from vigil.adapters.cloudwatch import CloudWatchMetrics
from vigil.adapters.collector_state import CollectorState
from vigil.adapters.lambda_inventory import LambdaInventory
from vigil.adapters.sqs_queues import QueuesUnavailable, SqsDeadLetterQueues
from vigil.adapters.stats import CallStats
from vigil.dials.base import discovery_due, window_for
from vigil.dials.collect import Cycle, collect
from vigil.dials.lambda_functions import LambdaFamily
from vigil.dials.resources import QueueDepth
from vigil.dials.sqs import DeadLetterFamily
from vigil.rules.document import RulesConfig

# 10:02 -> window 09:55-10:00 crosses the hour: the hourly discovery runs.
DISCOVER_AT = datetime(2026, 11, 2, 10, 2, tzinfo=UTC)
PLAIN_AT = DISCOVER_AT + timedelta(minutes=5)
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/{}"


def _queue(name: str, *, dead_letters_to: str | None = None, retention: int = 345_600) -> str:
    sqs = boto3.client("sqs")
    attributes = {"MessageRetentionPeriod": str(retention)}
    if dead_letters_to is not None:
        target = sqs.get_queue_attributes(
            QueueUrl=QUEUE_URL.format(dead_letters_to), AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": target, "maxReceiveCount": 5}
        )
    return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]


def _arn(name: str) -> str:
    return f"arn:aws:sqs:us-east-1:123456789012:{name}"


def _wired_account() -> None:
    """orders -> orders-dlq by redrive; worker-dlq is a Lambda DLQ; events is a plain queue."""
    _queue("orders-dlq", retention=1200)
    _queue("orders", dead_letters_to="orders-dlq")
    _queue("worker-dlq")
    _queue("events")


def test_discovery_finds_redrive_targets_and_lambda_dead_letter_queues(aws: None) -> None:
    _wired_account()
    stats = CallStats()
    queues = SqsDeadLetterQueues(boto3.client("sqs"), stats)

    found = queues.discover(
        [_arn("worker-dlq"), "arn:aws:sns:us-east-1:123456789012:topic", _arn("elsewhere")]
    )

    assert found == [QUEUE_URL.format("orders-dlq"), QUEUE_URL.format("worker-dlq")]
    assert stats.by_api == {"ListQueues": 1, "GetQueueAttributes": 4}
    # The Lambda dead-letter queue has no source queue (sqs_failures judges only redrives).
    assert queues.sources() == {QUEUE_URL.format("orders-dlq"): ["orders"]}


def test_queues_sharing_a_dead_letter_queue_are_all_its_sources(aws: None) -> None:
    _wired_account()
    _queue("orders-retry", dead_letters_to="orders-dlq")
    queues = SqsDeadLetterQueues(boto3.client("sqs"))

    queues.discover([])

    assert queues.sources() == {QUEUE_URL.format("orders-dlq"): ["orders", "orders-retry"]}


def test_discovery_reads_the_documented_redrive_policy_shape() -> None:
    # GetQueueAttributes returns RedrivePolicy as a JSON string (SQS API Reference,
    # GetQueueAttributes, "RedrivePolicy": {"deadLetterTargetArn": ..., "maxReceiveCount": ...}).
    client = boto3.client("sqs")
    source, dead = QUEUE_URL.format("MySourceQueue"), QUEUE_URL.format("MyDeadLetterQueue")
    policy = {"deadLetterTargetArn": _arn("MyDeadLetterQueue"), "maxReceiveCount": "10"}
    with Stubber(client) as stub:
        stub.add_response("list_queues", {"QueueUrls": [source, dead]})
        stub.add_response(
            "get_queue_attributes",
            {
                "Attributes": {
                    "QueueArn": _arn("MySourceQueue"),
                    "RedrivePolicy": json.dumps(policy),
                }
            },
        )
        stub.add_response(
            "get_queue_attributes", {"Attributes": {"QueueArn": _arn("MyDeadLetterQueue")}}
        )
        queues = SqsDeadLetterQueues(client)

        found = queues.discover([])

    assert found == [dead]
    assert queues.sources() == {dead: ["MySourceQueue"]}


def test_depths_read_visible_messages_and_retention_and_skip_deleted_queues(aws: None) -> None:
    _wired_account()
    sqs = boto3.client("sqs")
    for _ in range(3):
        sqs.send_message(QueueUrl=QUEUE_URL.format("orders-dlq"), MessageBody="{}")
    stats = CallStats()
    queues = SqsDeadLetterQueues(sqs, stats)

    depths = queues.depths([QUEUE_URL.format("orders-dlq"), QUEUE_URL.format("gone")])

    assert depths == [
        QueueDepth(url=QUEUE_URL.format("orders-dlq"), visible=3, retention_seconds=1200)
    ]
    assert depths[0].name == "orders-dlq"
    assert stats.by_api == {"GetQueueAttributes": 2}


def test_lambda_inventory_reads_each_functions_dead_letter_target() -> None:
    client = boto3.client("lambda")
    arn = "arn:aws:lambda:us-east-1:123456789012:function:"
    with Stubber(client) as stub:
        stub.add_response(
            "list_functions",
            {
                "Functions": [
                    {
                        "FunctionName": "worker",
                        "FunctionArn": arn + "worker",
                        "DeadLetterConfig": {"TargetArn": _arn("worker-dlq")},
                    },
                    {"FunctionName": "api", "FunctionArn": arn + "api"},
                ]
            },
        )
        functions = LambdaInventory(client).functions()

    assert [(f.name, f.dead_letter_target) for f in functions] == [
        ("worker", _arn("worker-dlq")),
        ("api", None),
    ]


def _cycle(table: str, now: datetime, stats: CallStats, rules: RulesConfig | None = None) -> Cycle:
    state = CollectorState(boto3.client("dynamodb"), table, stats=stats)
    functions = cache(LambdaInventory(boto3.client("lambda"), stats).functions)
    return collect(
        families=[
            LambdaFamily(
                functions=functions,
                state=state,
                account_settings=FixedAccountSettings(),
                async_protected=set,  # none of these functions keeps its failed async events
            ),
            DeadLetterFamily(
                queues=SqsDeadLetterQueues(boto3.client("sqs"), stats),
                state=state,
                functions=functions,
            ),
        ],
        metrics=CloudWatchMetrics(boto3.client("cloudwatch"), stats),
        rules=rules or RulesConfig(),
        now=now,
        account="123456789012",
        region="us-east-1",
    )


def test_discovery_runs_once_an_hour_and_ordinary_cycles_read_only_the_stored_queues(
    table: str,
) -> None:
    _wired_account()
    discovering, ordinary = CallStats(), CallStats()

    first = _cycle(table, DISCOVER_AT, discovering)
    _queue("late-dlq")
    _queue("late", dead_letters_to="late-dlq")
    second = _cycle(table, PLAIN_AT, ordinary)

    assert (first.discovered, first.resources("sqs")) == (True, 1)
    assert discovering.by_api["ListQueues"] == 1
    # 4 queues' RedrivePolicy, then the one dead-letter queue's depth.
    assert discovering.by_api["GetQueueAttributes"] == 5
    assert (second.discovered, second.resources("sqs")) == (False, 1)
    assert "ListQueues" not in ordinary.by_api
    assert "ListFunctions" not in ordinary.by_api
    assert ordinary.by_api["GetQueueAttributes"] == 1
    assert ordinary.metrics_requested == 8  # empty queues add no metric


def test_the_first_cycle_discovers_even_between_boundaries(table: str) -> None:
    _wired_account()
    stats = CallStats()

    cycle = _cycle(table, PLAIN_AT, stats)

    assert cycle.discovered
    assert stats.by_api["ListQueues"] == 1


def test_discovery_is_decided_from_the_scheduled_time() -> None:
    rules = RulesConfig()
    due = [
        discovery_due(window_for(DISCOVER_AT + timedelta(minutes=5 * step), rules), rules)
        for step in range(24)
    ]

    assert due == [True] + [False] * 11 + [True] + [False] * 11


def test_a_non_empty_dead_letter_queue_sends_its_count_age_and_retention(table: str) -> None:
    _wired_account()
    sqs = boto3.client("sqs")
    for _ in range(2):
        sqs.send_message(QueueUrl=QUEUE_URL.format("orders-dlq"), MessageBody="{}")
    window = window_for(PLAIN_AT, RulesConfig())
    for minute, age in ((0, 540.0), (3, 720.0), (4, 780.0)):
        boto3.client("cloudwatch").put_metric_data(
            Namespace="AWS/SQS",
            MetricData=[
                {
                    "MetricName": "ApproximateAgeOfOldestMessage",
                    "Dimensions": [{"Name": "QueueName", "Value": "orders-dlq"}],
                    "Timestamp": window.start + timedelta(minutes=minute),
                    "Value": age,
                }
            ],
        )
    _cycle(table, DISCOVER_AT, CallStats())
    stats = CallStats()

    cycle = _cycle(table, PLAIN_AT, stats)

    [signal] = cycle.batch.signals
    assert (signal.labels.kind, signal.labels.resource) == ("sqs.dlq_messages", "orders-dlq")
    assert signal.samples == {
        "visible": 2.0,
        "oldest_age_seconds": 780.0,  # the latest datapoint of the window
        "retention_seconds": 1200.0,
    }
    # The age rides in the fast-path request: one call, 8 account metrics plus 1.
    assert (stats.by_api["GetMetricData"], stats.metrics_requested) == (1, 9)


def _receives(queue: str, start: datetime, per_minute: float) -> None:
    boto3.client("cloudwatch").put_metric_data(
        Namespace="AWS/SQS",
        MetricData=[
            {
                "MetricName": "NumberOfMessagesReceived",
                "Dimensions": [{"Name": "QueueName", "Value": queue}],
                "Timestamp": start + timedelta(minutes=minute),
                "Value": per_minute,
                "Unit": "Count",
            }
            for minute in range(5)
        ],
    )


def test_a_dead_letter_queue_that_grew_is_judged_against_its_sources_receives(
    table: str,
) -> None:
    _wired_account()
    sqs = boto3.client("sqs")
    _cycle(table, DISCOVER_AT, CallStats())
    for _ in range(3):
        sqs.send_message(QueueUrl=QUEUE_URL.format("orders-dlq"), MessageBody="{}")
    _receives("orders", window_for(PLAIN_AT, RulesConfig()).start, 40.0)
    stats = CallStats()

    cycle = _cycle(table, PLAIN_AT, stats)

    [rate] = [s for s in cycle.batch.signals if s.labels.kind == "sqs.failure_rate"]
    assert (rate.labels.resource, rate.samples) == ("orders-dlq", {"moves": 3.0, "receives": 200.0})
    assert rate.context == {"sources": "orders"}
    # The fast path (8 account metrics and the queue's age), then the source's receives.
    assert (stats.by_api["GetMetricData"], stats.metrics_requested) == (2, 10)


def test_a_healthy_cycle_asks_no_received_messages(table: str) -> None:
    _wired_account()
    _cycle(table, DISCOVER_AT, CallStats())
    stats = CallStats()

    cycle = _cycle(table, PLAIN_AT, stats)

    assert not [s for s in cycle.batch.signals if s.labels.kind == "sqs.failure_rate"]
    assert (stats.by_api["GetMetricData"], stats.metrics_requested) == (1, 8)
    assert cycle.families["sqs"].extra == {"dead_letter_queues_grown": 0}


def test_disabled_rules_ask_sqs_nothing_and_still_cover_their_kinds(table: str) -> None:
    _wired_account()
    stats = CallStats()
    rules = RulesConfig.from_json(
        '{"sqs_dlq": {"enabled": false}, "sqs_failures": {"enabled": false}}'
    )

    cycle = _cycle(table, DISCOVER_AT, stats, rules)

    assert not {"ListQueues", "GetQueueAttributes"} & set(stats.by_api)
    assert {"sqs.dlq_messages", "sqs.failure_rate"} <= set(cycle.batch.covered_kinds)


def test_sqs_failures_fail_the_cycle_so_the_scheduler_retries() -> None:
    client = boto3.client("sqs")
    url = QUEUE_URL.format("orders-dlq")
    with Stubber(client) as stub:
        stub.add_client_error("list_queues", "AccessDenied", http_status_code=403)
        stub.add_client_error("get_queue_attributes", "RequestThrottled", http_status_code=400)
        queues = SqsDeadLetterQueues(client)

        with pytest.raises(QueuesUnavailable, match="ListQueues failed"):
            queues.discover([])
        with pytest.raises(QueuesUnavailable, match="GetQueueAttributes failed for"):
            queues.depths([url])


def test_a_connection_failure_is_reported_as_sqs_unavailable() -> None:
    client = boto3.client(
        "sqs",
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )

    with pytest.raises(QueuesUnavailable, match="GetQueueAttributes failed"):
        SqsDeadLetterQueues(client).depths([QUEUE_URL.format("orders-dlq")])
