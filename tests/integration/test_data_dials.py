"""Discovery of tables, streams and stream mappings on moto, and the data families' cycles.

moto ignores ``RecentlyActive`` and lists every metric ever put; the tests put a throttle
metric only where a table or stream throttled, as DynamoDB does.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.integration.conftest import create_workload_function
from vigil.adapters.cloudwatch import CloudWatchMetrics
from vigil.adapters.collector_state import CollectorState
from vigil.adapters.dynamodb_tables import DynamoDbTables, TablesUnavailable
from vigil.adapters.event_source_mappings import EventSourceMappings
from vigil.adapters.kinesis_streams import KinesisStreams
from vigil.adapters.stats import CallStats
from vigil.dials.collect import Cycle, collect
from vigil.dials.dynamodb import DynamoDbFamily
from vigil.dials.event_sources import EventSourceFamily
from vigil.dials.kinesis import KinesisFamily
from vigil.dials.resources import Capacity
from vigil.rules.document import RulesConfig

# 10:02 -> window 09:55-10:00 crosses the hour: sweep and discovery. 10:07 is an ordinary one.
SWEEP_AT = datetime(2026, 11, 2, 10, 2, tzinfo=UTC)
PLAIN_AT = SWEEP_AT + timedelta(minutes=5)


def _table(name: str, *, provisioned: bool = True, index: str | None = None, **extra: Any) -> str:
    throughput = {"ReadCapacityUnits": 100, "WriteCapacityUnits": 50}
    gsi = (
        [
            {
                "IndexName": index,
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
                **(
                    {"ProvisionedThroughput": {"ReadCapacityUnits": 20, "WriteCapacityUnits": 10}}
                    if provisioned
                    else {}
                ),
            }
        ]
        if index
        else []
    )
    described = boto3.client("dynamodb").create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PROVISIONED" if provisioned else "PAY_PER_REQUEST",
        **({"ProvisionedThroughput": throughput} if provisioned else {}),
        **({"GlobalSecondaryIndexes": gsi} if gsi else {}),
        **extra,
    )["TableDescription"]
    return str(described.get("LatestStreamArn", described["TableArn"]))


def _put(namespace: str, metric: str, dims: dict[str, str], value: float, at: datetime) -> None:
    boto3.client("cloudwatch").put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                "Timestamp": at,
                "Value": value,
            }
        ],
    )


def _tables(stats: CallStats) -> DynamoDbTables:
    return DynamoDbTables(boto3.client("dynamodb"), boto3.client("application-autoscaling"), stats)


def test_discovery_keeps_billing_capacity_auto_scaling_maximum_indexes_and_tags(
    aws: None,
) -> None:
    _table("orders", index="by-customer", Tags=[{"Key": "team", "Value": "shop"}])
    _table("sessions", provisioned=False)
    boto3.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="dynamodb",
        ResourceId="table/orders",
        ScalableDimension="dynamodb:table:WriteCapacityUnits",
        MinCapacity=50,
        MaxCapacity=400,
    )
    stats = CallStats()

    orders, sessions = _tables(stats).discover()

    assert (orders.name, orders.billing_mode, orders.tags) == (
        "orders",
        "PROVISIONED",
        {"team": "shop"},
    )
    assert orders.capacity == Capacity(read=100, write=50, read_max=100, write_max=400)
    assert orders.indexes == {"by-customer": Capacity(read=20, write=10, read_max=20, write_max=10)}
    assert (sessions.billing_mode, sessions.capacity, sessions.provisioned) == (
        "PAY_PER_REQUEST",
        None,
        False,
    )
    assert stats.by_api == {
        "DescribeScalableTargets": 1,
        "ListTables": 1,
        "DescribeTable": 2,
        "ListTagsOfResource": 2,
    }


def test_a_failing_table_listing_names_the_discovery(aws: None) -> None:
    client = boto3.client("dynamodb")
    with Stubber(client) as stub:
        stub.add_client_error("list_tables", "InternalServerError")
        tables = DynamoDbTables(client, boto3.client("application-autoscaling"))
        with pytest.raises(TablesUnavailable, match="DynamoDB table discovery failed"):
            tables.discover()


def test_stream_discovery_reads_mode_shards_retention_and_tags(aws: None) -> None:
    kinesis = boto3.client("kinesis")
    kinesis.create_stream(StreamName="clicks", ShardCount=3)
    kinesis.increase_stream_retention_period(StreamName="clicks", RetentionPeriodHours=48)
    kinesis.add_tags_to_stream(StreamName="clicks", Tags={"team": "web"})

    (clicks,) = KinesisStreams(kinesis).discover()

    assert (clicks.mode, clicks.shards, clicks.retention_hours, clicks.tags) == (
        "PROVISIONED",
        3,
        48,
        {"team": "web"},
    )


def test_mappings_that_read_streams_keep_the_retention_and_the_functions_tags(
    aws: None,
) -> None:
    create_workload_function("projector")
    boto3.client("lambda").tag_resource(
        Resource="arn:aws:lambda:us-east-1:123456789012:function:projector",
        Tags={"team": "shop"},
    )
    stream = _table(
        "orders", StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    )
    boto3.client("lambda").create_event_source_mapping(
        EventSourceArn=stream, FunctionName="projector", StartingPosition="LATEST"
    )

    (mapping,) = EventSourceMappings(boto3.client("lambda"), boto3.client("kinesis")).discover()

    assert (mapping.function, mapping.retention_hours, mapping.tags) == (
        "projector",
        24,
        {"team": "shop"},
    )


def test_a_kinesis_mapping_is_judged_against_its_streams_retention(aws: None) -> None:
    """moto cannot map a function to a Kinesis stream: the listing is stubbed."""
    kinesis = boto3.client("kinesis")
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    kinesis.increase_stream_retention_period(StreamName="clicks", RetentionPeriodHours=72)
    arn = kinesis.describe_stream_summary(StreamName="clicks")["StreamDescriptionSummary"][
        "StreamARN"
    ]
    lambda_client = boto3.client("lambda")
    function = "arn:aws:lambda:us-east-1:123456789012:function:clicks-consumer"
    with Stubber(lambda_client) as stub:
        stub.add_response(
            "list_event_source_mappings",
            {
                "EventSourceMappings": [
                    {"UUID": "u-1", "EventSourceArn": arn, "FunctionArn": function + ":live"},
                    {
                        "UUID": "u-2",
                        "EventSourceArn": "arn:aws:sqs:us-east-1:123456789012:jobs",
                        "FunctionArn": function,
                    },
                ]
            },
        )
        stub.add_response("list_tags", {"Tags": {}}, {"Resource": function})
        (mapping,) = EventSourceMappings(lambda_client, kinesis).discover()

    assert (mapping.uuid, mapping.function, mapping.retention_hours) == (
        "u-1",
        "clicks-consumer",
        72,
    )


def _cycle(table: str, now: datetime, stats: CallStats, rules: RulesConfig | None = None) -> Cycle:
    state = CollectorState(boto3.client("dynamodb"), table, stats=stats)
    cloudwatch = CloudWatchMetrics(boto3.client("cloudwatch"), stats)
    return collect(
        families=[
            DynamoDbFamily(tables=_tables(stats), state=state, active=cloudwatch),
            KinesisFamily(
                streams=KinesisStreams(boto3.client("kinesis"), stats),
                state=state,
                active=cloudwatch,
            ),
            EventSourceFamily(
                mappings=EventSourceMappings(
                    boto3.client("lambda"), boto3.client("kinesis"), stats
                ),
                state=state,
            ),
        ],
        metrics=cloudwatch,
        rules=rules or RulesConfig(),
        now=now,
        account="123456789012",
        region="us-east-1",
    )


def test_a_healthy_cycle_lists_recent_throttles_and_requests_no_metric(table: str) -> None:
    _table("orders", index="by-customer")
    boto3.client("kinesis").create_stream(StreamName="clicks", ShardCount=2)
    first, ordinary = CallStats(), CallStats()

    discovering = _cycle(table, PLAIN_AT - timedelta(minutes=5), first)
    cycle = _cycle(table, PLAIN_AT, ordinary)

    assert discovering.discovered
    assert not cycle.discovered
    assert cycle.batch.signals == []
    assert ordinary.metrics_requested == 0
    assert "GetMetricData" not in ordinary.by_api
    # ReadThrottleEvents, WriteThrottleEvents, SystemErrors, WriteProvisionedThroughputExceeded.
    assert ordinary.by_api["ListMetrics"] == 4
    assert "DescribeTable" not in ordinary.by_api
    assert cycle.resources("dynamodb") == 2  # orders and the state table


def test_a_throttled_table_is_drilled_into_with_its_indexes_capacity(table: str) -> None:
    _table("orders", index="by-customer")
    _table("quiet")
    window_start = PLAIN_AT - timedelta(minutes=7)
    orders = {"TableName": "orders"}
    # moto matches dimensions in order (AWS does not): put them in the order Vigil asks.
    index = {"GlobalSecondaryIndexName": "by-customer", "TableName": "orders"}
    _put("AWS/DynamoDB", "WriteThrottleEvents", orders, 12, window_start + timedelta(minutes=1))
    _put("AWS/DynamoDB", "WriteThrottleEvents", index, 3, window_start + timedelta(minutes=2))
    _put("AWS/DynamoDB", "ConsumedWriteCapacityUnits", orders, 49 * 60, window_start)
    _put("AWS/DynamoDB", "ConsumedWriteCapacityUnits", index, 6 * 60, window_start)
    stats = CallStats()

    cycle = _cycle(table, PLAIN_AT, stats)

    by_kind = {(s.labels.kind, s.labels.resource): s for s in cycle.batch.signals}
    throttles = by_kind[("dynamodb.throttles", "orders")]
    assert throttles.value == 15
    assert throttles.samples == {"read_throttle_events": 0.0, "write_throttle_events": 15.0}
    assert by_kind[("dynamodb.capacity", "orders")].value == 98.0
    assert by_kind[("dynamodb.capacity", "orders/index/by-customer")].value == 60.0
    assert not any(s.labels.resource.startswith("quiet") for s in cycle.batch.signals)
    # 2 throttle metrics, then the consumed units of the table and its index (2 each).
    assert stats.metrics_requested == 2 + 4


def test_the_sweep_judges_capacity_against_the_auto_scaling_maximum(table: str) -> None:
    _table("orders")
    boto3.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="dynamodb",
        ResourceId="table/orders",
        ScalableDimension="dynamodb:table:WriteCapacityUnits",
        MinCapacity=50,
        MaxCapacity=100,
    )
    peak = SWEEP_AT - timedelta(minutes=40)
    _put("AWS/DynamoDB", "ConsumedWriteCapacityUnits", {"TableName": "orders"}, 85 * 60, peak)

    cycle = _cycle(table, SWEEP_AT, CallStats())

    (signal,) = cycle.batch.signals
    assert (signal.labels.kind, signal.value, signal.window_seconds) == (
        "dynamodb.capacity",
        85.0,
        3600,
    )
    assert signal.samples["write_capacity"] == 100.0
    assert signal.samples["write_provisioned"] == 50.0


def test_a_lagging_stream_and_consumer_are_found_by_the_sweep(table: str) -> None:
    boto3.client("kinesis").create_stream(StreamName="clicks", ShardCount=1)
    create_workload_function("projector")
    stream = _table(
        "orders", StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    )
    boto3.client("lambda").create_event_source_mapping(
        EventSourceArn=stream, FunctionName="projector", StartingPosition="LATEST"
    )
    at = SWEEP_AT - timedelta(minutes=30)
    age = {"StreamName": "clicks"}
    _put("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", age, 7 * 3_600_000, at)
    _put("AWS/Lambda", "IteratorAge", {"FunctionName": "projector"}, 13 * 3_600_000, at)

    plain = _cycle(table, SWEEP_AT - timedelta(minutes=5), CallStats())
    swept = _cycle(table, SWEEP_AT, CallStats())

    assert plain.batch.signals == []
    by_kind = {s.labels.kind: s for s in swept.batch.signals}
    assert by_kind["kinesis.iterator_age"].samples == {
        "age_seconds": 25_200.0,
        "retention_seconds": 86_400.0,
    }
    assert by_kind["lambda.iterator_age"].labels.resource == "projector"
    assert by_kind["lambda.iterator_age"].samples["age_seconds"] == 46_800.0


def test_a_stored_inventory_that_no_longer_parses_is_discovered_again(table: str) -> None:
    boto3.client("kinesis").create_stream(StreamName="clicks", ShardCount=1)
    state = CollectorState(boto3.client("dynamodb"), table)
    state.remember_inventory("kinesis", [{"name": "clicks"}], at=PLAIN_AT)
    stats = CallStats()

    cycle = _cycle(table, PLAIN_AT, stats)

    assert cycle.families["kinesis"].discovered
    assert stats.by_api["ListStreams"] == 1
    stored = state.inventory("kinesis")
    assert stored is not None
    assert [record["shards"] for record in stored] == [1]


def test_a_stored_inventory_that_is_not_json_is_discovered_again(table: str) -> None:
    boto3.client("dynamodb").put_item(
        TableName=table,
        Item={
            "pk": {"S": "DISCOVERY#dynamodb"},
            "sk": {"S": "inventory"},
            "records": {"S": "{not json"},
        },
    )

    cycle = _cycle(table, PLAIN_AT, CallStats())

    assert cycle.families["dynamodb"].discovered
    assert cycle.resources("dynamodb") == 1  # the state table itself
