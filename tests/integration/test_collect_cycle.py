"""The collection cycle's stages on moto: fast path, watch list, sweep, coverage, batching.

moto answers a metric query without dimensions with every datapoint of that metric name,
which is what Lambda's account-level aggregate is on AWS: the sum over every function.
"""

from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import pairwise

import boto3

from tests.fakes import FixedAccountSettings
from tests.integration.conftest import create_workload_function
from vigil.adapters.cloudwatch import CloudWatchMetrics
from vigil.adapters.collector_state import CollectorState
from vigil.adapters.lambda_inventory import LambdaInventory
from vigil.adapters.sqs_queues import SqsDeadLetterQueues
from vigil.adapters.stats import CallStats
from vigil.dials.base import sweep_due, window_for
from vigil.dials.collect import Cycle, collect
from vigil.dials.lambda_functions import LambdaFamily
from vigil.dials.resources import Coverage, MetricQuery
from vigil.dials.sqs import DeadLetterFamily
from vigil.rules.document import RulesConfig

# 10:02 -> window 09:55-10:00, the one that crosses the hour: the hourly sweep reads 09:00-10:00.
SWEEP_AT = datetime(2026, 11, 2, 10, 2, tzinfo=UTC)
PLAIN_AT = SWEEP_AT - timedelta(minutes=5)


def _put(function: str, metric: str, value: float, at: datetime) -> None:
    boto3.client("cloudwatch").put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": "FunctionName", "Value": function}],
                "Timestamp": at,
                "Value": value,
            }
        ],
    )


def _busy_healthy_account(start: datetime, minutes: int) -> None:
    """search-api at a steady 0.05 % (normal for it), nightly-report at 2 a minute."""
    create_workload_function("search-api")
    create_workload_function("nightly-report")
    for minute in range(minutes):
        at = start + timedelta(minutes=minute)
        _put("search-api", "Invocations", 20_000, at)
        _put("search-api", "Errors", 10, at)
        _put("nightly-report", "Invocations", 2, at)
        _put("nightly-report", "Errors", 0, at)


