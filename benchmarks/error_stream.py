"""What the error stream costs per 1,000 error lines, measured against moto.

The real error_stream handler (``functions/error_stream/app.py``) takes CloudWatch Logs
deliveries built as CloudWatch Logs sends them to a Lambda subscriber (``emulator/logs.py``:
base64 of the gzipped ``DATA_MESSAGE``, one log group a delivery), each line the Python
runtime's unhandled-exception text (``[ERROR] KeyError: 'user_id'`` and its traceback). The
state table is the template's, the Evaluate workflow an Express state machine that succeeds at
once, and the functions' ``Invocations`` are in moto's CloudWatch. Evaluate's part is played
by the benchmark: a delivery that wakes a function's ``lambda.errors`` judgement opens its
pending alert a minute later, so that the function's later lines find it open, as on AWS.

- ``sparse``: 1,000 error lines of one quiet function (10 invocations a minute), one a minute
  for 1,000 minutes, one line a delivery: a function failing now and then;
- ``spread``: 1,000 lines over 100 quiet functions, 10 each, one a minute, one delivery per
  function-minute;
- ``storm``: 10,000 lines of one function (10,000 invocations a minute, every one failing
  with the same ``KeyError``) in one minute, in deliveries of at most 2,500 lines (and within
  CloudWatch Logs' 10,000 events or 1 MB and Lambda's 256 KB event: ``emulator.logs.batches``);
- ``storm_kinds``: the same storm with 50 kinds of exception, ever-new: the bound of
  ``error_tracking.groups_per_minute`` (20) on the groups written;
- ``chronic``: a busy function (20,000 invocations a minute) logging one error line every 30 s
  for 2 hours, one line a delivery: a background that never breaches, whose volume is read
  from CloudWatch about once an hour.

For each: Lambda invocations, the AWS requests the handler made (counted on its boto3 clients,
cold start aside), DynamoDB writes (``UpdateItem`` and ``PutItem``) and reads (``GetItem`` and
``Query``), ``GetMetricData`` metrics, ``StartExecution`` calls (Express executions), handler
CPU seconds (``time.process_time``: moto answers in the same process, so its work is counted
too) and the cost per 1,000 error lines at public us-east-1 prices: the stream's Lambda
requests and duration (assumed: 0.1 s + 0.01 s per AWS request a delivery, rather than measured
on moto), DynamoDB, GetMetricData, the Evaluate workflow and function a StartExecution runs
(1 s of Express, 0.3 s of Evaluate), an X-Ray trace a delivery (active tracing; an upper bound
under the default sampling rule), the stream's own log lines (assumed 1 KB a delivery) and its
``ErrorLines`` custom metric, billed by the hours it is published in.

    .venv/bin/python benchmarks/error_stream.py [--cases sparse,spread,storm,storm_kinds,chronic]
        [--json]

Counts are exact for these deliveries; CPU seconds depend on the machine.
"""

import argparse
import io
import json
import os
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers" / "vigil"), str(ROOT)]
from benchmarks.moto_stack import (  # noqa: E402
    ACCOUNT,
    BENCH_ENV,
    DYNAMODB_USD_PER_READ,
    DYNAMODB_USD_PER_WRITE,
    EXPRESS_USD_PER_GB_SECOND,
    EXPRESS_USD_PER_REQUEST,
    GET_METRIC_DATA_USD_PER_METRIC,
    LAMBDA_ARM_USD_PER_GB_SECOND,
    LAMBDA_USD_PER_REQUEST,
    REGION,
    Context,
    create_evaluate_stub,
    create_state_table,
    load_handler,
)

ENV = BENCH_ENV | {"VIGIL_ERROR_STREAM_MODE": "account-policy"}
"""The handler's environment, set while a case plays (and at once when run as a script, so
that Powertools is configured before it is imported)."""
if __name__ == "__main__":
    os.environ.update(ENV)

# Powertools warns of a flush without metrics (the deliveries that skip).
warnings.filterwarnings("ignore", message="No application metrics to publish")

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from emulator.logs import LogEvent, batches, data_message, encode, render_line  # noqa: E402
from emulator.scenario import ExceptionSpec  # noqa: E402
from vigil.adapters.alert_store import AlertStore  # noqa: E402
from vigil.core.model import Alert, AlertState, Evidence, Labels  # noqa: E402

START = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
CASES = ("sparse", "spread", "storm", "storm_kinds", "chronic")
KEY_ERROR = ExceptionSpec(type="KeyError", message="'user_id'")
STORM_LINES = 10_000
STORM_DELIVERY_LINES = 2_500
STORM_KINDS = 50
EVALUATE_OPENS_AFTER = timedelta(minutes=1)
"""How long after a woken delivery its pending alert is open (the Evaluate run)."""
# Public us-east-1 prices (the others in benchmarks/moto_stack.py).
STREAM_MEMORY_GB = 0.25
EVALUATE_MEMORY_GB = 1.0
XRAY_USD_PER_TRACE = 5.00 / 1_000_000
LOGS_USD_PER_GB = 0.50
# A custom metric (the ErrorLines count, no dimension) is billed pro rata by the hours it is
# published in: $0.30 a metric-month, 720 hours.
METRIC_USD_PER_HOUR = 0.30 / 720
# Assumed, not measured: a delivery's duration, and per Express execution (the Evaluate
# workflow, 64 MB) its duration and its Evaluate function run (as benchmarks/collection_cycle.py).
BASE_SECONDS = 0.1
SECONDS_PER_API_CALL = 0.01
EXPRESS_SECONDS = 1.0
EVALUATE_SECONDS = 0.3
LOG_BYTES_PER_INVOCATION = 1_000
"""The stream's own log lines a delivery: START, END, REPORT, its summary and the metric."""
WRITES = ("UpdateItem", "PutItem")
READS = ("GetItem", "BatchGetItem", "Query")


@dataclass(frozen=True)
class Line:
    """One error line: its function, time and exception."""

    function: str
    at: datetime
    spec: ExceptionSpec = KEY_ERROR


@dataclass
class Calls:
    """The AWS requests made while ``counting`` is on, by operation."""

    counting: bool = False
    by_api: Counter[str] = field(default_factory=Counter)

    def __call__(self, event_name: str, **_: Any) -> None:
        if self.counting:
            self.by_api[event_name.rsplit(".", 1)[-1]] += 1


# ---------------------------------------------------------------------------- the cases
def _sparse() -> tuple[dict[str, float], list[list[Line]]]:
    return {"quiet-fn": 10.0}, [
        [Line("quiet-fn", START + timedelta(minutes=minute, seconds=20))] for minute in range(1_000)
    ]


def _spread() -> tuple[dict[str, float], list[list[Line]]]:
    functions = [f"fn-{index:03d}" for index in range(100)]
    return dict.fromkeys(functions, 10.0), [
        [Line(name, START + timedelta(minutes=minute, seconds=20))]
        for minute in range(10)
        for name in functions
    ]


