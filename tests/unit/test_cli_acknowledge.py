"""``vigil alerts ack``'s operation (cli/vigil_cli/acknowledge.py): what it acknowledges and
what it prints, as a table and as JSON (issue 16)."""

import json

import pytest

from tests.factories import T0, minutes
from tests.fakes import MemoryAlertStore
from tests.unit.test_pagerduty import _cycle, _group, _rules
from vigil.alerting.acknowledge import NothingAcknowledged
from vigil_cli.acknowledge import acknowledge_alerts
from vigil_cli.output import render


def test_an_alert_fingerprint_acknowledges_every_open_group_it_fires_in() -> None:
    store, rules = MemoryAlertStore(), _rules()
    _cycle(store, rules, T0, orders=(5, 10))
    group = _group(store)
    listing = acknowledge_alerts(
        store.groups,
        group.firing[0],
        by="arn:aws:iam::123456789012:user/alice",
        now=T0 + minutes(2),
        routing=rules.routing,
        stack="vigil",
        comment="on it",
    )
    (row,) = json.loads(render(listing, "json"))
    assert row == {
        "group_id": group.group_id,
        "group": group.key,
        "receiver": "oncall",
        "outcome": "acknowledged",
        "acknowledged_by": "arn:aws:iam::123456789012:user/alice",
        "acknowledged_at": "2026-11-02T09:02:00Z",
        "firing": "1",
    }
    table = render(listing)
    assert table.splitlines()[0].split()[:4] == ["Group", "ID", "Group", "Receiver"]
    again = acknowledge_alerts(
        store.groups,
        group.group_id,
        by="bob",
        now=T0 + minutes(3),
        routing=rules.routing,
        stack="vigil",
    )
    assert [r["outcome"] for r in again.records()] == ["already"]


def test_an_unknown_id_is_a_one_line_error() -> None:
    store, rules = MemoryAlertStore(), _rules()
    with pytest.raises(NothingAcknowledged) as refused:
        acknowledge_alerts(
            store.groups, "f00", by="a", now=T0, routing=rules.routing, stack="vigil"
        )
    assert "\n" not in str(refused.value)
