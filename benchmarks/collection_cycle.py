"""What one metrics collection cycle costs, measured against moto.

For synthetic accounts of 10, 100, 1,000 and 5,000 Lambda functions, run the real
collect_metrics handler on the cycles of a month and count what each asks of AWS. With the
error stream (``--error-stream account-policy``, the template's default ``ErrorStreamMode``),
the functions' error lines reach Vigil as they are written and every function's Errors are
swept once a day (``CollectionConfig.function_sweep``: 1,440 minutes); without it (``off``),
every hour with the rest:

- ``healthy``: an ordinary cycle of a healthy account (the fast path: account aggregates, and
  ListMetrics for recent DynamoDB and Kinesis throttles and errors);
- ``sweep``: the healthy account's hourly sweep cycle (every provisioned table's and index's
  consumed capacity, every stream's incoming bytes, records and iterator age, every
  stream-reading function's iterator age; without the error stream also every function's
  Errors), which is also the hourly discovery (queues, tables, streams, event source mappings);
- ``function_sweep`` (error stream only): the sweep cycle whose window crosses a multiple of
  1,440 minutes since the epoch (00:00 UTC), which also sweeps every function's Errors over the
  day;
- ``unhealthy``: an ordinary cycle with 5 unhealthy resources: 2 functions failing half their
  requests (drill-down), a dead-letter queue holding messages, a table throttling writes and a
  stream refusing records.

A 30-day month at ``rate(5 minutes)`` is 8,640 cycles: 7,920 ordinary and 720 sweeps; with
the error stream 690 of the sweeps are hourly and 30 also sweep the functions.

Besides the functions, every account has the fixed mix: 50 DynamoDB tables (30 provisioned, 10
of them with a provisioned GSI and 5 auto scaled; 20 on demand, 5 with a GSI; the first 5 with
a stream read by a function), 10 Kinesis streams (8 provisioned with 2 shards, 2 on demand),
20 SQS queues (5 dead-letter queues, each the ``RedrivePolicy`` target of 2 source queues, and 5
plain queues) and 5 S3 buckets (2 with a request-metrics configuration; Vigil's S3 dial reads
them). The functions are capped at the account size: a 10-function account has 5 of them
reading table streams.

For each case: ``resources``, ``healthy``, ``metrics_requested`` (the billed unit; and
``fast_path_metrics``), ``get_metric_data_calls``, ``other_api_calls`` (moto answers
ListFunctions in one page; AWS pages by 50, counted in ``other_api_calls_on_aws``) and
``handler_seconds``; for each size the projected monthly cost at the default schedule
(``projected_monthly_usd``) next to one $0.10 CloudWatch alarm per resource metric Vigil watches
(``alarm_per_metric_monthly_usd``).

    .venv/bin/python benchmarks/collection_cycle.py [--sizes 10,100,1000,5000]
        [--error-stream account-policy|off] [--json]

Only 10 functions, 10 tables and the provisioned streams carry traffic; the others exist but are
idle. Metrics requested do not depend on it; moto's time does, since its GetMetricData scans
every stored datapoint for every query. Handler times say little about AWS.
"""

import argparse
import io
import json
import math
import os
import sys
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers" / "vigil"), str(ROOT)]
from benchmarks.moto_stack import (  # noqa: E402
    BENCH_ENV,
    DYNAMODB_USD_PER_READ,
    DYNAMODB_USD_PER_WRITE,
    EXPRESS_USD_PER_GB_SECOND,
    EXPRESS_USD_PER_REQUEST,
    GET_METRIC_DATA_USD_PER_METRIC,
    LAMBDA_ARM_USD_PER_GB_SECOND,
    LAMBDA_USD_PER_REQUEST,
    Context,
    create_evaluate_stub,
    create_state_table,
    load_handler,
)

os.environ.update(BENCH_ENV)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from vigil.rules.document import RulesConfig  # noqa: E402

