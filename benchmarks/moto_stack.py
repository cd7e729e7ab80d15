"""What the benchmarks that run a real handler on moto share: the fake AWS environment, the
state table and an Evaluate workflow stub as the template defines them, the handler loaded as
Lambda loads it, its context, and the public us-east-1 prices their costs use.

Importing this module reads no AWS and imports no handler: a benchmark sets the environment
first (``BENCH_ENV``), since Powertools reads it when a handler is imported.
"""

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import boto3
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"
REGION = "us-east-1"
TABLE = "bench"
BENCH_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_METRICS_NAMESPACE": "Vigil",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "VIGIL_STACK_NAME": "bench",
    "VIGIL_TABLE_NAME": TABLE,
    "VIGIL_RULES": "{}",
    "VIGIL_BATCH_BUCKET": "bench-batches",
}
"""Fake credentials and the functions' common variables."""

# Public us-east-1 prices.
LAMBDA_USD_PER_REQUEST = 0.20 / 1_000_000
LAMBDA_ARM_USD_PER_GB_SECOND = 0.0000133334
DYNAMODB_USD_PER_READ = 0.125 / 1_000_000
DYNAMODB_USD_PER_WRITE = 0.625 / 1_000_000
GET_METRIC_DATA_USD_PER_METRIC = 0.01 / 1_000
EXPRESS_USD_PER_REQUEST = 1.00 / 1_000_000
EXPRESS_USD_PER_GB_SECOND = 0.00001667


def create_state_table() -> None:
    """The state table exactly as template.yaml defines its keys and indexes."""
    props = yaml_parse((ROOT / "template.yaml").read_text())["Resources"]["StateTable"][
        "Properties"
    ]
    boto3.client("dynamodb").create_table(
        TableName=TABLE,
        BillingMode=props["BillingMode"],
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"],
    )


def create_evaluate_stub() -> str:
    """An EXPRESS workflow that succeeds at once, standing in for Evaluate; its ARN."""
    arn: str = boto3.client("stepfunctions").create_state_machine(
        name="evaluate",
        definition=json.dumps({"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
        type="EXPRESS",
    )["stateMachineArn"]
    return arn


def load_handler(function: str) -> ModuleType:
    """``functions/<function>/app.py`` imported fresh: a cold start."""
    spec = importlib.util.spec_from_file_location(
        f"bench_{function}", ROOT / "functions" / function / "app.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Context:
    """The parts of the Lambda context the handlers and Powertools read."""

    function_version = "$LATEST"
    memory_limit_in_mb = 256
    aws_request_id = "bench"

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000
