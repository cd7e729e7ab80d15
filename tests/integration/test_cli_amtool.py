"""``vigil alerts list|show``, ``routes test`` and ``silence extend|export|import`` against a
moto state table (issue 16; amtool's ``alert query``, ``config routes test``, ``silence
import``)."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from tests.factories import labels
from vigil.adapters.alert_store import AlertStore
from vigil.adapters.config_store import LastGoodConfig
from vigil.adapters.routing_store import SilenceStore
from vigil.adapters.stats import CallStats
from vigil.alerting.silences import new_silence
from vigil.core.model import Alert, AlertState, Evidence, Severity
from vigil_cli.main import main

from .conftest import TABLE

NOW = datetime(2026, 11, 26, 21, 0, tzinfo=UTC)


def _vigil(*argv: str) -> int:
    # Global options after the command, as amtool users type them.
    return main([*argv, "--table", TABLE, "--region", "us-east-1"], clock=lambda: NOW)


def _alert(resource: str, state: AlertState, severity: Severity) -> Alert:
    return Alert(
        labels=labels(resource),
        state=state,
        severity=severity,
        first_seen=NOW - timedelta(minutes=20),
        last_seen=NOW,
        fired_at=NOW - timedelta(minutes=15) if state is AlertState.FIRING else None,
        evidence=Evidence(
            value=0.2,
            threshold=0.01,
            unit="Ratio",
            window_seconds=300,
            observed_at=NOW,
            summary="200 errors in 1,000 invocations",
        ),
        last_batch="b1",
    )


@pytest.fixture
def alerts(table: str) -> dict[str, str]:
    store = AlertStore(boto3.client("dynamodb"), TABLE, retention=timedelta(days=7))
    found = {}
    for resource, state, severity in [
        ("orders-api", AlertState.FIRING, Severity.CRITICAL),
        ("orders-worker", AlertState.PENDING, Severity.WARNING),
        ("billing", AlertState.FIRING, Severity.WARNING),
    ]:
        alert = _alert(resource, state, severity)
        store.save(None, alert)
        found[resource] = alert.fingerprint
    return found


@pytest.mark.parametrize(
    ("filters", "resources"),
    [
        ([], ["orders-api", "orders-worker", "billing"]),
        (["--match", 'resource=~"orders-.*"'], ["orders-api", "orders-worker"]),
        (["--match", "resource!=billing", "--state", "firing"], ["orders-api"]),
        (["--severity", "warning"], ["orders-worker", "billing"]),
        (["--match", "team=payments"], []),
    ],
)
def test_alerts_list_filters_by_matcher_state_and_severity(
    alerts: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    filters: list[str],
    resources: list[str],
) -> None:
    assert _vigil("alerts", "list", *filters, "-o", "json") == 0

    assert sorted(a["resource"] for a in json.loads(capsys.readouterr().out)) == sorted(resources)


def test_alerts_show_finds_an_alert_by_a_unique_prefix_and_refuses_an_ambiguous_one(
    alerts: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    orders = alerts["orders-api"]
    assert _vigil("alerts", "show", orders[:6]) == 0
    text = capsys.readouterr().out
    assert _vigil("alerts", "show", orders, "-o", "json") == 0
    shown = json.loads(capsys.readouterr().out)

    assert f"Alert:      {orders}" in text
    assert "Evidence:   200 errors in 1,000 invocations" in text
    assert "Groups:     none open" in text
    assert shown["labels"]["resource"] == "orders-api"
    assert (shown["state"], shown["severity"], shown["groups"]) == ("firing", "critical", [])
    assert _vigil("alerts", "show", "zzzzzz") == 2
    assert "no open alert has a fingerprint starting 'zzzzzz'" in capsys.readouterr().err
    assert _vigil("alerts", "show", "ab") == 2
    assert "at least 4 characters" in capsys.readouterr().err


def test_routes_test_reads_the_stacks_last_good_config(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.dumps(
        {
            "routing": {
                "receivers": [{"name": "ops"}, {"name": "orders"}],
                "route": {
                    "receivers": ["ops"],
                    "group_by": ["resource"],
                    "routes": [{"match": {"resource": "orders-*"}, "receivers": ["orders"]}],
                },
            }
        }
    )
    LastGoodConfig(boto3.client("dynamodb"), TABLE, stats=CallStats()).put(document, "d1")

    assert _vigil("routes", "test", "--label", "resource=orders-api", "-o", "json") == 0
    routed = json.loads(capsys.readouterr().out)
    assert _vigil("routes", "test", "--label", "resource=search") == 0

    assert routed["receivers"] == ["orders"]
    assert routed["routes"][0]["group_key"] == "route.routes.0|resource=orders-api"
    assert capsys.readouterr().out.splitlines()[0] == "ops"


def test_silence_add_takes_alertmanager_matchers_on_tag_labels(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--matcher`` as amtool writes one (``amtool silence add 'env!~"prod|staging"'``)."""
    argv = ("silence", "add", "--matcher", 'team="payments"', "--matcher", 'env!~"prod|staging"')
    assert _vigil(*argv, "--for", "1h", "-o", "json") == 0
    (stored,) = SilenceStore(boto3.client("dynamodb"), TABLE).everything()
    dev = {"team": "payments", "env": "dev", "kind": "lambda.errors"}
    assert stored.mutes(dev, NOW)
    assert not stored.mutes({**dev, "env": "prod"}, NOW)
    assert not stored.mutes({**dev, "team": "search"}, NOW)
    capsys.readouterr()
    assert _vigil("silence", "add", "--matcher", 'env!~"prod"', "--for", "1h") == 2
    assert "mute everything" in capsys.readouterr().err


