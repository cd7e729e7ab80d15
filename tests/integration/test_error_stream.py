"""The error stream on moto: error lines tracked by fingerprint in the state table, a new kind
of error signalled once, a quiet function's first errors judged at once, and an error storm
that writes a bounded number of items (ADR 42).

Payloads are built the way CloudWatch Logs sends them to a Lambda subscriber (base64 of the
gzipped ``DATA_MESSAGE`` document, AWS CloudWatch Logs User Guide, "Example 2: Subscription
filters with AWS Lambda"); the error lines are the Python 3.13 runtime's unhandled-exception
record (AWS Lambda Developer Guide, "Lambda function errors in Python").
"""

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.factories import ACCOUNT, CONTROL_MESSAGE, REGION, T0, awslogs_data, labels
from tests.integration.conftest import BATCH_BUCKET, FakeContext
from vigil.adapters.alert_store import AlertStore
from vigil.adapters.collector_state import CollectorState
from vigil.adapters.error_store import AlertLookup, ErrorStore
from vigil.adapters.stats import CallStats
from vigil.adapters.workflow import MAX_INLINE_BYTES
from vigil.core.model import Alert, AlertState, Evidence, SignalBatch
from vigil.rules.document import RulesConfig
from vigil.tracking.logs import ErrorLine
from vigil.tracking.stream import StreamPorts, Volume, take_delivery

RULES = RulesConfig()


