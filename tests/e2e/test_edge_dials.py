"""The edge dials through the real template: S3 request metrics and the missing-metrics hint,
Step Functions failures, time-outs and throttles, API Gateway 5xx (REST and HTTP), 4xx and p99
latency, and service quota usage.

Given the edge-dials scenario, every dial fires and then resolves on the minute the scenario
says, discovery runs only on its schedule (every 15 minutes here) and the stored inventories
serve the cycles between.
"""

from collections.abc import Iterator

import pytest

from emulator import Emulator
from tests.e2e.scenario_runs import (
    LAMBDA_FAST_PATH,
    STACK_FUNCTIONS,
    STACK_STATE_MACHINES,
    collector_cycles,
    emails,
    play_scenario,
)

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture(scope="module")
def edge() -> Iterator[Emulator]:
    yield from play_scenario("edge-dials")


def _subjects(emu: Emulator, what: str) -> list[tuple[str, str]]:
    return [(at, subject) for at, subject in emails(emu) if what in subject]


def _body(emu: Emulator, subject: str) -> str:
    return next(email.body for email in emu.mailbox.emails if email.subject == subject)


def test_a_busy_bucket_without_request_metrics_gets_a_hint_until_a_configuration_appears(
    edge: Emulator,
) -> None:
    assert _subjects(edge, "S3 request metrics missing") == [
        ("09:05", "[INFO] S3 request metrics missing firing: raw-archive"),
        ("09:35", "[RESOLVED] S3 request metrics missing resolved: raw-archive"),
    ]
    hint = _body(edge, "[INFO] S3 request metrics missing firing: raw-archive")
    assert "2,500,000 objects and no request metrics configuration" in hint
    # media-uploads has 40,000 objects but request metrics: no hint for it.
    assert not any("media-uploads" in s for _, s in _subjects(edge, "missing"))


def test_s3_5xx_and_latency_fire_against_the_buckets_own_baseline_and_resolve(
    edge: Emulator,
) -> None:
    assert _subjects(edge, "S3 5xx rate") == [
        ("09:50", "[CRITICAL] S3 5xx rate firing: media-uploads"),
        ("10:05", "[RESOLVED] S3 5xx rate resolved: media-uploads"),
    ]
    assert _subjects(edge, "S3 request latency") == [
        ("09:55", "[WARNING] S3 request latency firing: media-uploads"),
        ("10:05", "[RESOLVED] S3 request latency resolved: media-uploads"),
    ]
    errors = _body(edge, "[CRITICAL] S3 5xx rate firing: media-uploads")
    assert "8.00% 5xx (480 of 6,000 requests) over 5 min against a baseline of 0.00%" in errors
    latency = _body(edge, "[WARNING] S3 request latency firing: media-uploads")
    assert "FirstByteLatency averaged 240 ms over 5 min (6,000 requests)" in latency
    assert "against a baseline of 40 ms" in latency


def test_step_functions_failures_timeouts_and_throttles_fire_and_resolve(edge: Emulator) -> None:
    # Alerts of one cycle are mailed in no particular order.
    assert sorted(_subjects(edge, "Step Functions")) == [
        ("09:15", "[WARNING] Step Functions executions failed firing: order-flow"),
        ("09:15", "[WARNING] Step Functions executions throttled firing: order-flow"),
        ("09:15", "[WARNING] Step Functions executions timed out firing: order-flow"),
        ("09:20", "[CRITICAL] Step Functions executions throttled escalated: order-flow"),
        # The last two minutes' 2 in 100 executions are not improbable at the normal rate.
        ("09:25", "[RESOLVED] Step Functions executions failed resolved: order-flow"),
        ("09:25", "[RESOLVED] Step Functions executions timed out resolved: order-flow"),
        ("09:30", "[RESOLVED] Step Functions executions throttled resolved: order-flow"),
    ]
    page = _body(edge, "[CRITICAL] Step Functions executions throttled escalated: order-flow")
    assert "10 throttled executions over 5 min, at or above 10" in page
    # Failures are a rate of the executions started (ExecutionsStarted, read only then).
    failed = _body(edge, "[WARNING] Step Functions executions failed firing: order-flow")
    assert "3 failures in 100 executions over 5 min (3.00%), 0.1 expected" in failed


def test_api_gateway_5xx_is_volume_aware_for_rest_and_http_apis(edge: Emulator) -> None:
    rest = _subjects(edge, "API Gateway 5xx")
    http = _subjects(edge, "API Gateway HTTP 5xx")

    # 1.2 % in the first window fires at once (above the critical rate), as a warning: 120
    # errors in 10,000 are not improbable at 1 %; 2 % in the next is, and pages.
    assert rest == [
        ("09:25", "[WARNING] API Gateway 5xx firing: orders-api"),
        ("09:30", "[CRITICAL] API Gateway 5xx escalated: orders-api"),
        ("09:45", "[RESOLVED] API Gateway 5xx resolved: orders-api"),
    ]
    # The last window's 2 errors in 150 requests are not improbable at the normal rate.
    assert [(at, subject.split(" (")[0]) for at, subject in http] == [
        ("09:50", "[WARNING] API Gateway HTTP 5xx firing: search-http"),
        ("09:55", "[RESOLVED] API Gateway HTTP 5xx resolved: search-http"),
    ]
    assert "200 errors in 10,000 requests over 5 min (2.00%), above the critical 1.00%" in _body(
        edge, "[CRITICAL] API Gateway 5xx escalated: orders-api"
    )
    assert "3 errors in 150 requests over 5 min (2.00%), 0.15 expected" in _body(edge, http[0][1])