def test_extend_through_the_command_and_its_bound(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = SilenceStore(boto3.client("dynamodb"), TABLE)
    store.create(
        new_silence(
            "abcdef0123456789",
            match={"resource": "orders-*"},
            starts_at=NOW,
            duration=timedelta(hours=1),
            now=NOW,
            created_by="ana",
        )
    )

    assert _vigil("silence", "extend", "abcdef0123456789", "--for", "2h", "--as", "bob") == 0
    assert _vigil("silence", "extend", "abcdef0123456789", "--for", "7d") == 2
    assert _vigil("silence", "extend", "0000000000000000", "--for", "1h") == 2

    stored = store.get("abcdef0123456789")
    assert stored is not None
    assert stored.ends_at == NOW + timedelta(hours=3)
    assert stored.revision == 2
    assert "by bob at 2026-11-26T21:00:00Z" in stored.comment
    assert "at most 168h" in capsys.readouterr().err


def test_import_keeps_every_valid_silence_and_names_the_lines_it_refused(
    table: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    window = {"startsAt": "2026-11-26T20:00:00Z", "endsAt": "2026-11-27T09:00:00Z"}
    kind = [{"name": "kind", "value": "lambda.errors", "isRegex": False, "isEqual": True}]
    lines = [
        json.dumps({"id": "11111111-2222-3333-4444-555555555555", "matchers": kind, **window}),
        "{not json",
        json.dumps({"id": "aaaa0000bbbb1111", "matchers": [], **window}),
        json.dumps(
            {"id": "cccc2222dddd3333", "matchers": [{"name": "flavor-x", "value": "x"}], **window}
        ),
        json.dumps(
            {
                "id": "eeee4444ffff5555",
                "matchers": kind,
                "startsAt": "2026-11-26T08:00:00Z",
                "endsAt": "2026-11-26T09:00:00Z",
            }
        ),
        json.dumps(
            {
                "matchers": [
                    {"name": "resource", "value": "b.*", "isRegex": True},
                    {"name": "env", "value": "prod", "isRegex": False, "isEqual": False},
                ],
                **window,
            }
        ),
    ]
    path = tmp_path / "silences.jsonl"
    path.write_text("\n".join(lines) + "\n")

    first = _vigil("silence", "import", str(path), "-o", "json")
    printed = capsys.readouterr()
    report, errors = json.loads(printed.out), printed.err
    second = _vigil("silence", "import", str(path), "-o", "json")
    again = json.loads(capsys.readouterr().out)

    assert (first, second) == (2, 2)
    assert len(report["imported"]) == 2
    assert "11111111222233334444555555555555" in report["imported"]
    assert [e["line"] for e in report["errors"]] == [2, 3, 4]
    assert "at least one matcher" in report["errors"][1]["error"]
    assert "bad matcher format" in report["errors"][2]["error"]
    assert report["skipped_ended"] == ["line 5: ended at 2026-11-26T09:00:00Z"]
    assert again["imported"] == []
    assert sorted(again["already_present"]) == sorted(report["imported"])
    stored = SilenceStore(boto3.client("dynamodb"), TABLE).everything()
    assert len(stored) == 2
    assert all(s.starts_at == NOW for s in stored)  # mutes from the import on
    # Alertmanager's isEqual: false keeps its meaning: the billing dev alert is muted, prod not
    (negative,) = [s for s in stored if "env" in str(s.matchers.matchers)]
    dev = {"resource": "billing", "env": "dev"}
    assert negative.mutes(dev, NOW)
    assert not negative.mutes({**dev, "env": "prod"}, NOW)
    assert "silences.jsonl:2: not JSON" in errors
    assert errors.splitlines() == [
        f"vigil: error: {path}:{e['line']}: {e['error']}" for e in report["errors"]
    ]


def test_export_then_import_into_an_empty_table_recreates_the_silences(
    table: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    store = SilenceStore(boto3.client("dynamodb"), TABLE)
    for silence_id, match in [("aaaa1111aaaa1111", "orders-*"), ("bbbb2222bbbb2222", "billing")]:
        store.create(
            new_silence(
                silence_id,
                match={"resource": match},
                starts_at=NOW,
                duration=timedelta(hours=4),
                now=NOW,
                created_by="ana",
                comment="release",
            )
        )
    assert _vigil("silence", "export", "--lines") == 0
    exported = capsys.readouterr().out
    for silence in store.everything():
        boto3.client("dynamodb").delete_item(
            TableName=TABLE,
            Key={"pk": {"S": f"SILENCE#{silence.silence_id}"}, "sk": {"S": "META"}},
        )
    path = tmp_path / "export.jsonl"
    path.write_text(exported)

    assert _vigil("silence", "import", str(path)) == 0
    assert capsys.readouterr().out.startswith(f"{path}: 2 imported, 0 already present")

    restored = {s.silence_id: s for s in store.everything()}
    assert sorted(restored) == ["aaaa1111aaaa1111", "bbbb2222bbbb2222"]
    assert restored["aaaa1111aaaa1111"].matchers.matches({"resource": "orders-api"})
    assert not restored["bbbb2222bbbb2222"].matchers.matches({"resource": "billing-x"})
    assert restored["aaaa1111aaaa1111"].comment.startswith("release [imported by ")
    assert restored["aaaa1111aaaa1111"].comment.endswith(" at 2026-11-26T21:00:00Z]")


def test_silence_list_filters_by_state(table: str, capsys: pytest.CaptureFixture[str]) -> None:
    store = SilenceStore(boto3.client("dynamodb"), TABLE)
    for silence_id, start in [
        ("aaaa1111aaaa1111", NOW),
        ("bbbb2222bbbb2222", NOW + timedelta(hours=1)),
    ]:
        store.create(
            new_silence(
                silence_id,
                match={"resource": "x"},
                starts_at=start,
                duration=timedelta(hours=2),
                now=NOW,
                created_by="ana",
            )
        )

    assert _vigil("silence", "list", "--state", "pending", "-o", "json") == 0

    assert [s["id"] for s in json.loads(capsys.readouterr().out)] == ["bbbb2222bbbb2222"]