class Invocations:
    """CloudWatch ``Invocations`` of one function, a minute each (counted reads)."""

    def __init__(self, per_minute: float) -> None:
        self.per_minute = per_minute
        self.reads = 0

    def invocations(self, function: str, start: datetime, end: datetime) -> dict[datetime, float]:
        self.reads += 1
        minutes = int((end - start).total_seconds() // 60)
        # The last minute is not published yet, as in CloudWatch about a minute late.
        return {start + timedelta(minutes=m): self.per_minute for m in range(minutes - 1)}


FRAMES = ('File "/var/task/app.py", line 12, in lambda_handler',)


def _line(
    at: datetime,
    error: str = "KeyError",
    message: str = "'user_id'",
    n: int = 0,
    frames: tuple[str, ...] = FRAMES,
) -> ErrorLine:
    return ErrorLine(
        timestamp=at,
        error_type=error,
        message=message,
        frames=frames,
        request_id=f"8f5e8a4c-0000-4000-8000-{n:012d}",
        trace_id=f"1-67a0b000-{n:024x}",
    )


@pytest.fixture
def store(table: str) -> ErrorStore:
    return ErrorStore(boto3.client("dynamodb"), table, CallStats())


class Evaluations:
    """The Evaluate workflow's start, recorded."""

    def __init__(self) -> None:
        self.started: list[SignalBatch] = []

    def start(self, batch: SignalBatch) -> str:
        self.started.append(batch)
        return f"arn:aws:states:{REGION}:{ACCOUNT}:express:evaluate:{batch.batch_id}"


def _ports(store: ErrorStore, invocations: Invocations, table: str) -> StreamPorts:
    alerts = AlertStore(boto3.client("dynamodb"), table, retention=timedelta(days=30))
    return StreamPorts(
        errors=store,
        invocations=invocations,
        alerts=AlertLookup(alerts.get),
        evaluations=Evaluations(),
    )


def _take(function: str, lines: list[ErrorLine], ports: StreamPorts) -> Any:
    return take_delivery(function, lines, rules=RULES, ports=ports, account=ACCOUNT, region=REGION)


def test_a_quiet_functions_first_errors_alert_at_once_and_name_the_error(
    store: ErrorStore, table: str
) -> None:
    invocations = Invocations(per_minute=2)
    ports = _ports(store, invocations, table)
    at = T0 + timedelta(minutes=30, seconds=20)

    delivery = _take("batch-job", [_line(at, n=1), _line(at + timedelta(seconds=30), n=2)], ports)

    assert delivery is not None
    assert delivery.batch is not None
    kinds = [signal.labels.kind for signal in delivery.batch.signals]
    assert kinds == ["lambda.new_error_type", "lambda.errors"]
    woken = delivery.batch.signals[1]
    # 4 published minutes x 2, and the minute not published yet had at least its 2 failures.
    assert woken.samples == {"errors": 2.0, "invocations": 10.0}
    assert woken.errors[0].error_type == "KeyError"
    assert woken.errors[0].count == 2
    assert woken.errors[0].trace_id == "1-67a0b000-000000000000000000000002"
    assert delivery.batch.collected_at == at + timedelta(seconds=30)  # time from the lines
    assert invocations.reads == 1


def test_the_same_error_again_is_not_new_and_a_claimed_wake_is_not_sent_twice(
    store: ErrorStore, table: str
) -> None:
    ports = _ports(store, Invocations(per_minute=2), table)
    at = T0 + timedelta(minutes=30)
    first = _take("batch-job", [_line(at, n=1), _line(at, n=2)], ports)
    again = _take("batch-job", [_line(at + timedelta(seconds=40), n=3)], ports)
    other = _take(
        "batch-job",
        [_line(at + timedelta(minutes=1), "TypeError", "'NoneType' object is not subscriptable")],
        ports,
    )

    assert first is not None
    assert first.new_types == 1
    assert first.woken
    assert again is not None
    assert again.new_types == 0
    assert again.batch is None  # the wake is claimed for the window, and nothing is new
    assert other is not None
    assert other.batch is not None
    assert [s.labels.kind for s in other.batch.signals] == ["lambda.new_error_type"]
    assert other.batch.signals[0].errors[0].error_type == "TypeError"
    groups = store.groups("batch-job", since=at, limit=5)
    assert [(g.error_type, g.count) for g in groups] == [("KeyError", 3), ("TypeError", 1)]


def test_a_type_not_seen_for_new_type_days_is_new_again(store: ErrorStore, table: str) -> None:
    ports = _ports(store, Invocations(per_minute=1000), table)
    _take("orders", [_line(T0)], ports)
    later = _take("orders", [_line(T0 + timedelta(days=15))], ports)

    assert later is not None
    assert later.new_types == 1


def test_a_busy_function_with_background_errors_reads_its_volume_once_an_hour(
    store: ErrorStore, table: str
) -> None:
    """20,000 invocations a minute, an error every 30 s: no wake, and after
    the first judgement the kept volume answers without a CloudWatch read."""
    invocations = Invocations(per_minute=20_000)
    ports = _ports(store, invocations, table)
    deliveries = [
        _take("search-api", [_line(T0 + timedelta(seconds=s), n=s)], ports)
        for s in range(0, 3700, 30)
    ]

    assert all(d is not None and not d.woken for d in deliveries)
    assert invocations.reads == 2  # once at the start, once when the kept volume is an hour old
    assert sum(d.volume_read for d in deliveries if d) == 2


def test_a_function_with_an_open_alert_is_left_to_the_cycles(store: ErrorStore, table: str) -> None:
    alerts = AlertStore(boto3.client("dynamodb"), table, retention=timedelta(days=30))
    evidence = Evidence(
        value=50, threshold=0.1, unit="Percent", window_seconds=300, observed_at=T0, summary="x"
    )
    firing = Alert(
        labels=labels("batch-job"),
        state=AlertState.FIRING,
        severity="critical",
        first_seen=T0,
        last_seen=T0,
        fired_at=T0,
        evidence=evidence,
        last_batch="b0",
    )
    alerts.save(None, firing)
    invocations = Invocations(per_minute=2)

    delivery = _take("batch-job", [_line(T0), _line(T0)], _ports(store, invocations, table))

    assert delivery is not None
    assert not delivery.woken
    assert invocations.reads == 0


def test_an_error_storm_writes_a_bounded_number_of_items(store: ErrorStore, table: str) -> None:
    """10,000 error lines in a minute, each message different (ids and numbers in text that
    normalisation cannot all catch: the worst case), in 10 deliveries of 1,000."""
    ports = _ports(store, Invocations(per_minute=10_000), table)
    at = T0 + timedelta(minutes=5)
    for batch in range(10):
        lines = [
            _line(
                at + timedelta(seconds=n % 60),
                "ValueError",
                f"bad row {chr(65 + n % 26) * (n % 7 + 1)}",
                n,
                frames=(),
            )
            for n in range(batch * 1000, batch * 1000 + 1000)
        ]
        _take("ingest", lines, ports)

    writes = store.stats.by_api.get("UpdateItem", 0) + store.stats.by_api.get("PutItem", 0)
    items = boto3.client("dynamodb").query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "ERRORS#ingest"}},
    )["Items"]
    groups = [item for item in items if item["sk"]["S"].startswith("GROUP#")]
    minute = [item for item in items if item["sk"]["S"].startswith("MINUTE#")]
    assert len(groups) <= RULES.error_tracking.groups_per_minute
    assert sum(int(item["count"]["N"]) for item in minute) == 10_000  # every line counted
    assert writes <= 10 * (1 + RULES.error_tracking.groups_per_minute) + 3


def test_a_volume_kept_stands_in_for_a_read(store: ErrorStore, table: str) -> None:
    store.keep_volume("batch-job", Volume(per_minute=2, measured_at=T0))
    assert store.volume("batch-job") == Volume(per_minute=2, measured_at=T0)


def _payload(group: str, messages: list[tuple[datetime, str]]) -> dict[str, Any]:
    document = {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": group,
        "logStream": "2025/03/14/[$LATEST]0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        "subscriptionFilters": ["vigil-error-stream"],
        "logEvents": [
            {
                "id": str(36000000000000000000000000000000000000 + n),
                "timestamp": int(at.timestamp() * 1000),
                "message": text,
            }
            for n, (at, text) in enumerate(messages)
        ],
    }
    return {"awslogs": {"data": awslogs_data(document)}}


