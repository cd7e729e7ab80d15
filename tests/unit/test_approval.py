"""The approval gate: one decision wins, lapsed and decided gates refuse with a reason."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes import MemoryApprovalStore, RecordingCallback
from vigil.runbook.gate import (
    Approval,
    ApprovalClosedError,
    ApprovalState,
    NotAuthorizedError,
    UnknownApprovalError,
    decide,
    expire,
    request_approval,
    require_approver,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _pending(store: MemoryApprovalStore, token: str = "token-1") -> Approval:
    return request_approval(
        "inc-1",
        token=token,
        plan="ssm-active-region",
        dry_run=True,
        now=NOW,
        timeout=timedelta(minutes=30),
        store=store,
    )


def test_an_approval_answers_the_workflow_once_and_records_who() -> None:
    store, callback = MemoryApprovalStore(), RecordingCallback()
    _pending(store)

    decided = decide(
        "inc-1",
        approve=True,
        actor="alice",
        now=NOW + timedelta(minutes=5),
        store=store,
        callback=callback,
        comment="go",
    )

    assert decided.state is ApprovalState.APPROVED
    assert callback.answers == [
        (
            "token-1",
            {"decision": "approved", "by": "alice", "at": "2026-11-26T12:05:00Z", "comment": "go"},
        )
    ]
    with pytest.raises(ApprovalClosedError, match="already approved by alice at 2026-11-26T12:05"):
        decide("inc-1", approve=False, actor="bob", now=NOW, store=store, callback=callback)
    assert len(callback.answers) == 1


def test_a_retried_request_finds_its_own_record_and_a_new_attempt_supersedes_it() -> None:
    store, callback = MemoryApprovalStore(), RecordingCallback()
    first = _pending(store)

    assert _pending(store) == first
    retried = _pending(store, token="token-2")
    decide("inc-1", approve=True, actor="alice", now=NOW, store=store, callback=callback)

    assert (retried.state, retried.revision) == (ApprovalState.PENDING, 2)
    assert [token for token, _ in callback.answers] == ["token-2"]


def test_a_closed_gate_is_replaced_by_a_new_request() -> None:
    store = MemoryApprovalStore()
    _pending(store)
    decide("inc-1", approve=False, actor="bob", now=NOW, store=store, callback=RecordingCallback())

    again = _pending(store, token="token-2")

    assert (again.state, again.token, again.decided_by) == (ApprovalState.PENDING, "token-2", None)


def test_a_lapsed_gate_refuses_and_is_recorded_as_expired() -> None:
    store, callback = MemoryApprovalStore(), RecordingCallback()
    _pending(store)

    with pytest.raises(ApprovalClosedError, match="lapsed at 2026-11-26T12:30:00Z"):
        decide(
            "inc-1",
            approve=True,
            actor="alice",
            now=NOW + timedelta(hours=1),
            store=store,
            callback=callback,
        )
    assert store.items["inc-1"].state is ApprovalState.EXPIRED
    assert callback.answers == []


def test_the_workflow_timing_out_first_wins_over_a_late_decision() -> None:
    store = MemoryApprovalStore()
    _pending(store)

    with pytest.raises(ApprovalClosedError, match="no longer waits"):
        decide(
            "inc-1",
            approve=True,
            actor="alice",
            now=NOW,
            store=store,
            callback=RecordingCallback(ApprovalClosedError("gone")),
        )
    assert store.items["inc-1"].state is ApprovalState.EXPIRED


def test_a_failed_answer_leaves_the_gate_pending_for_another_try() -> None:
    store = MemoryApprovalStore()
    _pending(store)

    with pytest.raises(OSError, match="network"):
        decide(
            "inc-1",
            approve=True,
            actor="alice",
            now=NOW,
            store=store,
            callback=RecordingCallback(OSError("network")),
        )
    assert store.items["inc-1"].state is ApprovalState.PENDING
    assert decide(
        "inc-1", approve=True, actor="alice", now=NOW, store=store, callback=RecordingCallback()
    )


def test_unknown_incidents_and_anonymous_decisions_are_refused() -> None:
    store = MemoryApprovalStore()
    with pytest.raises(UnknownApprovalError, match="inc-9 has no approval"):
        decide(
            "inc-9", approve=True, actor="alice", now=NOW, store=store, callback=RecordingCallback()
        )
    _pending(store)
    with pytest.raises(Exception, match="needs the name"):
        decide("inc-1", approve=True, actor=" ", now=NOW, store=store, callback=RecordingCallback())


def test_expire_marks_only_a_pending_gate() -> None:
    store = MemoryApprovalStore()
    assert expire("inc-1", store=store) is None
    _pending(store)
    assert expire("inc-1", store=store).state is ApprovalState.EXPIRED  # type: ignore[union-attr]
    assert expire("inc-1", store=store).state is ApprovalState.EXPIRED  # type: ignore[union-attr]


def test_the_token_never_appears_in_the_repr() -> None:
    store = MemoryApprovalStore()
    assert "token-1" not in repr(_pending(store))


# ------------------------------------------------------------------ who may decide (issue 12)


def _live(store: MemoryApprovalStore) -> Approval:
    return request_approval(
        "inc-1",
        token="token-1",
        plan="ssm-active-region",
        dry_run=False,
        now=NOW,
        timeout=timedelta(minutes=30),
        store=store,
    )


@pytest.mark.parametrize(
    ("principal", "allowed", "refused"),
    [
        ("U1", [], "no approvers are configured"),  # the default refuses a live run to all
        ("W0GUEST", ["U1"], "W0GUEST is not one of them"),
    ],
)
def test_an_unlisted_principal_is_refused_before_anything_is_claimed(
    principal: str, allowed: list[str], refused: str
) -> None:
    store, callback = MemoryApprovalStore(), RecordingCallback()
    before = _live(store)

    with pytest.raises(NotAuthorizedError, match=refused) as raised:
        decide(
            "inc-1",
            approve=True,
            actor=principal,
            now=NOW,
            store=store,
            callback=callback,
            authorize=require_approver(principal, allowed),
        )

    after = store.get("inc-1")
    assert after is not None
    # issue 12: only the refusal is written; the gate itself is untouched
    unrefused = after.model_copy(
        update={"refusals": [], "refusal_count": 0, "revision": before.revision}
    )
    assert unrefused == before
    assert after.refusals == [raised.value.refusal]
    assert raised.value.recorded
    assert callback.answers == []


class _RacingStore(MemoryApprovalStore):
    """Another approver's first approval lands between this decision's read and its write."""

    def save(self, before: Approval | None, after: Approval) -> Approval:
        if after.first_approver == "U2" and before is not None:
            current = self.items[after.incident_id]
            self.items[after.incident_id] = current.model_copy(
                update={
                    "first_approver": "U1",
                    "first_approved_by": "ana",
                    "revision": current.revision + 1,
                }
            )
        return super().save(before, after)


def test_a_first_approval_that_loses_a_race_is_told_to_try_again() -> None:
    store, callback = _RacingStore(), RecordingCallback()
    _live(store)

    with pytest.raises(ApprovalClosedError, match="approved first by ana"):
        decide(
            "inc-1",
            approve=True,
            actor="bob",
            principal="U2",
            now=NOW,
            store=store,
            callback=callback,
            live_approvals=2,
        )

    latest = store.get("inc-1")
    assert latest is not None
    assert (latest.state, latest.first_approver) == (ApprovalState.PENDING, "U1")
    assert callback.answers == []
