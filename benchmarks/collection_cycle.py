"""What one metrics collection cycle costs, measured against moto.

For synthetic accounts of 10, 100, 1,000 and 5,000 Lambda functions, run the real
collect_metrics handler on three cycles and count what each asks of AWS:

- ``healthy``: an ordinary cycle of a healthy account (the fast path: account aggregates);
- ``sweep``: the healthy account's hourly sweep cycle (every function's Errors, once an hour);
- ``unhealthy``: an ordinary cycle with 5 unhealthy resources: 4 functions failing half their
  requests (drill-down) and a dead-letter queue holding messages.

Besides the functions, every account has the fixed mix's 20 SQS queues: 5 dead-letter queues,
each the ``RedrivePolicy`` target of 2 source queues, and 5 plain queues. The sweep cycle is
also the hourly dead-letter discovery (``ListQueues`` and every queue's attributes); every
cycle reads the 5 dead-letter queues' depth (``GetQueueAttributes``, ``dlq_api_calls``).

For each case: ``resources``, ``healthy``, ``metrics_requested`` (the billed unit),
``get_metric_data_calls``, ``other_api_calls`` (moto answers ListFunctions in one page; AWS
pages by 50, counted in ``other_api_calls_on_aws``) and ``handler_seconds``; for each size the
projected monthly cost at the default schedule (``projected_monthly_usd``) next to one $0.10
CloudWatch alarm per resource metric Vigil watches (``alarm_per_metric_monthly_usd``).

    .venv/bin/python benchmarks/collection_cycle.py [--sizes 10,100,1000,5000] [--json]

Only 10 functions of each account carry traffic; the others exist but are idle (Lambda
publishes nothing for an idle function). Metrics requested do not depend on it; moto's time
does, since its GetMetricData scans every stored datapoint for every query. Handler times
say little about AWS.
"""

import argparse
import importlib.util
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
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_NAMESPACE": "Vigil",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "VIGIL_STACK_NAME": "bench",
        "VIGIL_TABLE_NAME": "bench",
        "VIGIL_RULES": "{}",
    }
)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402

# 09:02 -> window 08:55-09:00 crosses the hour: the sweep cycle. 09:07 is an ordinary one.
SWEEP_AT = datetime(2026, 11, 2, 9, 2, tzinfo=UTC)
CYCLE_AT = SWEEP_AT + timedelta(minutes=5)
BUSY = 10
UNHEALTHY_FUNCTIONS = 4
DEAD_LETTER_QUEUES = 5
SOURCES_PER_DEAD_LETTER_QUEUE = 2
PLAIN_QUEUES = 5
CYCLES_PER_MONTH = 12 * 24 * 30
SWEEPS_PER_MONTH = 24 * 30
# Public us-east-1 prices.
GET_METRIC_DATA_USD_PER_METRIC = 0.01 / 1_000
ALARM_USD_PER_MONTH = 0.10
EXPRESS_USD_PER_REQUEST = 1.00 / 1_000_000
EXPRESS_USD_PER_GB_SECOND = 0.00001667
LAMBDA_USD_PER_REQUEST = 0.20 / 1_000_000
LAMBDA_ARM_USD_PER_GB_SECOND = 0.0000133334
DYNAMODB_USD_PER_READ = 0.125 / 1_000_000
DYNAMODB_USD_PER_WRITE = 0.625 / 1_000_000
SQS_USD_PER_REQUEST = 0.40 / 1_000_000
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