PYTHON_ERROR = (
    "[ERROR] KeyError: 'user_id'\r"
    "Traceback (most recent call last):\r"
    '\u00a0\u00a0File "/var/task/app.py", line 12, in lambda_handler\r'
    "\u00a0\u00a0\u00a0\u00a0return load(event['user_id'])\n"
)


@pytest.fixture
def handler(table: str, load_handler: Callable[..., ModuleType]) -> ModuleType:
    sfn = boto3.client("stepfunctions")
    iam = boto3.client("iam")
    role = iam.create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    machine = sfn.create_state_machine(
        name="evaluate",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn=role,
        type="EXPRESS",
    )["stateMachineArn"]
    boto3.client("s3").create_bucket(Bucket=BATCH_BUCKET)
    return load_handler(
        "error_stream",
        VIGIL_EVALUATE_STATE_MACHINE_ARN=machine,
        AWS_REGION=REGION,
        VIGIL_ERROR_STREAM_MODE="account-policy",
    )


def test_the_handler_tracks_a_delivery_and_starts_an_evaluation(handler: ModuleType) -> None:
    at = T0 + timedelta(minutes=30)
    event = _payload("/aws/lambda/batch-job", [(at, PYTHON_ERROR), (at, PYTHON_ERROR)])

    summary = handler.lambda_handler(event, FakeContext("vigil-error-stream"))

    assert summary["function"] == "batch-job"
    assert summary["lines"] == 2
    assert summary["new_types"] == 1
    assert summary["signals"] == ["lambda.new_error_type", "lambda.errors"]
    assert summary["execution_arn"].startswith("arn:aws:states:")


def test_the_handler_skips_control_messages_and_other_log_groups(handler: ModuleType) -> None:
    data = awslogs_data(CONTROL_MESSAGE)
    other = _payload("/ecs/orders", [(T0, PYTHON_ERROR)])

    assert handler.lambda_handler({"awslogs": {"data": data}}, FakeContext("s")) == {
        "skipped": "control message"
    }
    assert handler.lambda_handler(other, FakeContext("s")) == {"skipped": "log group"}


def test_the_lines_of_a_function_the_tag_filters_exclude_are_dropped(
    table: str, load_handler: Callable[..., ModuleType]
) -> None:
    CollectorState(boto3.client("dynamodb"), table).remember_inventory(
        "tags", [{"excluded_function": "sandbox-job"}], at=T0
    )
    rules = json.dumps({"tags": {"include": [{"key": "team"}]}})
    module = load_handler(
        "error_stream",
        VIGIL_EVALUATE_STATE_MACHINE_ARN=f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:e",
        AWS_REGION=REGION,
        VIGIL_RULES=rules,
    )
    event = _payload("/aws/lambda/sandbox-job", [(T0, PYTHON_ERROR)])

    summary = module.lambda_handler(event, FakeContext("vigil-error-stream"))

    assert summary == {"skipped": "tags", "function": "sandbox-job"}


def test_a_delivery_retried_after_a_failed_start_still_wakes_its_function(
    handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """StartExecution throttled after the wake was claimed (a failure between two writes):
    Lambda retries the delivery, whose batch id is the same, so it claims again and starts the
    evaluation, new error type included: the counts are written only after the start."""
    client = handler._env().clients["stepfunctions"]
    real = client.start_execution
    attempts: list[str] = []

    def throttled_once(**kwargs: Any) -> Any:
        attempts.append(kwargs["name"])
        if len(attempts) == 1:
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
                "StartExecution",
            )
        return real(**kwargs)

    monkeypatch.setattr(client, "start_execution", throttled_once)
    at = T0 + timedelta(minutes=30)
    event = _payload("/aws/lambda/batch-job", [(at, PYTHON_ERROR), (at, PYTHON_ERROR)])

    with pytest.raises(ClientError):
        handler.lambda_handler(event, FakeContext("vigil-error-stream"))
    retried = handler.lambda_handler(event, FakeContext("vigil-error-stream"))

    # Nothing was written before the start failed: the retry decides the same, new type too.
    assert retried["signals"] == ["lambda.new_error_type", "lambda.errors"]
    assert retried["woken"]
    assert attempts == [attempts[0], attempts[0]]  # the same batch, the same evaluation


def test_a_deliverys_batch_always_fits_a_workflow_input(store: ErrorStore, table: str) -> None:
    """The largest batch a delivery can make: new types and a wake, every group at its longest
    message and type. It goes inline, never by reference (ADR 28)."""
    ports = _ports(store, Invocations(per_minute=1), table)
    lines = [
        _line(T0, f"Error{n:03d}" + "E" * 180, "\u00e9" * 500, n, frames=()) for n in range(50)
    ]

    delivery = _take("wide", lines, ports)

    assert delivery is not None
    assert delivery.batch is not None
    assert len(delivery.batch.signals) == 2
    assert len(delivery.batch.model_dump_json().encode()) < MAX_INLINE_BYTES / 10
