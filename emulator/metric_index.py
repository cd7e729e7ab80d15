"""``GetMetricData`` in time linear in the datapoints, for scenarios of thousands of resources.

moto 5 answers each ``MetricStat`` query by scanning every datapoint of the window once per
period of the query: a drill-down over 5,000 functions (5,000 queries of 5 periods over
several hundred thousand datapoints) would take hours. :func:`installed` replaces it, while
installed, by a version that groups the window's datapoints once per call and answers each
query from its own group, with moto's own ``Statistics`` for the values, so the answers are
those moto would give:

- a query with dimensions matches the datapoints of that metric name with exactly those
  dimensions (moto, unlike AWS, does not compare the namespace then);
- a query without dimensions matches every datapoint of that namespace and metric name;
- ``Unit`` filters; periods start at ``StartTime`` and step by ``Period``; periods with no
  datapoint are left out.

Calls with metric math or Metrics Insights expressions go to moto's own implementation.

A query's ``AccountId`` is honoured as CloudWatch cross-account observability does (moto ignores
it and reads the caller's own metrics). MetricDataQuery in the CloudWatch API Reference: "If
you are performing a GetMetricData operation in a monitoring account, use this to specify which
account to retrieve this metric from"; the OAM API Reference (its introduction, CreateLink): a
source account shares its metrics through a link to a sink of the monitoring account, "within a
Region". So a query naming another account is answered from that account's metrics in the same
region (``cloudwatch_backends[AccountId][region]``) when, and only when,
:func:`emulator.oam.metric_sources` finds that account linked to a sink of the caller in that
region; otherwise it gets no datapoints. The reference does not say what an unlinked account's
query returns (MetricDataResult's ``StatusCode`` lists a ``Forbidden`` it does not explain); a
reader sees no values either way, and no values is what the emulator answers, with the status
``Complete``. A query without ``AccountId``, or naming the caller's own account, is answered as
before. Metric math or Metrics Insights in a call that names another account is not emulated:
it raises :class:`~emulator.errors.EmulatorError` rather than answer from the wrong account.

moto answers only the five plain statistics (``Sum``, ``Average``, ``Minimum``, ``Maximum``,
``SampleCount``); a percentile (``p99``) or a trimmed count between absolute bounds
(``TC(14850:30000)``, lower exclusive, upper inclusive) is computed here from the period's
datapoints (:func:`extended_statistic`): the nearest-rank percentile, and the count of values in
the range. A scenario's ``Duration`` datapoint is the minute's slowest invocation, so a p99 over
a window is the p99 of those minutes.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from unittest.mock import patch

from moto.cloudwatch.models import (
    CloudWatchBackend,
    MetricDatumBase,
    Statistics,
    cloudwatch_backends,
)

from emulator import oam
from emulator.errors import EmulatorError

_Key = tuple[str, frozenset[tuple[str, str]]]
_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$")
_TRIMMED_COUNT = re.compile(r"^TC\((\d+(?:\.\d+)?):(\d+(?:\.\d+)?)\)$")


def extended_statistic(stat: str, values: list[float]) -> float | None:
    """A percentile (``p99``: nearest rank) or a trimmed count between absolute bounds
    (``TC(lower:upper)``) of ``values``; ``None`` for any other statistic."""
    if percentile := _PERCENTILE.match(stat):
        ranked = sorted(values)
        rank = math.ceil(float(percentile.group(1)) / 100 * len(ranked))
        return ranked[max(rank, 1) - 1] if ranked else None
    if trimmed := _TRIMMED_COUNT.match(stat):
        lower, upper = float(trimmed.group(1)), float(trimmed.group(2))
        return float(sum(1 for value in values if lower < value <= upper))
    return None


def _dimensions(datum: MetricDatumBase) -> frozenset[tuple[str, str]]:
    """The datum's dimensions as a key, computed once per datum (a storm asks again for
    hundreds of thousands of datapoints at every call)."""
    key: frozenset[tuple[str, str]] | None = getattr(datum, "_emulator_dimensions", None)
    if key is None:
        key = frozenset((str(d.name), str(d.value)) for d in datum.dimensions)
        datum._emulator_dimensions = key  # type: ignore[attr-defined]
    return key


@contextlib.contextmanager
def installed() -> Iterator[None]:
    original = CloudWatchBackend.get_metric_data

    def get_metric_data(
        backend: CloudWatchBackend,
        queries: list[dict[str, Any]],
        start_time: datetime,
        end_time: datetime,
        scan_by: str = "TimestampAscending",
    ) -> list[dict[str, Any]]:
        own = backend.account_id
        by_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for query in queries:
            by_account[query.get("AccountId") or own].append(query)
        if set(by_account) == {own}:
            return answer(backend, queries, start_time, end_time, scan_by)
        if any("MetricStat" not in q for q in queries):
            raise EmulatorError(
                "GetMetricData: metric math or Metrics Insights in a call that names another"
                " account (AccountId) is not emulated"
            )
        region = backend.region_name
        linked = oam.metric_sources(own, region)
        results: dict[str, dict[str, Any]] = {}
        for account, group in by_account.items():
            if account == own or account in linked:
                source = backend if account == own else cloudwatch_backends[account][region]
                found = answer(source, group, start_time, end_time, scan_by)
            else:
                found = [
                    _answer(q, {}, {}, start_time, scan_by)
                    for q in group
                    if q.get("ReturnData", True)
                ]
            results.update((result["id"], result) for result in found)
        # in the order asked, as one call answers
        return [results[q["Id"]] for q in queries if q["Id"] in results]

    def answer(
        backend: CloudWatchBackend,
        queries: list[dict[str, Any]],
        start_time: datetime,
        end_time: datetime,
        scan_by: str,
    ) -> list[dict[str, Any]]:
        """``queries`` answered from ``backend``'s own metrics."""
        if any("MetricStat" not in q for q in queries) or start_time >= end_time:
            return original(backend, queries, start_time, end_time, scan_by)
        start_time = start_time.replace(microsecond=0)
        end_time = end_time.replace(microsecond=0)
        by_dimensions: dict[_Key, list[MetricDatumBase]] = defaultdict(list)
        by_namespace: dict[tuple[str, str], list[MetricDatumBase]] = defaultdict(list)
        for datum in backend.get_all_metrics():
            if start_time <= datum.timestamp < end_time:
                by_dimensions[(datum.name, _dimensions(datum))].append(datum)
                by_namespace[(datum.namespace, datum.name)].append(datum)
        return [
            result
            for query in queries
            for result in [_answer(query, by_dimensions, by_namespace, start_time, scan_by)]
            if query.get("ReturnData", True)
        ]

    with patch.object(CloudWatchBackend, "get_metric_data", get_metric_data):
        yield


