"""``vigil rules backtest`` over the emulator's CloudWatch history, in moto.

The emulator's metrics writer puts a built-in scenario's ``AWS/Lambda`` metrics into moto, as
the local emulator does when it plays the scenario (``make demo``); the command then lists the
functions, prices its plan, fetches the history with GetMetricData and replays it. What must
fire, and when, comes from the scenarios' own descriptions (emulator/scenarios/*.yaml) and the
end-to-end tests that play them through the deployed template (tests/e2e/test_quiet_failure.py,
tests/e2e/test_outage_demo.py).
"""

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from emulator.metrics import MetricsWriter
from emulator.scenario import load_scenario
from vigil.evaluation.metric_history import fetch_history
from vigil_cli.main import main

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


def _play(scenario: str) -> tuple[datetime, datetime]:
    """Write the scenario's metrics into moto; its start and end."""
    played = load_scenario(scenario)
    MetricsWriter(start=played.start, scenario=played).write_until(played.end)
    return played.start, played.end


def _backtest(
    tmp_path: Path, span: tuple[datetime, datetime], *extra: str, rules: str = "{}"
) -> int:
    (tmp_path / "rules.json").write_text(rules)
    since, until = span
    argv = ["rules", "backtest", "--rules", str(tmp_path / "rules.json")]
    argv += ["--since", since.isoformat(), "--until", until.isoformat(), *extra]
    return main(["--region", "us-east-1", *argv], clock=lambda: NOW)


def _at(hhmm: str) -> str:
    return f"2025-03-14T{hhmm}:00Z"


def _events(document: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [
        (e["at"][11:16], e["resource"], e["notification"], e["severity"])
        for e in document["events"]
    ]


def test_the_quiet_failure_fires_with_the_hourly_sweep_as_the_functions_did(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # quiet-failure.yaml: batch-job fails once at 09:30 inside a busy healthy account; no
    # five-minute cycle drills, the sweep of the window that crosses 10:00 finds it and the next
    # cycle resolves it. search-api's steady 0.05 % never alerts.
    span = _play("quiet-failure")

    code = _backtest(tmp_path, span, "--yes", "-o", "json")
    captured = capsys.readouterr()
    document = json.loads(captured.out)

    assert code == 0
    assert _events(document) == [
        ("10:02", "batch-job", "firing", "warning"),  # the window [09:55, 10:00), 2 min lag
        ("10:07", "batch-job", "resolved", "warning"),
    ]
    assert document["kinds"] == ["lambda.errors", "lambda.throttles"]
    assert (document["cycles"], document["episodes"], document["notifications"]) == (18, 1, 2)
    assert document["notifications_per_day"] == 32.0  # 2 in 90 minutes
    # Two functions' Errors, Invocations and Throttles and the account's three: 9 metrics,
    # 90 datapoints each, one request; what was fetched is what was priced.
    assert document["plan"] == {
        "metrics": 9,
        "functions": 2,
        "period": 60,
        "metrics_requested": 9,
        "calls": 1,
        "price_usd": "0.00009",
    }
    assert document["fetched"] == {"metrics_requested": 9, "calls": 1}
    assert captured.err.startswith("Plan: 2 functions x their Errors, Invocations and Throttles")
    assert "9 GetMetricData metrics requested in 1 call(s), about $0.00009" in captured.err


def test_the_outage_demo_fires_repeats_and_resolves_as_its_emails_did(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # outage-demo.yaml (repeat_interval_minutes 30): orders-api fails 2 % from 09:20 to 10:10,
    # "alerts at once, repeats once 30 minutes later, then resolves"; nightly-report fails twice
    # from 09:45 (found because the account's errors make every cycle drill); search-api does not.
    span = _play("outage-demo")

    code = _backtest(tmp_path, span, "--yes", "--events", rules='{"repeat_interval_minutes": 30}')
    out = capsys.readouterr().out

    assert code == 0
    table = out.split("\n\n")
    assert table[0] == (
        "Backtest from CloudWatch (AWS/Lambda), which covers lambda.errors and lambda.throttles"
        " only, 2025-03-14T09:00:00Z to 2025-03-14T11:00:00Z: 24 cycles, 0.08 days."
    )
    assert [re.split(r"\s{2,}", line) for line in table[1].splitlines()] == [
        ["KIND", "RESOURCE", "EPISODES", "FIRST FIRED", "HIGHEST", "NOTIFICATIONS", "A DAY"],
        ["lambda.errors", "orders-api", "1", _at("09:27"), "critical", "3", "36.0"],
        ["lambda.errors", "nightly-report", "1", _at("09:52"), "warning", "2", "24.0"],
    ]
    assert [line.split()[:4] for line in table[2].splitlines()[1:]] == [
        [_at("09:27"), "lambda.errors", "orders-api", "firing"],  # 2 % is above critical
        [_at("09:52"), "lambda.errors", "nightly-report", "firing"],
        [_at("09:57"), "lambda.errors", "orders-api", "repeat"],
        [_at("09:57"), "lambda.errors", "nightly-report", "resolved"],
        [_at("10:17"), "lambda.errors", "orders-api", "resolved"],
    ]
    assert table[3] == (
        "2 episode(s), 5 notification(s): 60.0 a day, before silences, inhibit rules and"
        " grouping.\n"
    )


def test_function_globs_narrow_the_plan(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    span = _play("outage-demo")

    code = _backtest(tmp_path, span, "--yes", "--functions", "orders-*", "-o", "json")
    document = json.loads(capsys.readouterr().out)

    assert code == 0
    assert (document["plan"]["functions"], document["plan"]["metrics_requested"]) == (1, 6)
    assert [row["resource"] for row in document["resources"]] == ["orders-api"]


@pytest.mark.parametrize(
    "case",
    [
        (
            ["--max-metrics", "8"],
            "the plan requests 9 metrics, above the cap of 8 (raise it with --max-metrics, or"
            " narrow the span or the functions)",
        ),
        ([], "not fetched (answer y, or pass --yes where there is no terminal)"),
    ],
)
def test_a_plan_is_printed_and_refused_before_any_metric_is_fetched(
    aws: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    case: tuple[list[str], str],
) -> None:
    # The issue: "capped and priced before it runs"; without a terminal, no yes.
    extra, refusal = case
    span = _play("quiet-failure")
    fetched: list[object] = []

    def recording(*args: Any, **kwargs: Any) -> Any:
        fetched.append(args)
        return fetch_history(*args, **kwargs)

    monkeypatch.setattr("vigil_cli.backtest.fetch_history", recording)

    code = _backtest(tmp_path, span, *extra)
    err = capsys.readouterr().err

    assert code == 2
    assert fetched == []
    plan, problem = err.splitlines()
    assert "9 GetMetricData metrics requested" in plan
    assert problem == f"vigil: error: {refusal}"


def test_a_span_older_than_cloudwatch_keeps_is_refused(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    span = _play("quiet-failure")
    (tmp_path / "rules.json").write_text("{}")

    code = main(
        [
            *("rules", "backtest", "--rules", str(tmp_path / "rules.json"), "--yes"),
            *("--since", span[0].isoformat(), "--until", span[1].isoformat()),
        ],
        clock=lambda: span[0] + timedelta(days=20),
    )

    assert code == 2
    assert "keeps 60 s datapoints for 15 days" in capsys.readouterr().err
