"""The outbox, the batch bucket and the Evaluate workflow's start on moto."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from tests.factories import T0, batch, error_signal, minutes
from tests.integration.conftest import BATCH_BUCKET, TOPIC_ARN, FakeContext
from vigil.adapters.outbox import OutboxStore, SnsPublisher
from vigil.adapters.routing_store import GroupStore
from vigil.adapters.stats import CallStats
from vigil.adapters.workflow import (
    MAX_INLINE_BYTES,
    BatchTooLarge,
    EvaluateWorkflow,
    S3Batches,
    batch_of,
)
from vigil.alerting.grouping import Group
from vigil.alerting.outbox import OutboxEntry, deliver
from vigil.core.errors import ConflictError, InvalidEventError
from vigil.core.model import BatchRef, Notification, Severity

RETENTION = timedelta(days=30)
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:vigil-evaluate"


def _note(notification_id: str) -> Notification:
    return Notification(
        notification_id=notification_id,
        subject=f"[WARNING] {notification_id}",
        message='{"default": "x", "email": "x", "lambda": "{}"}',
        severity=Severity.WARNING,
        status="firing",
        category="alert",
        receiver="default",
        channels='["email"]',
    )


def _group(revision: int = 0) -> Group:
    return Group(
        group_id="g1",
        receiver="default",
        route="route",
        key="{}",
        send_resolved=True,
        group_wait_seconds=0,
        group_interval_seconds=300,
        repeat_interval_seconds=3600,
        created_at=T0,
        updated_at=T0,
        revision=revision,
    )


def test_a_group_and_its_notification_are_written_together_or_not_at_all(table: str) -> None:
    client = boto3.client("dynamodb")
    groups = GroupStore(client, table, retention=RETENTION)
    outbox = OutboxStore(client, table, retention=RETENTION)
    first = OutboxEntry(_note("n1"), batch_id="b1", decided_at=T0)
    groups.save(None, _group(), [first])

    stale = OutboxEntry(_note("n2"), batch_id="b2", decided_at=T0 + minutes(5))
    with pytest.raises(ConflictError):
        groups.save(None, _group(), [stale])  # lost the race: the group exists already

    assert [e.notification.notification_id for e in outbox.pending()] == ["n1"]


def test_sent_notifications_leave_the_pending_index(
    table: str, alerts_topic: Callable[[], list[dict[str, Any]]]
) -> None:
    client = boto3.client("dynamodb")
    outbox = OutboxStore(client, table, retention=RETENTION)
    outbox.put([OutboxEntry(_note(f"n{i}"), batch_id="b", decided_at=T0) for i in range(23)])
    publisher = SnsPublisher(boto3.client("sns"), TOPIC_ARN)

    done = deliver(outbox, publisher, batch_id="b", now=T0)

    assert len(done.published) == 23
    assert publisher.stats.by_api == {"PublishBatch": 3}  # ten a call
    assert outbox.pending() == []
    assert len(alerts_topic()) == 23
    outbox.put([OutboxEntry(_note("n1"), batch_id="b", decided_at=T0)])  # a replayed put
    assert outbox.pending() == []  # stays sent


def test_a_storm_batch_travels_by_reference_and_a_healthy_one_inline(aws: None) -> None:
    s3, sfn = boto3.client("s3"), boto3.client("stepfunctions")
    s3.create_bucket(Bucket=BATCH_BUCKET)
    machine = sfn.create_state_machine(
        name="vigil-evaluate",
        definition='{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}',
        roleArn="arn:aws:iam::123456789012:role/sfn",
        type="EXPRESS",
    )["stateMachineArn"]
    stats = CallStats()
    batches = S3Batches(s3, BATCH_BUCKET, stats)
    workflow = EvaluateWorkflow(sfn, machine, stats, batches=batches)
    storm = batch(
        T0, *[error_signal(f"fn-{i:05d}", invocations=100, errors=60) for i in range(2_000)]
    )
    quiet = batch(T0 + minutes(5))

    workflow.start(storm)
    workflow.start(quiet)

    inputs = {
        e["name"]: sfn.describe_execution(executionArn=e["executionArn"])["input"]
        for e in sfn.list_executions(stateMachineArn=machine)["executions"]
    }
    ref = BatchRef.model_validate_json(inputs[storm.batch_id])
    assert ref.bytes > MAX_INLINE_BYTES > len(inputs[storm.batch_id])
    assert batch_of(ref.model_dump(mode="json"), batches) == storm
    assert batch_of(inputs[quiet.batch_id], batches) == quiet
    assert stats.by_api == {"PutObject": 1, "StartExecution": 2, "GetObject": 1}


def test_a_retried_start_of_the_same_batch_is_not_an_error(aws: None) -> None:
    sfn = boto3.client("stepfunctions")
    stubber = Stubber(sfn)  # moto refuses a reused name; so does a Standard workflow
    stubber.add_client_error(
        "start_execution", service_error_code="ExecutionAlreadyExists", http_status_code=400
    )
    with stubber:
        arn = EvaluateWorkflow(sfn, MACHINE).start(batch(T0))

    assert arn.endswith(f":express:vigil-evaluate:{batch(T0).batch_id}")


def test_without_a_bucket_a_storm_batch_is_refused_by_name(aws: None) -> None:
    storm = batch(
        T0, *[error_signal(f"fn-{i:05d}", invocations=100, errors=60) for i in range(2_000)]
    )

    with pytest.raises(BatchTooLarge, match="no batch bucket"):
        EvaluateWorkflow(boto3.client("stepfunctions"), MACHINE).start(storm)


def test_a_reference_outside_the_batch_bucket_or_to_a_gone_object_is_refused(aws: None) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BATCH_BUCKET)
    batches = S3Batches(s3, BATCH_BUCKET)
    elsewhere = BatchRef(batch_id="b", bucket="other", key="batches/b.json", bytes=1, signals=0)
    gone = elsewhere.model_copy(update={"bucket": BATCH_BUCKET})

    with pytest.raises(InvalidEventError, match="not in the stack's batch bucket"):
        batches.get(elsewhere)
    with pytest.raises(InvalidEventError, match="is gone"):
        batches.get(gone)


def test_a_publish_refused_by_sns_stays_pending(table: str) -> None:
    client = boto3.client("dynamodb")
    outbox = OutboxStore(client, table, retention=RETENTION)
    outbox.put([OutboxEntry(_note("n1"), batch_id="b", decided_at=T0)])
    sns = boto3.client("sns")
    stubber = Stubber(sns)
    stubber.add_client_error("publish_batch", service_error_code="Throttled", http_status_code=400)

    with stubber, pytest.raises(ClientError):
        deliver(outbox, SnsPublisher(sns, TOPIC_ARN), batch_id="b", now=T0)

    assert [e.notification.notification_id for e in outbox.pending()] == ["n1"]


def test_the_evaluate_function_reads_a_batch_by_reference(
    table: str,
    load_handler: Callable[..., Any],
    alerts_topic: Callable[[], list[dict[str, Any]]],
) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BATCH_BUCKET)
    storm = batch(
        T0, *[error_signal(f"fn-{i:04d}", invocations=100, errors=60) for i in range(1_000)]
    )
    ref = S3Batches(s3, BATCH_BUCKET).put(storm, storm.model_dump_json().encode())
    app = load_handler("evaluate")

    result = app.lambda_handler(ref.model_dump(mode="json"), FakeContext("evaluate"))

    assert result["summary"]["signals"] == 1_000
    # the outage notice (1,000 functions of one service fail at once) stands for them all
    subjects = [m["Subject"] for m in alerts_topic()]
    assert len(subjects) == 1
    assert subjects[0].startswith("[CRITICAL] Suspected AWS outage")
