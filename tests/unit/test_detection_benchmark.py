"""The detection benchmark's scoring, baselines and generators (benchmarks/detection.py,
benchmarks/series.py): the scoring is the issue's window semantics, the generators are the
models their docstring describes. Timing is the benchmark's own business, not a test's."""

import itertools
import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from benchmarks.detection import (
    Tally,
    beaten,
    cost_run,
    duration_run,
    lambda_run,
    rising_edges,
    rolling_sigma,
    s3_run,
    score,
    static_percentile,
)
from benchmarks.series import (
    START_DAY,
    CostAccount,
    DurationSeries,
    Incident,
    LambdaSeries,
    S3Bucket,
    cost_account,
    cost_scenarios,
    duration_scenarios,
    lambda_durations,
    lambda_scenarios,
    lambda_series,
    s3_bucket,
    s3_scenarios,
    traffic_shape,
)
from vigil.cost.detection import TOTAL
from vigil.rules.document import RulesConfig

RULES = RulesConfig()
INCIDENTS = (Incident(10, 20, "a"), Incident(30, 35, "b"), Incident(50, 52, "c"))


# ---------------------------------------------------------------------------- scoring


def test_a_detection_inside_a_window_finds_it_once_and_each_outside_is_a_false_positive() -> None:
    # The issue: inside the labelled window a true positive, outside a false positive, a
    # missed window a false negative; repeats inside one window count once.
    tally = score(INCIDENTS, [5, 12, 15, 19, 20, 40, 41], scored_from=0, step=5)

    assert (tally.incidents, tally.found, tally.false_positives) == (3, 1, 4)
    assert tally.delays == [(12 - 10 + 1) * 5]  # to the end of the detecting window
    assert tally.precision == pytest.approx(1 / 5)
    assert tally.recall == pytest.approx(1 / 3)
    assert tally.f1 == pytest.approx(2 * (1 / 5) * (1 / 3) / (1 / 5 + 1 / 3))


def test_detections_in_the_warm_up_are_not_scored_and_the_first_in_a_window_sets_the_delay() -> (
    None
):
    tally = score(INCIDENTS, [31, 3, 33, 51], scored_from=8, step=1)

    assert (tally.found, tally.false_positives) == (2, 0)
    assert sorted(tally.delays) == [2, 2]
    assert tally.median_delay == 2


def test_a_method_that_never_fires_has_no_precision_and_an_f1_of_zero() -> None:
    silent = score(INCIDENTS, [], scored_from=0, step=1)
    assert (silent.precision, silent.recall, silent.f1, silent.median_delay) == (None, 0, 0, None)

    total = Tally()
    total.add(score(INCIDENTS, [11], scored_from=0, step=1))
    total.add(score((), [3, 4], scored_from=0, step=1))
    assert (total.incidents, total.found, total.false_positives) == (3, 1, 2)
    assert total.delays == [2]


def test_vigil_is_behind_where_its_f1_does_not_beat_both_baselines() -> None:
    # The bar: the benchmark beats both naive baselines on F1 for every detector.
    def result(name: str, vigil: float, static: float, rolling: float) -> dict[str, Any]:
        f1 = {"Vigil": vigil, "static p99": static, "rolling 3-sigma": rolling}
        return {"detector": name, "methods": {m: {"f1": v} for m, v in f1.items()}}

    results = [result("ahead", 0.8, 0.5, 0.7), result("tied", 0.5, 0.5, 0.1)]
    results.append(result("behind", 0.4, 0.3, 0.6))
    assert beaten(results) == ["tied", "behind"]


# -------------------------------------------------------------------------- baselines


def test_a_baseline_detects_on_its_rising_edges_only() -> None:
    assert rising_edges([False, True, True, False, True]) == [1, 4]


def test_the_static_threshold_is_the_99th_percentile_of_the_training_prefix() -> None:
    training = [float(v) for v in range(100)]  # p99 (inclusive) is 98.01
    later: list[float | None] = [50.0, 99.0, 99.0, None, 10.0, 98.0, 100.0]

    assert static_percentile([*training, *later], train=100) == [101, 106]


def test_the_rolling_threshold_is_three_sigma_over_the_trailing_window() -> None:
    # Mean 1 and standard deviation 1 over the four before: the threshold is 4.
    assert rolling_sigma([0.0, 2.0, 0.0, 2.0, 3.9], trailing=4) == []
    assert rolling_sigma([0.0, 2.0, 0.0, 2.0, 4.1], trailing=4) == [4]
    # A flat line has no spread: anything above it fires; a missing value never does.
    assert rolling_sigma([1.0] * 5 + [None, 1.5], trailing=4) == [6]
    assert rolling_sigma([None, 5.0], trailing=4) == []


# ------------------------------------------------------------------------- generators


