"""One open incident per service and region: the scope lock beside the incident records,
written and released in the same DynamoDB transactions (moto, the table from template.yaml).

Cases come from issue 12 ("One incident per scope": two runbooks for lambda in us-east-1 were
opened side by side and both gates could be approved) and from docs/runbook.md, "One
incident per service and region": a second start is refused naming the open incident; a
retried open step finds its own record; resolving or handing over frees the scope; a lock
whose incident is closed or missing, or whose execution has ended, does not block; the record
and the lock are written together or not at all."""

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from vigil.adapters.incident_store import IncidentStore
from vigil.core.errors import ConflictError
from vigil.runbook.failover import FailoverPlans
from vigil.runbook.incident import (
    Incident,
    IncidentAlreadyOpen,
    RunbookPorts,
    ScopeLock,
    ScopeTakenError,
    scope_holder,
)
from vigil.runbook.steps import finish, open_incident

T0 = datetime(2026, 11, 2, 9, 30, 12, tzinfo=UTC)
LAMBDA_USE1 = {"service": "lambda", "region": "us-east-1", "reason": "errors everywhere"}
ARN = "arn:aws:states:us-east-1:123456789012:execution:OutageRunbookStateMachine-x:"


class Page:
    def publish(self, incident: Incident, index: list[Incident], *, now: datetime) -> None:
        pass


class Reports:
    def store(self, incident_id: str, markdown: str, document: str) -> tuple[str, str]:
        return f"s3://b/reports/{incident_id}/report.md", f"https://console/{incident_id}"


class Executions:
    """Step Functions' answer for each execution (absent: still running)."""

    def __init__(self, **ended: bool | None) -> None:
        self.answers = ended

    def running(self, execution_arn: str) -> bool | None:
        return self.answers.get(execution_arn.rsplit(":", 1)[-1], True)


def _ports(table: str, executions: Executions | None = None) -> RunbookPorts:
    return RunbookPorts(
        incidents=IncidentStore(boto3.client("dynamodb"), table),
        status_page=Page(),
        stack="vigil",
        plans=FailoverPlans(),
        executions=executions,
    )


def _open(ports: RunbookPorts, name: str, at: datetime = T0, **request: object) -> Incident:
    raw = {**LAMBDA_USE1, "requested_by": "alice", **request}
    incident, _ = open_incident(
        raw, incident_id=name, started_at=at, ports=ports, execution_arn=ARN + name
    )
    return incident


def _lock(table: str, service: str = "lambda", region: str = "us-east-1") -> ScopeLock | None:
    return IncidentStore(boto3.client("dynamodb"), table).scope_lock(service, region)


def _items(table: str) -> list[str]:
    items = boto3.client("dynamodb").scan(TableName=table)["Items"]
    return sorted(f"{i['pk']['S']}|{i['sk']['S']}" for i in items)


def test_a_second_open_of_the_same_scope_is_refused_naming_the_open_incident(
    table: str,
) -> None:
    ports = _ports(table)
    _open(ports, "inc-a")

    with pytest.raises(IncidentAlreadyOpen) as refused:
        _open(ports, "inc-b", T0 + timedelta(seconds=1), requested_by="bob")

    message = str(refused.value)
    assert message.startswith(
        "lambda in us-east-1 already has an open incident: inc-a,"
        " opened 2026-11-02T09:30:12Z (manual by alice);"
    )
    assert "vigil incidents show inc-a" in message
    assert refused.value.holder.execution_arn == ARN + "inc-a"
    # Nothing of the refused incident was written; the lock still names the first.
    assert _items(table) == ["INCIDENT#inc-a|META", "SCOPE#lambda#us-east-1|LOCK"]


def test_a_retried_open_step_finds_its_own_record_and_keeps_its_lock(table: str) -> None:
    ports = _ports(table)
    first = _open(ports, "inc-a")

    again = _open(ports, "inc-a", reason="the step ran twice")

    assert again == first
    lock = _lock(table)
    assert lock is not None
    assert (lock.incident_id, lock.opened_at) == ("inc-a", T0)


def test_other_scopes_open_side_by_side(table: str) -> None:
    ports = _ports(table)
    _open(ports, "inc-a")
    _open(ports, "inc-b", region="eu-west-1")
    _open(ports, "inc-c", service="dynamodb")

    assert [_lock(table, *scope).incident_id for scope in (  # type: ignore[union-attr]
        ("lambda", "us-east-1"), ("lambda", "eu-west-1"), ("dynamodb", "us-east-1")
    )] == ["inc-a", "inc-b", "inc-c"]  # fmt: skip


@pytest.mark.parametrize("outcome", ["resolved", "handed_over"])
def test_closing_the_incident_releases_the_scope_in_the_same_write(
    table: str, outcome: str
) -> None:
    ports = _ports(table)
    _open(ports, "inc-a")

    closed, _ = finish(
        "inc-a",
        outcome=outcome,  # type: ignore[arg-type]
        now=T0 + timedelta(hours=1),
        ports=ports,
        reports=Reports(),
    )
    reopened = _open(ports, "inc-b", T0 + timedelta(hours=2))

    assert closed.status == outcome
    assert reopened.status == "open"
    assert _lock(table).incident_id == "inc-b"  # type: ignore[union-attr]


