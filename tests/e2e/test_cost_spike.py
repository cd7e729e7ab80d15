"""The cost-spike scenario through the real template: one spike, one alert, then resolved."""

from collections.abc import Iterator

import pytest

from emulator import Emulator
from tests.e2e.scenario_runs import play_scenario

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture(scope="module")
def played() -> Iterator[Emulator]:
    yield from play_scenario("cost-spike")


def _titles(emu: Emulator) -> list[str]:
    return [str(post.payload["text"]) for post in emu.slack.posts]


def test_the_tripled_lambda_bill_alerts_once_and_resolves_the_next_day(played: Emulator) -> None:
    titles = _titles(played)

    assert titles.count("[CRITICAL] Cost spike firing: AWS Lambda") == 1
    assert titles.count("[RESOLVED] Cost spike resolved: AWS Lambda") == 1
    assert not [title for title in titles if "Total" in title]  # Lambda explains the total


def test_the_alert_names_the_money_the_baseline_and_the_usage_behind_it(played: Emulator) -> None:
    email = next(
        e for e in played.mailbox.emails if e.subject.endswith("Cost spike firing: AWS Lambda")
    )

    assert "against a baseline of $" in email.body
    assert "(the same weekday of the last 6 weeks)" in email.body
    assert "top usage types: USE1-Lambda-GB-Second-ARM $" in email.body
    assert "AWS Cost Anomaly Detection agrees (impact $205.00)" in email.body
    assert "Window:     1 day ending 2026-11-25 00:00:00 UTC" in email.body


def test_a_first_spend_alerts_once_and_clears_without_a_resolved_notice(played: Emulator) -> None:
    titles = _titles(played)

    assert titles.count("[WARNING] New service spend firing: Amazon Bedrock") == 1
    assert not [title for title in titles if "resolved: Amazon Bedrock" in title]


def test_the_forecast_above_the_budget_warns(played: Emulator) -> None:
    assert "[WARNING] Budget forecast firing: monthly-budget" in _titles(played)


def test_steady_services_and_month_start_charges_stay_quiet(played: Emulator) -> None:
    quiet = ("DynamoDB", "Simple Storage", "Savings Plans", "Tax")

    assert not [title for title in _titles(played) if any(name in title for name in quiet)]


def test_cost_explorer_is_asked_little(played: Emulator) -> None:
    requests = played.cost_explorer.requests
    runs = len([e for e in played.executions("EvaluateStateMachine") if e.name.startswith("cost-")])

    # Six runs over three calendar days. Bootstrapping 63 days takes 3 pages; after that
    # one request a run, usage types once for the spike, and the forecast and the
    # anomalies once a day: 5 requests ($0.05) on an ordinary day.
    assert runs == 6
    assert requests["GetCostAndUsage"] == 3 + 5 + 1
    assert requests["GetCostForecast"] == 3
    assert requests["GetAnomalies"] == 3
    assert sum(requests.values()) == 15
