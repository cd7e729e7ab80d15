"""Each handler on moto: real adapters, real clients, fake account."""

import json
from collections.abc import Callable
from datetime import timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.factories import T0, batch, error_signal
from tests.integration.conftest import FakeContext, create_workload_function
from vigil.adapters.collector_state import CollectorState
from vigil.adapters.lambda_inventory import LambdaInventory
from vigil.adapters.stats import CallStats
from vigil.core.errors import ConfigError, InvalidEventError, InvalidRunbookInput
from vigil.core.model import SignalBatch

Loader = Callable[..., ModuleType]
Context = Callable[[str], FakeContext]


def _put_minutes(function: str, metric: str, per_minute: float, start: Any, count: int) -> None:
    cloudwatch = boto3.client("cloudwatch")
    cloudwatch.put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": "FunctionName", "Value": function}],
                "Timestamp": start + timedelta(minutes=minute, seconds=30),
                "Value": per_minute,
                "Unit": "Count",
            }
            for minute in range(count)
        ],
    )


def _evaluate_state_machine() -> str:
    sfn = boto3.client("stepfunctions")
    arn: str = sfn.create_state_machine(
        name="evaluate",
        definition=json.dumps({"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/sfn",
        type="EXPRESS",
    )["stateMachineArn"]
    return arn


def _discovered_no_dead_letter_queues(table: str, functions: int) -> None:
    """An earlier cycle's discovery that found nothing to watch, so that the cycle under test is
    an ordinary one; but the test's ``functions``, all with moto's (and Lambda's) default time-out
    of 3 s, for the duration dial."""
    state = CollectorState(boto3.client("dynamodb"), table)
    at = T0 - timedelta(minutes=5)
    state.remember_dead_letter_queues([], at=at)
    for family in ("s3", "states", "apigateway", "quotas", "reserved", "async"):
        state.remember_inventory(family, [], at=at)
    state.remember_inventory("duration", [{"timeout": 3, "functions": functions}], at=at)


def test_collector_drills_into_every_function_when_the_account_aggregate_breaches(
    table: str, load_handler: Loader, context: Context
) -> None:
    for name in ("orders-api", "search-api", "nightly-report", "idle"):
        create_workload_function(name)
    window_start = T0 - timedelta(minutes=7)  # now 09:00, lag 2 -> window 08:53-08:58
    _put_minutes("orders-api", "Invocations", 20_000, window_start, 5)
    _put_minutes("orders-api", "Errors", 400, window_start, 5)
    _put_minutes("search-api", "Invocations", 20_000, window_start, 5)
    _put_minutes("search-api", "Errors", 10, window_start, 5)
    _put_minutes("nightly-report", "Invocations", 2, window_start, 5)
    _put_minutes("nightly-report", "Errors", 1, window_start + timedelta(minutes=2), 1)
    _put_minutes("orders-api", "Errors", 9_999, window_start - timedelta(minutes=1), 1)  # earlier
    _discovered_no_dead_letter_queues(table, functions=4)
    machine = _evaluate_state_machine()
    app = load_handler("collect_metrics", VIGIL_EVALUATE_STATE_MACHINE_ARN=machine)

    result = app.lambda_handler({"time": "2026-11-02T09:00:00Z"}, context("collect"))

    execution = boto3.client("stepfunctions").describe_execution(
        executionArn=result["execution_arn"]
    )
    sent = SignalBatch.model_validate_json(execution["input"])
    by_resource = {s.labels.resource: s.samples for s in sent.signals}
    # 8 account aggregates and the account's Duration peak, 4 functions' Errors, then
    # Invocations of the 3 with errors.
    assert result["metrics_requested"] == 8 + 1 + 4 + 3
    assert result["drilled"] == ["lambda.errors"]
    assert result["swept"] is False
    assert result["api_calls"] == {
        "GetMetricData": 3,
        # The stored dead-letter queues and their last depths (sqs_failures), 4 edge
        # inventories, the reserved functions and the time-outs, the functions keeping their
        # failed async events (none), the three data inventories and the resource tags found
        # missing.
        "GetItem": 13,
        # The watch lists: 4 Lambda kinds, 1 DynamoDB, 3 Kinesis, 1 stream-reading functions.
        "Query": 9,
        "ListFunctions": 1,
        # Coverage, then the three inventories and the resource tags discovered on this first
        # cycle.
        "PutItem": 5,
        # The tags per-resource overrides read, once per discovery.
        "GetResources": 1,
        "ListEventSourceMappings": 1,
        "ListTables": 1,
        "DescribeTable": 1,
        "ListTagsOfResource": 1,
        "DescribeScalableTargets": 1,
        "ListStreams": 1,
        # Which tables and streams had throttles or system errors lately: 3 DynamoDB, 1 Kinesis.
        "ListMetrics": 4,
        "StartExecution": 1,
    }
    assert sent.batch_id == "metrics-123456789012-us-east-1-20261102T0900Z"
    assert by_resource == {
        "orders-api": {"errors": 2_000.0, "invocations": 100_000.0},
        "search-api": {"errors": 50.0, "invocations": 100_000.0},
        "nightly-report": {"errors": 1.0, "invocations": 10.0},
    }
    assert sent.covered_kinds == [
        "apigateway.http_4xx",
        "apigateway.http_5xx",
        "apigateway.latency",
        "apigateway.rest_4xx",
        "apigateway.rest_5xx",
        "dynamodb.capacity",
        "dynamodb.system_errors",
        "dynamodb.throttles",
        "kinesis.iterator_age",
        "kinesis.shard_capacity",
        "kinesis.write_throttles",
        "lambda.account_concurrency",
        "lambda.async_errors",
        "lambda.async_failures",
        "lambda.duration_timeout",
        "lambda.errors",
        "lambda.iterator_age",
        "lambda.new_error_type",
        "lambda.reserved_concurrency",
        "lambda.throttles",
        "quota.usage",
        "s3.5xx_rate",
        "s3.latency",
        "s3.request_metrics_missing",
        "sqs.dlq_messages",
        "sqs.failure_rate",
        "states.executions_aborted",
        "states.executions_failed",
        "states.executions_throttled",
        "states.executions_timed_out",
        "vigil.resource_tags_invalid",
    ]


def test_collector_reads_only_the_account_aggregates_when_the_account_is_healthy(
    table: str, load_handler: Loader, context: Context
) -> None:
    for index in range(30):
        create_workload_function(f"fn-{index:03d}")
        _put_minutes(f"fn-{index:03d}", "Invocations", 1_000, T0 - timedelta(minutes=7), 5)
    _discovered_no_dead_letter_queues(table, functions=30)
    app = load_handler(
        "collect_metrics", VIGIL_EVALUATE_STATE_MACHINE_ARN=_evaluate_state_machine()
    )

    result = app.lambda_handler({"time": "2026-11-02T09:00:00Z"}, context("collect"))

    # The 8 Lambda aggregates and the account's Duration peak.
    assert result["metrics_requested"] == 8 + 1
    assert result["drilled"] == []
    assert result["signals"] == 0
    assert "ListFunctions" not in result["api_calls"]
    assert "ListQueues" not in result["api_calls"]
    assert result["api_calls"]["GetMetricData"] == 1


def test_a_tag_excluded_function_is_never_drilled_into(
    table: str, load_handler: Loader, context: Context
) -> None:
    for name in ("orders-api", "dev-sandbox"):
        create_workload_function(name)
        _put_minutes(name, "Invocations", 10, T0 - timedelta(minutes=7), 15)
        _put_minutes(name, "Errors", 1, T0 - timedelta(minutes=7), 15)
    boto3.client("lambda").tag_resource(
        Resource="arn:aws:lambda:us-east-1:123456789012:function:dev-sandbox",
        Tags={"env": "dev"},
    )
    _discovered_no_dead_letter_queues(table, functions=2)
    rules = '{"tags": {"exclude": [{"key": "env", "values": ["dev"]}]}}'
    app = load_handler(
        "collect_metrics",
        VIGIL_EVALUATE_STATE_MACHINE_ARN=_evaluate_state_machine(),
        VIGIL_RULES=rules,
    )

    first = app.lambda_handler({"time": "2026-11-02T09:00:00Z"}, context("collect"))
    second = app.lambda_handler({"time": "2026-11-02T09:10:00Z"}, context("collect"))

    sent = SignalBatch.model_validate_json(
        boto3.client("stepfunctions").describe_execution(executionArn=first["execution_arn"])[
            "input"
        ]
    )
    assert [s.labels.resource for s in sent.signals] == ["orders-api"]
    # The tags are read once; the next cycle drills again with the stored exclusions.
    assert first["api_calls"]["GetResources"] == 1
    assert second["drilled"] == ["lambda.errors"]
    assert "GetResources" not in second["api_calls"]
    assert second["signals"] == 1
    stored = CollectorState(boto3.client("dynamodb"), table).inventory("tags")
    assert stored == [{"excluded_function": "dev-sandbox"}]


@pytest.mark.parametrize(
    ("event", "complaint"),
    [
        ({}, "scheduled event: time"),
        ({"time": "yesterday"}, "not an ISO 8601 timestamp"),
        ({"time": "2026-11-02T09:00:00"}, "has no time zone"),
    ],
)
def test_collector_rejects_an_event_without_a_usable_time(
    aws: None, load_handler: Loader, context: Context, event: dict[str, Any], complaint: str
) -> None:
    app = load_handler(
        "collect_metrics", VIGIL_EVALUATE_STATE_MACHINE_ARN=_evaluate_state_machine()
    )

    with pytest.raises(InvalidEventError) as caught:
        app.lambda_handler(event, context("collect"))

    assert complaint in str(caught.value)


def test_evaluate_commits_then_publishes_each_notification_once(
    table: str,
    load_handler: Loader,
    context: Context,
    alerts_topic: Callable[[], list[dict[str, Any]]],
) -> None:
    app = load_handler("evaluate")
    event = batch(T0, error_signal("nightly-report", invocations=1, errors=1)).model_dump(
        mode="json"
    )

    result = app.lambda_handler(event, context("evaluate"))
    again = app.lambda_handler(event, context("evaluate"))  # a retried task

    (message,) = alerts_topic()
    assert message["Subject"] == "[WARNING] Lambda errors firing: nightly-report"
    attributes = {k: v["Value"] for k, v in message["MessageAttributes"].items()}
    assert set(attributes) == {
        "severity",
        "status",
        "category",
        "notification_id",
        "receiver",
        "channels",
    }
    assert attributes["receiver"] == "default"
    assert json.loads(attributes["channels"]) == ["email", "slack"]
    assert result["summary"]["transitions"] == {"none->firing": 1}
    assert (result["published"], again["published"]) == (1, 0)
    assert result["pending"] == again["pending"] == 0


def test_evaluate_names_the_fields_of_a_malformed_batch(
    table: str, load_handler: Loader, context: Context
) -> None:
    app = load_handler("evaluate")
    event = batch(T0).model_dump(mode="json") | {"collected_at": "noon", "extra": 1}

    with pytest.raises(InvalidEventError) as caught:
        app.lambda_handler(event, context("evaluate"))

    assert "signal batch: collected_at:" in str(caught.value)
    assert "extra:" in str(caught.value)


def test_an_invalid_rules_config_runs_the_last_good_one_and_alerts_until_fixed(
    table: str,
    load_handler: Loader,
    context: Context,
    alerts_topic: Callable[[], list[dict[str, Any]]],
) -> None:
    good = json.dumps({"routing": {"receivers": [{"name": "default", "email": True}]}})
    load_handler("evaluate", VIGIL_RULES=good).lambda_handler(
        batch(T0).model_dump(mode="json"), context("evaluate")
    )
    bad = load_handler("evaluate", VIGIL_RULES='{"lambda_errors": {"warning_rate": -1}}')
    later = T0 + timedelta(minutes=5)

    bad.lambda_handler(batch(later).model_dump(mode="json"), context("evaluate"))

    (message,) = alerts_topic()
    assert message["Subject"] == ("[WARNING] Vigil rules config invalid firing: RulesConfig")
    assert message["MessageAttributes"]["channels"]["Value"] == '["email"]'  # last good routing
    body = message["Message"]
    assert "lambda_errors.warning_rate (line 1, column 20): Input should be greater than 0" in body
    fixed = load_handler("evaluate", VIGIL_RULES=good)
    fixed.lambda_handler(
        batch(later + timedelta(minutes=5)).model_dump(mode="json"), context("evaluate")
    )
    assert [m["Subject"] for m in alerts_topic()][1:] == [
        "[RESOLVED] Vigil rules config invalid resolved: RulesConfig"
    ]


def _runbook_app(load_handler: Loader, **env: str) -> Any:
    """The runbook handler with its bucket and topic created in moto."""
    boto3.client("s3").create_bucket(Bucket="runbook")
    topic = boto3.client("sns").create_topic(Name="alerts")["TopicArn"]
    settings = {
        "VIGIL_ALERTS_TOPIC_ARN": topic,
        "VIGIL_RUNBOOK_BUCKET": "runbook",
        "VIGIL_FAILOVER_PARAMETER_PREFIX": "/vigil/failover/",
        "VIGIL_APPROVAL_TIMEOUT_SECONDS": "1800",
        "VIGIL_MONITOR_INTERVAL_SECONDS": "300",
        "VIGIL_MONITOR_HEARTBEAT_SECONDS": "1800",
        "VIGIL_MONITOR_MAX_SECONDS": "43200",
        "VIGIL_STATUS_PAGE_TITLE": "Acme status",
        **env,
    }
    return load_handler("runbook", **settings)


def test_runbook_opens_an_incident_once_and_announces_it(
    table: str, load_handler: Loader, context: Context
) -> None:
    app = _runbook_app(load_handler)
    event = {
        "step": "open",
        "execution_name": "manual-1",
        "started_at": "2026-11-02T09:00:00Z",
        "input": {"service": "lambda", "region": "us-east-1", "reason": "elevated errors"},
    }

    first = app.lambda_handler(event, context("runbook"))
    retried = app.lambda_handler(event, context("runbook"))
    # A dry run (the default): its page is the private preview (ADR 46).
    page = boto3.client("s3").get_object(Bucket="runbook", Key="preview/status/index.html")
    public = boto3.client("s3").list_objects_v2(Bucket="runbook", Prefix="status/")

    assert public["KeyCount"] == 0
    assert first == retried
    assert first["incident_id"] == "manual-1"
    assert first["config"] == {"approval_timeout_seconds": 1800, "monitor_interval_seconds": 300}
    assert first["notification"]["category"] == "outage"
    assert "DRY RUN" in json.loads(first["notification"]["message"])["email"]
    assert (
        "prefix=preview/status/incidents/manual-1.html"
        in (json.loads(first["notification"]["message"])["email"])
    )
    assert b"Investigating" in page["Body"].read()


def test_runbook_rejects_bad_input_naming_each_field(
    table: str, load_handler: Loader, context: Context
) -> None:
    app = _runbook_app(load_handler)
    event = {
        "step": "open",
        "execution_name": "manual-2",
        "started_at": "2026-11-02T09:00:00Z",
        "input": {"service": "Lambda!", "region": "mars-1", "dry_run": "perhaps"},
    }

    with pytest.raises(InvalidRunbookInput) as caught:
        app.lambda_handler(event, context("runbook"))

    message = str(caught.value)
    for field in ("service:", "region:", "reason:", "dry_run:"):
        assert field in message


def test_runbook_refuses_an_unknown_step(
    table: str, load_handler: Loader, context: Context
) -> None:
    app = _runbook_app(load_handler)

    with pytest.raises(InvalidEventError, match="unknown step 'reboot'; expected one of open"):
        app.lambda_handler({"step": "reboot"}, context("runbook"))


def test_runbook_cold_start_refuses_a_plan_outside_the_allowed_targets(
    table: str, load_handler: Loader, context: Context
) -> None:
    plans = {
        "plans": {
            "west": {
                "description": "flag",
                "actions": [{"type": "ssm_parameter", "name": "/prod/region", "value": "w"}],
            }
        }
    }
    app = _runbook_app(load_handler, VIGIL_FAILOVER_PLANS=json.dumps(plans))

    with pytest.raises(ConfigError, match="parameter /prod/region is outside"):
        app.lambda_handler({"step": "open"}, context("runbook"))


def test_lambda_inventory_follows_every_page() -> None:
    client = boto3.client("lambda", region_name="us-east-1")
    stats = CallStats()
    with Stubber(client) as stub:
        for page in range(3):
            names = [f"fn-{page}-{index}" for index in range(50 if page < 2 else 7)]
            response: dict[str, Any] = {
                "Functions": [
                    {
                        "FunctionName": name,
                        "FunctionArn": f"arn:aws:lambda:us-east-1:1:function:{name}",
                    }
                    for name in names
                ]
            }
            expected: dict[str, Any] = {"MaxItems": 50}
            if page < 2:
                response["NextMarker"] = f"m{page + 1}"
            if page:
                expected["Marker"] = f"m{page}"
            stub.add_response("list_functions", response, expected)

        functions = LambdaInventory(client, stats).functions()

    assert len(functions) == 107
    assert stats.by_api == {"ListFunctions": 3}
