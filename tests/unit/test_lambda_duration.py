"""The duration dial on fakes: the rule's levels against a function's time-out, what the family
reads (one account metric while healthy, candidate functions and watched ones when the account's
slowest invocation nears the smallest time-out) and the time-out the inventory reads.

Where the cases come from: Lambda's ``Duration`` metric is "the amount of time that your
function code spends processing an event", in milliseconds, and Lambda publishes it per function
(dimension ``FunctionName``) and for the whole account (no dimension); its ``Maximum`` is the
slowest invocation ([Lambda metrics types](https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html)).
A function's time-out is ``Timeout`` in ``ListFunctions``' ``FunctionConfiguration``, whole
seconds from 1 to 900, 3 by default ([ListFunctions](https://docs.aws.amazon.com/lambda/latest/api/API_ListFunctions.html),
[Configuring function timeout](https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html)).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

import boto3
import pytest
from botocore.stub import Stubber

from tests.factories import T0, labels
from tests.unit.test_edge_families import NOW, RULES, WINDOW_START, FakeMetrics, FakeState, run
from vigil.adapters.lambda_inventory import LambdaInventory
from vigil.core.errors import ConfigError
from vigil.core.model import Severity, Signal
from vigil.dials.collect import collect
from vigil.dials.lambda_duration import (
    MAX_DRILL,
    TIMEOUT_KIND,
    LambdaDurationFamily,
    duration_metric,
    timed_out_metric,
)
from vigil.dials.resources import FunctionInfo
from vigil.rules.document import RulesConfig
from vigil.rules.kinds import judge, kind_title

ARN = "arn:aws:lambda:us-east-1:123456789012:function:"


def signal(duration_ms: float, timeout_ms: float | None = 15_000, **read: float) -> Signal:
    """A duration signal; ``read`` adds what the last round reads (``p99_ms``, ``timeouts``)."""
    samples = {"duration_ms": duration_ms, **read}
    if timeout_ms is not None:
        samples["timeout_ms"] = timeout_ms
    return Signal(
        source="metrics",
        labels=labels("report-builder", TIMEOUT_KIND),
        value=0.0,
        unit="Percent",
        window_seconds=300,
        observed_at=T0,
        samples=samples,
    )


def test_the_slowest_invocation_warns_at_80_and_pages_at_95_percent_of_the_time_out() -> None:
    # 15 s is a common time-out; the boundaries are the rule's defaults, inclusive.
    assert judge(signal(11_999), RULES) is None
    warning = judge(signal(12_000), RULES)
    below_page = judge(signal(14_249), RULES)
    page = judge(signal(14_250), RULES)

    assert warning is not None
    assert warning.severity is Severity.WARNING
    assert (warning.evidence.value, warning.evidence.threshold) == (80.0, 80.0)
    assert below_page is not None
    assert below_page.severity is Severity.WARNING
    assert page is not None
    assert page.severity is Severity.CRITICAL
    assert (page.evidence.value, page.evidence.threshold) == (95.0, 95.0)
    example = judge(signal(13_200), RULES)
    assert example is not None
    assert example.evidence.summary == (
        "slowest invocation 13.2 s of a 15 s time-out (88%) over 5 min, at or above 80%;"
        " Lambda stops an invocation at its time-out"
    )
    assert kind_title(TIMEOUT_KIND) == "Lambda duration near time-out"


def test_one_slow_invocation_warns_and_a_p99_near_the_time_out_pages() -> None:
    """Issue #14: a function's p99 against its time-out, and its time-outs counted. One
    invocation of many at 96 % (a cold start, an odd input) warns; one in a hundred pages."""
    outlier = judge(signal(14_400, p99_ms=3_000, timeouts=0), RULES)
    timed_out = judge(signal(15_003, p99_ms=4_500, timeouts=1), RULES)
    creeping = judge(signal(14_400, p99_ms=14_300, timeouts=0), RULES)
    failing = judge(signal(15_004, p99_ms=15_001, timeouts=37), RULES)

    assert outlier is not None
    assert (outlier.severity, outlier.evidence.value) == (Severity.WARNING, 96.0)
    assert outlier.evidence.summary == (
        "slowest invocation 14.4 s of a 15 s time-out (96%) over 5 min, at or above 80%;"
        " p99 3 s (20%); Lambda stops an invocation at its time-out"
    )
    assert timed_out is not None
    assert timed_out.severity is Severity.WARNING
    assert "; 1 invocation reached the time-out;" in timed_out.evidence.summary
    assert creeping is not None
    assert (creeping.severity, creeping.evidence.threshold) == (Severity.CRITICAL, 95.0)
    assert creeping.evidence.summary.startswith(
        "p99 14.3 s of a 15 s time-out (95%) over 5 min, at or above 95%; slowest invocation 14.4 s"
    )
    assert failing is not None
    assert failing.severity is Severity.CRITICAL
    assert "; 37 invocations reached the time-out;" in failing.evidence.summary


def test_a_disabled_rule_or_an_unknown_time_out_never_alerts() -> None:
    off = RulesConfig.from_json('{"lambda_timeouts": {"enabled": false}}')
    assert judge(signal(15_000), off) is None
    assert judge(signal(15_000, timeout_ms=None), RULES) is None
    assert judge(signal(15_000, timeout_ms=0), RULES) is None


def test_levels_out_of_order_are_refused_naming_the_field() -> None:
    with pytest.raises(ConfigError, match="lambda_timeouts"):
        RulesConfig.from_json('{"lambda_timeouts": {"warning_ratio": 0.9, "critical_ratio": 0.85}}')
    assert RULES.lambda_timeouts.model_dump() == {
        "enabled": True,
        "warning_ratio": 0.8,
        "critical_ratio": 0.95,
    }


@dataclass
class DurationState(FakeState):
    """The collector state: stored inventories, and the watch list of active alerts."""

    active: set[str] = field(default_factory=set)

    def watched(self, kinds: Iterable[str]) -> set[str]:
        assert list(kinds) == [TIMEOUT_KIND]
        return set(self.active)


@dataclass
class Functions:
    """``ListFunctions`` behind the family: every function with its time-out; counts listings."""

    timeouts: dict[str, int | None]
    listed: int = 0

    def __call__(self) -> list[FunctionInfo]:
        self.listed += 1
        return [FunctionInfo(n, ARN + n, timeout=t) for n, t in self.timeouts.items()]


ACCOUNT = {"checkout-api": 6, "report-builder": 15, "nightly-export": 900, "legacy": None}


def test_a_healthy_cycle_reads_one_account_metric_and_lists_no_function() -> None:
    functions, state = Functions(dict(ACCOUNT)), DurationState()
    family = LambdaDurationFamily(functions, state)

    # The first cycle discovers (nothing stored): one record per distinct time-out.
    first = run(family, FakeMetrics())
    assert state.records["duration"] == [
        {"timeout": 6, "functions": 1},
        {"timeout": 15, "functions": 1},
        {"timeout": 900, "functions": 1},
    ]
    assert first.families["duration"].discovered

    # The next cycle: the account's slowest invocation, 4.7 s, is below 80 % of the smallest
    # time-out (6 s): one metric, the stored record read, no listing.
    metrics = FakeMetrics()
    metrics.points[duration_metric()] = {WINDOW_START: 4_700.0}
    quiet = run(family, metrics)

    assert metrics.calls == [[duration_metric()]]
    assert functions.listed == 1
    assert quiet.batch.signals == []
    assert quiet.metrics_by_stage == {"fast": 1, "drill": 0, "sweep": 0}
    assert quiet.families["duration"].resources == 3
    assert TIMEOUT_KIND in quiet.batch.covered_kinds


def test_a_peak_near_the_smallest_time_out_reads_only_the_functions_it_could_be_near() -> None:
    functions = Functions(dict(ACCOUNT))
    state = DurationState({"duration": [{"timeout": 6, "functions": 1},
                                        {"timeout": 15, "functions": 1},
                                        {"timeout": 900, "functions": 1}]})  # fmt: skip
    # report-builder is the account's slowest function: the account's peak is its peak.
    minutes = {WINDOW_START + timedelta(minutes=m): v for m, v in enumerate([8e3, 13.2e3, 9e3])}
    metrics = FakeMetrics()
    metrics.points[duration_metric()] = minutes
    metrics.points[duration_metric("report-builder")] = minutes
    metrics.points[duration_metric("checkout-api")] = {WINDOW_START: 310.0}
    metrics.points[duration_metric("report-builder", "p99")] = {WINDOW_START: 11_000.0}

    cycle = run(LambdaDurationFamily(functions, state), metrics)

    # 13.2 s is at least 80 % of 6 s and of 15 s, not of 900 s: two functions read; "legacy"
    # (no time-out known) never is. Only report-builder is slow for its own time-out: its p99
    # and its timed-out invocations are read, over the window at one period.
    assert metrics.calls == [
        [duration_metric()],
        [duration_metric("checkout-api"), duration_metric("report-builder")],
        [duration_metric("report-builder", "p99"), timed_out_metric("report-builder", 15)],
    ]
    assert cycle.metrics_by_stage == {"fast": 1, "drill": 4, "sweep": 0}
    assert cycle.drilled == [TIMEOUT_KIND]
    by_function = {s.labels.resource: s for s in cycle.batch.signals}
    assert by_function["report-builder"].samples == {
        "duration_ms": 13_200.0,
        "timeout_ms": 15_000.0,
        "p99_ms": 11_000.0,
        "timeouts": 0.0,
    }
    assert by_function["report-builder"].value == 88.0
    assert by_function["checkout-api"].samples == {"duration_ms": 310.0, "timeout_ms": 6_000.0}
    assert judge(by_function["report-builder"], RULES) is not None
    assert judge(by_function["checkout-api"], RULES) is None


def test_a_long_running_function_setting_the_peak_costs_at_most_max_drill_a_cycle() -> None:
    # A 10-minute batch job sets the account's peak (600 s): 80 % of every time-out up to 750 s
    # is reached, so all 250 functions of 3 s are candidates; read in 3 shares of at most 100,
    # one a cycle, each function once in 3 cycles, and no cycle claims to have judged them all.
    timeouts: dict[str, int | None] = {f"api-{i:03d}": 3 for i in range(250)}
    functions = Functions({**timeouts, "batch": 900})
    state = DurationState({"duration": [{"timeout": 3, "functions": 250},
                                        {"timeout": 900, "functions": 1}]})  # fmt: skip
    read: set[str] = set()
    for cycle_index in range(3):
        now = NOW + timedelta(minutes=5 * cycle_index)
        metrics = FakeMetrics()
        metrics.points[duration_metric()] = {now - timedelta(minutes=7): 600_000.0}
        cycle = collect(
            families=[LambdaDurationFamily(functions, state)],
            metrics=metrics,
            rules=RULES,
            now=now,
            account="123456789012",
            region="us-east-1",
        )
        drill = metrics.calls[1]
        assert len(drill) <= MAX_DRILL
        assert cycle.drilled == []
        read |= {dict(key.dimensions)["FunctionName"] for key in drill}
    assert read == set(timeouts)


def test_watched_functions_are_read_every_cycle_so_their_alerts_resolve_on_evidence() -> None:
    functions = Functions(dict(ACCOUNT))
    state = DurationState(
        {"duration": [{"timeout": 6, "functions": 1}, {"timeout": 15, "functions": 1}]},
        active={"report-builder", "deleted-function"},
    )
    metrics = FakeMetrics()
    metrics.points[duration_metric()] = {WINDOW_START: 2_000.0}
    metrics.points[duration_metric("report-builder")] = {WINDOW_START: 2_000.0}

    cycle = run(LambdaDurationFamily(functions, state), metrics)

    # Below every level: only the watched function still listed is read, and judged healthy.
    assert metrics.calls == [[duration_metric()], [duration_metric("report-builder")]]
    [found] = cycle.batch.signals
    assert (found.labels.resource, found.value) == ("report-builder", 13.3333)
    assert judge(found, RULES) is None
    assert cycle.watched == ["deleted-function", "report-builder"]
    assert cycle.drilled == []


def test_a_disabled_rule_reads_nothing_but_still_covers_its_kind() -> None:
    functions, state = Functions(dict(ACCOUNT)), DurationState(active={"report-builder"})
    metrics = FakeMetrics()
    off = RulesConfig.from_json('{"lambda_timeouts": {"enabled": false}}')

    cycle = run(LambdaDurationFamily(functions, state), metrics, off)

    assert metrics.calls == []
    assert functions.listed == 0
    assert TIMEOUT_KIND in cycle.batch.covered_kinds


def test_a_stored_inventory_of_another_shape_is_discovered_again() -> None:
    functions = Functions({"report-builder": 15})
    state = DurationState({"duration": [{"function": "report-builder"}]})

    cycle = run(LambdaDurationFamily(functions, state), FakeMetrics())

    assert cycle.families["duration"].discovered
    assert state.records["duration"] == [{"timeout": 15, "functions": 1}]


def test_the_inventory_reads_each_functions_time_out() -> None:
    # ListFunctions' FunctionConfiguration carries Timeout (seconds); a record without it (as a
    # FunctionInfo built by an earlier version, which had no time-out) keeps it unknown.
    client = boto3.client("lambda", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response(
            "list_functions",
            {
                "Functions": [
                    {"FunctionName": "report-builder", "FunctionArn": ARN + "report-builder",
                     "Timeout": 15},
                    {"FunctionName": "api", "FunctionArn": ARN + "api"},
                ]
            },
        )  # fmt: skip
        functions = LambdaInventory(client).functions()

    assert [(f.name, f.timeout) for f in functions] == [("report-builder", 15), ("api", None)]
    assert FunctionInfo("api", ARN + "api").timeout is None
