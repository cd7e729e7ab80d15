"""A stack update with a bad rules config: the last good config keeps running and an alert
about the bad one routes like any other, until the config is fixed.

The good config has a ten times stricter normal rate, which makes two errors of a low-volume
function critical (the defaults say warning), so which config runs shows in the alerts. At 10
minutes ``RulesConfig`` is updated to a document with a bad duration on line 6; nightly-report
fails twice from 25 minutes; at 40 minutes the good
config is restored.
"""

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from emulator import Emulator
from tests.e2e.scenario_runs import ALERT_EMAIL, emails

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]

GOOD = {"lambda_errors": {"warning_rate": 0.0001, "critical_rate": 0.001}}
BAD = """{
  "lambda_errors": {"warning_rate": 0.0001, "critical_rate": 0.001},
  "routing": {
    "route": {
      "routes": [
        {"match": {"severity": "critical"}, "group_wait": "soon"}
      ]
    }
  }
}"""


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    document = {
        "name": "config-fallback",
        "description": "A bad rules config arrives by a stack update and is fixed later.",
        "start": "2026-11-02T09:00:00Z",
        "duration": "60m",
        "cycle": "rate(5 minutes)",
        "parameters": {"RulesConfig": GOOD},
        "workloads": [
            {
                "function": "nightly-report",
                "phases": [
                    {"from": "0m", "to": "25m", "invocations_per_minute": 2},
                    {
                        "from": "25m",
                        "to": "27m",
                        "invocations_per_minute": 2,
                        "errors_per_minute": 1,
                    },
                    {"from": "27m", "invocations_per_minute": 2},
                ],
            }
        ],
    }
    path: Path = tmp_path_factory.mktemp("scenario") / "config-fallback.yaml"
    path.write_text(yaml.safe_dump(document))
    with Emulator.start(scenario=path, parameters={"AlertEmail": ALERT_EMAIL}) as emu:
        start = emu.now
        emu.play(until=start + timedelta(minutes=10))
        updated = emu.update_rules(BAD)
        assert "EvaluateFunction" in " ".join(updated)
        emu.play(until=start + timedelta(minutes=40))
        emu.update_rules(json.dumps(GOOD))
        emu.play()
        yield emu


def test_the_bad_config_alerts_and_the_alert_resolves_once_fixed(played: Emulator) -> None:
    subjects = emails(played)

    assert [s for s in subjects if "config" in s[1]] == [
        ("09:15", "[WARNING] Vigil rules config invalid firing: RulesConfig"),
        ("09:45", "[RESOLVED] Vigil rules config invalid resolved: RulesConfig"),
    ]
    (fired,) = [e for e in played.mailbox.emails if "config invalid firing" in e.subject]
    assert (
        "routing.route.routes.0.group_wait (line 6, column 45): Value error, 'soon' is not a"
        " duration" in fired.body
    )


def test_the_last_good_config_keeps_running(played: Emulator) -> None:
    subjects = [subject for _, subject in emails(played)]
    slack = [str(post.payload["text"]) for post in played.slack.posts]

    # critical, as the last good config says (the defaults would say warning)
    assert "[CRITICAL] Lambda errors firing: nightly-report" in subjects
    assert "[CRITICAL] Lambda errors firing: nightly-report" in slack
    assert "[WARNING] Vigil rules config invalid firing: RulesConfig" in slack
    assert played.failures == []