# With the error stream, every function's Errors are swept once every FUNCTION_SWEEP_MINUTES
# (1,440: the window that crosses 00:00 UTC); without it, hourly with the rest.
FUNCTION_SWEEP_MINUTES = RulesConfig().collection.function_sweep(error_stream=True)
# 09:02 -> window 08:55-09:00 crosses the hour: the sweep cycle. 09:07 is an ordinary one.
# 00:02 -> window 23:55-00:00 crosses 00:00, a multiple of 1,440 minutes: with the error
# stream, the cycle that also sweeps every function.
SWEEP_AT = datetime(2026, 11, 2, 9, 2, tzinfo=UTC)
CYCLE_AT = SWEEP_AT + timedelta(minutes=5)
FUNCTION_SWEEP_AT = datetime(2026, 11, 2, 0, 2, tzinfo=UTC)
MODES = ("account-policy", "off")
ORDER = ("healthy", "sweep", "function_sweep", "unhealthy")
BUSY = 10
UNHEALTHY_FUNCTIONS = 2
# The fixed mix of tables and streams (see the module docstring).
PROVISIONED_TABLES = 30
PROVISIONED_TABLES_WITH_INDEX = 10
AUTO_SCALED_TABLES = 5
ON_DEMAND_TABLES = 20
ON_DEMAND_TABLES_WITH_INDEX = 5
STREAM_READ_TABLES = 5
PROVISIONED_STREAMS = 8
ON_DEMAND_STREAMS = 2
SHARDS = 2
BUCKETS = 5
BUCKETS_WITH_REQUEST_METRICS = 2
DEAD_LETTER_QUEUES = 5
SOURCES_PER_DEAD_LETTER_QUEUE = 2
PLAIN_QUEUES = 5
CYCLES_PER_MONTH = 12 * 24 * 30
SWEEPS_PER_MONTH = 24 * 30
# With the error stream: every function's Errors once every FUNCTION_SWEEP_MINUTES.
FUNCTION_SWEEPS_PER_MONTH = 30 * 24 * 60 // FUNCTION_SWEEP_MINUTES
# Public us-east-1 prices (the others in benchmarks/moto_stack.py).
ALARM_USD_PER_MONTH = 0.10
SQS_USD_PER_REQUEST = 0.40 / 1_000_000
# ListMetrics and the other CloudWatch API requests (GetMetricData aside).
CLOUDWATCH_USD_PER_REQUEST = 0.01 / 1_000
# Assumed, not measured: seconds per collector run (grows with ListFunctions pages and
# GetMetricData calls), per Evaluate run and per Express execution; DynamoDB units per cycle
# of the Evaluate function (one read of the active index per kind, no writes when healthy).
COLLECTOR_BASE_SECONDS = 0.5
SECONDS_PER_API_CALL = 0.1
EVALUATE_SECONDS = 0.3
EXPRESS_SECONDS = 1.0
EVALUATE_READS_PER_CYCLE = 2
# Per function Vigil watches Errors, Throttles and the 3 async delivery failure metrics; the
# account's 8 fast-path aggregates besides (3 volume sums, 2 concurrency peaks, 3 async sums).
WATCHED_METRICS_PER_FUNCTION = 5
ACCOUNT_METRICS = 8
# Per dead-letter queue: its visible messages and the age of its oldest message.
WATCHED_METRICS_PER_DEAD_LETTER_QUEUE = 2
# Per table: read and write throttle events and system errors; per provisioned table or index
# also its consumed read and write units; per index its read and write throttle events.
WATCHED_METRICS_PER_TABLE = 3
WATCHED_METRICS_PER_PROVISIONED_CAPACITY = 2
WATCHED_METRICS_PER_INDEX = 2
# Per stream: refused writes, incoming bytes and records, iterator age; per stream-reading
# function its IteratorAge.
WATCHED_METRICS_PER_STREAM = 4
WATCHED_METRICS_PER_MAPPING = 1
# A bucket with request metrics: its requests, 5xx errors and latency; a state machine: its
# failed, timed-out and throttled executions (the benchmark account has one, the Evaluate one).
WATCHED_METRICS_PER_REQUEST_METRICS_BUCKET = 3
WATCHED_METRICS_PER_STATE_MACHINE = 3
STATE_MACHINES = 1


