"""The demo reachable from the ``vigil`` command (issue 16): the outage-demo stack served on
127.0.0.1 by moto's ThreadedMotoServer (``python -m emulator.demo --serve``), and the command
pointed at it with ``--endpoint-url`` or ``AWS_ENDPOINT_URL``, as a newcomer runs it from
another shell: list and show the alerts, test a route, check a config, add, extend, export
and import a silence, and approve the runbook the demo parked on its gate.

Given outage-demo played to 09:40 (orders-api firing since 09:25) and a dry-run runbook for
Lambda in us-east-1 waiting on its approval (``emulator.serve.park_runbook``).
"""

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import boto3
import pytest

from emulator import Emulator, serve
from emulator.core import PROJECT_ROOT
from vigil.adapters.incident_store import ApprovalStore
from vigil.runbook.gate import ApprovalState
from vigil_cli.main import main, parse

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Emulator, str]]:
    parameters = {"AlertEmail": "ops@x.com", "FailoverPlans": serve.plans_parameter()}
    with Emulator.start(scenario="outage-demo", parameters=parameters) as emu:
        emu.play(until=emu.now + timedelta(minutes=40))
        serve.park_runbook(emu)
        with serve.serving(emu, port=0) as url:
            yield emu, url


def _vigil(served: tuple[Emulator, str], *argv: str) -> int:
    emu, url = served
    return main(["--endpoint-url", url, *argv], clock=lambda: emu.now)


def _json(capsys: pytest.CaptureFixture[str]) -> object:
    return json.loads(capsys.readouterr().out)


