"""The edge dial families on in-memory fakes: what they ask, what they conclude, and when they
discover."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from vigil.dials.apigateway import ApiGatewayFamily
from vigil.dials.base import DialFamily, MetricKey
from vigil.dials.collect import Cycle, collect
from vigil.dials.inventory import (
    FunctionDestinations,
    ScopedDeadLetters,
    ScopedFunctions,
    TagFiltered,
    TagScope,
    queue_arn,
)
from vigil.dials.quotas import QuotaFamily
from vigil.dials.resources import (
    FunctionInfo,
    MetricQuery,
    MetricsFilter,
    NamedResource,
    QueueDepth,
    QuotaUsage,
    UnknownService,
)
from vigil.dials.s3 import S3Family, objects_metric
from vigil.dials.step_functions import StepFunctionsFamily, execution_metric
from vigil.rules.document import RulesConfig
from vigil.rules.kinds import judge

# 10:07 with a 2-minute lag: the window is 10:00-10:05; 10:07 does not cross an hour.
NOW = datetime(2026, 11, 2, 10, 7, tzinfo=UTC)
WINDOW_START = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
RULES = RulesConfig()


@dataclass
class FakeMetrics:
    """Answers from stored datapoints; records the keys of every call."""

    points: dict[MetricKey, dict[datetime, float]] = field(default_factory=dict)
    calls: list[list[MetricKey]] = field(default_factory=list)

    def series(
        self, queries: Sequence[MetricQuery], *, start: datetime, end: datetime, period: int = 60
    ) -> dict[str, dict[datetime, float]]:
        keys = [MetricKey(q.namespace, q.metric, q.dimensions, q.stat) for q in queries]
        self.calls.append(keys)
        return {
            q.id: {at: v for at, v in self.points.get(key, {}).items() if start <= at < end}
            for q, key in zip(queries, keys, strict=True)
        }

    def minutes(self, key: MetricKey, start: datetime, count: int, value: float) -> None:
        for minute in range(count):
            self.points.setdefault(key, {})[start + timedelta(minutes=minute)] = value


@dataclass
class FakeState:
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    writes: int = 0

    def inventory(self, family: str) -> list[dict[str, Any]] | None:
        return self.records.get(family)

    def remember_inventory(
        self, family: str, records: list[dict[str, Any]], *, at: datetime
    ) -> None:
        self.records[family] = records
        self.writes += 1


@dataclass
class FakeTags:
    tags: dict[str, dict[str, str]]
    calls: int = 0

    def by_arn(self) -> dict[str, dict[str, str]]:
        self.calls += 1
        return self.tags


def run(family: DialFamily, metrics: FakeMetrics, rules: RulesConfig = RULES) -> Cycle:
    return collect(
        families=[family],
        metrics=metrics,
        rules=rules,
        now=NOW,
        account="123456789012",
        region="us-east-1",
    )


def scope(rules: RulesConfig = RULES, tags: dict[str, dict[str, str]] | None = None) -> TagScope:
    return TagScope(rules.tags, FakeTags(tags or {}))


@dataclass
class FakeBuckets:
    filters: dict[str, list[MetricsFilter]]

    def names(self) -> list[str]:
        return list(self.filters)

    def metrics_filters(self, bucket: str) -> list[MetricsFilter]:
        return self.filters[bucket]


def _s3_key(metric: str, stat: str = "Sum") -> MetricKey:
    dims = (("BucketName", "media"), ("FilterId", "EntireBucket"))
    return MetricKey("AWS/S3", metric, dims, stat)


def test_s3_judges_the_window_against_the_buckets_earlier_windows() -> None:
    state = FakeState({"s3": [{"name": "media", "filter_id": "EntireBucket"},
                              {"name": "archive", "objects": 3e6}]})  # fmt: skip
    metrics = FakeMetrics()
    history = WINDOW_START - timedelta(minutes=60)
    metrics.minutes(_s3_key("AllRequests"), history, 65, 1000)
    metrics.minutes(_s3_key("FirstByteLatency", "Average"), history, 60, 40)
    metrics.minutes(_s3_key("FirstByteLatency", "Average"), WINDOW_START, 5, 200)
    metrics.minutes(_s3_key("5xxErrors"), WINDOW_START, 5, 30)

    cycle = run(S3Family(FakeBuckets({}), state, scope()), metrics)

    by_kind = {s.labels.kind: s for s in cycle.batch.signals}
    assert by_kind["s3.5xx_rate"].samples == {
        "errors": 150.0,
        "requests": 5000.0,
        "baseline_rate": 0.0,
        "baseline_scale": 0.0,
        "baseline_windows": 12.0,
    }
    assert by_kind["s3.latency"].samples["latency_ms"] == 200.0
    assert by_kind["s3.latency"].samples["baseline_ms"] == 40.0
    assert by_kind["s3.request_metrics_missing"].labels.resource == "archive"
    # Three metrics for the one bucket with request metrics, over the baseline, in one call.
    assert len(metrics.calls) == 1
    assert len(metrics.calls[0]) == 3
    assert cycle.families["s3"].discovered is False


def test_s3_discovery_prefers_the_whole_bucket_filter_and_reads_quiet_buckets_objects() -> None:
    buckets = FakeBuckets(
        {
            "media": [MetricsFilter("images", False), MetricsFilter("EntireBucket", True)],
            "archive": [],
            "scratch": [],
            "excluded": [],
        }
    )
    rules = RulesConfig.from_json('{"tags": {"exclude": [{"key": "vigil", "values": ["off"]}]}}')
    tags = {"arn:aws:s3:::excluded": {"vigil": "off"}}
    metrics = FakeMetrics()
    metrics.points[objects_metric("archive")] = {NOW - timedelta(days=1): 3e6}
    state = FakeState()

    cycle = run(S3Family(buckets, state, scope(rules, tags)), metrics, rules)

    assert state.records["s3"] == [
        {"name": "media", "filter_id": "EntireBucket", "objects": None},
        {"name": "archive", "filter_id": None, "objects": 3e6},
        {"name": "scratch", "filter_id": None, "objects": None},  # no storage datapoint
    ]
    assert [s.labels.resource for s in cycle.batch.signals] == ["archive"]
    assert metrics.calls[0] == [objects_metric("archive"), objects_metric("scratch")]
    assert cycle.families["s3"].discovered is True


@dataclass
class FakeListing:
    items: list[NamedResource]
    calls: int = 0

    def list(self) -> list[NamedResource]:
        self.calls += 1
        return self.items


def test_step_functions_discovers_once_then_reads_three_sums_per_state_machine() -> None:
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:order-flow"
    listing = FakeListing([NamedResource(arn, "order-flow", {})])
    metrics = FakeMetrics()
    metrics.minutes(execution_metric(arn, "ExecutionThrottled"), WINDOW_START, 2, 1)
    metrics.minutes(execution_metric(arn, "ExecutionsAborted"), WINDOW_START, 2, 1)
    state = FakeState()
    family = StepFunctionsFamily(listing, state, scope())

    first = run(family, metrics)
    second = run(family, metrics)

    assert listing.calls == 1
    assert (first.families["states"].discovered, second.families["states"].discovered) == (
        True,
        False,
    )
    assert [(s.labels.kind, s.samples) for s in second.batch.signals] == [
        ("states.executions_throttled", {"count": 2.0})
    ]
    # Aborted is not asked unless included; no failure, so no ExecutionsStarted either.
    assert [len(keys) for keys in metrics.calls] == [3, 3]


def test_step_functions_reads_executions_started_only_for_machines_with_failures() -> None:
    """Issue #14: a failure rate needs a volume; the cost-aware path reads it only where a
    failure or a time-out points at it (as API Gateway reads Count only for APIs with 5xx)."""
    flow = "arn:aws:states:us-east-1:123456789012:stateMachine:order-flow"
    quiet = "arn:aws:states:us-east-1:123456789012:stateMachine:nightly"
    listing = FakeListing(
        [NamedResource(flow, "order-flow", {}), NamedResource(quiet, "nightly", {})]
    )
    metrics = FakeMetrics()
    metrics.minutes(execution_metric(flow, "ExecutionsFailed"), WINDOW_START, 3, 1)
    metrics.minutes(execution_metric(flow, "ExecutionsTimedOut"), WINDOW_START, 1, 2)
    metrics.minutes(execution_metric(flow, "ExecutionsStarted"), WINDOW_START, 5, 200)
    metrics.minutes(execution_metric(quiet, "ExecutionsStarted"), WINDOW_START, 5, 10)

    cycle = run(StepFunctionsFamily(listing, FakeState(), scope()), metrics)

    assert metrics.calls[-1] == [execution_metric(flow, "ExecutionsStarted")]
    assert [(s.labels.kind, s.value, s.unit, s.samples) for s in cycle.batch.signals] == [
        ("states.executions_failed", 0.3, "Percent", {"failures": 3.0, "executions": 1000.0}),
        ("states.executions_timed_out", 0.2, "Percent", {"timeouts": 2.0, "executions": 1000.0}),
    ]
    assert cycle.families["states"].extra == {"state_machines_failing": 1}


def test_api_gateway_reads_count_only_for_apis_with_5xx() -> None:
    rest = FakeListing([NamedResource("a1", "orders-api", {}), NamedResource("a2", "quiet", {})])
    http = FakeListing([NamedResource("h1", "search", {"team": "search"})])
    rules = RulesConfig.from_json('{"tags": {"include": [{"key": "team"}]}}')
    metrics = FakeMetrics()
    metrics.minutes(MetricKey("AWS/ApiGateway", "5xx", (("ApiId", "h1"),)), WINDOW_START, 5, 1)
    metrics.minutes(MetricKey("AWS/ApiGateway", "Count", (("ApiId", "h1"),)), WINDOW_START, 5, 30)

    cycle = run(ApiGatewayFamily(rest, http, FakeState(), scope(rules)), metrics, rules)

    # The tag filter keeps only the tagged HTTP API; its Count is read in a second round.
    assert [len(keys) for keys in metrics.calls] == [1, 1]
    (found,) = cycle.batch.signals
    assert (found.labels.kind, found.labels.resource) == ("apigateway.http_5xx", "search (h1)")
    assert found.samples == {"errors": 5.0, "requests": 150.0}


def test_api_gateway_4xx_is_read_only_when_enabled_and_shares_the_count() -> None:
    """Issue #14: API Gateway 4xx/429 rates. Off by default, an API costs its 5xx sum only;
    enabled, one more sum per API, and one Count serves both rates of an API."""
    rest = FakeListing([NamedResource("a1", "orders-api", {}), NamedResource("a2", "quiet", {})])
    http = FakeListing([NamedResource("h1", "search", {})])
    rest_key = MetricKey("AWS/ApiGateway", "4XXError", (("ApiName", "orders-api"),))
    metrics = FakeMetrics()
    metrics.minutes(rest_key, WINDOW_START, 5, 300)
    metrics.minutes(MetricKey("AWS/ApiGateway", "5XXError", (("ApiName", "orders-api"),)),
                    WINDOW_START, 1, 2)  # fmt: skip
    metrics.minutes(MetricKey("AWS/ApiGateway", "Count", (("ApiName", "orders-api"),)),
                    WINDOW_START, 5, 2000)  # fmt: skip
    on = RulesConfig.from_json('{"apigateway_rest_4xx": {"enabled": true}}')

    off_cycle = run(ApiGatewayFamily(rest, http, FakeState(), scope()), metrics)
    off_asked = [len(keys) for keys in metrics.calls]
    metrics.calls.clear()
    on_cycle = run(ApiGatewayFamily(rest, http, FakeState(), scope(on)), metrics, on)

    assert off_asked == [3, 1]  # three 5xx sums, then orders-api's Count
    assert [s.labels.kind for s in off_cycle.batch.signals] == ["apigateway.rest_5xx"]
    # Enabled for REST APIs only: two 4xx sums more (not the HTTP API's), one Count.
    assert [len(keys) for keys in metrics.calls] == [5, 1]
    assert [(s.labels.kind, s.samples) for s in on_cycle.batch.signals] == [
        ("apigateway.rest_5xx", {"errors": 2.0, "requests": 10_000.0}),
        ("apigateway.rest_4xx", {"errors": 1_500.0, "requests": 10_000.0}),
    ]
    assert on_cycle.families["apigateway"].extra == {
        "apis_with_5xx": 1,
        "apis_with_4xx": 1,
        "apis_slow": 0,
    }


def test_api_gateway_p99_latency_is_read_when_enabled_and_count_only_for_slow_apis() -> None:
    """Issue #14: API Gateway p99 latency. Enabled, one p99 per API at one period over the
    window; only an API at or above ``warning_ms`` then has its Count read (for
    ``min_requests``)."""
    rest = FakeListing([NamedResource("a1", "orders-api", {}), NamedResource("a2", "fast", {})])
    slow_key = MetricKey("AWS/ApiGateway", "Latency", (("ApiName", "orders-api"),), "p99")
    fast_key = MetricKey("AWS/ApiGateway", "Latency", (("ApiName", "fast"),), "p99")
    metrics = FakeMetrics()
    metrics.points[slow_key] = {WINDOW_START: 2_400.0}
    metrics.points[fast_key] = {WINDOW_START: 120.0}
    metrics.minutes(MetricKey("AWS/ApiGateway", "Count", (("ApiName", "orders-api"),)),
                    WINDOW_START, 5, 600)  # fmt: skip
    on = RulesConfig.from_json('{"apigateway_latency": {"enabled": true}}')

    cycle = run(ApiGatewayFamily(rest, FakeListing([]), FakeState(), scope(on)), metrics, on)

    assert metrics.calls[1] == [slow_key, fast_key]  # at the window's period: a call of its own
    assert metrics.calls[-1] == [MetricKey("AWS/ApiGateway", "Count", (("ApiName", "orders-api"),))]
    latency = [s for s in cycle.batch.signals if s.labels.kind == "apigateway.latency"]
    assert [(s.labels.resource, s.samples) for s in latency] == [
        ("orders-api", {"p99_ms": 2_400.0, "requests": 3_000.0})
    ]
    assert judge(latency[0], on) is not None


@dataclass
class FakeQuotas:
    quotas: dict[str, list[QuotaUsage]]
    asked: list[str] = field(default_factory=list)

    def with_usage(self, service: str) -> list[QuotaUsage]:
        self.asked.append(service)
        if service == "lamda":
            raise UnknownService(
                f"service_quotas.services: Service Quotas has no service {service!r}"
            )
        return self.quotas.get(service, [])


def test_a_rate_quota_compares_the_busiest_minute_brought_to_its_period() -> None:
    dims = (("Class", "None"), ("Resource", "StartExecution"), ("Service", "States"))
    rate = QuotaUsage("states", "L-12345678", "StartExecution rate", 800, 1, "AWS/Usage",
                      "CallCount", dims, "Sum")  # fmt: skip
    quotas = FakeQuotas({"states": [rate]})
    rules = RulesConfig.from_json('{"service_quotas": {"services": ["states"]}}')
    metrics = FakeMetrics()
    key = MetricKey("AWS/Usage", "CallCount", dims, "Sum")
    metrics.minutes(key, WINDOW_START, 5, 30_000)
    metrics.points[key][WINDOW_START + timedelta(minutes=3)] = 45_000  # 750 a second

    cycle = run(QuotaFamily(quotas, FakeState()), metrics, rules)

    (found,) = cycle.batch.signals
    assert found.labels.resource == "states/L-12345678"
    assert found.samples == {"usage": 750.0, "quota": 800.0}


def test_a_service_dropped_from_the_config_is_dropped_before_the_next_discovery() -> None:
    stored = {"service": "states", "code": "L-12345678", "name": "StartExecution rate",
              "value": 800, "period_seconds": 1, "namespace": "AWS/Usage",
              "metric": "CallCount", "dimensions": [], "statistic": "Sum"}  # fmt: skip
    quotas = FakeQuotas({})
    rules = RulesConfig.from_json('{"service_quotas": {"services": ["lambda"]}}')

    cycle = run(QuotaFamily(quotas, FakeState({"quotas": [stored]})), FakeMetrics(), rules)

    assert quotas.asked == []
    assert cycle.families["quotas"].resources == 0


def _functions() -> list[FunctionInfo]:
    return [
        FunctionInfo("orders", "arn:aws:lambda:us-east-1:123456789012:function:orders"),
        FunctionInfo("sandbox", "arn:aws:lambda:us-east-1:123456789012:function:sandbox"),
    ]


def test_excluded_functions_are_stored_at_discovery_and_reused_without_reading_tags() -> None:
    rules = RulesConfig.from_json('{"tags": {"exclude": [{"key": "env", "values": ["dev"]}]}}')
    tags = FakeTags({"arn:aws:lambda:us-east-1:123456789012:function:sandbox": {"env": "dev"}})
    state = FakeState()
    scoped = TagScope(rules.tags, tags)

    found = ScopedFunctions(_functions, scoped, state, discovery=True, now=NOW)()
    later = ScopedFunctions(_functions, TagScope(rules.tags, tags), state, discovery=False,
                            now=NOW)()  # fmt: skip

    assert [fn.name for fn in found] == [fn.name for fn in later] == ["orders"]
    assert state.records["tags"] == [{"excluded_function": "sandbox"}]
    assert tags.calls == 1


@dataclass
class FakeQueues:
    targets: list[str] = field(default_factory=list)

    def discover(self, lambda_targets: Iterable[str]) -> list[str]:
        self.targets = list(lambda_targets)
        return [
            "https://sqs.us-east-1.amazonaws.com/123456789012/orders-failed",
            "https://sqs.us-east-1.amazonaws.com/123456789012/dev-failed",
        ]

    def depths(self, urls: Iterable[str]) -> list[QueueDepth]:
        return [QueueDepth(url, 0, 60) for url in urls]

    def sources(self) -> dict[str, list[str]]:
        return {}


@dataclass
class FakeDestinations:
    by_function: dict[str, set[str]] = field(default_factory=dict)
    asked: list[list[str]] = field(default_factory=list)

    def function_destinations(self, functions: Iterable[str]) -> dict[str, set[str]]:
        names = list(functions)
        self.asked.append(names)
        return {name: self.by_function.get(name, set()) for name in names}

    def mapping_destinations(self) -> set[str]:
        return {"arn:aws:sqs:us-east-1:123456789012:stream-failed"}

    def mapped_functions(self) -> set[str]:
        return {"stream-reader"}


def test_on_failure_destinations_join_discovery_and_tag_excluded_queues_are_dropped() -> None:
    rules = RulesConfig.from_json('{"tags": {"exclude": [{"key": "env", "values": ["dev"]}]}}')
    tags = FakeTags({"arn:aws:sqs:us-east-1:123456789012:dev-failed": {"env": "dev"}})
    queues = FakeQueues()
    destinations = FakeDestinations(
        {"orders": {"arn:aws:sqs:us-east-1:123456789012:orders-failed"}}
    )
    scoped = ScopedDeadLetters(
        queues,
        FunctionDestinations(destinations, _functions, FakeState(), rotation=0, now=NOW),
        TagScope(rules.tags, tags),
    )

    found = scoped.discover(["arn:aws:sqs:us-east-1:123456789012:legacy-dlq"])

    assert queues.targets == [
        "arn:aws:sqs:us-east-1:123456789012:legacy-dlq",
        "arn:aws:sqs:us-east-1:123456789012:orders-failed",
        "arn:aws:sqs:us-east-1:123456789012:stream-failed",
    ]
    assert destinations.asked == [["orders", "sandbox"]]
    assert found == ["https://sqs.us-east-1.amazonaws.com/123456789012/orders-failed"]
    assert scoped.destination_targets == 2
    assert queue_arn(found[0]) == "arn:aws:sqs:us-east-1:123456789012:orders-failed"


def test_a_large_account_reads_destinations_in_shares_and_keeps_what_earlier_ones_found() -> None:
    names = [f"fn-{index:04d}" for index in range(1200)]
    arn = "arn:aws:lambda:us-east-1:123456789012:function:{}"

    def functions() -> list[FunctionInfo]:
        return [FunctionInfo(name, arn.format(name)) for name in names]

    failed = "arn:aws:sqs:us-east-1:123456789012:fn-0001-failed"
    destinations = FakeDestinations({"fn-0001": {failed}})
    state = FakeState()

    def discover(rotation: int) -> list[str]:
        scoped = ScopedDeadLetters(
            FakeQueues(),
            FunctionDestinations(destinations, functions, state, rotation=rotation, now=NOW),
            scope(),
        )
        scoped.discover([])
        return sorted({r["destination"] for r in state.records["destinations"]})

    first, second = discover(0), discover(1)

    # 1,200 functions: three shares of 400, every third name; fn-0001 is in the second.
    assert [len(asked) for asked in destinations.asked] == [400, 400]
    assert (first, second) == ([], [failed])
    assert discover(2) == [failed]  # kept while another share is read


@dataclass(frozen=True)
class Table:
    name: str
    tags: dict[str, str]


@dataclass
class FakeTables:
    def discover(self) -> list[Table]:
        return [Table("orders", {"team": "payments"}), Table("scratch", {})]


def test_records_that_carry_their_tags_are_filtered_at_discovery() -> None:
    rules = RulesConfig.from_json('{"tags": {"include": [{"key": "team"}]}}')

    kept = TagFiltered(FakeTables(), rules.tags).discover()

    assert [table.name for table in kept] == ["orders"]
    assert [t.name for t in TagFiltered(FakeTables(), RULES.tags).discover()] == [
        "orders",
        "scratch",
    ]


def test_a_mistyped_service_code_is_skipped_and_the_others_are_discovered() -> None:
    dims = (("Resource", "ConcurrentExecutions"), ("Service", "Lambda"))
    quota = QuotaUsage("states", "L-12345678", "Open executions", 1e6, None, "AWS/Usage",
                       "ResourceCount", dims, "Maximum")  # fmt: skip
    quotas = FakeQuotas({"states": [quota]})
    rules = RulesConfig.from_json('{"service_quotas": {"services": ["lamda", "states"]}}')
    state = FakeState()

    cycle = run(QuotaFamily(quotas, state), FakeMetrics(), rules)

    assert quotas.asked == ["lamda", "states"]
    assert [record["code"] for record in state.records["quotas"]] == ["L-12345678"]
    assert cycle.families["quotas"].resources == 1
