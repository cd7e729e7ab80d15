"""Log-groups mode on moto (docs/architecture.md, ADR 42): the discovery puts Vigil's
subscription filter on each function's log group not subscribed yet, leaves a log group that
holds two filters of others alone (CloudWatch Logs allows two: PutSubscriptionFilter's API
reference), retries a log group that does not exist yet, and remembers what it subscribed."""

import boto3

from tests.factories import T0
from tests.integration.conftest import create_workload_function
from vigil.adapters.collector_state import CollectorState
from vigil.adapters.log_subscriptions import FILTER_NAME, LogSubscriptions
from vigil.adapters.stats import CallStats
from vigil.tracking.logs import FILTER_PATTERN
from vigil.tracking.subscriptions import subscribe_functions


def test_the_discovery_subscribes_each_function_once_and_never_over_two_filters(
    table: str,
) -> None:
    logs = boto3.client("logs")
    create_workload_function("stream")  # the destination must exist
    destination = boto3.client("lambda").get_function(FunctionName="stream")["Configuration"][
        "FunctionArn"
    ]
    for name in ("orders", "busy"):
        logs.create_log_group(logGroupName=f"/aws/lambda/{name}")
    for other in ("shipper-a", "shipper-b"):  # two filters of others on busy's log group
        logs.put_subscription_filter(
            logGroupName="/aws/lambda/busy",
            filterName=other,
            filterPattern="",
            destinationArn=destination,
        )
    stats = CallStats()
    state = CollectorState(boto3.client("dynamodb"), table, stats=stats)
    port = LogSubscriptions(logs, destination_arn=destination, pattern=FILTER_PATTERN, stats=stats)

    first = subscribe_functions(["orders", "busy", "never-ran"], port=port, state=state, now=T0)
    calls = stats.by_api.get("DescribeSubscriptionFilters", 0)
    second = subscribe_functions(["orders", "busy", "never-ran"], port=port, state=state, now=T0)

    assert first.subscribed == ["orders"]
    assert first.full == ["busy"]
    assert first.missing == ["never-ran"]
    filters = logs.describe_subscription_filters(logGroupName="/aws/lambda/orders")
    assert [(f["filterName"], f["filterPattern"]) for f in filters["subscriptionFilters"]] == [
        (FILTER_NAME, FILTER_PATTERN)
    ]
    assert second.subscribed == ["orders"]
    # orders is remembered: the second discovery asks only about the two it could not do.
    assert stats.by_api["DescribeSubscriptionFilters"] - calls == 2
    assert stats.by_api["PutSubscriptionFilter"] == 1