def _put(name: str, window_end: datetime, errors: float) -> None:
    boto3.client("cloudwatch").put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": "FunctionName", "Value": name}],
                "Timestamp": window_end - timedelta(minutes=5 - minute, seconds=-30),
                "Value": value,
            }
            for minute in range(5)
            for metric, value in (("Invocations", 1_000.0), ("Errors", errors))
        ],
    )


def _account(size: int) -> str:
    role = boto3.client("iam").create_role(
        RoleName="workload", AssumeRolePolicyDocument=json.dumps({"Statement": []})
    )["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(e, c):\n    return e\n")
    code = buffer.getvalue()
    lambda_client = boto3.client("lambda")
    for index in range(size):
        lambda_client.create_function(
            FunctionName=f"fn-{index:05d}",
            Runtime="python3.13",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": code},
        )
    for index in range(min(size, BUSY)):
        _put(f"fn-{index:05d}", SWEEP_AT - timedelta(minutes=2), 0.0)
        _put(f"fn-{index:05d}", CYCLE_AT - timedelta(minutes=2), 0.0)
    _queues()
    _tables(size)
    _streams()
    _buckets()
    create_state_table()
    return create_evaluate_stub()


def _queues() -> None:
    """The fixed mix's 20 queues: 5 dead-letter queues with 2 sources each, 5 plain queues."""
    sqs = boto3.client("sqs")
    for index in range(DEAD_LETTER_QUEUES):
        sqs.create_queue(QueueName=f"dlq-{index}")
        target = f"arn:aws:sqs:us-east-1:123456789012:dlq-{index}"
        policy = json.dumps({"deadLetterTargetArn": target, "maxReceiveCount": 5})
        for source in range(SOURCES_PER_DEAD_LETTER_QUEUE):
            sqs.create_queue(
                QueueName=f"work-{index}-{source}", Attributes={"RedrivePolicy": policy}
            )
    for index in range(PLAIN_QUEUES):
        sqs.create_queue(QueueName=f"plain-{index}")


def _tables(size: int) -> None:
    """The fixed mix's 50 tables; the first 10 provisioned ones busy at 30 % of their writes."""
    dynamodb = boto3.client("dynamodb")
    autoscaling = boto3.client("application-autoscaling")
    lambda_client = boto3.client("lambda")
    key = {
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    }
    units = {"ReadCapacityUnits": 100, "WriteCapacityUnits": 50}
    for index in range(PROVISIONED_TABLES + ON_DEMAND_TABLES):
        provisioned = index < PROVISIONED_TABLES
        with_index = (
            index < PROVISIONED_TABLES_WITH_INDEX
            if provisioned
            else index - PROVISIONED_TABLES < ON_DEMAND_TABLES_WITH_INDEX
        )
        extra: dict[str, Any] = {}
        if with_index:
            extra["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": "by-owner",
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                    **({"ProvisionedThroughput": units} if provisioned else {}),
                }
            ]
        if index < min(STREAM_READ_TABLES, size):
            extra["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
        name = f"table-{index:02d}"
        described = dynamodb.create_table(
            TableName=name,
            BillingMode="PROVISIONED" if provisioned else "PAY_PER_REQUEST",
            **({"ProvisionedThroughput": units} if provisioned else {}),
            **key,
            **extra,
        )["TableDescription"]
        if "StreamSpecification" in extra:
            lambda_client.create_event_source_mapping(
                EventSourceArn=described["LatestStreamArn"],
                FunctionName=f"fn-{index:05d}",
                StartingPosition="LATEST",
            )
        if PROVISIONED_TABLES - AUTO_SCALED_TABLES <= index < PROVISIONED_TABLES:
            autoscaling.register_scalable_target(
                ServiceNamespace="dynamodb",
                ResourceId=f"table/{name}",
                ScalableDimension="dynamodb:table:WriteCapacityUnits",
                MinCapacity=50,
                MaxCapacity=500,
            )
        if provisioned and index < BUSY:
            _put_series("AWS/DynamoDB", "ConsumedWriteCapacityUnits", {"TableName": name}, 900)


def _streams() -> None:
    """The fixed mix's 10 streams; the provisioned ones busy at a quarter of their shards."""
    kinesis = boto3.client("kinesis")
    for index in range(PROVISIONED_STREAMS + ON_DEMAND_STREAMS):
        name = f"stream-{index:02d}"
        if index < PROVISIONED_STREAMS:
            kinesis.create_stream(StreamName=name, ShardCount=SHARDS)
            dims = {"StreamName": name}
            _put_series("AWS/Kinesis", "IncomingBytes", dims, 0.25 * SHARDS * 1_048_576 * 60)
            _put_series("AWS/Kinesis", "IncomingRecords", dims, 0.25 * SHARDS * 1_000 * 60)
        else:
            kinesis.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})


