"""The approval gate's DynamoDB record and its Step Functions answer."""

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber

from vigil.adapters.incident_store import ApprovalStore
from vigil.adapters.workflow import TaskCallback
from vigil.core.errors import ConflictError
from vigil.runbook.gate import ApprovalClosedError, ApprovalState, decide, request_approval

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_the_gate_round_trips_and_a_stale_write_is_refused(table: str) -> None:
    store = ApprovalStore(boto3.client("dynamodb"), table)
    pending = request_approval(
        "inc-1",
        token="t" * 600,
        plan="route53-record",
        dry_run=False,
        now=NOW,
        timeout=timedelta(minutes=15),
        store=store,
    )

    assert store.get("inc-1") == pending
    store.save(pending, pending.model_copy(update={"state": ApprovalState.DECLINED}))
    with pytest.raises(ConflictError):
        store.save(pending, pending.model_copy(update={"state": ApprovalState.APPROVED}))
    assert store.get("inc-1").state is ApprovalState.DECLINED  # type: ignore[union-attr]


def test_a_task_that_no_longer_waits_closes_the_gate(table: str) -> None:
    store = ApprovalStore(boto3.client("dynamodb"), table)
    request_approval(
        "inc-2",
        token="tok",
        plan="arc",
        dry_run=True,
        now=NOW,
        timeout=timedelta(minutes=15),
        store=store,
    )
    # moto accepts any token, so Step Functions' answer for a timed-out task is stubbed.
    sfn = boto3.client("stepfunctions")
    with Stubber(sfn) as stub:
        stub.add_client_error("send_task_success", service_error_code="TaskTimedOut")
        with pytest.raises(ApprovalClosedError, match="no longer waits"):
            decide(
                "inc-2",
                approve=True,
                actor="alice",
                now=NOW,
                store=store,
                callback=TaskCallback(sfn),
            )
    assert store.get("inc-2").state is ApprovalState.EXPIRED  # type: ignore[union-attr]


def test_an_answer_is_sent_with_the_decision(table: str) -> None:
    store = ApprovalStore(boto3.client("dynamodb"), table)
    request_approval(
        "inc-3",
        token="tok-3",
        plan="arc",
        dry_run=True,
        now=NOW,
        timeout=timedelta(minutes=15),
        store=store,
    )
    sfn = boto3.client("stepfunctions")
    callback = TaskCallback(sfn)
    with Stubber(sfn) as stub:
        stub.add_response(
            "send_task_success",
            {},
            {
                "taskToken": "tok-3",
                "output": '{"decision": "declined", "by": "bob", "at": "2026-11-26T12:00:00Z",'
                ' "comment": null}',
            },
        )
        decide("inc-3", approve=False, actor="bob", now=NOW, store=store, callback=callback)
    assert callback.stats.by_api == {"SendTaskSuccess": 1}
