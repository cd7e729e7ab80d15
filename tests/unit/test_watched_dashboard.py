"""The generated dashboard of the watched resources (``vigil.dials.dashboard``, ADR 47): the
account's Lambda aggregates and each stored family's resources a few to a graph, within
CloudWatch's limits ("Dashboard Body Structure and Syntax" in the CloudWatch API reference: 0 to
500 widgets on a grid 24 units wide) and under 1 MB, what does not fit counted, never dropped
silently."""

import json
from typing import Any

from vigil.dials.apigateway import REST_KIND, Api
from vigil.dials.dashboard import MAX_BODY_BYTES, MAX_WIDGETS, PER_GRAPH, Graph, dashboard_body
from vigil.dials.dashboard import graphs as make_graphs
from vigil.dials.reserved_concurrency import Reservation
from vigil.dials.resources import StreamInfo, TableInfo
from vigil.dials.step_functions import StateMachine


def table(name: str) -> TableInfo:
    return TableInfo(name=name, arn=f"arn:aws:dynamodb:us-east-1:1:table/{name}",
                     billing_mode="PAY_PER_REQUEST", capacity=None)  # fmt: skip


def body(found: list[Graph]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(dashboard_body(found, region="us-east-1", stack="vigil"))
    return document


def test_an_account_with_nothing_stored_shows_the_lambda_aggregates() -> None:
    (only,) = make_graphs()

    assert [key.metric for key in only.metrics] == [
        "Invocations",
        "Errors",
        "Throttles",
        "ConcurrentExecutions",
    ]
    assert all(key.dimensions == () for key in only.metrics)


def test_each_family_is_shown_a_few_resources_to_a_graph() -> None:
    tables = [table(f"orders-{n:02d}") for n in range(PER_GRAPH * 2 + 1)]
    found = make_graphs(
        tables=tables,
        streams=[
            StreamInfo(name="clicks", arn="arn:s", mode="ON_DEMAND", shards=2, retention_hours=24)
        ],
        apis=[Api(kind=REST_KIND, id="a1", name="orders")],
        machines=[
            StateMachine(arn="arn:aws:states:us-east-1:1:stateMachine:checkout", name="checkout")
        ],
        reservations=[Reservation(function="payments", reserved=50)],
    )
    titles = [graph.title for graph in found]

    assert titles == [
        "Lambda (every function of the region)",
        "DynamoDB throttles and system errors (1 of 3)",
        "DynamoDB throttles and system errors (2 of 3)",
        "DynamoDB throttles and system errors (3 of 3)",
        "Kinesis write throttles and iterator age",
        "API Gateway 5xx and requests",
        "Step Functions failed and timed out",
        "Reserved concurrency in use",
    ]
    assert len(found[1].metrics) == 2 * PER_GRAPH
    assert found[5].metrics[0].dimensions == (("ApiName", "orders"),)


def test_the_body_lays_graphs_two_to_a_row_under_a_heading() -> None:
    document = body(make_graphs(tables=[table("a"), table("b")]))
    heading, lambda_graph, tables = document["widgets"]

    assert (heading["type"], heading["width"]) == ("text", 24)
    assert (lambda_graph["x"], lambda_graph["y"], tables["x"], tables["y"]) == (0, 2, 12, 2)
    assert tables["properties"]["metrics"][0] == [
        "AWS/DynamoDB", "ThrottledRequests", "TableName", "a",
        {"stat": "Sum", "label": "a ThrottledRequests"},
    ]  # fmt: skip


def test_more_graphs_than_a_dashboard_takes_are_counted_in_a_last_widget() -> None:
    reserved = [Reservation(function=f"f{n:04d}", reserved=1) for n in range(PER_GRAPH * 600)]
    found = make_graphs(reservations=reserved)
    document = body(found)
    widgets = document["widgets"]

    assert len(widgets) == MAX_WIDGETS
    assert widgets[-1]["type"] == "text"
    shown = sum(1 for w in widgets if w["type"] == "metric")
    assert widgets[-1]["properties"]["markdown"].startswith(f"{len(found) - shown} more graphs")


def test_the_body_stays_under_a_megabyte_whatever_the_names() -> None:
    long = [table("t" * 200 + f"{n:05d}") for n in range(PER_GRAPH * 450)]
    text = dashboard_body(make_graphs(tables=long), region="us-east-1", stack="vigil")

    assert len(text.encode()) <= MAX_BODY_BYTES
    assert "more graphs do not fit" in text