def _buckets() -> None:
    """The fixed mix's 5 buckets, 2 with a request-metrics configuration for the whole bucket."""
    s3 = boto3.client("s3")
    for index in range(BUCKETS):
        s3.create_bucket(Bucket=f"bench-bucket-{index}")
        if index < BUCKETS_WITH_REQUEST_METRICS:
            s3.put_bucket_metrics_configuration(
                Bucket=f"bench-bucket-{index}",
                Id="EntireBucket",
                MetricsConfiguration={"Id": "EntireBucket"},
            )


def _put_series(namespace: str, metric: str, dims: dict[str, str], value: float) -> None:
    """One datapoint a minute over the sweep's hour (the busy resources' steady load)."""
    boto3.client("cloudwatch").put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                "Timestamp": SWEEP_AT - timedelta(minutes=minute + 3),
                "Value": value,
            }
            for minute in range(60)
        ],
    )


def _throttling(at: datetime) -> None:
    """table-00 throttles writes and stream-00 refuses records (published only when not 0)."""
    cloudwatch = boto3.client("cloudwatch")
    cloudwatch.put_metric_data(
        Namespace="AWS/DynamoDB",
        MetricData=[
            {
                "MetricName": "WriteThrottleEvents",
                "Dimensions": [{"Name": "TableName", "Value": "table-00"}],
                "Timestamp": at,
                "Value": 40.0,
            }
        ],
    )
    cloudwatch.put_metric_data(
        Namespace="AWS/Kinesis",
        MetricData=[
            {
                "MetricName": "WriteProvisionedThroughputExceeded",
                "Dimensions": [{"Name": "StreamName", "Value": "stream-00"}],
                "Timestamp": at,
                "Value": 300.0,
            }
        ],
    )


def _dead_letters(at: datetime) -> None:
    """Three messages in dlq-0, the oldest 10 minutes old (moto publishes no AWS/SQS metric)."""
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="dlq-0")["QueueUrl"]
    for _ in range(3):
        sqs.send_message(QueueUrl=url, MessageBody="{}")
    boto3.client("cloudwatch").put_metric_data(
        Namespace="AWS/SQS",
        MetricData=[
            {
                "MetricName": "ApproximateAgeOfOldestMessage",
                "Dimensions": [{"Name": "QueueName", "Value": "dlq-0"}],
                "Timestamp": at,
                "Value": 600.0,
            }
        ],
    )


FIXED_MIX = (
    PROVISIONED_TABLES
    + ON_DEMAND_TABLES
    + PROVISIONED_STREAMS
    + ON_DEMAND_STREAMS
    + DEAD_LETTER_QUEUES * (1 + SOURCES_PER_DEAD_LETTER_QUEUE)
    + PLAIN_QUEUES
    + BUCKETS
)


