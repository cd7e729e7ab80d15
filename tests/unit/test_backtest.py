"""``vigil rules backtest`` over a file of samples, and the CloudWatch plan it prices.

The cases come from the issue (#14, item 7: "what would have fired and when, and how many
notifications a day", "capped and priced before it runs"), from docs/rules.md (the volume-aware
rules' low-volume and rate semantics, the lifecycle's ``for``, repeat and resolve) and from the
CloudWatch limits and price the plan is made of (100,800 datapoints and 500 metrics a request,
$0.01 per 1,000 metrics requested, 15 days of 60 s datapoints).
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.factories import batch, error_signal
from tests.fakes import MemoryAlertStore
from vigil.core.model import NotifyReason
from vigil.dials.base import MetricKey
from vigil.dials.lambda_functions import account_metric, function_metric
from vigil.dials.resources import MetricQuery
from vigil.evaluation.backtest import (
    Replay,
    Report,
    SeriesError,
    file_batches,
    file_span,
    replay_batches,
    rows_from_text,
)
from vigil.evaluation.metric_history import History, HistoryRefused, fetch_history, plan_history
from vigil.evaluation.pipeline import evaluate
from vigil.rules.document import RulesConfig
from vigil_cli.main import main

T0 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
RULES = RulesConfig()
FAST_REPEAT = RulesConfig.from_json('{"repeat_interval_minutes": 30}')


def _at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


Row = tuple[int, str, str, str, float]


def _csv(rows: list[Row]) -> str:
    lines = ["timestamp,kind,resource,sample,value"]
    lines += [f"{_at(m).isoformat()},{kind},{res},{name},{v}" for m, kind, res, name, v in rows]
    return "\n".join(lines) + "\n"


def _errors(resource: str, windows: list[tuple[float, float]], *, first: int = 5) -> list[Row]:
    """Rows of ``lambda.errors``: (errors, invocations) per 5-minute window from ``first``."""
    rows: list[Row] = []
    for index, (errors, invocations) in enumerate(windows):
        minute = first + 5 * index
        rows += [
            (minute, "lambda.errors", resource, "errors", errors),
            (minute, "lambda.errors", resource, "invocations", invocations),
        ]
    return rows


def _replay_text(text: str, rules: RulesConfig = RULES, fmt: str = "csv") -> Report:
    rows = rows_from_text(text, fmt=fmt)
    since, until = file_span(rows, rules)
    batches = file_batches(
        rows, rules, since=since, until=until, account="0" * 12, region="us-east-1"
    )
    return replay_batches(batches, rules, since=since, until=until)


# ------------------------------------------------------------------------- what fired, when


def test_a_single_error_at_low_volume_fires_at_once_and_resolves_the_next_window() -> None:
    # docs/rules.md: one error in one invocation is improbable at the normal rate and fires at
    # once; the window after, with no row for the function, clears it (a collector sends only
    # bad signals).
    text = _csv(
        [
            *_errors("nightly-report", [(0, 1), (1, 1), (0, 1)]),
            *_errors("search-api", [(10, 100_000), (10, 100_000), (10, 100_000)]),
        ]
    )

    report = _replay_text(text)

    assert [(s.at, s.labels.resource, s.reason) for s in report.sent] == [
        (_at(12), "nightly-report", NotifyReason.FIRING),  # window ending 09:10, lag 2 min
        (_at(17), "nightly-report", NotifyReason.RESOLVED),
    ]
    (row,) = report.rows
    assert (row.resource, row.episodes, row.first_fired, row.notifications) == (
        "nightly-report",
        1,
        _at(12),
        2,
    )
    # 2 notifications over the file's 15 minutes: 192 a day.
    assert report.days == pytest.approx(15 / 1440)
    assert report.per_day == pytest.approx(192)
    assert row.per_day == pytest.approx(192)


def test_a_rise_below_the_critical_rate_must_last_for_minutes_then_repeats_and_resolves() -> None:
    # A busy function at 0.5 % errors (significant, below the critical 1 %) for an hour fires
    # after for_minutes (5), repeats every repeat_interval_minutes (30 here), resolves when the
    # errors stop.
    windows = [(500.0, 100_000.0)] * 12 + [(0.0, 100_000.0)] * 2
    report = _replay_text(_csv(_errors("orders-api", windows)), FAST_REPEAT)

    assert [(s.at, s.reason, s.severity.value) for s in report.sent] == [
        (_at(12), NotifyReason.FIRING, "warning"),  # pending at 09:07, 5 minutes later
        (_at(42), NotifyReason.REPEAT, "warning"),
        (_at(67), NotifyReason.RESOLVED, "warning"),
    ]
    assert report.episodes == 1


def test_the_replay_notifies_as_the_evaluate_pipeline_does_batch_for_batch() -> None:
    # The same engine: a busy function that warns, escalates, repeats and resolves, through
    # evaluate() with the in-memory alert store and through the replay.
    rates = [0, 150, 150, 150, 2_000, 2_000, 2_000, 2_000, 2_000, 2_000, 2_000, 0, 0, 150]
    batches = [
        batch(
            _at(5 * i),
            *([error_signal("orders-api", invocations=1e5, errors=e, at=_at(5 * i))] if e else []),
        )
        for i, e in enumerate(rates)
    ]
    store = MemoryAlertStore()
    replay = Replay(FAST_REPEAT)
    words = {"firing": "firing", "repeat": "still firing", "escalated": "escalated"}
    for each in batches:
        result = evaluate(each, rules=FAST_REPEAT, store=store, routing=store.routing, stack="v")
        expected = [n.subject for n in result.notifications]
        replayed = [
            f"[RESOLVED] Lambda errors resolved: {s.labels.resource}"
            if s.reason is NotifyReason.RESOLVED
            else f"[{s.severity.upper()}] Lambda errors {words[s.reason]}: {s.labels.resource}"
            for s in replay.apply(each)
        ]
        assert replayed == expected, each.collected_at
    assert [s.reason for s in replay.sent] == [
        NotifyReason.FIRING,
        NotifyReason.ESCALATED,
        NotifyReason.REPEAT,
        NotifyReason.RESOLVED,
    ]


def test_a_json_file_replays_as_the_same_csv_does() -> None:
    rows = _errors("nightly-report", [(1, 1)])
    document = [
        {"timestamp": _at(m).isoformat(), "kind": k, "resource": r, "sample": s, "value": v}
        for m, k, r, s, v in rows
    ]

    from_json = _replay_text(json.dumps(document), fmt="json")
    from_csv = _replay_text(_csv(rows))

    assert from_json.sent == from_csv.sent
    assert len(from_json.sent) == 1


def test_samples_in_one_window_add_up_and_value_is_the_signals_value() -> None:
    # Minute rows of one 5-minute window make one signal; a dial judged on its value (DynamoDB
    # write throttles, docs/rules.md: 1,000 events page) reads the sample named value.
    text = _csv(
        [
            (1, "lambda.errors", "api", "errors", 1),
            (2, "lambda.errors", "api", "errors", 1),
            (3, "lambda.errors", "api", "invocations", 2_000),
            (4, "dynamodb.throttles", "orders", "value", 600),
            (5, "dynamodb.throttles", "orders", "value", 600),
        ]
    )
    rows = rows_from_text(text, fmt="csv")

    (only,) = file_batches(
        rows, RULES, since=T0, until=_at(5), account="0" * 12, region="us-east-1"
    )
    signals = {s.labels.kind: s for s in only.signals}

    assert signals["lambda.errors"].samples == {"errors": 2.0, "invocations": 2000.0}
    assert signals["dynamodb.throttles"].value == 1200
    assert only.covered_kinds == ["dynamodb.throttles", "lambda.errors"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("timestamp,kind,resource,value\n", "header lacks sample"),
        (_csv([(5, "lambda.nope", "api", "errors", 1)]), "row 2: kind 'lambda.nope' is not a kind"),
        (
            "timestamp,kind,resource,sample,value\nyesterday,lambda.errors,a,errors,1\n",
            "row 2: timestamp",
        ),
        (_csv([(5, "lambda.errors", "api", "errors", float("nan"))]), "row 2: value 'nan'"),
        (
            "timestamp,kind,resource,sample,value\n2025-03-14T09:00Z,lambda.errors,,errors,1\n",
            "row 2: resource missing",
        ),
    ],
)
def test_a_bad_file_is_refused_naming_the_row(text: str, message: str) -> None:
    with pytest.raises(SeriesError, match=message):
        rows_from_text(text, fmt="csv")


# ---------------------------------------------------------------------- the CloudWatch plan


def test_a_weeks_plan_requests_each_metric_once_ten_to_a_call() -> None:
    # 7 days at 60 s are 10,080 datapoints a metric: 10 metrics fill a request's 100,800.
    names = [f"fn-{i:03}" for i in range(100)]
    now = T0 + timedelta(days=7)

    plan = plan_history(names, RULES, since=T0, until=now, now=now)

    assert len(plan.keys) == 3 + 100 * 3  # the account's three, each function's three
    assert plan.keys[:3] == tuple(account_metric(m) for m in ("Invocations", "Errors", "Throttles"))
    assert plan.points == 10_080
    assert (plan.per_call, plan.calls, plan.metrics_requested) == (10, 31, 303)
    assert str(plan.price) == "0.00303"
    assert "303 GetMetricData metrics requested in 31 call(s), about $0.00303" in plan.describe()


def test_a_plan_reads_only_what_the_enabled_rules_need() -> None:
    errors_only = RulesConfig.from_json('{"lambda_throttles": {"enabled": false}}')

    plan = plan_history(["a"], errors_only, since=T0, until=_at(60), now=_at(60))

    assert [k.metric for k in plan.keys[3:]] == ["Errors", "Invocations"]


def test_a_plan_above_the_cap_is_refused_before_any_request() -> None:
    plan = plan_history(["a", "b"], RULES, since=T0, until=_at(60), now=_at(60))
    asked: list[int] = []

    class Counting:
        def series(
            self,
            queries: Sequence[MetricQuery],
            *,
            start: datetime,
            end: datetime,
            period: int = 60,
        ) -> dict[str, dict[datetime, float]]:
            asked.append(len(queries))
            return {}

    with pytest.raises(HistoryRefused, match="requests 9 metrics, above the cap of 8"):
        fetch_history(Counting(), plan, cap=8)
    assert asked == []
    fetch_history(Counting(), plan, cap=9)
    assert asked == [9]


@pytest.mark.parametrize(
    ("days", "period", "outcome"),
    [
        (15, 60, 4),  # 21,600 datapoints a metric: 4 metrics a request
        (16, 60, "keeps 60 s datapoints for 15 days"),
        (63, 300, 5),  # 18,144 datapoints a metric: 5 metrics a request
        (64, 300, "63 days"),
    ],
)
def test_the_span_must_be_one_cloudwatch_still_keeps(
    days: int, period: int, outcome: int | str
) -> None:
    now = T0 + timedelta(days=days)
    if isinstance(outcome, str):
        with pytest.raises(HistoryRefused, match=outcome):
            plan_history(["a"], RULES, since=T0, until=now, now=now, period=period)
    else:
        plan = plan_history(["a"], RULES, since=T0, until=now, now=now, period=period)
        assert (plan.per_call, plan.calls, plan.metrics_requested) == (outcome, 2, 6)


def test_a_span_is_cut_to_whole_periods() -> None:
    # 5-minute datapoints start on multiples of 5 minutes: a window must hold whole ones.
    now = T0 + timedelta(days=20)

    plan = plan_history(["a"], RULES, since=_at(2), until=_at(63), now=now, period=300)

    assert (plan.since, plan.until, plan.points) == (T0, _at(60), 12)


def test_history_answers_spans_of_what_was_fetched_and_refuses_the_unplanned() -> None:
    key = function_metric("a", "Errors")
    history = History({key: {_at(0): 1.0, _at(1): 2.0, _at(2): 4.0}})
    query = MetricQuery("q", key.namespace, key.metric, key.dimensions)

    assert history.series([query], start=_at(1), end=_at(3)) == {"q": {_at(1): 2.0, _at(2): 4.0}}
    assert history.series([query], start=_at(3), end=_at(9)) == {}
    other = MetricKey("AWS/Lambda", "Errors", (("FunctionName", "b"),))
    with pytest.raises(HistoryRefused, match="did not plan"):
        history.series(
            [MetricQuery("q", other.namespace, other.metric, other.dimensions)],
            start=T0,
            end=_at(1),
        )


# ------------------------------------------------------------------------------ the command


def _files(tmp_path: Path, rows: list[Row], rules: str = "{}") -> tuple[str, str]:
    (tmp_path / "rules.json").write_text(rules)
    (tmp_path / "series.csv").write_text(_csv(rows))
    return str(tmp_path / "rules.json"), str(tmp_path / "series.csv")


def test_the_command_prints_per_resource_what_fired_and_a_day(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules, series = _files(tmp_path, _errors("nightly-report", [(1, 1), (0, 1), (1, 1)]))

    code = main(["rules", "backtest", "--rules", rules, "--file", series, "--events"])
    out = capsys.readouterr().out

    assert code == 0
    assert out.splitlines()[0] == (
        f"Backtest of lambda.errors from the file {series}, 2025-03-14T09:00:00Z to"
        " 2025-03-14T09:15:00Z: 3 cycles, 0.01 days."
    )
    assert "lambda.errors  nightly-report  2           2025-03-14T09:07:00Z" in out
    assert "2025-03-14T09:12:00Z  lambda.errors  nightly-report  resolved" in out
    assert out.rstrip().endswith(
        # the second episode is still firing when the file ends
        "2 episode(s), 3 notification(s): 288.0 a day, before silences, inhibit rules and grouping."
    )


def test_the_command_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules, series = _files(tmp_path, _errors("nightly-report", [(1, 1)]))

    assert main(["rules", "backtest", "--rules", rules, "--file", series, "-o", "json"]) == 0
    document = json.loads(capsys.readouterr().out)

    assert document["resources"] == [
        {
            "kind": "lambda.errors",
            "resource": "nightly-report",
            "episodes": 1,
            "first_fired": "2025-03-14T09:07:00Z",
            "highest": "warning",
            "notifications": 1,
            "per_day": 288.0,
        }
    ]
    assert (document["cycles"], document["notifications"]) == (1, 1)
    assert document["events"][0]["notification"] == "firing"


def test_the_command_refuses_an_invalid_rules_document_as_the_functions_would(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules, series = _files(
        tmp_path, _errors("a", [(1, 10)]), rules='{"lambda_errors": {"warning_rate": 2}}'
    )

    assert main(["rules", "backtest", "--rules", rules, "--file", series]) == 2
    assert "invalid rules config: lambda_errors.warning_rate" in capsys.readouterr().err
