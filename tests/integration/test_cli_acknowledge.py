"""``vigil alerts ack`` against the state table (moto): the routing of the stack's last good
rules config, the evaluations' groups, and an acknowledgement written with its PagerDuty
notification in the outbox in one transaction (ADR 29, ADR 44)."""

import json
from datetime import timedelta

import boto3
import pytest

from tests.factories import T0, batch, error_signal, minutes
from vigil.adapters.alert_store import AlertStore
from vigil.adapters.config_store import LastGoodConfig
from vigil.adapters.outbox import OutboxStore
from vigil.adapters.routing_store import GroupStore, SilenceStore
from vigil.adapters.stats import CallStats
from vigil.evaluation.pipeline import RoutingPorts, evaluate
from vigil.rules.document import RulesConfig
from vigil_cli.main import main

RULES = {
    "lambda_errors": {"for_minutes": 0},
    "routing": {
        "receivers": [{"name": "oncall", "slack": "webhook_url", "pagerduty": "pd_key"}],
        "route": {"receivers": ["oncall"], "group_by": ["resource"], "group_wait": "0s"},
    },
}


def test_an_alert_fingerprint_acknowledges_its_stored_group_and_tells_pagerduty(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    client = boto3.client("dynamodb")
    LastGoodConfig(client, table, stats=CallStats()).put(json.dumps(RULES), "d1")
    groups = GroupStore(client, table, retention=timedelta(days=1))
    outbox = OutboxStore(client, table, retention=timedelta(days=1))
    evaluate(
        batch(T0, error_signal("orders", invocations=10, errors=5, at=T0)),
        rules=RulesConfig.from_json(json.dumps(RULES)),
        store=AlertStore(client, table, retention=timedelta(days=1)),
        routing=RoutingPorts(groups=groups, silences=SilenceStore(client, table), outbox=outbox),
        stack="vigil",
    )
    (group,) = groups.open_groups()
    argv = ["alerts", "ack", group.firing[0], "--as", "alice", "--table", table, "-o", "json"]

    assert main([*argv, "--comment", "rolling back"], clock=lambda: T0 + minutes(1)) == 0

    (row,) = json.loads(capsys.readouterr().out)
    assert row["outcome"] == "acknowledged"
    stored = groups.get(group.group_id)
    assert stored is not None
    assert stored.acknowledged is not None
    assert (stored.acknowledged.by, stored.revision) == ("alice", group.revision + 1)
    told = [e for e in outbox.pending() if e.notification.category == "acknowledgement"]
    assert [json.loads(e.notification.channels) for e in told] == [["pagerduty"]]
    # alerts show tells who has it in hand
    show = ["alerts", "show", group.firing[0], "--table", table]
    assert main([*show, "-o", "json"], clock=lambda: T0 + minutes(2)) == 0
    (shown,) = json.loads(capsys.readouterr().out)["groups"]
    assert shown["acknowledged"] == {
        "by": "alice",
        "at": "2026-11-02T09:01:00Z",
        "via": "cli",
        "comment": "rolling back",
    }
    assert main(show, clock=lambda: T0 + minutes(2)) == 0
    assert "acknowledged by alice at 2026-11-02T09:01:00Z" in capsys.readouterr().out


def test_acknowledging_what_is_not_open_is_one_line_and_exit_2(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["alerts", "ack", "0123456789abcdef0123", "--table", table]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vigil: error: ")
    assert len(err.strip().splitlines()) == 1