def _case(app: Any, size: int, name: str, now: datetime) -> dict[str, Any]:
    started = time.perf_counter()
    result = app.lambda_handler({"time": now.isoformat()}, Context("collect"))
    wall = time.perf_counter() - started
    calls: dict[str, int] = result["api_calls"]
    other = sum(count for api, count in calls.items() if api != "GetMetricData")
    pages = calls.get("ListFunctions", 0)
    return {
        "case": name,
        "resources": size + FIXED_MIX,
        "functions": size,
        "healthy": name != "unhealthy",
        "swept": result["swept"],
        "discovered": result["discovered"],
        "dead_letter_queues": result["dead_letter_queues"],
        "dlq_api_calls": calls.get("GetQueueAttributes", 0) + calls.get("ListQueues", 0),
        "drilled": result["drilled"],
        "signals": result["signals"],
        "metrics_requested": result["metrics_requested"],
        "fast_path_metrics": result["metrics_by_stage"]["fast"],
        "metrics_by_stage": result["metrics_by_stage"],
        "family_resources": result["resources"],
        "get_metric_data_calls": calls.get("GetMetricData", 0),
        "other_api_calls": other,
        "other_api_calls_on_aws": other - pages + (math.ceil(size / 50) if pages else 0),
        "api_calls": calls,
        "handler_seconds": round(wall, 3),
    }


def _inventory_units() -> tuple[int, int]:
    """Read and write request units of the stored inventories: an item's size, in 4 KB for a
    strongly consistent read and 1 KB for a write (DynamoDB on-demand billing)."""
    reads = writes = 0
    items = boto3.client("dynamodb").scan(TableName="bench")["Items"]
    for item in items:
        if item["pk"]["S"].startswith("DISCOVERY#"):
            size = len(json.dumps(item))
            reads += math.ceil(size / 4096)
            writes += math.ceil(size / 1024)
    return reads, writes


def _month(mode: str) -> list[tuple[int, str]]:
    """The cycles of a 30-day month at the default schedule, by case."""
    ordinary = CYCLES_PER_MONTH - SWEEPS_PER_MONTH
    if mode == "off":
        return [(ordinary, "healthy"), (SWEEPS_PER_MONTH, "sweep")]
    return [
        (ordinary, "healthy"),
        (SWEEPS_PER_MONTH - FUNCTION_SWEEPS_PER_MONTH, "sweep"),
        (FUNCTION_SWEEPS_PER_MONTH, "function_sweep"),
    ]


def _monthly(
    month: list[tuple[int, dict[str, Any]]], inventory: tuple[int, int]
) -> dict[str, float]:
    """A healthy month at the default schedule: ordinary cycles and the sweeps of ``month``;
    every sweep is also a discovery."""

    def per_month(field: str) -> float:
        return float(sum(count * case[field] for count, case in month))

    metrics = per_month("metrics_requested")
    calls = per_month("get_metric_data_calls") + per_month("other_api_calls_on_aws")
    collector_seconds = COLLECTOR_BASE_SECONDS * CYCLES_PER_MONTH + SECONDS_PER_API_CALL * calls
    inventory_reads, inventory_writes = inventory
    # Each stored inventory is read whole every cycle; the GetItem count includes one unit each.
    reads = (
        CYCLES_PER_MONTH * EVALUATE_READS_PER_CYCLE
        + per_month("api_calls_query")
        + per_month("api_calls_getitem")
        + CYCLES_PER_MONTH * max(inventory_reads - 3, 0)
    )
    costs = {
        "get_metric_data": metrics * GET_METRIC_DATA_USD_PER_METRIC,
        "lambda": 2 * CYCLES_PER_MONTH * LAMBDA_USD_PER_REQUEST
        + 0.25
        * (collector_seconds + EVALUATE_SECONDS * CYCLES_PER_MONTH)
        * LAMBDA_ARM_USD_PER_GB_SECOND,
        "step_functions": CYCLES_PER_MONTH
        * (EXPRESS_USD_PER_REQUEST + 0.0625 * EXPRESS_SECONDS * EXPRESS_USD_PER_GB_SECOND),
        "dynamodb": reads * DYNAMODB_USD_PER_READ
        + (per_month("api_calls_putitem") + SWEEPS_PER_MONTH * max(inventory_writes - 3, 0))
        * DYNAMODB_USD_PER_WRITE,
        "sqs": per_month("dlq_api_calls") * SQS_USD_PER_REQUEST,
        "cloudwatch_requests": per_month("api_calls_listmetrics") * CLOUDWATCH_USD_PER_REQUEST,
    }
    return {name: round(value, 4) for name, value in costs.items()}