class _Context:
    function_name = "collect"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:collect"
    memory_limit_in_mb = 256
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


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
    _queues()
    props = yaml_parse((ROOT / "template.yaml").read_text())["Resources"]["StateTable"][
        "Properties"
    ]
    boto3.client("dynamodb").create_table(
        TableName="bench",
        BillingMode=props["BillingMode"],
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"],
    )
    arn: str = boto3.client("stepfunctions").create_state_machine(
        name="evaluate",
        definition=json.dumps({"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/sfn",
        type="EXPRESS",
    )["stateMachineArn"]
    return arn


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


def _handler() -> Any:
    spec = importlib.util.spec_from_file_location(
        "bench_collect", ROOT / "functions" / "collect_metrics" / "app.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _case(app: Any, size: int, name: str, now: datetime) -> dict[str, Any]:
    started = time.perf_counter()
    result = app.lambda_handler({"time": now.isoformat()}, _Context())
    wall = time.perf_counter() - started
    calls: dict[str, int] = result["api_calls"]
    other = sum(count for api, count in calls.items() if api != "GetMetricData")
    pages = calls.get("ListFunctions", 0)
    return {
        "case": name,
        "resources": size,
        "healthy": name != "unhealthy",
        "swept": result["swept"],
        "discovered": result["discovered"],
        "dead_letter_queues": result["dead_letter_queues"],
        "dlq_api_calls": calls.get("GetQueueAttributes", 0) + calls.get("ListQueues", 0),
        "drilled": result["drilled"],
        "signals": result["signals"],
        "metrics_requested": result["metrics_requested"],
        "get_metric_data_calls": calls.get("GetMetricData", 0),
        "other_api_calls": other,
        "other_api_calls_on_aws": other - pages + (math.ceil(size / 50) if pages else 0),
        "api_calls": calls,
        "handler_seconds": round(wall, 3),
    }


def _monthly(healthy: dict[str, Any], sweep: dict[str, Any]) -> dict[str, float]:
    """A healthy month at the default schedule: ordinary cycles plus one sweep an hour."""
    ordinary = CYCLES_PER_MONTH - SWEEPS_PER_MONTH
    metrics = (
        ordinary * healthy["metrics_requested"] + SWEEPS_PER_MONTH * sweep["metrics_requested"]
    )

    def per_month(field: str) -> float:
        return float(ordinary * healthy[field] + SWEEPS_PER_MONTH * sweep[field])

    calls = per_month("get_metric_data_calls") + per_month("other_api_calls_on_aws")
    collector_seconds = COLLECTOR_BASE_SECONDS * CYCLES_PER_MONTH + SECONDS_PER_API_CALL * calls
    reads = (
        CYCLES_PER_MONTH * EVALUATE_READS_PER_CYCLE
        + per_month("api_calls_query")
        + per_month("api_calls_getitem")
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
        + per_month("api_calls_putitem") * DYNAMODB_USD_PER_WRITE,
        "sqs": per_month("dlq_api_calls") * SQS_USD_PER_REQUEST,
    }
    return {name: round(value, 4) for name, value in costs.items()}


def measure(size: int) -> dict[str, Any]:
    with mock_aws():
        os.environ["VIGIL_EVALUATE_STATE_MACHINE_ARN"] = _account(size)
        app = _handler()
        sweep = _case(app, size, "sweep", SWEEP_AT)
        healthy = _case(app, size, "healthy", CYCLE_AT)
        for index in range(min(size, UNHEALTHY_FUNCTIONS)):
            _put(f"fn-{index:05d}", CYCLE_AT + timedelta(minutes=3), 500.0)
        _dead_letters(CYCLE_AT + timedelta(minutes=1))
        unhealthy = _case(app, size, "unhealthy", CYCLE_AT + timedelta(minutes=5))
    for case in (healthy, sweep):
        case["api_calls_query"] = case["api_calls"].get("Query", 0)
        case["api_calls_putitem"] = case["api_calls"].get("PutItem", 0)
        case["api_calls_getitem"] = case["api_calls"].get("GetItem", 0)
    costs = _monthly(healthy, sweep)
    watched = (
        size * WATCHED_METRICS_PER_FUNCTION
        + ACCOUNT_METRICS
        + DEAD_LETTER_QUEUES * WATCHED_METRICS_PER_DEAD_LETTER_QUEUE
    )
    return {
        "resources": size,
        "queues": DEAD_LETTER_QUEUES * (1 + SOURCES_PER_DEAD_LETTER_QUEUE) + PLAIN_QUEUES,
        "cases": [healthy, sweep, unhealthy],
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
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    rows = [measure(int(size)) for size in args.sizes.split(",")]
    if args.json:
        document = {
            "cycle_at": CYCLE_AT.isoformat(),
            "sweep_at": SWEEP_AT.isoformat(),
            "unhealthy_functions": UNHEALTHY_FUNCTIONS,
            "unhealthy_dead_letter_queues": 1,
            "schedule": "rate(5 minutes), sweep and dead-letter discovery every 60 minutes",
            "sizes": rows,
        }
        print(json.dumps(document))
        return
    columns = (
        "resources",
        "case",
        "healthy",
        "metrics",
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
