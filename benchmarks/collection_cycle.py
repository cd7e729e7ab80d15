"""What one metrics collection cycle costs, measured against moto.

For accounts of 10, 100 and 1,000 Lambda functions (a few of them erroring), run the real
collect_metrics handler once and count what it asks of AWS: API calls by operation,
metrics requested from GetMetricData (the billed unit), the size of the signal batch it
hands to the Evaluate workflow, and the handler's wall time (noisy; compare ratios).

    .venv/bin/python benchmarks/collection_cycle.py [--sizes 10,100,1000] [--json]

moto answers ListFunctions in a single page; on AWS it pages by 50, so the report also
gives ``list_functions_pages_on_aws``. moto's GetMetricData scans every stored datapoint
for every query, so handler time grows quadratically here; on AWS it does not.
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

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ERRORING = 5


class _Context:
    function_name = "collect"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:collect"
    memory_limit_in_mb = 256
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def _account(size: int) -> str:
    role = boto3.client("iam").create_role(
        RoleName="workload", AssumeRolePolicyDocument=json.dumps({"Statement": []})
    )["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(e, c):\n    return e\n")
    code = buffer.getvalue()
    lambda_client = boto3.client("lambda")
    cloudwatch = boto3.client("cloudwatch")
    window_start = NOW - timedelta(minutes=7)
    for index in range(size):
        name = f"fn-{index:05d}"
        lambda_client.create_function(
            FunctionName=name,
            Runtime="python3.13",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": code},
        )
        errors = 30.0 if index < ERRORING else 0.0
        cloudwatch.put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {
                    "MetricName": metric,
                    "Dimensions": [{"Name": "FunctionName", "Value": name}],
                    "Timestamp": window_start + timedelta(minutes=minute, seconds=30),
                    "Value": value,
                }
                for minute in range(5)
                for metric, value in (("Invocations", 1_000.0), ("Errors", errors))
            ],
        )
    arn: str = boto3.client("stepfunctions").create_state_machine(
        name="evaluate",
        definition=json.dumps({"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/sfn",
        type="EXPRESS",
    )["stateMachineArn"]
    return arn


def _handler() -> Any:
    spec = importlib.util.spec_from_file_location(
        "bench_collect", ROOT / "functions" / "collect_metrics" / "app.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure(size: int) -> dict[str, Any]:
    with mock_aws():
        os.environ["VIGIL_EVALUATE_STATE_MACHINE_ARN"] = _account(size)
        app = _handler()
        started = time.perf_counter()
        result = app.lambda_handler({"time": NOW.isoformat()}, _Context())
        wall = time.perf_counter() - started
        execution = boto3.client("stepfunctions").describe_execution(
            executionArn=result["execution_arn"]
        )
    calls = result["api_calls"]
    return {
        "functions": size,
        "signals": result["signals"],
        "metrics_requested": result["metrics_requested"],
        "api_calls": calls,
        "api_calls_total": sum(calls.values()),
        "list_functions_pages_on_aws": math.ceil(size / 50),
        "batch_bytes": len(execution["input"].encode()),
        "handler_seconds": round(wall, 3),
        "get_metric_data_usd_per_month_at_5_min": round(
            result["metrics_requested"] * 8_640 / 1_000 * 0.01, 2
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    rows = [measure(int(size)) for size in args.sizes.split(",")]
    if args.json:
        document = {"cycle_at": NOW.isoformat(), "erroring_functions": ERRORING, "rows": rows}
        print(json.dumps(document))
        return
    columns = ("functions", "signals", "metrics", "calls", "pages@AWS", "batch B", "seconds")
    print(" ".join(f"{name:>9}" for name in (*columns, "GMD $/mo")))
    for row in rows:
        values = (
            row["functions"],
            row["signals"],
            row["metrics_requested"],
            row["api_calls_total"],
            row["list_functions_pages_on_aws"],
            row["batch_bytes"],
            row["handler_seconds"],
            row["get_metric_data_usd_per_month_at_5_min"],
        )
        print(" ".join(f"{value:>9}" for value in values))
        print(f"{'':>9} calls by operation: {row['api_calls']}")


if __name__ == "__main__":
    main()
