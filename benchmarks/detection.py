"""Detection benchmark: precision, recall, F1 and median delay of Vigil's detectors on labelled
series, side by side with two naive baselines on the same inputs.

The series are built by ``benchmarks/series.py`` (its docstring says what AWS behaviour each
generator imitates and where the incidents are). Each detector runs through Vigil's own code,
as the functions run it in production:

- **Lambda errors**: each 5-minute window with errors becomes a ``lambda.errors`` signal
  (``tests.factories.error_signal``, as the noise benchmark), judged by
  ``vigil.rules.kinds.judge`` and stepped through ``vigil.alerting.lifecycle.step``, so
  ``for_minutes``, pending and episodes count as they do for the Evaluate function.
- **Lambda time-outs**: each window's slowest invocation becomes the ``lambda.duration_timeout``
  signal the duration dial builds (``duration_ms``, ``timeout_ms``), judged and stepped alike.
  The dial reads a function only when the account's slowest invocation nears a time-out or its
  alert is open; the judge is silent below that level, so judging every window is the same.
- **Cost spikes**: every day, ``vigil.cost.collect.CostCollector.run`` reads the bill from an
  in-memory Cost Explorer and history (the same ports the Cost function fills from AWS), and
  its signals are judged and stepped like any other, per series.
- **S3 latency**: every 5 minutes, ``vigil.dials.collect.collect`` runs the S3 family over
  the bucket's per-minute CloudWatch datapoints (so the baseline is the dial's own), and its
  ``s3.latency`` signal is judged and stepped.

The baselines see the per-window value Vigil judged (the error rate for Lambda, the daily
spend of each service for cost, the slowest invocation for time-outs, the window's
request-weighted latency for S3):

- **static p99**: fire while the value is above the 99th percentile of the series' warm-up
  (its training prefix);
- **rolling 3-sigma**: fire while the value is above mean + 3 standard deviations of the
  trailing window (36 windows, 3 hours, for 5-minute series; 14 days for cost).

Scoring (window semantics). A *detection* is the moment a detector opens an episode: a firing
notification for Vigil, a rising edge (below to above) for a baseline. A detection inside a
labelled incident ``[start, end)`` makes that incident found (repeats inside it count once);
a detection outside every incident is a false positive, each one; an incident without a
detection is a false negative. Precision = found / (found + false positives), recall = found /
incidents, F1 their harmonic mean (0 when either is). The delay of a found incident is from
its start to the end of the step of its first detection (a day's spend is judged the next
morning, so a spike found on its first day has a delay of one day). Only steps after the
warm-up are scored, for every method alike; incidents are all after it. Figures are summed
over a detector's series before the ratios (micro-averaged).

    .venv/bin/python benchmarks/detection.py [--seed 1] [--json]
        [--detectors lambda,timeouts,cost,s3] [--lambda-days 21] [--cost-days 150]
        [--s3-days 7] [--rules rules.json] [--series] [--check]
"""

import argparse
import json
import math
import statistics
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers" / "vigil"), str(ROOT)]

from benchmarks.series import (  # noqa: E402
    START,
    START_DAY,
    WINDOW_MINUTES,
    CostAccount,
    DurationSeries,
    Incident,
    LambdaSeries,
    S3Bucket,
    cost_scenarios,
    duration_scenarios,
    lambda_scenarios,
    s3_scenarios,
)
from tests.factories import error_signal  # noqa: E402
from tests.fakes import MemoryCostHistory  # noqa: E402
from vigil.alerting.lifecycle import step  # noqa: E402
from vigil.core.model import Alert, Labels, NotifyReason, Signal  # noqa: E402
from vigil.cost.collect import Anomaly, CostCollector  # noqa: E402
from vigil.cost.detection import TOTAL  # noqa: E402
from vigil.dials.collect import collect  # noqa: E402
from vigil.dials.inventory import TagScope  # noqa: E402
from vigil.dials.lambda_duration import TIMEOUT_KIND  # noqa: E402
from vigil.dials.resources import MetricQuery, MetricsFilter  # noqa: E402
from vigil.dials.s3 import LATENCY_KIND, S3Family  # noqa: E402
from vigil.rules.base import Breach  # noqa: E402
from vigil.rules.document import RulesConfig  # noqa: E402
from vigil.rules.kinds import judge  # noqa: E402

