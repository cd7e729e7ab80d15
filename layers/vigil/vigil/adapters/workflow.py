"""Step Functions: start the Evaluate workflow with a signal batch; answer a waiting task.

A batch that fits in a workflow input travels inline; a larger one (a storm) is written to the
batch bucket and the workflow gets a ``BatchRef`` (ADR 28). The Evaluate function reads it back
with :class:`S3Batches`.
"""

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from vigil.accounts.fanout import Target
from vigil.adapters.stats import CallStats
from vigil.core.errors import InvalidEventError, VigilError
from vigil.core.events import parse_model
from vigil.core.model import BatchRef, SignalBatch

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

# Step Functions rejects inputs over 256 KiB: a batch larger than this goes by reference.
MAX_INLINE_BYTES = 200_000
BATCH_PREFIX = "batches/"


class BatchTooLarge(VigilError):
    """A signal batch does not fit in one workflow input and no batch bucket is configured."""


class S3Batches:
    """Signal batches too large for a workflow input, one object per batch id.

    The key is the batch id, so a retried collector overwrites its own object with the same
    content; the bucket's lifecycle rule expires them.
    """

    def __init__(self, client: "S3Client", bucket: str, stats: CallStats | None = None) -> None:
        self._client = client
        self._bucket = bucket
        self.stats = stats or CallStats()

    def put(self, batch: SignalBatch, body: bytes) -> BatchRef:
        key = f"{BATCH_PREFIX}{batch.collected_at:%Y/%m/%d}/{batch.batch_id}.json"
        self.stats.count("PutObject")
        self._client.put_object(
            Bucket=self._bucket, Key=key, Body=body, ContentType="application/json"
        )
        return BatchRef(
            batch_id=batch.batch_id,
            bucket=self._bucket,
            key=key,
            bytes=len(body),
            signals=len(batch.signals),
        )

    def get(self, ref: BatchRef) -> SignalBatch:
        """The batch ``ref`` names; ``InvalidEventError`` when it is gone or not that batch."""
        if ref.bucket != self._bucket or not ref.key.startswith(BATCH_PREFIX):
            raise InvalidEventError(
                f"batch reference {ref.batch_id}: s3://{ref.bucket}/{ref.key} is not in the"
                f" stack's batch bucket {self._bucket}"
            )
        self.stats.count("GetObject")
        try:
            body = self._client.get_object(Bucket=ref.bucket, Key=ref.key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                raise InvalidEventError(
                    f"batch reference {ref.batch_id}: s3://{ref.bucket}/{ref.key} is gone"
                ) from exc
            raise
        batch = parse_model(SignalBatch, body, what=f"signal batch s3://{ref.bucket}/{ref.key}")
        if batch.batch_id != ref.batch_id:
            raise InvalidEventError(
                f"batch reference {ref.batch_id}: the object holds batch {batch.batch_id}"
            )
        return batch


class EvaluateWorkflow:
    def __init__(
        self,
        client: "SFNClient",
        state_machine_arn: str,
        stats: CallStats | None = None,
        *,
        batches: S3Batches | None = None,
    ) -> None:
        self._client = client
        self._arn = state_machine_arn
        self._batches = batches
        self.stats = stats or CallStats()

    def start(self, batch: SignalBatch) -> str:
        """Start the evaluation of ``batch``, named by its id; a name already taken (a retried
        collector, a redelivered event) is that evaluation, and not an error."""
        body = batch.model_dump_json().encode()
        if len(body) <= MAX_INLINE_BYTES:
            payload = body.decode()
        elif self._batches is not None:
            payload = self._batches.put(batch, body).model_dump_json()
        else:
            raise BatchTooLarge(
                f"batch {batch.batch_id} is {len(body):,} bytes, over the {MAX_INLINE_BYTES:,}"
                " bytes a workflow input may take, and no batch bucket is configured"
            )
        self.stats.count("StartExecution")
        try:
            response = self._client.start_execution(
                stateMachineArn=self._arn, name=batch.batch_id, input=payload
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                raise
            return self._execution_arn(batch.batch_id)
        return response["executionArn"]

    def _execution_arn(self, name: str) -> str:
        return self._arn.replace(":stateMachine:", ":express:", 1) + f":{name}"


class CollectWorkflow:
    """Starts the collect workflow (ADR 51) with the home batch, by reference, and the
    targets; named by the home batch's id, so a retried cycle starts it once."""

    def __init__(
        self,
        client: "SFNClient",
        state_machine_arn: str,
        stats: CallStats | None = None,
        *,
        batches: S3Batches,
    ) -> None:
        self._client = client
        self._arn = state_machine_arn
        self._batches = batches
        self.stats = stats or CallStats()

    def start(self, home: SignalBatch, targets: Sequence[Target], *, now: datetime) -> str:
        ref = self._batches.put(home, home.model_dump_json().encode())
        payload = {
            "now": now.isoformat(),
            "run": home.batch_id,
            "home": ref.model_dump(mode="json"),
            "targets": [target.model_dump(mode="json") for target in targets],
        }
        self.stats.count("StartExecution")
        response = self._client.start_execution(
            stateMachineArn=self._arn, name=home.batch_id, input=json.dumps(payload)
        )
        return response["executionArn"]


def batch_of(event: object, batches: S3Batches | None) -> SignalBatch:
    """The signal batch an Evaluate run was started with: inline, or by reference."""
    if isinstance(event, dict) and "bucket" in event and "key" in event:
        if batches is None:
            raise InvalidEventError("batch reference: this function has no batch bucket")
        return batches.get(parse_model(BatchRef, event, what="batch reference"))
    return parse_model(SignalBatch, event, what="signal batch")


# SendTaskSuccess answers these when the task no longer waits: it timed out, was already
# answered, or its execution ended.
_TASK_GONE = {"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"}


class TaskCallback:
    """Answers a ``.waitForTaskToken`` task with ``SendTaskSuccess``."""

    def __init__(self, client: "SFNClient", stats: CallStats | None = None) -> None:
        self._client = client
        self.stats = stats or CallStats()

    def answer(self, token: str, output: dict[str, object]) -> None:
        self.stats.count("SendTaskSuccess")
        try:
            self._client.send_task_success(taskToken=token, output=json.dumps(output))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _TASK_GONE:
                # only here: the collectors, which start workflows, need none of the approval
                # models (ADR 37)
                from vigil.runbook.gate import ApprovalClosedError  # noqa: PLC0415

                raise ApprovalClosedError("the workflow no longer waits for this task") from exc
            raise
