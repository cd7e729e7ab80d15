"""``vigil rules backtest``: replay a rules config over past metrics, through the Evaluate
function's own judge and alert lifecycle (docs/rules.md, "Backtest").

    vigil rules backtest --rules FILE --file SERIES.csv|SERIES.json [--since T] [--until T]
    vigil [--region R] rules backtest --rules FILE [--since T] [--until T | --days N]
        [--functions GLOB ...] [--period 60|300] [--max-metrics N] [--yes]
    ... [--events] [-o table|json]

From CloudWatch, the plan (metrics, calls, price) is printed on stderr before any
GetMetricData call; a plan above ``--max-metrics`` is refused, and the fetch needs a yes at the
prompt, or ``--yes`` where there is no terminal.
"""

import argparse
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from vigil.adapters.cloudwatch import CloudWatchMetrics
from vigil.adapters.metric_history import functions_with_metrics
from vigil.core.clock import floor_minute, iso
from vigil.core.errors import VigilError
from vigil.evaluation.backtest import (
    Report,
    file_batches,
    file_span,
    replay_batches,
    rows_from_text,
)
from vigil.evaluation.metric_history import (
    COVERED_KINDS,
    DEFAULT_MAX_METRICS,
    RETENTION,
    HistoryPlan,
    HistoryRefused,
    fetch_history,
    plan_history,
    replay_history,
)
from vigil.rules.document import RulesConfig
from vigil_cli.output import Document, Listing, table

# The account and region on the labels of signals read from a file (no AWS call is made).
FILE_ACCOUNT = "000000000000"
FILE_REGION = "us-east-1"


def add_parser(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
    *,
    common: argparse.ArgumentParser,
    moment: Callable[[str], datetime],
    handler: Callable[[argparse.Namespace, Any, datetime], Document],
) -> None:
    rules = commands.add_parser("rules", help="the rules config")
    actions = rules.add_subparsers(dest="action", required=True, metavar="ACTION")
    backtest = actions.add_parser(
        "backtest",
        help="what a rules config would have fired over past metrics, and how often",
        parents=[common],
    )
    backtest.set_defaults(handler=handler)
    backtest.add_argument(
        "--rules",
        required=True,
        type=Path,
        metavar="FILE",
        help="the rules config document (JSON), validated as the functions validate it",
    )
    backtest.add_argument(
        "--file",
        type=Path,
        metavar="SERIES",
        help="replay samples from a .csv or .json file (docs/rules.md) instead of CloudWatch",
    )
    backtest.add_argument("--since", type=moment, help="ISO 8601 start (UTC if bare)")
    backtest.add_argument("--until", type=moment, help="ISO 8601 end (default: now, or the file's)")
    backtest.add_argument(
        "--days", type=float, default=1.0, help="CloudWatch span before --until without --since"
    )
    backtest.add_argument(
        "--functions",
        action="append",
        default=[],
        metavar="GLOB",
        help="CloudWatch: only the functions whose name matches (repeatable; default: all)",
    )
    backtest.add_argument(
        "--period", type=int, choices=sorted(RETENTION), default=60, help="CloudWatch period, s"
    )
    backtest.add_argument(
        "--max-metrics",
        type=int,
        default=DEFAULT_MAX_METRICS,
        help=f"refuse a plan requesting more metrics (default {DEFAULT_MAX_METRICS:,})",
    )
    backtest.add_argument("--yes", action="store_true", help="fetch without asking")
    backtest.add_argument("--events", action="store_true", help="list every notification too")


def run(
    args: argparse.Namespace,
    client: Callable[[str], Any],
    *,
    now: datetime,
    ask: Callable[[str], bool],
) -> Document:
    """Replay, and the report as the command prints it."""
    rules = RulesConfig.from_json(_read(args.rules), source=str(args.rules))
    if args.file is not None:
        report = _from_file(args, rules)
        return _render(report, f"the file {args.file}", args, plan=None)
    plan, cloudwatch, functions = _plan(args, client, rules, now=now)
    print(plan.describe(), file=sys.stderr, flush=True)
    plan.check(args.max_metrics)
    if not args.yes and not ask("Fetch the metrics? [y/N] "):
        raise HistoryRefused("not fetched (answer y, or pass --yes where there is no terminal)")
    metrics = CloudWatchMetrics(cloudwatch)
    history = fetch_history(metrics, plan, cap=args.max_metrics)
    account = client("sts").get_caller_identity()["Account"]
    report = replay_history(
        history, plan, functions, rules, account=account, region=cloudwatch.meta.region_name
    )
    fetched = {"metrics_requested": metrics.stats.metrics_requested, "calls": metrics.stats.calls}
    return _render(report, "CloudWatch (AWS/Lambda)", args, plan=(plan, fetched))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise VigilError(f"cannot read {path}: {exc.strerror}") from exc