ACCOUNT, REGION = "123456789012", "us-east-1"
METHODS = ("Vigil", "static p99", "rolling 3-sigma")
ROLLING_WINDOWS = 36  # 3 hours of 5-minute windows: the S3 dial's own baseline span
ROLLING_DAYS = 14


# ---------------------------------------------------------------------------- scoring


@dataclass
class Tally:
    """One method on one or more series: incidents, those found, false positives, delays."""

    incidents: int = 0
    found: int = 0
    false_positives: int = 0
    delays: list[float] = field(default_factory=list)

    def add(self, other: "Tally") -> None:
        self.incidents += other.incidents
        self.found += other.found
        self.false_positives += other.false_positives
        self.delays += other.delays

    @property
    def precision(self) -> float | None:
        flagged = self.found + self.false_positives
        return self.found / flagged if flagged else None

    @property
    def recall(self) -> float | None:
        return self.found / self.incidents if self.incidents else None

    @property
    def f1(self) -> float:
        precision, recall = self.precision or 0.0, self.recall or 0.0
        return 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    @property
    def median_delay(self) -> float | None:
        return statistics.median(self.delays) if self.delays else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "incidents": self.incidents,
            "found": self.found,
            "false_positives": self.false_positives,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "median_delay": self.median_delay,
        }


def score(
    incidents: Sequence[Incident], detections: Iterable[int], *, scored_from: int, step: float
) -> Tally:
    """Window semantics (module docstring); ``step`` is a step's length in the delay's unit."""
    first: dict[int, int] = {}
    false_positives = 0
    for at in sorted(detections):
        if at < scored_from:
            continue
        inside = next((i for i, x in enumerate(incidents) if x.start <= at < x.end), None)
        if inside is None:
            false_positives += 1
        else:
            first.setdefault(inside, at)
    delays = [(at - incidents[i].start + 1) * step for i, at in sorted(first.items())]
    return Tally(len(incidents), len(first), false_positives, delays)


# -------------------------------------------------------------------------- baselines


def rising_edges(above: Iterable[bool]) -> list[int]:
    """The steps where a condition turns true (a baseline's detections)."""
    edges, before = [], False
    for index, now in enumerate(above):
        if now and not before:
            edges.append(index)
        before = now
    return edges


def static_percentile(values: Sequence[float | None], train: int, q: float = 0.99) -> list[int]:
    """Above the ``q`` quantile of the first ``train`` values (missing values never fire)."""
    known = [v for v in values[:train] if v is not None]
    if len(known) < 2:
        return []
    threshold = statistics.quantiles(known, n=1000, method="inclusive")[round(q * 1000) - 1]
    above = (i >= train and v is not None and v > threshold for i, v in enumerate(values))
    return rising_edges(above)


def rolling_sigma(values: Sequence[float | None], trailing: int, k: float = 3.0) -> list[int]:
    """Above mean + ``k`` standard deviations of the ``trailing`` values before (those known;
    at least 2)."""

    def above(index: int) -> bool:
        value = values[index]
        history = [v for v in values[max(0, index - trailing) : index] if v is not None]
        if value is None or len(history) < 2:
            return False
        mean = math.fsum(history) / len(history)
        sd = math.sqrt(math.fsum((v - mean) ** 2 for v in history) / len(history))
        return value > mean + k * sd

    return rising_edges(above(index) for index in range(len(values)))


# -------------------------------------------------------------------------- lifecycle


class Episodes:
    """Alerts keyed by kind and resource, stepped like the Evaluate function steps them; the
    steps where an episode opened (a firing notification) are the detections."""

    def __init__(self, rules: RulesConfig) -> None:
        self.rules = rules
        self.alerts: dict[tuple[str, str], Alert | None] = {}
        self.detections: dict[str, list[int]] = {}

    def advance(self, index: int, at: datetime, signals: Iterable[Signal]) -> None:
        breaches: dict[tuple[str, str], Breach | None] = dict.fromkeys(self.alerts)
        for signal in signals:
            breaches[(signal.labels.kind, signal.labels.resource)] = judge(signal, self.rules)
        for key, breach in breaches.items():
            transition = step(
                self.alerts.get(key), breach, now=at, batch_id=at.isoformat(), rules=self.rules
            )
            self.alerts[key] = transition.after
            if transition.notify is NotifyReason.FIRING:
                self.detections.setdefault(key[1], []).append(index)


# ----------------------------------------------------------------------- the detectors


