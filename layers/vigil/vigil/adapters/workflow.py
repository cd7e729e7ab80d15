"""Step Functions: start the Evaluate workflow with a signal batch; answer a waiting task."""

import json
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from vigil.adapters.stats import CallStats
from vigil.approval import ApprovalClosedError
from vigil.errors import VigilError
from vigil.model import SignalBatch

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

# Step Functions rejects inputs over 256 KiB; stay clear of it.
MAX_INPUT_BYTES = 250_000


class BatchTooLarge(VigilError):
    """A signal batch does not fit in one workflow input."""


class EvaluateWorkflow:
    def __init__(
        self,
        client: "SFNClient",
        state_machine_arn: str,
        stats: CallStats | None = None,
    ) -> None:
        self._client = client
        self._arn = state_machine_arn
        self.stats = stats or CallStats()

    def start(self, batch: SignalBatch) -> str:
        body = batch.model_dump_json()
        if len(body.encode()) > MAX_INPUT_BYTES:
            raise BatchTooLarge(
                f"batch {batch.batch_id} is {len(body.encode()):,} bytes, over the"
                f" {MAX_INPUT_BYTES:,}-byte Step Functions input limit"
            )
        self.stats.count("StartExecution")
        response = self._client.start_execution(
            stateMachineArn=self._arn, name=batch.batch_id, input=body
        )
        return response["executionArn"]


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
                raise ApprovalClosedError("the workflow no longer waits for this task") from exc
            raise