def _from_file(args: argparse.Namespace, rules: RulesConfig) -> Report:
    fmt = "json" if args.file.suffix.lower() == ".json" else "csv"
    rows = rows_from_text(_read(args.file), fmt=fmt)
    first, last = file_span(rows, rules)
    since, until = args.since or first, args.until or last
    if until <= since:
        raise VigilError(f"the span ends ({iso(until)}) before it starts ({iso(since)})")
    batches = file_batches(
        rows, rules, since=since, until=until, account=FILE_ACCOUNT, region=FILE_REGION
    )
    return replay_batches(batches, rules, since=since, until=until)


def _plan(
    args: argparse.Namespace, client: Callable[[str], Any], rules: RulesConfig, *, now: datetime
) -> tuple[HistoryPlan, Any, list[str]]:
    until = args.until or floor_minute(now) - timedelta(minutes=rules.collection.lag_minutes)
    if args.days <= 0:
        raise VigilError("--days must be above 0")
    since = args.since or until - timedelta(days=args.days)
    cloudwatch = client("cloudwatch")
    functions = [
        name
        for name in functions_with_metrics(cloudwatch)
        if not args.functions or any(fnmatchcase(name, glob) for glob in args.functions)
    ]
    plan = plan_history(functions, rules, since=since, until=until, now=now, period=args.period)
    return plan, cloudwatch, functions


def _render(
    report: Report,
    source: str,
    args: argparse.Namespace,
    *,
    plan: tuple[HistoryPlan, dict[str, int]] | None,
) -> Document:
    what = (
        f"from {source}, which covers {' and '.join(COVERED_KINDS)} only"
        if plan
        else f"of {', '.join(report.kinds) or 'no kind'} from {source}"
    )
    lines = [
        f"Backtest {what}, {iso(report.since)} to {iso(report.until)}: {report.batches}"
        f" cycles, {report.days:.2f} days.",
        table(
            Listing(
                (
                    "KIND",
                    "RESOURCE",
                    "EPISODES",
                    "FIRST FIRED",
                    "HIGHEST",
                    "NOTIFICATIONS",
                    "A DAY",
                ),
                [
                    (
                        row.kind,
                        row.resource,
                        str(row.episodes),
                        iso(row.first_fired) if row.first_fired else "-",
                        row.highest.value,
                        str(row.notifications),
                        f"{row.per_day:.1f}",
                    )
                    for row in report.rows
                ],
                empty="Nothing would have fired.",
            )
        ),
    ]
    if args.events and report.sent:
        lines.append(
            table(
                Listing(
                    ("AT", "KIND", "RESOURCE", "NOTIFICATION", "SEVERITY"),
                    [
                        (iso(s.at), s.labels.kind, s.labels.resource, s.reason.value, s.severity)
                        for s in report.sent
                    ],
                )
            )
        )
    lines.append(
        f"{report.episodes} episode(s), {report.notifications} notification(s):"
        f" {report.per_day:.1f} a day, before silences, inhibit rules and grouping."
    )
    return Document("\n\n".join(lines), _document(report, source, plan))


def _document(
    report: Report, source: str, plan: tuple[HistoryPlan, dict[str, int]] | None
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "source": source,
        "kinds": list(report.kinds),
        "since": iso(report.since),
        "until": iso(report.until),
        "days": round(report.days, 4),
        "cycles": report.batches,
        "signals": report.signals,
        "episodes": report.episodes,
        "notifications": report.notifications,
        "notifications_per_day": round(report.per_day, 2),
        "resources": [
            {
                "kind": row.kind,
                "resource": row.resource,
                "episodes": row.episodes,
                "first_fired": iso(row.first_fired) if row.first_fired else None,
                "highest": row.highest.value,
                "notifications": row.notifications,
                "per_day": round(row.per_day, 2),
            }
            for row in report.rows
        ],
        "events": [
            {
                "at": iso(s.at),
                "kind": s.labels.kind,
                "resource": s.labels.resource,
                "notification": s.reason.value,
                "severity": s.severity.value,
            }
            for s in report.sent
        ],
    }
    if plan is not None:
        planned, fetched = plan
        document["plan"] = {
            "metrics": len(planned.keys),
            "functions": planned.functions,
            "period": planned.period,
            "metrics_requested": planned.metrics_requested,
            "calls": planned.calls,
            "price_usd": str(planned.price),
        }
        document["fetched"] = fetched
    return document