def _storm(kinds: int) -> tuple[dict[str, float], list[list[Line]]]:
    specs = (
        [KEY_ERROR]
        if kinds == 1
        else [ExceptionSpec(type=f"Error{kind:02d}", message="boom") for kind in range(kinds)]
    )
    lines = [
        Line(
            "storm-fn",
            START + timedelta(milliseconds=(2 * index + 1) * 30_000 // STORM_LINES),
            specs[index % len(specs)],
        )
        for index in range(STORM_LINES)
    ]
    return {"storm-fn": float(STORM_LINES)}, [
        lines[at : at + STORM_DELIVERY_LINES] for at in range(0, len(lines), STORM_DELIVERY_LINES)
    ]


def _chronic() -> tuple[dict[str, float], list[list[Line]]]:
    return {"busy-fn": 20_000.0}, [
        [Line("busy-fn", START + timedelta(seconds=30 * tick + 10))] for tick in range(2 * 120)
    ]


BUILDERS: dict[str, Callable[[], tuple[dict[str, float], list[list[Line]]]]] = {
    "sparse": _sparse,
    "spread": _spread,
    "storm": lambda: _storm(1),
    "storm_kinds": lambda: _storm(STORM_KINDS),
    "chronic": _chronic,
}


# ---------------------------------------------------------------------------- the account
def _account() -> None:
    create_state_table()
    boto3.client("s3").create_bucket(Bucket="bench-batches")
    os.environ["VIGIL_EVALUATE_STATE_MACHINE_ARN"] = create_evaluate_stub()


def _invocations(volume: dict[str, float], minutes: int) -> None:
    """Each function's ``Invocations`` a minute, from 10 minutes before the first line."""
    cloudwatch = boto3.client("cloudwatch")
    for name, per_minute in volume.items():
        points: list[Any] = [
            {
                "MetricName": "Invocations",
                "Dimensions": [{"Name": "FunctionName", "Value": name}],
                "Timestamp": START + timedelta(minutes=minute, seconds=30),
                "Value": per_minute,
            }
            for minute in range(-10, minutes + 1)
        ]
        for at in range(0, len(points), 1_000):
            cloudwatch.put_metric_data(Namespace="AWS/Lambda", MetricData=points[at : at + 1_000])


def _deliveries(lines: list[Line]) -> list[dict[str, Any]]:
    """The Lambda events CloudWatch Logs sends for ``lines`` of one function."""
    function = lines[0].function
    group = f"/aws/lambda/{function}"
    stream = f"{lines[0].at:%Y/%m/%d}/[$LATEST]{'0' * 32}"
    events = [
        LogEvent(
            id=f"{index:056d}",
            timestamp=int(line.at.timestamp() * 1000),
            message=render_line(line.spec, at=line.at, request="", trace="", function=function),
        )
        for index, line in enumerate(lines)
    ]

    def envelope(part: list[LogEvent]) -> dict[str, Any]:
        return data_message(group=group, stream=stream, subscription="vigil", events=part)

    return [encode(envelope(part)) for part in batches(events, envelope)]


def _open(function: str, at: datetime) -> None:
    """What the Evaluate run of a woken delivery leaves: the function's pending alert."""
    evidence = Evidence(
        value=10, threshold=0.1, unit="Percent", window_seconds=300, observed_at=at, summary="x"
    )
    labels = Labels(kind="lambda.errors", resource=function, account=ACCOUNT, region=REGION)
    alert = Alert(
        labels=labels,
        state=AlertState.PENDING,
        severity="critical",
        first_seen=at,
        last_seen=at,
        evidence=evidence,
        last_batch="bench",
    )
    AlertStore(boto3.client("dynamodb"), "bench", retention=timedelta(days=30)).save(None, alert)


@contextmanager
def _counted(calls: Calls) -> Iterator[None]:
    calls.counting = True
    try:
        yield
    finally:
        calls.counting = False


# ---------------------------------------------------------------------------- one case
def measure(name: str) -> dict[str, Any]:
    """Play one case's deliveries through the real handler; counts and cost."""
    volume, plan = BUILDERS[name]()
    return play(name, volume, plan)


def play(name: str, volume: dict[str, float], plan: list[list[Line]]) -> dict[str, Any]:
    """Deliver each of ``plan``'s line lists (one function's lines each, in time order) to the
    real handler, ``volume`` the functions' invocations a minute; counts and cost."""
    last = max(line.at for delivery in plan for line in delivery)
    hours = {line.at.replace(minute=0, second=0, microsecond=0) for d in plan for line in d}
    calls = Calls()
    with mock.patch.dict(os.environ, ENV), mock_aws():
        # After mock_aws, which starts a new default session: the handler's clients copy it.
        boto3.setup_default_session()
        boto3.DEFAULT_SESSION.events.register("before-call", calls)  # type: ignore[union-attr]
        _account()
        _invocations(volume, int((last - START).total_seconds() // 60) + 1)
        app = load_handler("error_stream")
        app._env()  # the cold start (the last good rules config), not counted
        reported: Counter[str] = Counter()
        pending: list[tuple[datetime, str]] = []
        opened: set[str] = set()
        invocations = lines = 0
        cpu = 0.0
        for delivery in plan:
            now = delivery[0].at
            for at, function in [p for p in pending if p[0] <= now]:
                pending.remove((at, function))
                _open(function, at)
            for event in _deliveries(delivery):
                started = time.process_time()
                with _counted(calls), redirect_stdout(io.StringIO()):
                    summary = app.lambda_handler(event, Context("error-stream"))
                cpu += time.process_time() - started
                invocations += 1
                lines += summary.get("lines", 0)
                reported.update(summary.get("api_calls", {}))
                function = summary.get("function", "")
                if summary.get("woken") and function not in opened:
                    opened.add(function)
                    pending.append((now + EVALUATE_OPENS_AFTER, function))
        metrics = calls.by_api["GetMetricData"]  # one metric a request (the function's volume)
    by_api = dict(sorted(calls.by_api.items()))
    writes = sum(calls.by_api[api] for api in WRITES)
    reads = sum(calls.by_api[api] for api in READS)
    starts = calls.by_api["StartExecution"]
    requests = sum(calls.by_api.values())
    assumed_seconds = invocations * BASE_SECONDS + requests * SECONDS_PER_API_CALL
    per_line = 1_000 / lines
    costs = {
        "lambda_requests": invocations * LAMBDA_USD_PER_REQUEST,
        "lambda_duration": assumed_seconds * STREAM_MEMORY_GB * LAMBDA_ARM_USD_PER_GB_SECOND,
        "dynamodb": writes * DYNAMODB_USD_PER_WRITE + reads * DYNAMODB_USD_PER_READ,
        "get_metric_data": metrics * GET_METRIC_DATA_USD_PER_METRIC,
        "express": starts
        * (EXPRESS_USD_PER_REQUEST + 0.0625 * EXPRESS_SECONDS * EXPRESS_USD_PER_GB_SECOND),
        "evaluate": starts
        * (
            LAMBDA_USD_PER_REQUEST
            + EVALUATE_SECONDS * EVALUATE_MEMORY_GB * LAMBDA_ARM_USD_PER_GB_SECOND
        ),
        "xray": invocations * XRAY_USD_PER_TRACE,
        "logs": invocations * LOG_BYTES_PER_INVOCATION / 1e9 * LOGS_USD_PER_GB,
        "metric": len(hours) * METRIC_USD_PER_HOUR,
    }
    return {
        "case": name,
        "functions": len(volume),
        "lines": lines,
        "invocations": invocations,
        "api_calls": by_api,
        "api_calls_reported": dict(sorted(reported.items())),
        "dynamodb_writes": writes,
        "dynamodb_reads": reads,
        "get_metric_data_metrics": metrics,
        "start_execution_calls": starts,
        "express_executions": starts,
        "hours_with_lines": len(hours),
        "cpu_seconds": round(cpu, 3),
        "assumed_lambda_seconds": round(assumed_seconds, 2),
        "usd_per_1000_lines_by_item": {k: round(v * per_line, 6) for k, v in costs.items()},
        "usd_per_1000_lines": round(sum(costs.values()) * per_line, 5),
        "usd_per_1000_lines_measured_cpu": round(
            (
                sum(costs.values())
                - costs["lambda_duration"]
                + cpu * STREAM_MEMORY_GB * LAMBDA_ARM_USD_PER_GB_SECOND
            )
            * per_line,
            5,
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    rows = [measure(name) for name in args.cases.split(",")]
    if args.json:
        document = {
            "start": START.isoformat(),
            "prices": "us-east-1 on-demand; Lambda arm64 256 MB",
            "lambda_seconds": (
                f"assumed {BASE_SECONDS} s + {SECONDS_PER_API_CALL} s per AWS request a delivery"
            ),
            "cases": rows,
        }
        print(json.dumps(document))
        return
    columns = (
        "case",
        "lines",
        "invoked",
        "writes",
        "reads",
        "GMD",
        "starts",
        "cpu s",
        "$/1k lines",
    )
    print(" ".join(f"{name:>11}" for name in columns))
    for row in rows:
        values = (
            row["case"],
            row["lines"],
            row["invocations"],
            row["dynamodb_writes"],
            row["dynamodb_reads"],
            row["get_metric_data_metrics"],
            row["start_execution_calls"],
            row["cpu_seconds"],
            f"{row['usd_per_1000_lines']:.5f}",
        )
        print(" ".join(f"{value!s:>11}" for value in values))


if __name__ == "__main__":
    main()
