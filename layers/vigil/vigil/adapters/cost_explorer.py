"""Cost Explorer, with every request (each page too) counted against a daily cap.

Cost Explorer is a global service answered from us-east-1 and charges $0.01 per request.
GetCostAndUsage, GetCostForecast and GetAnomalies are called here; moto serves the first
only from injected results and lacks the other two, so the local emulator answers all
three from scenario data (``emulator/cost_explorer.py``) behind this same adapter.
"""

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from vigil.adapters.stats import CallStats
from vigil.cost.collect import Anomaly, RequestCapReached

if TYPE_CHECKING:
    from mypy_boto3_ce import CostExplorerClient
    from mypy_boto3_ce.type_defs import GroupDefinitionTypeDef, ResultByTimeTypeDef

METRIC = "UnblendedCost"
API_NAMES = ("GetCostAndUsage", "GetCostForecast", "GetAnomalies")


class RequestBudgetPort(Protocol):
    def take(self, day: date) -> bool: ...


class CostExplorer:
    def __init__(
        self,
        client: "CostExplorerClient",
        *,
        budget: RequestBudgetPort,
        today: date,
        stats: CallStats | None = None,
    ) -> None:
        self._client = client
        self._budget = budget
        self._today = today
        self.stats = stats or CallStats()

    def _request(self, api: str) -> None:
        if not self._budget.take(self._today):
            raise RequestCapReached(f"daily Cost Explorer request cap reached before {api}")
        self.stats.count(api)

    def _cost_and_usage(self, **request: Any) -> list["ResultByTimeTypeDef"]:
        results: list[ResultByTimeTypeDef] = []
        token: str | None = None
        while True:
            self._request("GetCostAndUsage")
            paging: dict[str, Any] = {"NextPageToken": token} if token else {}
            page = self._client.get_cost_and_usage(**request, **paging)
            results += page["ResultsByTime"]
            token = page.get("NextPageToken")
            if not token:
                return results

    def daily_costs(
        self, start: date, end: date, dimension: str = "SERVICE"
    ) -> dict[date, dict[str, float]]:
        """Unblended cost per series of ``dimension`` for each day in [start, end).

        Series are named for people: a service by its name, an account as
        ``account <id>``, a cost allocation tag as ``tag <key>=<value>``.
        """
        results = self._cost_and_usage(
            TimePeriod={"Start": start.isoformat(), "End": end.isoformat()},
            Granularity="DAILY",
            Metrics=[METRIC],
            GroupBy=[_group_by(dimension)],
        )
        days: dict[date, dict[str, float]] = {}
        for result in results:
            day = date.fromisoformat(result["TimePeriod"]["Start"])
            costs = days.setdefault(day, {})
            for group in result.get("Groups", []):
                amount = float(group["Metrics"][METRIC]["Amount"])
                if amount:
                    name = series_name(dimension, group["Keys"][0])
                    costs[name] = costs.get(name, 0.0) + amount
        return days

    def usage_types(self, service: str, day: date) -> dict[str, float]:
        """One service's cost on one day by usage type: the narrow query behind an alert."""
        results = self._cost_and_usage(
            TimePeriod={"Start": day.isoformat(), "End": (day + timedelta(days=1)).isoformat()},
            Granularity="DAILY",
            Metrics=[METRIC],
            Filter={"Dimensions": {"Key": "SERVICE", "Values": [service]}},
            GroupBy=[{"Type": "DIMENSION", "Key": "USAGE_TYPE"}],
        )
        return {
            group["Keys"][0]: float(group["Metrics"][METRIC]["Amount"])
            for result in results
            for group in result.get("Groups", [])
        }

    def month_forecast(self, today: date) -> float | None:
        """Forecast unblended cost from today to the end of the month; ``None`` if unknown."""
        month_end = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
        self._request("GetCostForecast")
        try:
            response = self._client.get_cost_forecast(
                TimePeriod={"Start": today.isoformat(), "End": month_end.isoformat()},
                Metric="UNBLENDED_COST",
                Granularity="MONTHLY",
            )
        except ClientError as exc:
            # Too little history, or the last day of the month: no forecast to give.
            if exc.response.get("Error", {}).get("Code") in {
                "DataUnavailableException",
                "ValidationException",
            }:
                return None
            raise
        return float(response["Total"]["Amount"])

    def anomalies(self, start: date, end: date) -> list[Anomaly]:
        """Anomalies AWS Cost Anomaly Detection found in [start, end], by root-cause service."""
        found: list[Anomaly] = []
        token: str | None = None
        while True:
            self._request("GetAnomalies")
            paging: dict[str, Any] = {"NextPageToken": token} if token else {}
            page = self._client.get_anomalies(
                DateInterval={"StartDate": start.isoformat(), "EndDate": end.isoformat()},
                **paging,
            )
            for anomaly in page.get("Anomalies", []):
                causes = anomaly.get("RootCauses") or [{}]
                service = causes[0].get("Service") or anomaly.get("DimensionValue") or "unknown"
                found.append(
                    Anomaly(
                        anomaly_id=anomaly["AnomalyId"],
                        service=service,
                        start=anomaly.get("AnomalyStartDate", start.isoformat())[:10],
                        impact_usd=float(anomaly["Impact"].get("TotalImpact", 0.0)),
                    )
                )
            token = page.get("NextPageToken")
            if not token:
                return found


def _group_by(dimension: str) -> "GroupDefinitionTypeDef":
    if dimension.startswith("TAG:"):
        return {"Type": "TAG", "Key": dimension.removeprefix("TAG:")}
    return {"Type": "DIMENSION", "Key": dimension}


def series_name(dimension: str, key: str) -> str:
    """``AWS Lambda``, ``account 111122223333``, ``tag team=payments``."""
    if dimension == "LINKED_ACCOUNT":
        return f"account {key}"
    if dimension.startswith("TAG:"):
        tag, _, value = key.partition("$")  # Cost Explorer answers "key$value"
        return f"tag {tag}={value or '(untagged)'}"
    return key