@dataclass(frozen=True)
class Run:
    """One series through Vigil: its detections by resource, and the per-step values a
    baseline sees, by resource (each series Vigil judges separately). Only a detection on one
    of the ``concerned`` resources can find an incident; any other is a false positive."""

    name: str
    incidents: tuple[Incident, ...]
    warmup: int
    vigil: dict[str, list[int]]
    streams: dict[str, list[float | None]]
    concerned: frozenset[str]


def duration_run(series: DurationSeries, rules: RulesConfig) -> Run:
    """The time-out rule on each window's slowest invocation (a window without invocations has
    no datapoint, so no signal)."""
    episodes = Episodes(rules)
    labels = Labels(kind=TIMEOUT_KIND, resource=series.name, account=ACCOUNT, region=REGION)
    for index, peak in enumerate(series.max_ms):
        at = START + timedelta(minutes=(index + 1) * WINDOW_MINUTES)
        signal = Signal(
            source="metrics",
            labels=labels,
            value=round(peak / series.timeout_ms * 100, 4),
            unit="Percent",
            window_seconds=WINDOW_MINUTES * 60,
            observed_at=at,
            samples={"duration_ms": peak, "timeout_ms": series.timeout_ms},
        )
        episodes.advance(index, at, [signal] if peak else [])
    peaks: list[float | None] = [peak or None for peak in series.max_ms]
    return Run(
        series.name,
        series.incidents,
        series.warmup,
        episodes.detections,
        {series.name: peaks},
        frozenset({series.name}),
    )


def lambda_run(series: LambdaSeries, rules: RulesConfig) -> Run:
    episodes = Episodes(rules)
    for index, (invocations, errors) in enumerate(
        zip(series.invocations, series.errors, strict=True)
    ):
        at = START + timedelta(minutes=(index + 1) * WINDOW_MINUTES)
        signals = (
            [error_signal(series.name, invocations=invocations, errors=errors, at=at)]
            if errors
            else []
        )
        episodes.advance(index, at, signals)
    rates: list[float | None] = [
        errors / invocations if invocations else 0.0
        for invocations, errors in zip(series.invocations, series.errors, strict=True)
    ]
    return Run(
        series.name,
        series.incidents,
        series.warmup,
        episodes.detections,
        {series.name: rates},
        frozenset({series.name}),
    )


class BillExplorer:
    """Cost Explorer answering from a generated bill: every day asked for, empty outside it."""

    def __init__(self, account: CostAccount) -> None:
        self.account = account

    def _costs(self, day: date) -> dict[str, float]:
        offset = (day - START_DAY).days
        return dict(self.account.days[offset]) if 0 <= offset < len(self.account.days) else {}

    def daily_costs(self, start: date, end: date, dimension: str) -> dict[date, dict[str, float]]:
        return {
            start + timedelta(days=n): self._costs(start + timedelta(days=n))
            for n in range((end - start).days)
        }

    def usage_types(self, service: str, day: date) -> dict[str, float]:
        return {f"{service} usage": self._costs(day).get(service, 0.0)}

    def month_forecast(self, today: date) -> float | None:
        return None

    def anomalies(self, start: date, end: date) -> list[Anomaly]:
        return []


def cost_run(account: CostAccount, rules: RulesConfig) -> Run:
    collector = CostCollector(
        explorer=BillExplorer(account),
        history=MemoryCostHistory(),
        rule=rules.cost,
        account=ACCOUNT,
        region=REGION,
        monthly_budget_usd=0.0,
    )
    episodes = Episodes(rules)
    for index in range(len(account.days)):
        # The Cost function runs in the morning and judges yesterday.
        now = datetime.combine(START_DAY + timedelta(days=index + 1), time(6), tzinfo=UTC)
        episodes.advance(index, now, collector.run(now).batch.signals)
    streams: dict[str, list[float | None]] = {
        service: [costs.get(service, 0.0) for costs in account.days]
        for service in account.services()
    }
    # The total rises with the service under test: its alert points at the same incident.
    concerned = frozenset({account.target, TOTAL})
    return Run(
        account.name, account.incidents, account.warmup, episodes.detections, streams, concerned
    )