def test_a_retried_close_is_harmless_and_never_frees_another_incidents_lock(
    table: str,
) -> None:
    ports = _ports(table)
    _open(ports, "inc-a")
    finish("inc-a", outcome="resolved", now=T0 + timedelta(hours=1), ports=ports, reports=Reports())
    _open(ports, "inc-b", T0 + timedelta(hours=2))

    # The resolve step of inc-a retried after inc-b took the scope: inc-b keeps it.
    finish("inc-a", outcome="resolved", now=T0 + timedelta(hours=1), ports=ports, reports=Reports())

    assert _lock(table).incident_id == "inc-b"  # type: ignore[union-attr]


def test_a_lock_whose_incident_is_closed_or_missing_does_not_block(table: str) -> None:
    ports = _ports(table)
    store = IncidentStore(boto3.client("dynamodb"), table)
    a = _open(ports, "inc-a")
    # Closed without releasing its lock (written before locks existed, or by hand).
    store.save("inc-a", a.model_copy(update={"status": "resolved"}).model_dump_json())

    _open(ports, "inc-b", T0 + timedelta(hours=1))
    assert _lock(table).incident_id == "inc-b"  # type: ignore[union-attr]

    boto3.client("dynamodb").delete_item(
        TableName=table, Key={"pk": {"S": "INCIDENT#inc-b"}, "sk": {"S": "META"}}
    )
    _open(ports, "inc-c", T0 + timedelta(hours=2))
    assert _lock(table).incident_id == "inc-c"  # type: ignore[union-attr]


def test_a_lock_of_a_stopped_execution_does_not_block_an_unknown_one_does(
    table: str,
) -> None:
    _open(_ports(table), "inc-a")

    with pytest.raises(IncidentAlreadyOpen):  # Step Functions cannot be asked: kept, to be safe
        _open(_ports(table, Executions(**{"inc-a": None})), "inc-b")
    _open(_ports(table, Executions(**{"inc-a": False})), "inc-c")  # stopped, failed, timed out

    assert _lock(table).incident_id == "inc-c"  # type: ignore[union-attr]
    assert scope_holder("lambda", "us-east-1", incidents=_ports(table).incidents) == _lock(table)


def test_the_record_and_the_lock_are_one_transaction(table: str) -> None:
    store = IncidentStore(boto3.client("dynamodb"), table)
    held = ScopeLock(service="lambda", region="us-east-1", incident_id="inc-a", opened_at=T0)
    mine = held.model_copy(update={"incident_id": "inc-b"})
    store.open("inc-a", "{}", opened_at=T0, lock=held)

    # The lock's condition fails: the record is not written either (no half-open incident).
    with pytest.raises(ScopeTakenError, match="scope held by incident inc-a"):
        store.open("inc-b", "{}", opened_at=T0, lock=mine)
    # The record's condition fails (a retry): the lock is not rewritten either.
    assert store.open("inc-a", "{}", opened_at=T0, lock=mine) is False

    assert _items(table) == ["INCIDENT#inc-a|META", "SCOPE#lambda#us-east-1|LOCK"]
    assert _lock(table) == held
    # A stale holder named by the caller is replaced; any other is not.
    assert store.open("inc-b", "{}", opened_at=T0, lock=mine, replacing="inc-a") is True
    assert _lock(table) == mine
    with pytest.raises(ConflictError):
        store.close("inc-404", "{}", service="lambda", region="us-east-1")
    assert _lock(table) == mine


class _Racing:
    """The moto client, but another start's transaction lands first; DynamoDB then cancels
    ours with TransactionConflict (DynamoDB developer guide, "Transaction conflict handling")."""

    def __init__(self, table: str, winner: str) -> None:
        self._client = boto3.client("dynamodb")
        self._table = table
        self._winner: str | None = winner

    def __getattr__(self, name: str) -> object:
        return getattr(self._client, name)

    def transact_write_items(self, **kwargs: object) -> object:
        if self._winner is not None:
            winner, self._winner = self._winner, None
            _open(_ports(self._table), winner)
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                    "CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict"}],
                },
                "TransactWriteItems",
            )
        return self._client.transact_write_items(**kwargs)


def test_two_starts_at_the_same_moment_the_loser_is_refused_naming_the_winner(
    table: str,
) -> None:
    racing = RunbookPorts(
        incidents=IncidentStore(_Racing(table, winner="inc-a"), table),  # type: ignore[arg-type]
        status_page=Page(),
        stack="vigil",
        plans=FailoverPlans(),
    )

    with pytest.raises(IncidentAlreadyOpen, match="open incident: inc-a,"):
        _open(racing, "inc-b")

    assert _items(table) == ["INCIDENT#inc-a|META", "SCOPE#lambda#us-east-1|LOCK"]


def test_a_step_racing_its_own_retry_goes_on_with_the_record_written(table: str) -> None:
    racing = RunbookPorts(
        incidents=IncidentStore(_Racing(table, winner="inc-a"), table),  # type: ignore[arg-type]
        status_page=Page(),
        stack="vigil",
        plans=FailoverPlans(),
    )

    assert _open(racing, "inc-a").incident_id == "inc-a"
