"""Handlers and adapters against in-process moto, with tables built from template.yaml."""

import importlib.util
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from samtranslator.yaml_helper import yaml_parse

from emulator import backoff, dynamodb_transactions, dynamodb_types
from vigil.adapters.collector_state import CollectorState
from vigil.adapters.inventory import ResourceTags
from vigil.adapters.stats import CallStats
from vigil.core.model import Signal, SignalBatch
from vigil.dials.inventory import ResourceTagIndex, TagScope
from vigil.rules.document import RulesConfig

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
REGION = "us-east-1"
TABLE = "vigil-state"
RUNBOOK_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:vigil-runbook"
BATCH_BUCKET = "vigil-batches"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:vigil-alerts"


def template_resource(logical_id: str) -> dict[str, Any]:
    template = yaml_parse((ROOT / "template.yaml").read_text())
    resource: dict[str, Any] = template["Resources"][logical_id]
    return resource


@pytest.fixture(autouse=True)
def retry_waits() -> Iterator[list[float]]:
    """The chat clients' retry back-off (slack_sdk sleeps 0.5 s, 1 s, 2 s between attempts),
    noted here instead of slept: the attempts and what each sends are unchanged."""
    waits: list[float] = []
    with backoff.installed(waits):
        yield waits


@pytest.fixture
def aws() -> Iterator[None]:
    """moto, with the emulator's faster DynamoDB: items sorted by key values read once, and a
    transaction's rollback copy limited to the items it changes (the same answers as moto's:
    ``tests/unit/test_emulator_dynamodb.py``)."""
    with mock_aws(), dynamodb_types.installed(), dynamodb_transactions.installed():
        yield


@pytest.fixture
def table(aws: None) -> str:
    """The state table exactly as template.yaml defines its keys and indexes."""
    props = template_resource("StateTable")["Properties"]
    client = boto3.client("dynamodb")
    client.create_table(
        TableName=TABLE,
        BillingMode=props["BillingMode"],
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"],
    )
    return TABLE


@pytest.fixture
def alerts_topic(aws: None) -> Callable[[], list[dict[str, Any]]]:
    """The alerts topic (``TOPIC_ARN``) with a queue subscribed; the returned function lists
    the SNS envelopes published so far (subject, attributes, the default body)."""
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name=TOPIC_ARN.rsplit(":", 1)[1])["TopicArn"]
    queue = sqs.create_queue(QueueName="published")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
    seen: list[dict[str, Any]] = []

    def published() -> list[dict[str, Any]]:
        while True:
            got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
            messages = got.get("Messages", [])
            if not messages:
                return list(seen)
            for message in messages:
                seen.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])

    return published


class FakeContext:
    """The parts of LambdaContext the handlers and Powertools read."""

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"
        self.memory_limit_in_mb = 256
        self.aws_request_id = "00000000-0000-0000-0000-000000000000"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture
def load_handler(monkeypatch: pytest.MonkeyPatch) -> Callable[..., ModuleType]:
    """Import ``functions/<name>/app.py`` fresh (a cold start) with the given environment."""

    def load(name: str, **env: str) -> ModuleType:
        base = {
            "VIGIL_STACK_NAME": "vigil-test",
            "VIGIL_TABLE_NAME": TABLE,
            "VIGIL_RULES": "{}",
            "VIGIL_RUNBOOK_STATE_MACHINE_ARN": RUNBOOK_ARN,
            "VIGIL_BATCH_BUCKET": BATCH_BUCKET,
            "VIGIL_ALERTS_TOPIC_ARN": TOPIC_ARN,
        }
        for key, value in {**base, **env}.items():
            monkeypatch.setenv(key, value)
        spec = importlib.util.spec_from_file_location(
            f"handler_{name}", ROOT / "functions" / name / "app.py"
        )
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture
def context() -> Callable[[str], FakeContext]:
    return FakeContext


def create_workload_function(name: str) -> None:
    """A plain Lambda function for Vigil to watch."""
    iam = boto3.client("iam")
    try:
        role = iam.get_role(RoleName="workload")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(
            RoleName="workload",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    boto3.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": buffer.getvalue()},
    )


def label_by_tags(
    table: str,
    stats: CallStats,
    signals: list[Signal],
    *,
    rules: RulesConfig,
    discovery: bool,
    now: datetime,
) -> SignalBatch:
    """A collector batch of ``signals`` through the resource tag index as the collector builds
    it (``ResourceTagIndex`` over the tagging API and the state table), labelled."""
    index = ResourceTagIndex(
        TagScope(rules.tags, ResourceTags(boto3.client("resourcegroupstaggingapi"), stats)),
        CollectorState(boto3.client("dynamodb"), table, stats=stats),
        rules,
        account=ACCOUNT,
        region=REGION,
        discovery=discovery,
        now=now,
    )
    batch = SignalBatch(
        batch_id="metrics-test",
        source="metrics",
        collected_at=now,
        covered_kinds=["lambda.errors"],
        signals=signals,
    )
    return index.labelled(batch)