def _answer(
    query: dict[str, Any],
    by_dimensions: dict[_Key, list[MetricDatumBase]],
    by_namespace: dict[tuple[str, str], list[MetricDatumBase]],
    start_time: datetime,
    scan_by: str,
) -> dict[str, Any]:
    metric_stat = query["MetricStat"]
    metric = metric_stat["Metric"]
    name, stat, unit = metric["MetricName"], metric_stat["Stat"], metric_stat.get("Unit")
    dimensions = frozenset((d["Name"], d["Value"]) for d in metric.get("Dimensions", []))
    found = (
        by_dimensions.get((name, dimensions), [])
        if dimensions
        else by_namespace.get((metric["Namespace"], name), [])
    )
    period = timedelta(seconds=int(metric_stat["Period"]))
    buckets: dict[int, list[MetricDatumBase]] = defaultdict(list)
    for datum in found:
        if not unit or datum.unit == unit:
            buckets[(datum.timestamp - start_time) // period].append(datum)
    values: list[Any] = []
    timestamps: list[datetime] = []
    for index in sorted(buckets):
        stats = Statistics([stat], start_time + index * period)
        stats.metric_data = buckets[index]
        extended = extended_statistic(stat, [float(v) for v in stats.metric_single_values_list])
        values.append(stats.get_statistics_for_type(stat) if extended is None else extended)
        timestamps.append(stats.timestamp)
    if scan_by == "TimestampDescending":
        values.reverse()
        timestamps.reverse()
    return {
        "id": query["Id"],
        "label": query.get("Label") or f"{name} {stat}",
        "values": values,
        "timestamps": timestamps,
        "status_code": "Complete",
    }
