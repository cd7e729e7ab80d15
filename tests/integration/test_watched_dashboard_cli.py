"""``vigil dashboard`` (``vigil_cli.dashboard``, ADR 47) on moto: the dashboard of the watched
resources is generated from the stored discovery, put when it is new or its body changed, and
left alone (no ``PutDashboard``) when nothing changed."""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from tests.integration.conftest import REGION
from vigil.adapters.collector_state import CollectorState
from vigil_cli.dashboard import Generated, generate
from vigil_cli.main import main

AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _table(name: str) -> dict[str, Any]:
    arn = f"arn:aws:dynamodb:{REGION}:1:table/{name}"
    return {
        "name": name,
        "arn": arn,
        "billing_mode": "PAY_PER_REQUEST",
        "capacity": None,
        "indexes": {},
        "tags": {},
    }


@dataclass
class CloudWatch:
    """A CloudWatch client on moto, and the dashboards ``PutDashboard`` was called for."""

    client: Any
    puts: list[str] = field(default_factory=list)

    def generate(self, table: str) -> Generated:
        return generate(
            dynamodb=boto3.client("dynamodb"),
            cloudwatch=self.client,
            table=table,
            stack="vigil",
            region=REGION,
        )


@pytest.fixture
def cloudwatch(table: str, monkeypatch: pytest.MonkeyPatch) -> CloudWatch:
    recorder = CloudWatch(boto3.client("cloudwatch"))
    real = recorder.client.put_dashboard

    def put(**kwargs: Any) -> Any:
        recorder.puts.append(kwargs["DashboardName"])
        return real(**kwargs)

    monkeypatch.setattr(recorder.client, "put_dashboard", put)
    return recorder


def test_the_dashboard_is_put_once_then_only_when_the_discovery_changed(
    table: str, cloudwatch: CloudWatch
) -> None:
    state = CollectorState(boto3.client("dynamodb"), table)
    state.remember_inventory("dynamodb", [_table("orders")], at=AT)

    first = cloudwatch.generate(table)
    again = cloudwatch.generate(table)
    state.remember_inventory("dynamodb", [_table("orders"), _table("payments")], at=AT)
    grown = cloudwatch.generate(table)

    assert (first.changed, again.changed, grown.changed) == (True, False, True)
    assert cloudwatch.puts == ["vigil-watched", "vigil-watched"]
    assert (first.graphs, grown.graphs) == (2, 2)
    assert grown.line().startswith("dashboard vigil-watched: updated (2 graphs, ")
    body = cloudwatch.client.get_dashboard(DashboardName="vigil-watched")["DashboardBody"]
    assert '"TableName","payments"' in body


def test_an_unreadable_inventory_leaves_its_family_out(table: str, cloudwatch: CloudWatch) -> None:
    boto3.client("dynamodb").put_item(
        TableName=table,
        Item={"pk": {"S": "DISCOVERY#kinesis"}, "sk": {"S": "inventory"},
              "records": {"S": "[{\"name\": 1}]"}},
    )  # fmt: skip

    result = cloudwatch.generate(table)

    assert result.graphs == 1  # the Lambda aggregates alone
    assert cloudwatch.puts == ["vigil-watched"]


def test_the_command_prints_what_it_did(
    table: str, aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["dashboard", "--name", "mine", "--table", table, "--region", REGION]

    assert main(argv) == 0
    assert main([*argv, "-o", "json"]) == 0

    first, again = capsys.readouterr().out.split("\n", 1)
    assert first.startswith("dashboard mine: updated (1 graph, ")
    assert json.loads(again) | {"bytes": 0} == {
        "name": "mine",
        "changed": False,
        "graphs": 1,
        "bytes": 0,
    }