class BucketMetrics:
    """CloudWatch answering GetMetricData from a bucket's per-minute datapoints."""

    def __init__(self, bucket: S3Bucket, latency_metric: str) -> None:
        self.by_metric = {"AllRequests": bucket.requests, latency_metric: bucket.latency_ms}

    def series(
        self, queries: Sequence[MetricQuery], *, start: datetime, end: datetime, period: int = 60
    ) -> dict[str, dict[datetime, float]]:
        first = max(0, int((start - START).total_seconds()) // 60)
        last = int((end - START).total_seconds()) // 60
        answer: dict[str, dict[datetime, float]] = {}
        for query in queries:
            points = self.by_metric.get(query.metric, ())
            answer[query.id] = {
                START + timedelta(minutes=m): points[m]
                for m in range(first, min(last, len(points)))
            }
        return answer


@dataclass
class OneBucket:
    """The bucket listing, its request metrics filter, the stored inventory and no tags."""

    name: str
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def names(self) -> list[str]:
        return [self.name]

    def metrics_filters(self, bucket: str) -> list[MetricsFilter]:
        return [MetricsFilter("EntireBucket", True)]

    def inventory(self, family: str) -> list[dict[str, Any]] | None:
        return self.records.get(family)

    def remember_inventory(
        self, family: str, records: list[dict[str, Any]], *, at: datetime
    ) -> None:
        self.records[family] = records

    def by_arn(self) -> dict[str, dict[str, str]]:
        return {}


def s3_run(bucket: S3Bucket, rules: RulesConfig) -> Run:
    listing = OneBucket(bucket.name)
    family = S3Family(listing, listing, TagScope(rules.tags, listing))
    metrics = BucketMetrics(bucket, rules.s3.latency_metric)
    episodes = Episodes(rules)
    latencies: list[float | None] = []
    lag = timedelta(minutes=rules.collection.lag_minutes)
    for index in range(len(bucket.requests) // WINDOW_MINUTES):
        end = START + timedelta(minutes=(index + 1) * WINDOW_MINUTES)
        batch = collect(
            families=[family],
            metrics=metrics,
            rules=rules,
            now=end + lag,
            account=ACCOUNT,
            region=REGION,
        ).batch
        signals = [s for s in batch.signals if s.labels.kind == LATENCY_KIND]
        latencies.append(signals[0].value if signals else None)
        episodes.advance(index, end, signals)
    return Run(
        bucket.name,
        bucket.incidents,
        bucket.warmup,
        episodes.detections,
        {bucket.name: latencies},
        frozenset({bucket.name}),
    )


# ---------------------------------------------------------------------------- report


@dataclass(frozen=True)
class Detector:
    name: str
    unit: str  # of the delay: "min" or "d"
    step: float  # a step's length in that unit
    trailing: int  # the rolling baseline's window, in steps
    runs: Callable[[RulesConfig], Iterator[Run]]


def evaluate(detector: Detector, rules: RulesConfig) -> dict[str, Any]:
    """Every method's tally over the detector's series, and per series."""
    totals = {method: Tally() for method in METHODS}
    per_series = []
    for run in detector.runs(rules):
        detections = {
            "Vigil": run.vigil,
            "static p99": {
                name: static_percentile(values, run.warmup) for name, values in run.streams.items()
            },
            "rolling 3-sigma": {
                name: rolling_sigma(values, detector.trailing)
                for name, values in run.streams.items()
            },
        }
        row: dict[str, Any] = {"series": run.name, "incidents": [x.what for x in run.incidents]}
        for method, by_resource in detections.items():
            concerned = [at for r, ats in by_resource.items() if r in run.concerned for at in ats]
            tally = score(run.incidents, concerned, scored_from=run.warmup, step=detector.step)
            for resource, ats in by_resource.items():
                if resource not in run.concerned:
                    tally.add(score((), ats, scored_from=run.warmup, step=detector.step))
            totals[method].add(tally)
            row[method] = tally.as_dict()
        per_series.append(row)
    return {
        "detector": detector.name,
        "delay_unit": detector.unit,
        "methods": {method: tally.as_dict() for method, tally in totals.items()},
        "series": per_series,
    }


def detectors(args: argparse.Namespace) -> dict[str, Detector]:
    """The detectors by name; each generates its series when it is evaluated."""
    seed = args.seed

    def lambda_runs(rules: RulesConfig) -> Iterator[Run]:
        days, warmup = args.lambda_days, args.lambda_warmup_days
        for series in lambda_scenarios(days=days, warmup_days=warmup, seed=seed):
            yield lambda_run(series, rules)

    def duration_runs(rules: RulesConfig) -> Iterator[Run]:
        days, warmup = args.lambda_days, args.lambda_warmup_days
        for series in duration_scenarios(days=days, warmup_days=warmup, seed=seed):
            yield duration_run(series, rules)

    def cost_runs(rules: RulesConfig) -> Iterator[Run]:
        days, warmup = args.cost_days, args.cost_warmup_days
        for account in cost_scenarios(days=days, warmup_days=warmup, seed=seed):
            yield cost_run(account, rules)

    def s3_runs(rules: RulesConfig) -> Iterator[Run]:
        days, warmup = args.s3_days, args.s3_warmup_days
        for bucket in s3_scenarios(days=days, warmup_days=warmup, seed=seed):
            yield s3_run(bucket, rules)

    return {
        "lambda": Detector("Lambda errors", "min", WINDOW_MINUTES, ROLLING_WINDOWS, lambda_runs),
        "timeouts": Detector(
            "Lambda time-outs", "min", WINDOW_MINUTES, ROLLING_WINDOWS, duration_runs
        ),
        "cost": Detector("Cost daily spike", "d", 1, ROLLING_DAYS, cost_runs),
        "s3": Detector("S3 latency", "min", WINDOW_MINUTES, ROLLING_WINDOWS, s3_runs),
    }


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(results: list[dict[str, Any]]) -> str:
    head = (
        f"{'detector':<18} {'method':<16} {'incidents':>9} {'found':>6} {'false +':>8}"
        f" {'precision':>9} {'recall':>7} {'F1':>5} {'median delay':>13}"
    )
    lines = [head, "-" * len(head)]
    for result in results:
        for method, t in result["methods"].items():
            delay = t["median_delay"]
            shown = "-" if delay is None else f"{delay:g} {result['delay_unit']}"
            lines.append(
                f"{result['detector']:<18} {method:<16} {t['incidents']:>9} {t['found']:>6}"
                f" {t['false_positives']:>8} {_ratio(t['precision']):>9}"
                f" {_ratio(t['recall']):>7} {t['f1']:>5.2f} {shown:>13}"
            )
    return "\n".join(lines)


def series_table(results: list[dict[str, Any]]) -> str:
    """Per series: incidents, and found / false positives of each method."""
    head = f"{'detector':<18} {'series':<24} {'incidents':>9}" + "".join(
        f" {method:>16}" for method in METHODS
    )
    lines = [head, "-" * len(head)]
    for result in results:
        for row in result["series"]:
            cells = "".join(
                f" {f'{row[m]["found"]} / {row[m]["false_positives"]} fp':>16}" for m in METHODS
            )
            lines.append(
                f"{result['detector']:<18} {row['series']:<24} {len(row['incidents']):>9}{cells}"
            )
    return "\n".join(lines)


def beaten(results: list[dict[str, Any]]) -> list[str]:
    """The detectors whose Vigil F1 is not above both baselines' (the issue's bar)."""
    return [
        result["detector"]
        for result in results
        if any(
            result["methods"]["Vigil"]["f1"] <= result["methods"][method]["f1"]
            for method in METHODS[1:]
        )
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--detectors", default="lambda,timeouts,cost,s3")
    parser.add_argument("--lambda-days", type=int, default=21)
    parser.add_argument("--lambda-warmup-days", type=int, default=7)
    parser.add_argument("--cost-days", type=int, default=150)
    parser.add_argument("--cost-warmup-days", type=int, default=63)
    parser.add_argument("--s3-days", type=int, default=7)
    parser.add_argument("--s3-warmup-days", type=int, default=1)
    parser.add_argument("--rules", type=Path, help="a rules document (JSON) instead of defaults")
    parser.add_argument("--json", action="store_true", help="one JSON document, per series too")
    parser.add_argument("--series", action="store_true", help="also a table per series")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 unless Vigil's F1 beats both baselines'"
    )
    args = parser.parse_args()
    rules = RulesConfig.from_json(args.rules.read_text()) if args.rules else RulesConfig()
    chosen = detectors(args)
    results = [evaluate(chosen[name], rules) for name in args.detectors.split(",")]
    behind = beaten(results)
    if args.json:
        print(json.dumps({"seed": args.seed, "results": results, "behind": behind}, indent=2))
    else:
        print(f"detection on labelled series (seed {args.seed}; benchmarks/series.py)")
        print(table(results))
        if args.series:
            print()
            print(series_table(results))
    if args.check and behind:
        print(f"Vigil's F1 does not beat both baselines for: {', '.join(behind)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