def test_traffic_peaks_on_weekday_afternoons_and_dips_at_night_and_on_weekends() -> None:
    monday = datetime(2026, 1, 5, tzinfo=UTC)
    assert traffic_shape(monday + timedelta(hours=4)) == pytest.approx(0.3)
    assert traffic_shape(monday + timedelta(hours=16)) == pytest.approx(1.0)
    assert traffic_shape(monday + timedelta(days=5, hours=16)) == pytest.approx(0.6)


def test_a_seed_gives_the_same_series_and_another_seed_another() -> None:
    first = lambda_series("bursts", 1_000, days=3, warmup_days=1, seed=1, background=0.0005)
    again = lambda_series("bursts", 1_000, days=3, warmup_days=1, seed=1, background=0.0005)
    other = lambda_series("bursts", 1_000, days=3, warmup_days=1, seed=2, background=0.0005)

    assert first == again
    assert first.invocations != other.invocations


def _check_incidents(incidents: tuple[Incident, ...], warmup: int, steps: int) -> None:
    assert all(warmup <= x.start < x.end <= steps for x in incidents)
    assert all(a.end <= b.start for a, b in itertools.pairwise(incidents))


def test_every_scenario_has_its_incidents_after_the_warm_up_and_apart() -> None:
    for series in lambda_scenarios(days=4, warmup_days=1, seed=3):
        _check_incidents(series.incidents, series.warmup, len(series.invocations))
        assert all(0 <= e <= n for n, e in zip(series.invocations, series.errors, strict=True))
    for durations in duration_scenarios(days=4, warmup_days=1, seed=3):
        _check_incidents(durations.incidents, durations.warmup, len(durations.max_ms))
    for account in cost_scenarios(days=100, warmup_days=63, seed=3, copies=1):
        _check_incidents(account.incidents, account.warmup, len(account.days))
        assert bool(account.incidents) is not account.name.startswith("sparse")
    for bucket in s3_scenarios(days=2, warmup_days=1, seed=3):
        _check_incidents(bucket.incidents, bucket.warmup, len(bucket.requests) // 5)


def test_a_busy_function_fails_at_its_background_rate_except_in_its_bursts() -> None:
    series = lambda_series("bursts", 100_000, days=4, warmup_days=1, seed=1, background=0.0005)
    inside = {i for x in series.incidents for i in range(x.start, x.end)}
    normal = [i for i in range(len(series.errors)) if i not in inside]

    rate = sum(series.errors[i] for i in normal) / sum(series.invocations[i] for i in normal)
    assert rate == pytest.approx(0.0005, rel=0.1)
    for incident in series.incidents:
        span = range(incident.start, incident.end)
        burst = sum(series.errors[i] for i in span) / sum(series.invocations[i] for i in span)
        assert burst > 0.009  # 1 % to 20 %, drawn


def test_bad_deploys_step_the_error_rate_up_until_they_are_rolled_back() -> None:
    series = lambda_series("deploys", 100_000, days=6, warmup_days=1, seed=1, background=0.0005)

    assert series.incidents
    for incident in series.incidents:
        assert 6 <= incident.end - incident.start <= 24  # 30 minutes to 2 hours
        span = range(incident.start, incident.end)
        rate = sum(series.errors[i] for i in span) / sum(series.invocations[i] for i in span)
        assert 0.004 < rate < 0.032


def test_the_slowest_invocation_nears_the_time_out_only_in_incidents() -> None:
    series = lambda_durations(
        "api", 1_000, median_ms=120, timeout_ms=6_000, days=4, warmup_days=1, seed=1
    )
    inside = {i for x in series.incidents for i in range(x.start, x.end)}

    assert inside
    assert all(0 < series.max_ms[i] <= 6_000 for i in inside)
    assert all(series.max_ms[i] >= 0.8 * 6_000 for i in inside)
    usual = [v for i, v in enumerate(series.max_ms) if i not in inside]
    assert max(usual) < 0.8 * 6_000
    # Cold starts: about three windows in ten reach 0.8 s at least.
    assert 0.2 < sum(1 for v in usual if v >= 800) / len(usual) < 0.4


def _spend(account: CostAccount, service: str) -> list[float]:
    return [costs.get(service, 0.0) for costs in account.days]


def test_a_bill_has_month_start_charges_and_a_weekly_pattern() -> None:
    account = cost_account("spikes", days=100, warmup_days=63, seed=1)
    firsts = [d for d in range(100) if (START_DAY + timedelta(days=d)).day == 1]
    route53 = _spend(account, "Amazon Route 53")
    support = _spend(account, "AWS Support (Business)")

    assert all(route53[d] > 25 for d in firsts)
    assert all(route53[d] < 1 for d in range(100) if d not in firsts)
    assert [d for d in range(100) if support[d]] == firsts
    february = range(firsts[0], firsts[1])  # its usage is billed on March 1st
    usage = sum(v for d in february for k, v in account.days[d].items() if "Support" not in k)
    assert support[firsts[1]] == pytest.approx(0.1 * usage, rel=0.01)
    lambda_spend = _spend(account, "AWS Lambda")
    weekend = [v for d, v in enumerate(lambda_spend) if d % 7 >= 5]  # day 0 is a Monday
    weekday = [v for d, v in enumerate(lambda_spend) if d % 7 < 5]
    assert statistics.median(weekend) / statistics.median(weekday) == pytest.approx(0.6, rel=0.1)


def test_cost_incidents_are_what_their_scenario_says() -> None:
    spikes = cost_account("spikes", days=120, warmup_days=63, seed=1)
    dynamo = _spend(spikes, spikes.target)
    inside = {d for x in spikes.incidents for d in range(x.start, x.end)}
    usual = statistics.median(v for d, v in enumerate(dynamo) if d not in inside and d % 7 < 5)
    assert all(dynamo[d] > 1.5 * usual for d in inside)

    new = cost_account("new service large", days=120, warmup_days=63, seed=1)
    vpc, (ramp,) = _spend(new, new.target), new.incidents
    assert not any(vpc[: ramp.start])
    assert vpc[ramp.start] > 0
    assert statistics.median(vpc[ramp.end :]) == pytest.approx(45, rel=0.1)
    assert vpc[ramp.start] < vpc[ramp.end - 1] / 3

    sparse = cost_account("sparse", days=120, warmup_days=63, seed=1)
    assert not sparse.incidents
    assert 0.05 < sum(1 for v in _spend(sparse, sparse.target) if v) / 120 < 0.3


def test_a_bucket_sits_at_its_level_and_is_slower_in_its_incidents() -> None:
    bucket = s3_bucket("fast", 45.0, requests_a_minute=2_000, days=2, warmup_days=1, seed=1)
    slow_minutes = {m for x in bucket.incidents for m in range(x.start * 5, x.end * 5)}
    usual = [v for m, v in enumerate(bucket.latency_ms) if m not in slow_minutes]

    assert statistics.median(usual) == pytest.approx(45 * 1.05, rel=0.1)
    for incident in bucket.incidents:
        minutes = range(incident.start * 5, incident.end * 5)
        assert statistics.median(bucket.latency_ms[m] for m in minutes) > 1.4 * 45


# --------------------------------------------------------- the harness, on Vigil's code


def test_the_lambda_harness_counts_an_episode_once_and_feeds_the_baselines_the_rate() -> None:
    # A quiet function failing completely twice, for three windows each: two episodes.
    invocations = (10,) * 20
    errors = tuple(10 if i in (2, 3, 4, 12, 13, 14) else 0 for i in range(20))
    incidents = (Incident(2, 5, "down"), Incident(12, 15, "down again"))
    series = LambdaSeries("quiet", invocations, errors, incidents, warmup=0)

    run = lambda_run(series, RULES)

    tally = score(run.incidents, run.vigil["quiet"], scored_from=0, step=5)
    assert (tally.found, tally.false_positives) == (2, 0)
    assert run.streams["quiet"] == [e / 10 for e in errors]


def test_the_time_out_harness_judges_each_windows_slowest_invocation() -> None:
    peaks = (100.0, 5_000.0, 5_000.0, 100.0, 0.0, 5_900.0)
    incidents = (Incident(1, 3, "slow"), Incident(5, 6, "slow again"))
    run = duration_run(DurationSeries("api", 6_000.0, peaks, incidents, 0), RULES)

    tally = score(run.incidents, run.vigil["api"], scored_from=0, step=5)
    assert (tally.found, tally.false_positives) == (2, 0)
    assert run.streams["api"] == [100.0, 5_000.0, 5_000.0, 100.0, None, 5_900.0]


def test_the_cost_harness_runs_the_collector_day_by_day_and_scores_the_service_and_total() -> None:
    account = cost_account("spikes", days=90, warmup_days=63, seed=1)

    run = cost_run(account, RULES)

    assert run.concerned == {account.target, TOTAL}
    assert set(run.streams) == set(account.services())
    assert all(len(values) == 90 for values in run.streams.values())
    first = account.incidents[0]  # 3.6x a $40 DynamoDB day
    assert any(first.start <= at < first.end for at in run.vigil[account.target])


def test_the_s3_harness_judges_the_dials_own_window_latency() -> None:
    # Eight hours at 1,000 requests a minute and 50 ms; 300 ms for an hour from 05:00.
    minutes = 8 * 60
    latency = tuple(300.0 if 300 <= m < 360 else 50.0 for m in range(minutes))
    bucket = S3Bucket("media", (1000.0,) * minutes, latency, (Incident(60, 72, "slow"),), 36)

    run = s3_run(bucket, RULES)

    assert run.streams["media"][10] == 50.0
    assert run.streams["media"][61] == 300.0
    assert len(run.streams["media"]) == minutes // 5
    tally = score(run.incidents, run.vigil["media"], scored_from=36, step=5)
    assert (tally.found, tally.false_positives) == (1, 0)
