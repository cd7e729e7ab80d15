"""The Cost Explorer adapter (botocore Stubber), the cost stores, and collect_costs on moto."""

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from emulator.cost_explorer import FakeCostExplorer, installed
from emulator.cost_series import ServiceSeries, generate
from tests.integration.conftest import FakeContext
from vigil.adapters.cost_explorer import CostExplorer
from vigil.adapters.cost_store import CostHistoryStore, RequestBudget
from vigil.adapters.stats import CallStats
from vigil.core.model import SignalBatch
from vigil.cost.collect import RequestCapReached

TODAY = date(2026, 11, 26)
Loader = Callable[..., ModuleType]


class Allow:
    def __init__(self, cap: int = 100) -> None:
        self.cap, self.taken = cap, 0

    def take(self, day: date) -> bool:
        self.taken += 1
        return self.taken <= self.cap


def _day(day: str, groups: dict[str, str]) -> dict[str, Any]:
    end = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    return {
        "TimePeriod": {"Start": day, "End": end},
        "Total": {},
        "Groups": [
            {"Keys": [key], "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}
            for key, amount in groups.items()
        ],
        "Estimated": False,
    }


def test_daily_costs_follow_every_page_and_count_each_request() -> None:
    client = boto3.client("ce", region_name="us-east-1")
    stats = CallStats()
    request = {
        "TimePeriod": {"Start": "2026-11-24", "End": "2026-11-26"},
        "Granularity": "DAILY",
        "Metrics": ["UnblendedCost"],
        "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}],
    }
    with Stubber(client) as stub:
        stub.add_response(
            "get_cost_and_usage",
            {"ResultsByTime": [_day("2026-11-24", {"AWS Lambda": "10.5"})], "NextPageToken": "p2"},
            request,
        )
        stub.add_response(
            "get_cost_and_usage",
            {"ResultsByTime": [_day("2026-11-25", {"AWS Lambda": "12", "Tax": "0"})]},
            {**request, "NextPageToken": "p2"},
        )
        explorer = CostExplorer(client, budget=Allow(), today=TODAY, stats=stats)

        days = explorer.daily_costs(date(2026, 11, 24), TODAY)

    assert days == {
        date(2026, 11, 24): {"AWS Lambda": 10.5},
        date(2026, 11, 25): {"AWS Lambda": 12.0},
    }
    assert stats.by_api == {"GetCostAndUsage": 2}


def test_accounts_and_tags_are_named_for_people() -> None:
    client = boto3.client("ce", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response(
            "get_cost_and_usage",
            {"ResultsByTime": [_day("2026-11-25", {"team$payments": "4", "team$": "1"})]},
            {
                "TimePeriod": {"Start": "2026-11-25", "End": "2026-11-26"},
                "Granularity": "DAILY",
                "Metrics": ["UnblendedCost"],
                "GroupBy": [{"Type": "TAG", "Key": "team"}],
            },
        )
        explorer = CostExplorer(client, budget=Allow(), today=TODAY)

        days = explorer.daily_costs(date(2026, 11, 25), TODAY, "TAG:team")

    assert days == {date(2026, 11, 25): {"tag team=payments": 4.0, "tag team=(untagged)": 1.0}}


def test_the_daily_cap_stops_requests_before_they_are_made() -> None:
    client = boto3.client("ce", region_name="us-east-1")
    with Stubber(client):  # no response queued: any request would fail the test
        explorer = CostExplorer(client, budget=Allow(cap=0), today=TODAY)

        with pytest.raises(RequestCapReached):
            explorer.daily_costs(date(2026, 11, 24), TODAY)


def test_forecast_and_anomalies_are_read_from_their_apis() -> None:
    client = boto3.client("ce", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response(
            "get_cost_forecast",
            {"Total": {"Amount": "812.5", "Unit": "USD"}, "ForecastResultsByTime": []},
            {
                "TimePeriod": {"Start": "2026-11-26", "End": "2026-12-01"},
                "Metric": "UNBLENDED_COST",
                "Granularity": "MONTHLY",
            },
        )
        stub.add_client_error("get_cost_forecast", "DataUnavailableException")
        stub.add_response(
            "get_anomalies",
            {
                "Anomalies": [
                    {
                        "AnomalyId": "a1",
                        "AnomalyStartDate": "2026-11-25T00:00:00Z",
                        "DimensionValue": "AWS Lambda",
                        "RootCauses": [{"Service": "AWS Lambda"}],
                        "AnomalyScore": {"MaxScore": 0.9, "CurrentScore": 0.9},
                        "Impact": {"MaxImpact": 150.0, "TotalImpact": 180.0},
                        "MonitorArn": "arn:aws:ce::123456789012:anomalymonitor/m",
                    }
                ]
            },
            {"DateInterval": {"StartDate": "2026-11-24", "EndDate": "2026-11-26"}},
        )
        explorer = CostExplorer(client, budget=Allow(), today=TODAY)

        forecast = explorer.month_forecast(TODAY)
        unknown = explorer.month_forecast(TODAY)
        anomalies = explorer.anomalies(date(2026, 11, 24), TODAY)

    assert forecast == 812.5
    assert unknown is None
    assert [(a.service, a.start, a.impact_usd) for a in anomalies] == [
        ("AWS Lambda", "2026-11-25", 180.0)
    ]


def test_history_and_the_request_counter_live_in_the_state_table(table: str) -> None:
    client = boto3.client("dynamodb")
    history = CostHistoryStore(client, table)
    budget = RequestBudget(client, table, cap=2)
    at = datetime(2026, 11, 26, 6, tzinfo=UTC)

    history.save(
        "SERVICE", {date(2026, 11, 24): {"AWS Lambda": 10.0}, date(2026, 11, 25): {}}, fetched_at=at
    )
    history.save("TAG:team", {date(2026, 11, 25): {"tag team=payments": 3.0}}, fetched_at=at)
    history.remember("forecast", TODAY, "812.5")

    assert history.load("SERVICE", since=date(2026, 11, 25)) == {date(2026, 11, 25): {}}
    assert history.load("TAG:team", since=date(2026, 11, 1)) == {
        date(2026, 11, 25): {"tag team=payments": 3.0}
    }
    assert history.fact("forecast", TODAY) == "812.5"
    assert history.fact("forecast", TODAY - timedelta(days=1)) is None
    assert [budget.take(TODAY) for _ in range(3)] == [True, True, False]
    assert budget.take(TODAY + timedelta(days=1))


def test_collect_costs_bootstraps_history_then_asks_only_for_recent_days(
    table: str, load_handler: Loader
) -> None:
    lambda_ = ServiceSeries(
        "AWS Lambda", base=100, noise=0.05, spikes={TODAY - timedelta(days=1): 3}
    )
    bill = generate([lambda_], TODAY - timedelta(days=90), TODAY + timedelta(days=1))
    now = datetime(2026, 11, 26, 6, tzinfo=UTC)
    fake = FakeCostExplorer(bill=bill, services=[lambda_], now=lambda: now)
    machine = boto3.client("stepfunctions").create_state_machine(
        name="evaluate",
        definition=json.dumps({"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/sfn",
        type="EXPRESS",
    )["stateMachineArn"]
    app = load_handler(
        "collect_costs", VIGIL_EVALUATE_STATE_MACHINE_ARN=machine, VIGIL_MONTHLY_BUDGET_USD="0"
    )

    with installed(fake):
        first = app.lambda_handler({"time": "2026-11-26T06:00:00Z"}, FakeContext("costs"))
        second = app.lambda_handler({"time": "2026-11-26T14:00:00Z"}, FakeContext("costs"))

    execution = boto3.client("stepfunctions").describe_execution(
        executionArn=first["execution_arn"]
    )
    batch = SignalBatch.model_validate_json(execution["input"])
    spike = next(s for s in batch.signals if s.labels.resource == "AWS Lambda")
    assert first["refreshed_days"] == 93  # every day asked for, empty before the bill
    assert first["cost_explorer_requests"] == 5  # 3 pages of history, anomalies, usage types
    assert second["cost_explorer_requests"] == 1  # the restatement window; the rest is kept
    assert spike.samples["baseline"] == pytest.approx(100, rel=0.1)
    assert spike.context["top_usage"].startswith("top usage types: AWS Lambda usage $")