def test_api_gateway_4xx_with_its_429_throttles_pages_when_enabled(edge: Emulator) -> None:
    # The scenario enables the 4xx rules (off by default): orders-api refuses half its
    # requests from 10:00 to 10:10 (429 throttles are 4XXError too).
    assert _subjects(edge, "API Gateway 4xx") == [
        ("10:05", "[CRITICAL] API Gateway 4xx firing: orders-api"),
        ("10:20", "[RESOLVED] API Gateway 4xx resolved: orders-api"),
    ]
    page = _body(edge, "[CRITICAL] API Gateway 4xx firing: orders-api")
    assert "3,000 errors in 10,000 requests over 5 min (30.00%), above the critical 25.00%" in page
    assert not _subjects(edge, "API Gateway HTTP 4xx")


def test_api_gateway_p99_latency_above_the_objective_warns_once_held_and_resolves(
    edge: Emulator,
) -> None:
    # The scenario enables the latency rule (off by default): orders-api answers in 2.4 s
    # instead of 80 ms from 09:45 to 10:00; the 1 s objective must be exceeded for 10 minutes.
    assert _subjects(edge, "API Gateway p99 latency") == [
        ("10:00", "[WARNING] API Gateway p99 latency firing: orders-api"),
        ("10:10", "[RESOLVED] API Gateway p99 latency resolved: orders-api"),
    ]
    warning = _body(edge, "[WARNING] API Gateway p99 latency firing: orders-api")
    assert "p99 latency 2,400 ms over 5 min (10,000 requests), at or above 1,000 ms" in warning


def test_service_quota_usage_pages_near_the_quota_and_resolves(edge: Emulator) -> None:
    assert _subjects(edge, "Service quota usage") == [
        ("10:00", "[CRITICAL] Service quota usage firing: lambda/L-B99A9384"),
        ("10:15", "[RESOLVED] Service quota usage resolved: lambda/L-B99A9384"),
    ]
    page = _body(edge, "[CRITICAL] Service quota usage firing: lambda/L-B99A9384")
    assert "Concurrent executions (lambda): peak usage 950 of the quota 1,000 (95%)" in page


def test_discovery_runs_on_its_schedule_and_the_inventories_serve_the_cycles_between(
    edge: Emulator,
) -> None:
    cycles = {c["batch_id"][-5:-1]: c for c in collector_cycles(edge)}

    assert [t for t, c in cycles.items() if c["discovered"]] == [
        "0905", "0920", "0935", "0950", "1005", "1020",
    ]  # fmt: skip
    ordinary = [c for c in cycles.values() if not c["discovered"]]
    listings = ("ListBuckets", "ListStateMachines", "GetRestApis", "GetApis", "ListServiceQuotas")
    assert all(not set(listings) & set(c["api_calls"]) for c in ordinary)
    # One ListBucketMetricsConfigurations per bucket of the region (the scenario's two, the
    # emulator's code bucket and the stack's runbook and batch buckets) and one
    # ListServiceQuotas per service code (5 by default) at each of the 6 discoveries.
    assert edge.edge.calls == {"ListBucketMetricsConfigurations": 30, "ListServiceQuotas": 30}
    # order-flow and the stack's state machines, both APIs, the quota, the scenario's two
    # buckets, the emulator's code bucket, the stack's runbook and batch buckets and table.
    assert cycles["0910"]["resources"] | {"lambda": 0} == {
        "lambda": 0,
        "sqs": 1,
        "event-sources": 0,
        "dynamodb": 1,
        "kinesis": 0,
        "s3": 5,
        "states": 1 + STACK_STATE_MACHINES,
        "apigateway": 2,
        "quotas": 1,
        # SlackActionsFunction and ErrorStreamFunction, the stack's functions with reserved
        # concurrency.
        "reserved": 2,
        # The stack's functions, each with a time-out.
        "duration": STACK_FUNCTIONS,
    }
    # The Lambda fast path, 3 per state machine, 3 for media-uploads, 3 per API (5xx, and 4xx
    # and p99 latency, enabled here), 1 quota; from 09:35 raw-archive has request metrics too
    # (3 more); 2 for the stack's reserved functions (SlackActionsFunction, ErrorStreamFunction).
    machines = 3 * (1 + STACK_STATE_MACHINES)
    assert cycles["0910"]["metrics_requested"] == LAMBDA_FAST_PATH + machines + 3 + 6 + 1 + 2
    assert (
        cycles["0940"]["metrics_requested"] == LAMBDA_FAST_PATH + machines + 6 + 6 + 1 + 2 + 1
    )  # + Count