def _cycle(
    table: str,
    now: datetime,
    stats: CallStats,
    rules: RulesConfig | None = None,
    settings: FixedAccountSettings | None = None,
    *,
    error_stream: bool = False,
) -> Cycle:
    state = CollectorState(boto3.client("dynamodb"), table, stats=stats)
    functions = cache(LambdaInventory(boto3.client("lambda"), stats).functions)
    return collect(
        families=[
            LambdaFamily(
                functions=functions,
                state=state,
                account_settings=settings or FixedAccountSettings(),
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
        error_stream=error_stream,
    )


def test_a_single_error_inside_a_healthy_aggregate_is_found_by_the_hourly_sweep(
    table: str,
) -> None:
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    _busy_healthy_account(start, 60)
    _put("nightly-report", "Errors", 1, start + timedelta(minutes=20))
    stats = CallStats()

    plain = _cycle(table, PLAIN_AT, stats)
    swept = _cycle(table, SWEEP_AT, stats)

    assert (plain.swept, plain.drilled, plain.batch.signals) == (False, [], [])
    assert swept.swept
    assert swept.drilled == []
    by_resource = {s.labels.resource: s for s in swept.batch.signals}
    assert by_resource["nightly-report"].samples == {"errors": 1.0, "invocations": 120.0}
    assert by_resource["nightly-report"].window_seconds == 3600
    # search-api's errors are reported too; its 0.05 % is for the rule to judge (not a breach).
    assert by_resource["search-api"].samples["errors"] == 600.0


def test_with_the_error_stream_the_functions_have_a_sweep_period_of_their_own(
    table: str,
) -> None:
    """The error stream finds a function's logged errors (ADR 42): the hourly sweep keeps the
    data dials, and every function's errors are read once a function sweep period (a day by
    default; 8 hours here), over that period, in calls that stay under GetMetricData's
    100,800 datapoints."""
    rules = RulesConfig.from_json('{"collection": {"function_sweep_minutes": 480}}')
    start = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
    _busy_healthy_account(start, 8 * 60)
    _put("nightly-report", "Errors", 1, start + timedelta(hours=3))
    stats = CallStats()

    hourly = _cycle(table, SWEEP_AT, stats, rules, error_stream=True)  # 10:02: no function sweep
    eight = _cycle(table, start + timedelta(hours=8, minutes=2), stats, rules, error_stream=True)

    assert RulesConfig().collection.function_sweep(error_stream=True) == 24 * 60
    assert RulesConfig().collection.function_sweep(error_stream=False) == 60
    assert not hourly.swept
    assert eight.swept
    by_resource = {s.labels.resource: s for s in eight.batch.signals}
    assert by_resource["nightly-report"].samples == {"errors": 1.0, "invocations": 960.0}
    assert by_resource["nightly-report"].window_seconds == 8 * 3600


def test_a_long_span_is_fetched_in_calls_under_the_datapoint_limit(aws: None) -> None:
    stats = CallStats()
    queries = [
        MetricQuery(
            id=f"m{n}",
            namespace="AWS/Lambda",
            metric="Errors",
            dimensions=(("FunctionName", f"fn-{n}"),),
        )
        for n in range(250)
    ]
    start = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)

    CloudWatchMetrics(boto3.client("cloudwatch"), stats).series(
        queries, start=start, end=start + timedelta(hours=8)
    )

    assert stats.by_api["GetMetricData"] == 2  # 210 + 40 metrics of 480 datapoints
    assert stats.metrics_requested == 250


def test_the_sweep_skips_minutes_a_cycle_already_judged_for_the_function(table: str) -> None:
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    _busy_healthy_account(start, 60)
    _put("nightly-report", "Errors", 1, start + timedelta(minutes=20))
    state = CollectorState(boto3.client("dynamodb"), table)
    judged = Coverage(
        start=start + timedelta(minutes=18),
        end=start + timedelta(minutes=23),
        drilled=frozenset(),
        watched=frozenset({"nightly-report"}),
    )
    state.record(judged, expires=SWEEP_AT + timedelta(hours=2))

    swept = _cycle(table, SWEEP_AT, CallStats())

    assert "nightly-report" not in {s.labels.resource for s in swept.batch.signals}
    assert state.coverage(start, SWEEP_AT)[0] == judged


def test_a_function_on_the_watch_list_is_read_every_cycle(table: str) -> None:
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    _busy_healthy_account(start, 60)
    boto3.client("dynamodb").put_item(
        TableName=table,
        Item={
            "pk": {"S": "ALERT#abc"},
            "sk": {"S": "STATE"},
            "resource": {"S": "nightly-report"},
            "gsi1pk": {"S": "ACTIVE#lambda.errors"},
            "gsi1sk": {"S": "abc"},
        },
    )
    _put("nightly-report", "Errors", 1, PLAIN_AT - timedelta(minutes=4))
    stats = CallStats()

    cycle = _cycle(table, PLAIN_AT, stats)

    assert cycle.watched == ["nightly-report"]
    assert cycle.drilled == []
    (signal,) = cycle.batch.signals
    assert signal.labels.resource == "nightly-report"
    assert signal.samples == {"errors": 1.0, "invocations": 10.0}
    # 8 aggregates, the watched function's Errors and Throttles, then its Invocations.
    assert stats.metrics_requested == 8 + 2 + 1


def test_any_throttle_in_the_account_drills_into_every_functions_throttles(table: str) -> None:
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    _busy_healthy_account(start, 60)
    _put("nightly-report", "Throttles", 3, PLAIN_AT - timedelta(minutes=4))

    cycle = _cycle(table, PLAIN_AT, CallStats())

    assert cycle.drilled == ["lambda.throttles"]
    (signal,) = cycle.batch.signals
    assert signal.labels.kind == "lambda.throttles"
    assert signal.samples == {"throttles": 3.0, "requests": 13.0, "invocations": 10.0}


def test_disabled_rules_are_neither_read_nor_swept(table: str) -> None:
    _busy_healthy_account(datetime(2026, 11, 2, 9, 0, tzinfo=UTC), 60)
    rules = RulesConfig.from_json(
        '{"lambda_errors": {"enabled": false}, "lambda_throttles": {"enabled": false},'
        ' "lambda_concurrency": {"enabled": false}, "lambda_async": {"enabled": false},'
        ' "sqs_dlq": {"enabled": false}, "sqs_failures": {"enabled": false}}'
    )
    stats = CallStats()

    cycle = _cycle(table, SWEEP_AT, stats, rules)

    assert (cycle.swept, cycle.drilled, cycle.batch.signals) == (False, [], [])
    assert stats.metrics_requested == 0
    assert "ListQueues" not in stats.by_api
    assert "GetQueueAttributes" not in stats.by_api
    assert cycle.batch.covered_kinds == [
        "lambda.account_concurrency",
        "lambda.async_errors",
        "lambda.async_failures",
        "lambda.errors",
        "lambda.new_error_type",
        "lambda.throttles",
        "sqs.dlq_messages",
        "sqs.failure_rate",
    ]


def test_one_window_per_sweep_period_sweeps_whatever_minute_the_schedule_started_on() -> None:
    rules = RulesConfig()
    for offset in range(5):
        first = datetime(2026, 11, 2, 0, offset, tzinfo=UTC)
        cycles = [first + timedelta(minutes=5 * n) for n in range(12 * 24)]
        sweeps = [now for now in cycles if sweep_due(window_for(now, rules), rules)]
        assert len(sweeps) == 24
        assert all(b - a == timedelta(hours=1) for a, b in pairwise(sweeps))


def test_metrics_are_requested_500_to_a_call(aws: None) -> None:
    stats = CallStats()
    queries = [
        MetricQuery(
            id=f"q{i}",
            namespace="AWS/Lambda",
            metric="Errors",
            dimensions=(("FunctionName", f"fn-{i}"),),
        )
        for i in range(1_001)
    ]
    at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    CloudWatchMetrics(boto3.client("cloudwatch"), stats).sums(
        queries, start=at, end=at + timedelta(minutes=5)
    )

    assert stats.by_api == {"GetMetricData": 3}
    assert stats.metrics_requested == 1_001


def _put_account(metric: str, value: float, at: datetime) -> None:
    """An account-level datapoint (no dimensions), as Lambda publishes concurrency."""
    boto3.client("cloudwatch").put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[{"MetricName": metric, "Dimensions": [], "Timestamp": at, "Value": value}],
    )


