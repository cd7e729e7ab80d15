"""The watched resources' key metrics as one CloudWatch dashboard, built from the inventories
the hourly discovery stored (ADR 47): no call to AWS but the state table's.

The Lambda functions are shown by the account's own aggregates (the collector's fast path): the
discovery keeps no list of every function, and one graph per function would not scale. DynamoDB
tables, Kinesis streams, API Gateway APIs, Step Functions state machines and the functions with
reserved concurrency are shown by resource, a few to a graph. The body stays within
CloudWatch's limits ("Dashboard Body Structure and Syntax": 0 to 500 widgets; a grid 24 units
wide) and under 1 MB: what does not fit is counted in a text widget, never cut silently.
"""

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from vigil.dials.apigateway import Api
from vigil.dials.base import MetricKey
from vigil.dials.inventory import InventoryStore, stored
from vigil.dials.kinesis import stream_metric
from vigil.dials.reserved_concurrency import Reservation, concurrency_metric
from vigil.dials.resources import InventoryUnreadable, StreamInfo, TableInfo
from vigil.dials.step_functions import StateMachine, execution_metric

MAX_WIDGETS: Final = 500
MAX_BODY_BYTES: Final = 1_000_000
PER_GRAPH: Final = 10
"""Resources on one graph: a legend still readable."""
_WIDTH, _HEIGHT, _GRID = 12, 6, 24


@dataclass(frozen=True)
class Graph:
    """One metric widget: its title and its metrics."""

    title: str
    metrics: tuple[MetricKey, ...]


def _account_lambda() -> Graph:
    return Graph(
        "Lambda (every function of the region)",
        tuple(
            MetricKey("AWS/Lambda", metric, (), stat)
            for metric, stat in (
                ("Invocations", "Sum"),
                ("Errors", "Sum"),
                ("Throttles", "Sum"),
                ("ConcurrentExecutions", "Maximum"),
            )
        ),
    )


def _chunks[T](items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _graphs[T](
    title: str, items: Sequence[T], metrics: Callable[[T], Iterable[MetricKey]]
) -> list[Graph]:
    """``title``'s graphs: ``PER_GRAPH`` resources each, numbered when there are several."""
    chunks = list(_chunks(items, PER_GRAPH))
    return [
        Graph(
            title if len(chunks) == 1 else f"{title} ({number} of {len(chunks)})",
            tuple(key for item in chunk for key in metrics(item)),
        )
        for number, chunk in enumerate(chunks, start=1)
    ]


def graphs(
    *,
    tables: Sequence[TableInfo] = (),
    streams: Sequence[StreamInfo] = (),
    apis: Sequence[Api] = (),
    machines: Sequence[StateMachine] = (),
    reservations: Sequence[Reservation] = (),
) -> list[Graph]:
    """The dashboard's graphs for these resources, each family's by name."""

    def table(info: TableInfo) -> Iterable[MetricKey]:
        dims = (("TableName", info.name),)
        yield MetricKey("AWS/DynamoDB", "ThrottledRequests", dims)
        yield MetricKey("AWS/DynamoDB", "SystemErrors", dims)

    def stream(info: StreamInfo) -> Iterable[MetricKey]:
        yield stream_metric(info.name, "WriteProvisionedThroughputExceeded")
        yield stream_metric(info.name, "GetRecords.IteratorAgeMilliseconds", "Maximum")

    def api(item: Api) -> Iterable[MetricKey]:
        yield item.metric("errors")
        yield item.metric("requests")

    def machine(item: StateMachine) -> Iterable[MetricKey]:
        yield execution_metric(item.arn, "ExecutionsFailed")
        yield execution_metric(item.arn, "ExecutionsTimedOut")

    def reserved(item: Reservation) -> Iterable[MetricKey]:
        yield concurrency_metric(item.function)

    return [
        _account_lambda(),
        *_graphs("DynamoDB throttles and system errors", sorted(tables, key=_name), table),
        *_graphs("Kinesis write throttles and iterator age", sorted(streams, key=_name), stream),
        *_graphs("API Gateway 5xx and requests", sorted(apis, key=lambda a: a.resource), api),
        *_graphs("Step Functions failed and timed out", sorted(machines, key=_name), machine),
        *_graphs(
            "Reserved concurrency in use",
            sorted(reservations, key=lambda r: r.function),
            reserved,
        ),
    ]


def _name(item: TableInfo | StreamInfo | StateMachine) -> str:
    return item.name


def stored_graphs(state: InventoryStore) -> list[Graph]:
    """The graphs of what the last discovery stored; a family with nothing stored (never
    discovered, or switched off) has none."""

    def records[R](family: str, parse: Callable[[dict[str, Any]], R]) -> list[R]:
        try:
            return [parse(record) for record in state.inventory(family) or []]
        except (InventoryUnreadable, KeyError, TypeError, ValueError):
            return []

    return graphs(
        tables=records("dynamodb", TableInfo.from_record),
        streams=records("kinesis", StreamInfo.from_record),
        apis=stored(state, "apigateway", Api) or [],
        machines=stored(state, "states", StateMachine) or [],
        reservations=[r for r in stored(state, "reserved", Reservation) or [] if r.reserved > 0],
    )


def _metric(key: MetricKey) -> list[Any]:
    label = " ".join(value for _, value in key.dimensions) or "account"
    return [
        key.namespace,
        key.metric,
        *[part for pair in key.dimensions for part in pair],
        {"stat": key.stat, "label": f"{label} {key.metric}"},
    ]


def dashboard_body(found: Sequence[Graph], *, region: str, stack: str) -> str:
    """The dashboard's JSON body: a heading, then the graphs two to a row, as many as
    CloudWatch takes; the rest counted in a last text widget."""
    heading = {
        "type": "text",
        "x": 0,
        "y": 0,
        "width": _GRID,
        "height": 2,
        "properties": {
            "markdown": f"# Resources watched by Vigil `{stack}`\nGenerated from the stored"
            " discovery; edits here are overwritten at the next generation."
        },
    }
    widgets: list[dict[str, Any]] = [heading]
    omitted = 0
    size = len(_compact({"widgets": [heading]}).encode())
    for index, graph in enumerate(found):
        widget = {
            "type": "metric",
            "x": (index % 2) * _WIDTH,
            "y": 2 + (index // 2) * _HEIGHT,
            "width": _WIDTH,
            "height": _HEIGHT,
            "properties": {
                "title": graph.title,
                "region": region,
                "view": "timeSeries",
                "stacked": False,
                "period": 300,
                "metrics": [_metric(key) for key in graph.metrics],
            },
        }
        added = len(_compact(widget).encode()) + 1  # and its comma
        # one widget kept free for the note of what was left out
        if len(widgets) + 1 >= MAX_WIDGETS or size + added > MAX_BODY_BYTES - 1_000:
            omitted = len(found) - index
            break
        widgets.append(widget)
        size += added
    if omitted:
        widgets.append(
            {
                "type": "text",
                "x": 0,
                "y": 2 + len(widgets) // 2 * _HEIGHT,  # below the last row of graphs
                "width": _GRID,
                "height": 2,
                "properties": {
                    "markdown": f"{omitted} more graphs do not fit one dashboard"
                    f" ({MAX_WIDGETS} widgets, 1 MB)."
                },
            }
        )
    return _compact({"widgets": widgets})


def _compact(document: object) -> str:
    return json.dumps(document, separators=(",", ":"))