def _edge_fakes() -> Any:
    """What moto lacks for the edge dials, from the emulator: ``ListBucketMetricsConfigurations``
    (moto stores the configuration but lists none) names the 2 configured buckets, and
    ``ListServiceQuotas`` (not implemented) answers no quota with a usage metric, so the
    benchmark counts no quota metric (each watched quota adds one a cycle)."""
    from emulator.edge import EdgeDriver, EdgeScenario  # noqa: PLC0415 - after the sys.path setup

    buckets = [
        {"name": f"bench-bucket-{index}", "request_metrics_from": "0m"}
        for index in range(BUCKETS_WITH_REQUEST_METRICS)
    ]
    scenario = EdgeScenario.model_validate({"buckets": buckets})
    return EdgeDriver(start=SWEEP_AT, scenario=scenario, now=lambda: SWEEP_AT).installed()


def measure(size: int, mode: str = "account-policy") -> dict[str, Any]:
    """The cases of one account size with ``ErrorStreamMode`` ``mode``."""
    os.environ["VIGIL_ERROR_STREAM_MODE"] = mode
    with mock_aws(), _edge_fakes():
        os.environ["VIGIL_EVALUATE_STATE_MACHINE_ARN"] = _account(size)
        app = load_handler("collect_metrics")
        cases: dict[str, dict[str, Any]] = {}
        if mode != "off":
            cases["function_sweep"] = _case(app, size, "function_sweep", FUNCTION_SWEEP_AT)
        cases["sweep"] = _case(app, size, "sweep", SWEEP_AT)
        cases["healthy"] = _case(app, size, "healthy", CYCLE_AT)
        for index in range(min(size, UNHEALTHY_FUNCTIONS)):
            _put(f"fn-{index:05d}", CYCLE_AT + timedelta(minutes=3), 500.0)
        _dead_letters(CYCLE_AT + timedelta(minutes=1))
        _throttling(CYCLE_AT + timedelta(minutes=1))
        cases["unhealthy"] = _case(app, size, "unhealthy", CYCLE_AT + timedelta(minutes=5))
        inventory = _inventory_units()
    for case in cases.values():
        case["api_calls_query"] = case["api_calls"].get("Query", 0)
        case["api_calls_putitem"] = case["api_calls"].get("PutItem", 0)
        case["api_calls_getitem"] = case["api_calls"].get("GetItem", 0)
        case["api_calls_listmetrics"] = case["api_calls"].get("ListMetrics", 0)
    month = [(count, cases[name]) for count, name in _month(mode)]
    costs = _monthly(month, inventory)
    tables = PROVISIONED_TABLES + ON_DEMAND_TABLES
    indexes = PROVISIONED_TABLES_WITH_INDEX + ON_DEMAND_TABLES_WITH_INDEX
    watched = (
        size * WATCHED_METRICS_PER_FUNCTION
        + ACCOUNT_METRICS
        + DEAD_LETTER_QUEUES * WATCHED_METRICS_PER_DEAD_LETTER_QUEUE
        + tables * WATCHED_METRICS_PER_TABLE
        + indexes * WATCHED_METRICS_PER_INDEX
        + (PROVISIONED_TABLES + PROVISIONED_TABLES_WITH_INDEX)
        * WATCHED_METRICS_PER_PROVISIONED_CAPACITY
        + (PROVISIONED_STREAMS + ON_DEMAND_STREAMS) * WATCHED_METRICS_PER_STREAM
        + min(size, STREAM_READ_TABLES) * WATCHED_METRICS_PER_MAPPING
        + BUCKETS_WITH_REQUEST_METRICS * WATCHED_METRICS_PER_REQUEST_METRICS_BUCKET
        + STATE_MACHINES * WATCHED_METRICS_PER_STATE_MACHINE
    )
    return {
        "resources": size,
        "functions": size,
        "tables": tables,
        "streams": PROVISIONED_STREAMS + ON_DEMAND_STREAMS,
        "queues": DEAD_LETTER_QUEUES * (1 + SOURCES_PER_DEAD_LETTER_QUEUE) + PLAIN_QUEUES,
        "buckets": BUCKETS,
        "watched_metrics": watched,
        "error_stream": mode,
        "cycles_per_month": {name: count for count, name in _month(mode)},
        "metrics_per_month": sum(count * case["metrics_requested"] for count, case in month),
        "cases": [cases[name] for name in ORDER if name in cases],
        "projected_monthly_usd": round(sum(costs.values()), 2),
        "projected_monthly_usd_by_item": costs,
        "alarm_per_metric_monthly_usd": round(watched * ALARM_USD_PER_MONTH, 2),
        "naive_get_metric_data_monthly_usd": round(
            3 * size * CYCLES_PER_MONTH * GET_METRIC_DATA_USD_PER_METRIC, 2
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000,5000")
    parser.add_argument(
        "--error-stream",
        choices=MODES,
        default=MODES[0],
        help="the stack's ErrorStreamMode (default: the template's account-policy)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    mode = args.error_stream
    rows = [measure(int(size), mode) for size in args.sizes.split(",")]
    every = RulesConfig().collection.function_sweep(error_stream=mode != "off")
    schedule = (
        "rate(5 minutes), sweep and discovery every 60 minutes, every function's Errors"
        f" every {every:,} minutes"
    )
    if args.json:
        document = {
            "error_stream": mode,
            "cycle_at": CYCLE_AT.isoformat(),
            "sweep_at": SWEEP_AT.isoformat(),
            **({"function_sweep_at": FUNCTION_SWEEP_AT.isoformat()} if mode != "off" else {}),
            "unhealthy": {
                "functions": UNHEALTHY_FUNCTIONS,
                "dead_letter_queues": 1,
                "tables": 1,
                "streams": 1,
            },
            "schedule": schedule,
            "sizes": rows,
        }
        print(json.dumps(document))
        return
    print(f"ErrorStreamMode={mode}: {schedule}")
    columns = (
        "resources",
        "case",
        "healthy",
        "metrics",
        "fast",
        "GMD calls",
        "other",
        "other@AWS",
        "DLQ calls",
        "seconds",
    )
    print(" ".join(f"{name:>10}" for name in columns))
    for row in rows:
        for case in row["cases"]:
            values = (
                case["resources"],
                case["case"],
                case["healthy"],
                case["metrics_requested"],
                case["fast_path_metrics"],
                case["get_metric_data_calls"],
                case["other_api_calls"],
                case["other_api_calls_on_aws"],
                case["dlq_api_calls"],
                case["handler_seconds"],
            )
            print(" ".join(f"{value!s:>10}" for value in values))
        print(
            f"{'':>10} projected ${row['projected_monthly_usd']}/month"
            f" (alarm per metric ${row['alarm_per_metric_monthly_usd']},"
            f" naive polling ${row['naive_get_metric_data_monthly_usd']})"
        )


if __name__ == "__main__":
    main()