def test_the_peak_account_concurrency_is_judged_against_the_limit_lambda_reports(
    table: str,
) -> None:
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    _busy_healthy_account(start, 60)
    for minute, (claimed, concurrent) in enumerate([(600, 500), (870, 820), (700, 650)]):
        at = PLAIN_AT - timedelta(minutes=6 - minute)
        _put_account("ClaimedAccountConcurrency", claimed, at)
        _put_account("ConcurrentExecutions", concurrent, at)
    settings = FixedAccountSettings(concurrent_executions=1000, unreserved=900)
    stats = CallStats()

    cycle = _cycle(table, PLAIN_AT, stats, settings=settings)

    (signal,) = cycle.batch.signals
    assert signal.labels.kind == "lambda.account_concurrency"
    assert signal.labels.resource == "account"
    assert signal.samples == {
        "claimed": 870.0,
        "concurrent": 820.0,
        "limit": 1000.0,
        "unreserved_limit": 900.0,
    }
    assert signal.value == 87.0
    assert settings.asked == [PLAIN_AT]
    # One request for every account-level aggregate, whatever the number of functions.
    assert stats.by_api["GetMetricData"] == 1
    assert stats.metrics_requested == 8


def test_without_concurrency_datapoints_the_limit_is_not_asked(table: str) -> None:
    _busy_healthy_account(datetime(2026, 11, 2, 9, 0, tzinfo=UTC), 60)
    settings = FixedAccountSettings()

    cycle = _cycle(table, PLAIN_AT, CallStats(), settings=settings)

    assert cycle.batch.signals == []
    assert settings.asked == []


def test_an_async_failure_in_the_account_drills_into_every_functions_async_metrics(
    table: str,
) -> None:
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    _busy_healthy_account(start, 60)
    _put("nightly-report", "AsyncEventsDropped", 2, PLAIN_AT - timedelta(minutes=4))
    _put("nightly-report", "DestinationDeliveryFailures", 1, PLAIN_AT - timedelta(minutes=3))
    stats = CallStats()

    cycle = _cycle(table, PLAIN_AT, stats)

    assert cycle.drilled == ["lambda.async_failures"]
    (signal,) = cycle.batch.signals
    assert (signal.labels.kind, signal.labels.resource) == (
        "lambda.async_failures",
        "nightly-report",
    )
    assert signal.samples == {
        "dropped": 2.0,
        "dead_letter_errors": 0.0,
        "destination_failures": 1.0,
    }
    # 8 aggregates, then of each of the 2 functions the 2 async metrics whose account sum is
    # not zero (a function's DeadLetterErrors cannot be above the account's 0).
    assert stats.metrics_requested == 8 + 2 * 2


def test_a_healthy_account_reads_only_the_account_aggregates(table: str) -> None:
    _busy_healthy_account(datetime(2026, 11, 2, 9, 0, tzinfo=UTC), 60)
    CollectorState(boto3.client("dynamodb"), table).remember_dead_letter_queues([], at=SWEEP_AT)
    stats = CallStats()

    cycle = _cycle(table, PLAIN_AT, stats)

    assert (cycle.drilled, cycle.batch.signals) == ([], [])
    assert stats.metrics_requested == 8
    assert "ListFunctions" not in stats.by_api