def test_alerts_are_listed_and_shown_through_the_endpoint(
    served: tuple[Emulator, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _vigil(served, "alerts", "list", "-o", "json") == 0
    listed = _json(capsys)
    assert isinstance(listed, list)
    [orders] = [a for a in listed if a["resource"] == "orders-api"]
    assert (orders["kind"], orders["state"], orders["severity"]) == (
        "lambda.errors",
        "firing",
        "critical",
    )

    # Options after the action, and a prefix of the fingerprint.
    assert _vigil(served, "alerts", "show", orders["fingerprint"][:8], "-o", "json") == 0
    shown = _json(capsys)
    assert isinstance(shown, dict)
    assert shown["fingerprint"] == orders["fingerprint"]
    assert shown["labels"]["service"] == "lambda"
    assert "errors in" in shown["evidence"]["summary"]
    assert [g["receiver"] for g in shown["groups"]] == ["default"]
    assert shown["notifications"]["count"] >= 1


def test_routes_test_reads_the_stacks_stored_config_and_config_check_reads_a_file(
    served: tuple[Emulator, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert _vigil(served, "routes", "test", "--label", "kind=lambda.errors") == 0
    assert capsys.readouterr().out.splitlines()[0] == "default"

    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"repeat_interval_minutes": 30}))
    assert main(["config", "check", str(rules), "-o", "json"]) == 0
    assert {"section": "receivers", "count": "1"} in _json(capsys)  # type: ignore[operator]


def test_a_silence_added_through_the_endpoint_mutes_the_alert_and_round_trips(
    served: tuple[Emulator, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert _vigil(served, "silence", "add", "--match", "resource=orders-api", "--for", "1h") == 0
    silence_id = capsys.readouterr().out.strip()
    assert _vigil(served, "alerts", "list", "--match", 'resource="orders-api"', "-o", "json") == 0
    [orders] = _json(capsys)  # type: ignore[misc]
    assert _vigil(served, "silence", "extend", silence_id, "--for", "2h", "--as", "ana") == 0
    extended = capsys.readouterr().out
    assert _vigil(served, "silence", "export") == 0
    exported = capsys.readouterr().out
    path = tmp_path / "silences.json"
    path.write_text(exported)
    assert _vigil(served, "silence", "import", str(path), "-o", "json") == 0
    imported = _json(capsys)

    assert orders["silenced_by"] == silence_id
    assert extended.startswith(f"extended {silence_id} to ")
    assert [s["id"] for s in json.loads(exported)] == [silence_id]
    assert imported == {
        "file": str(path),
        "imported": [],
        "already_present": [silence_id],
        "skipped_ended": [],
        "errors": [],
    }


def test_the_commands_the_demo_prints_run_against_it(
    served: tuple[Emulator, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Every ``vigil`` line of the instructions parses; the ones that only read succeed."""
    emu, url = served
    rules = tmp_path / "rules.json"
    rules.write_text("{}")
    text = serve.instructions(
        serve.Served(url=url, stack="vigil", incident=serve.DEMO_INCIDENT, rules=rules)
    )
    assert _vigil(served, "alerts", "list", "-o", "json") == 0
    fingerprint = json.loads(capsys.readouterr().out)[0]["fingerprint"]
    commands = [
        shlex.split(line.split("#")[0].replace("FINGERPRINT", fingerprint[:6]))[1:]
        for line in text.splitlines()
        if line.startswith("  vigil ")
    ]
    reading = [c for c in commands if _reads(c)]

    codes = [main(["--endpoint-url", url, *c], clock=lambda: emu.now) for c in reading]

    assert f"export AWS_ENDPOINT_URL={url} " in text
    assert len(commands) == 9
    assert [parse(c).command for c in commands].count("runbook") == 1
    assert [c[2:4] for c in reading] == [
        ["alerts", "list"],
        ["alerts", "show"],
        ["routes", "test"],
        ["silence", "list"],
        ["incidents", "list"],
        ["incidents", "show"],
    ]
    assert codes == [0] * len(reading)


def _reads(command: list[str]) -> bool:
    return "add" not in command and "approve" not in command and "check" not in command


def test_the_parked_runbook_is_approved_once_through_the_endpoint(
    served: tuple[Emulator, str], capsys: pytest.CaptureFixture[str]
) -> None:
    emu, _ = served
    assert _vigil(served, "incidents", "show", serve.DEMO_INCIDENT) == 0
    assert "Approval:  pending" in capsys.readouterr().out

    assert _vigil(served, "runbook", "approve", serve.DEMO_INCIDENT, "-o", "json") == 0
    decided = _json(capsys)
    emu.settle()
    again = _vigil(served, "runbook", "approve", serve.DEMO_INCIDENT)

    approval = ApprovalStore(boto3.client("dynamodb"), emu.deployment.table_name).get(
        serve.DEMO_INCIDENT
    )
    assert isinstance(decided, dict)
    assert (decided["state"], decided["plan"], decided["dry_run"]) == (
        "approved",
        serve.DEMO_PLAN,
        True,
    )
    assert approval is not None
    assert approval.state is ApprovalState.APPROVED
    assert again == 1
    assert "already approved" in capsys.readouterr().err


def test_another_process_without_credentials_reads_the_demo_through_the_environment(
    served: tuple[Emulator, str],
) -> None:
    """What the demo prints: AWS_ENDPOINT_URL and fake keys, from another process."""
    _, url = served
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environ |= {
        "AWS_ENDPOINT_URL": url,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "PYTHONPATH": os.pathsep.join(str(PROJECT_ROOT / p) for p in ("layers/vigil", "cli", ".")),
    }
    done = subprocess.run(
        [sys.executable, "-m", "vigil_cli", "alerts", "list", "-o", "json"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "orders-api" in {a["resource"] for a in json.loads(done.stdout)}


def test_a_wrong_endpoint_fails_with_1_so_the_calls_really_go_there(
    served: tuple[Emulator, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emu, url = served
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    closed = url.rsplit(":", 1)[0] + ":9"  # the discard port: nothing listens there
    assert main(["--endpoint-url", closed, "alerts", "list"], clock=lambda: emu.now) == 1
    assert capsys.readouterr().err.startswith("vigil: AWS error: Could not connect")
