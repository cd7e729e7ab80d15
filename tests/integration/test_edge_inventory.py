"""The edge discovery adapters on moto, and on botocore's Stubber where moto falls short
(``ListBucketMetricsConfigurations`` lists nothing, ``ListServiceQuotas`` is not implemented)."""

import json
from datetime import timedelta

import boto3
import pytest
from botocore.stub import Stubber

from tests.factories import T0
from tests.integration.conftest import create_workload_function
from vigil.adapters.collector_state import CollectorState
from vigil.adapters.inventory import (
    HttpApis,
    InventoryUnavailable,
    LambdaDestinations,
    LambdaReservations,
    ResourceTags,
    RestApis,
    S3Buckets,
    ServiceQuotas,
    StateMachines,
)
from vigil.adapters.stats import CallStats
from vigil.dials.resources import MetricsFilter, UnknownService

ACCOUNT = "123456789012"


def test_buckets_of_the_region_and_their_request_metrics_filters(aws: None) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="media-uploads")
    boto3.client("s3", region_name="eu-west-1").create_bucket(
        Bucket="eu-archive", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    stats = CallStats()
    buckets = S3Buckets(s3, "us-east-1", stats)
    stub = boto3.client("s3")
    stubbed = S3Buckets(stub, "us-east-1", stats)

    with Stubber(stub) as stubber:
        stubber.add_response(
            "list_bucket_metrics_configurations",
            {
                "IsTruncated": True,
                "NextContinuationToken": "page-2",
                "MetricsConfigurationList": [
                    {"Id": "images", "Filter": {"Prefix": "images/"}},
                ],
            },
            {"Bucket": "media-uploads"},
        )
        stubber.add_response(
            "list_bucket_metrics_configurations",
            {"IsTruncated": False, "MetricsConfigurationList": [{"Id": "EntireBucket"}]},
            {"Bucket": "media-uploads", "ContinuationToken": "page-2"},
        )
        filters = stubbed.metrics_filters("media-uploads")

    assert buckets.names() == ["media-uploads"]
    assert filters == [MetricsFilter("images", False), MetricsFilter("EntireBucket", True)]
    assert stats.by_api == {"ListBuckets": 1, "ListBucketMetricsConfigurations": 2}


def test_state_machines_and_apis_with_their_tags(aws: None) -> None:
    boto3.client("stepfunctions").create_state_machine(
        name="order-flow",
        definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
    )
    boto3.client("apigateway").create_rest_api(name="orders-api", tags={"team": "orders"})
    v2 = boto3.client("apigatewayv2")
    http = v2.create_api(Name="search", ProtocolType="HTTP", Tags={"team": "search"})["ApiId"]
    v2.create_api(
        Name="chat", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )
    stats = CallStats()

    machines = StateMachines(boto3.client("stepfunctions"), stats).list()
    rest = RestApis(boto3.client("apigateway"), stats).list()
    apis = HttpApis(v2, stats).list()

    assert [(m.id, m.name) for m in machines] == [
        (f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:order-flow", "order-flow")
    ]
    assert [(a.name, a.tags) for a in rest] == [("orders-api", {"team": "orders"})]
    assert [(a.id, a.name, a.tags) for a in apis] == [(http, "search", {"team": "search"})]
    assert stats.by_api == {"ListStateMachines": 1, "GetRestApis": 1, "GetApis": 1}


def test_service_quotas_with_a_usage_metric_keep_their_period() -> None:
    client = boto3.client("service-quotas", region_name="us-east-1")
    usage = {
        "MetricNamespace": "AWS/Usage",
        "MetricName": "CallCount",
        "MetricDimensions": {"Service": "States", "Type": "API", "Resource": "StartExecution",
                             "Class": "None"},
        "MetricStatisticRecommendation": "Sum",
    }  # fmt: skip
    with Stubber(client) as stubber:
        stubber.add_response(
            "list_service_quotas",
            {
                "Quotas": [
                    {"QuotaCode": "L-AAAAAAAA", "QuotaName": "StartExecution rate", "Value": 800.0,
                     "UsageMetric": usage, "Period": {"PeriodValue": 1, "PeriodUnit": "SECOND"}},
                    {"QuotaCode": "L-BBBBBBBB", "QuotaName": "State machines", "Value": 10000.0},
                ],
                "NextToken": "more",
            },
            {"ServiceCode": "states", "MaxResults": 100},
        )  # fmt: skip
        stubber.add_response(
            "list_service_quotas",
            {"Quotas": []},
            {"ServiceCode": "states", "MaxResults": 100, "NextToken": "more"},
        )
        stats = CallStats()
        found = ServiceQuotas(client, stats).with_usage("states")

    (rate,) = found
    assert (rate.code, rate.value, rate.period_seconds, rate.metric, rate.statistic) == (
        "L-AAAAAAAA",
        800.0,
        1,
        "CallCount",
        "Sum",
    )
    assert dict(rate.dimensions)["Resource"] == "StartExecution"
    assert stats.by_api == {"ListServiceQuotas": 2}


def test_an_unknown_service_code_is_named() -> None:
    client = boto3.client("service-quotas", region_name="us-east-1")
    with Stubber(client) as stubber:
        stubber.add_client_error(
            "list_service_quotas", "NoSuchResourceException", "The service does not exist."
        )
        with pytest.raises(UnknownService) as caught:
            ServiceQuotas(client).with_usage("lamda")

    assert "service_quotas.services: Service Quotas has no service 'lamda'" in str(caught.value)


def test_on_failure_destinations_of_functions_and_event_source_mappings(aws: None) -> None:
    create_workload_function("orders")
    create_workload_function("ingest")
    sqs = boto3.client("sqs")
    sqs.create_queue(QueueName="source")
    lam = boto3.client("lambda")
    failed = f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders-failed"
    lam.put_function_event_invoke_config(
        FunctionName="orders", DestinationConfig={"OnFailure": {"Destination": failed}}
    )
    mapped = f"arn:aws:sqs:us-east-1:{ACCOUNT}:ingest-failed"
    lam.create_event_source_mapping(
        FunctionName="ingest",
        EventSourceArn=f"arn:aws:sqs:us-east-1:{ACCOUNT}:source",
        DestinationConfig={"OnFailure": {"Destination": mapped}},
    )
    stats = CallStats()

    destinations = LambdaDestinations(lam, stats)
    by_function = destinations.function_destinations(["orders", "ingest", "deleted-since"])
    by_mapping = destinations.mapping_destinations()
    invoked_by_a_mapping = destinations.mapped_functions()

    assert by_function == {"orders": {failed}, "ingest": set()}
    assert by_mapping == {mapped}
    assert invoked_by_a_mapping == {"ingest"}
    # One listing of the mappings answers both questions.
    assert stats.by_api == {"ListFunctionEventInvokeConfigs": 3, "ListEventSourceMappings": 1}


def test_reserved_concurrency_of_the_functions_that_have_one(aws: None) -> None:
    for name in ("ledger-writer", "paused-job", "checkout-api"):
        create_workload_function(name)
    lam = boto3.client("lambda")
    lam.put_function_concurrency(FunctionName="ledger-writer", ReservedConcurrentExecutions=100)
    lam.put_function_concurrency(FunctionName="paused-job", ReservedConcurrentExecutions=0)
    stats = CallStats()

    reserved = LambdaReservations(lam, stats).reserved(
        ["ledger-writer", "paused-job", "checkout-api", "deleted-since"]
    )

    # No reservation: absent; deleted since it was listed: skipped; 0 kept (switched off).
    assert reserved == {"ledger-writer": 100, "paused-job": 0}
    assert stats.by_api == {"GetFunctionConcurrency": 4}


def test_a_refused_reservation_read_names_the_api(aws: None) -> None:
    client = boto3.client("lambda")
    with Stubber(client) as stubber:
        stubber.add_client_error("get_function_concurrency", "AccessDeniedException", "no")
        with pytest.raises(InventoryUnavailable) as caught:
            LambdaReservations(client).reserved(["ledger-writer"])

    assert "GetFunctionConcurrency failed" in str(caught.value)


def test_tags_by_arn_from_the_tagging_api(aws: None) -> None:
    create_workload_function("tagged")
    create_workload_function("untagged")
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:tagged"
    boto3.client("lambda").tag_resource(Resource=arn, Tags={"team": "payments"})
    stats = CallStats()

    tags = ResourceTags(boto3.client("resourcegroupstaggingapi"), stats).by_arn()

    assert tags == {arn: {"team": "payments"}}
    assert stats.by_api == {"GetResources": 1}


def test_a_failed_listing_names_the_api(aws: None) -> None:
    client = boto3.client("stepfunctions")
    with Stubber(client) as stubber:
        stubber.add_client_error("list_state_machines", "AccessDeniedException", "no")
        with pytest.raises(InventoryUnavailable) as caught:
            StateMachines(client).list()

    assert "ListStateMachines failed" in str(caught.value)


def test_an_inventory_round_trips_through_the_state_table(table: str) -> None:
    state = CollectorState(boto3.client("dynamodb"), table)
    record = [{"arn": f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:x", "name": "x"}]

    before = state.inventory("states")
    state.remember_inventory("states", record, at=T0 - timedelta(minutes=5))

    assert before is None
    assert state.inventory("states") == record
