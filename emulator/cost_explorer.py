"""A stand-in for Cost Explorer, answering the stack's real boto3 calls from scenario data.

moto serves ``GetCostAndUsage`` only from results queued in advance and has no
``GetCostForecast`` or ``GetAnomalies``. While installed, requests to the Cost Explorer
endpoint are answered here instead, at the HTTP level, so the stack's own adapter
(``vigil.adapters.cost_explorer``) runs unchanged:

- ``GetCostAndUsage``: daily ``UnblendedCost`` grouped by ``SERVICE``, ``LINKED_ACCOUNT`` or a
  cost allocation tag, or by ``USAGE_TYPE`` with a ``SERVICE`` filter, for the days of the
  bill before the simulated today (as on AWS, today is not complete); 31 days a page, with
  ``NextPageToken``.
- ``GetCostForecast``: the mean total of the last 7 complete days times the days left.
- ``GetAnomalies``: the scenario's anomalies whose day falls in the interval.

Every request is counted by operation (``requests``): each one costs $0.01 on AWS.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from emulator._aws import JsonAnswer, json_service
from emulator.cost_series import ServiceSeries

PAGE_DAYS = 31
HOST = "ce.us-east-1.amazonaws.com"


@dataclass(frozen=True)
class ScenarioAnomaly:
    service: str
    day: date
    impact_usd: float


class FakeCostExplorer:
    def __init__(
        self,
        *,
        bill: Mapping[date, Mapping[str, float]],
        services: Sequence[ServiceSeries] = (),
        anomalies: Sequence[ScenarioAnomaly] = (),
        now: Callable[[], datetime],
    ) -> None:
        self.bill = bill
        self.services = {series.label: series for series in services}
        self.anomalies = anomalies
        self._now = now
        self.requests: Counter[str] = Counter()

    # ---------------------------------------------------------------- HTTP
    def answer(self, target: str, body: Mapping[str, Any]) -> tuple[int, dict[str, str], str]:
        operation = target.rsplit(".", 1)[-1]
        self.requests[operation] += 1
        handlers: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
            "GetCostAndUsage": self._cost_and_usage,
            "GetCostForecast": self._forecast,
            "GetAnomalies": self._anomalies,
        }
        handler = handlers.get(operation)
        if handler is None:
            return _error(400, "ValidationException", f"{operation} is not emulated")
        try:
            return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(handler(body))
        except _ClientError as exc:
            return _error(400, exc.code, str(exc))

    @property
    def today(self) -> date:
        return self._now().date()

    # ---------------------------------------------------------------- operations
    def _cost_and_usage(self, body: Mapping[str, Any]) -> dict[str, Any]:
        period = body["TimePeriod"]
        start, end = date.fromisoformat(period["Start"]), date.fromisoformat(period["End"])
        if body.get("Granularity") != "DAILY" or end <= start:
            raise _ClientError("ValidationException", "only DAILY over a non-empty period")
        group = body["GroupBy"][0]
        dimension = group["Key"] if group["Type"] == "DIMENSION" else f"TAG:{group['Key']}"
        service_filter = (body.get("Filter") or {}).get("Dimensions", {})
        offset = int(body.get("NextPageToken") or 0)
        days = [
            start + timedelta(days=n)
            for n in range((end - start).days)
            if start + timedelta(days=n) < self.today
        ]
        page = days[offset : offset + PAGE_DAYS]
        results = []
        for day in page:
            groups: dict[str, float] = {}
            for label, amount in self.bill.get(day, {}).items():
                series = self.services.get(label)
                if dimension == "USAGE_TYPE":
                    if series is None or series.name not in service_filter.get("Values", []):
                        continue
                    parts = series.usage(amount)
                elif dimension in {"SERVICE", "LINKED_ACCOUNT"} or dimension.startswith("TAG:"):
                    key = series.group_key(dimension) if series else label
                    parts = {key: amount}
                else:
                    raise _ClientError(
                        "ValidationException", f"GroupBy {dimension} is not emulated"
                    )
                for key, value in parts.items():
                    groups[key] = groups.get(key, 0.0) + value
            results.append(
                {
                    "TimePeriod": {
                        "Start": day.isoformat(),
                        "End": (day + timedelta(days=1)).isoformat(),
                    },
                    "Total": {},
                    "Groups": [
                        {
                            "Keys": [key],
                            "Metrics": {
                                "UnblendedCost": {"Amount": f"{value:.10f}", "Unit": "USD"}
                            },
                        }
                        for key, value in sorted(groups.items())
                    ],
                    "Estimated": day >= self.today - timedelta(days=2),
                }
            )
        answer: dict[str, Any] = {"ResultsByTime": results, "GroupDefinitions": body["GroupBy"]}
        if offset + PAGE_DAYS < len(days):
            answer["NextPageToken"] = str(offset + PAGE_DAYS)
        return answer

    def _forecast(self, body: Mapping[str, Any]) -> dict[str, Any]:
        period = body["TimePeriod"]
        start, end = date.fromisoformat(period["Start"]), date.fromisoformat(period["End"])
        recent = [
            sum(self.bill[day].values())
            for n in range(1, 8)
            if (day := self.today - timedelta(days=n)) in self.bill
        ]
        if len(recent) < 7 or end <= start:
            raise _ClientError("DataUnavailableException", "not enough history to forecast")
        amount = sum(recent) / len(recent) * (end - start).days
        return {
            "Total": {"Amount": f"{amount:.4f}", "Unit": "USD"},
            "ForecastResultsByTime": [],
        }

    def _anomalies(self, body: Mapping[str, Any]) -> dict[str, Any]:
        interval = body["DateInterval"]
        start = date.fromisoformat(interval["StartDate"])
        end = date.fromisoformat(interval.get("EndDate") or self.today.isoformat())
        found = [a for a in self.anomalies if start <= a.day <= end and a.day < self.today]
        return {
            "Anomalies": [
                {
                    "AnomalyId": f"anomaly-{index}",
                    "AnomalyStartDate": anomaly.day.isoformat(),
                    "DimensionValue": anomaly.service,
                    "RootCauses": [{"Service": anomaly.service, "Region": "us-east-1"}],
                    "AnomalyScore": {"MaxScore": 0.9, "CurrentScore": 0.9},
                    "Impact": {"MaxImpact": anomaly.impact_usd, "TotalImpact": anomaly.impact_usd},
                    "MonitorArn": "arn:aws:ce::123456789012:anomalymonitor/emulated",
                }
                for index, anomaly in enumerate(found)
            ]
        }


class _ClientError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], str]:
    body = json.dumps({"__type": code, "Message": message})
    return status, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code}, body


@contextmanager
def installed(fake: FakeCostExplorer) -> Iterator[FakeCostExplorer]:
    """Answer Cost Explorer requests made under moto's mock from ``fake``."""

    def answer(_match: object, target: str, body: dict[str, Any]) -> JsonAnswer:
        return fake.answer(target, body)

    with json_service(lambda url: HOST in url, answer):
        yield fake
