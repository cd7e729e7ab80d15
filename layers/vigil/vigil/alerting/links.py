"""Deep links into the AWS console for the resource behind an alert, for every kind.

The CloudWatch console keeps its state in the URL fragment in a compact encoding
(objects ``~(key~value)``, arrays ``~(~a~b)``, strings ``~'text`` with characters outside
``[A-Za-z0-9_.-]`` written as ``*XX``); the Logs Insights page additionally percent-encodes
its query string with ``$`` in place of ``%``. Names in a path or query are percent-encoded;
the consoles' own forms (CloudFormation outputs and console links of public projects) are cited
in ``tests/unit/test_links.py``.
"""

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import quote

from vigil.core.model import Labels, Link

JsonValue = str | int | float | bool | list["JsonValue"] | dict[str, "JsonValue"]


def console_encode(value: JsonValue) -> str:
    """Encode a value the way the CloudWatch console expects it in a URL fragment."""
    if isinstance(value, bool):
        return "~" + ("true" if value else "false")
    if isinstance(value, int | float):
        return f"~{value}"
    if isinstance(value, str):
        return "~'" + _escape(value)
    if isinstance(value, list):
        return "~(" + "".join(console_encode(item) for item in value) + ")"
    inner = "~".join(_escape(key) + console_encode(item) for key, item in value.items())
    return "~(" + inner + ")"


_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    if char == "$":
        return "!"
    code = ord(char)
    return f"*{code:02x}" if code < 0x100 else f"**{code:04x}"


def _escape(text: str) -> str:
    """Characters outside ``[A-Za-z0-9_.-]`` as ``*XX`` (``**XXXX`` beyond Latin-1), ``$`` as
    ``!``; one regular-expression pass, since a storm renders thousands of links."""
    return _UNSAFE.sub(_escape_char, text)


def _partition(region: str) -> tuple[str, str]:
    """The ARN partition and console domain of a region."""
    if region.startswith("cn-"):
        return "aws-cn", "console.amazonaws.cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov", "console.amazonaws-us-gov.com"
    return "aws", "console.aws.amazon.com"


def _host(region: str) -> str:
    return f"https://{region}.{_partition(region)[1]}"


def _console(region: str, service: str) -> str:
    return f"{_host(region)}/{service}/home?region={region}"


def _name(text: str) -> str:
    """A name as one path segment or query value: every reserved character percent-encoded."""
    return quote(text, safe="")


def metric_link(
    region: str, metrics: list[list[str]], *, stat: str = "Sum", label: str = "Metric"
) -> Link:
    """A CloudWatch graph of ``metrics`` (each ``[namespace, name, dimension, value, ...]``),
    one-minute points over the last three hours."""
    graph: JsonValue = {
        "metrics": [list[JsonValue](metric) for metric in metrics],
        "view": "timeSeries",
        "stacked": False,
        "region": region,
        "stat": stat,
        "period": 60,
        "start": "-PT3H",
        "end": "P0D",
    }
    return Link(
        label=label, url=f"{_console(region, 'cloudwatch')}#metricsV2:graph={console_encode(graph)}"
    )


def logs_insights_link(
    region: str, log_group: str, query: str, *, start: datetime, end: datetime, label: str
) -> Link:
    """A Logs Insights query of one log group over ``start`` to ``end`` (absolute, UTC)."""
    detail: JsonValue = {
        "end": int(end.timestamp() * 1000),
        "start": int(start.timestamp() * 1000),
        "timeType": "ABSOLUTE",
        "tz": "UTC",
        "editorString": query,
        "source": [log_group],
    }
    insights = quote("?queryDetail=" + console_encode(detail), safe="~()'*!").replace("%", "$")
    return Link(label=label, url=f"{_console(region, 'cloudwatch')}#logsV2:logs-insights{insights}")


_ERROR_QUERY = (
    "fields @timestamp, @message, @logStream\n"
    "| filter @message like /(?i)(error|exception|task timed out)/\n"
    "| sort @timestamp desc\n| limit 100"
)


def function_link(region: str, name: str, *, tab: str = "monitoring") -> Link:
    return Link(
        label="Function", url=f"{_console(region, 'lambda')}#/functions/{_name(name)}?tab={tab}"
    )


def lambda_links(
    labels: Labels, *, metric: str, window_end: datetime, stat: str = "Sum"
) -> list[Link]:
    """Links for a Lambda function alert: the metric graph, an error query, the function."""
    region, name = labels.region, labels.resource
    return [
        metric_link(region, [["AWS/Lambda", metric, "FunctionName", name]], stat=stat),
        logs_insights_link(
            region,
            f"/aws/lambda/{name}",
            _ERROR_QUERY,
            start=window_end - timedelta(hours=3),
            end=window_end,
            label="Logs Insights",
        ),
        function_link(region, name),
    ]


_TRACE_ID = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{1,100}$")


def trace_link(region: str, trace_id: str) -> Link | None:
    """The X-Ray trace in the CloudWatch console (``#xray:traces/<id>``); ``None`` for an id
    that is not an X-Ray trace id (``1-<8 hex>-<24 hex>``, the X-Ray developer guide's
    "Trace ID format"), so untrusted text never becomes a link."""
    if not _TRACE_ID.match(trace_id):
        return None
    return Link(label="Trace", url=f"{_console(region, 'cloudwatch')}#xray:traces/{trace_id}")


def request_lines_link(
    region: str, function: str, request_id: str, *, start: datetime, end: datetime
) -> Link | None:
    """A Logs Insights query of one request's lines in the function's log group; ``None`` for
    a request id that could change the query (Lambda's ids are UUIDs)."""
    if not _REQUEST_ID.match(request_id):
        return None
    query = (
        "fields @timestamp, @message, @logStream\n"
        f'| filter @requestId = "{request_id}" or @message like "{request_id}"\n'
        "| sort @timestamp asc\n| limit 200"
    )
    return logs_insights_link(
        region, f"/aws/lambda/{function}", query, start=start, end=end, label="Log lines"
    )


def cost_links() -> list[Link]:
    """Cost Explorer: the last 30 days, daily, grouped by service."""
    return [
        Link(
            label="Cost Explorer",
            url=(
                "https://us-east-1.console.aws.amazon.com/costmanagement/home#/cost-explorer"
                "?chartStyle=STACK&granularity=Daily&groupBy=%5B%22Service%22%5D"
                "&historicalRelativeRange=LAST_30_DAYS"
            ),
        )
    ]


def stack_link(region: str, stack: str, *, tab: str = "stackinfo") -> Link:
    """The Vigil stack in the CloudFormation console (``stackinfo``, ``parameters``...)."""
    return Link(
        label="Stack",
        url=f"{_console(region, 'cloudformation')}#/stacks/{tab}?stackId={_name(stack)}",
    )


def queue_link(region: str, account: str, queue: str) -> Link:
    """An SQS queue by its URL (``https://sqs.<region>.amazonaws.com/<account>/<name>``),
    which the console's v3 page takes percent-encoded."""
    url = f"https://sqs.{region}.amazonaws.com/{account}/{queue}"
    if region.startswith("cn-"):
        url = f"https://sqs.{region}.amazonaws.com.cn/{account}/{queue}"
    return Link(label="Queue", url=f"{_console(region, 'sqs/v3')}#/queues/{_name(url)}")


def table_link(region: str, table: str) -> Link:
    return Link(
        label="Table",
        url=f"{_console(region, 'dynamodbv2')}#table?name={_name(table)}&tab=monitoring",
    )


def stream_link(region: str, stream: str) -> Link:
    return Link(
        label="Stream",
        url=f"{_console(region, 'kinesis')}#/streams/details/{_name(stream)}/monitoring",
    )


def bucket_link(region: str, bucket: str) -> Link:
    return Link(
        label="Bucket metrics",
        url=f"{_host(region)}/s3/buckets/{_name(bucket)}?region={region}&tab=metrics",
    )


def state_machine_arn(region: str, account: str, name: str) -> str:
    return f"arn:{_partition(region)[0]}:states:{region}:{account}:stateMachine:{name}"


def state_machine_link(region: str, arn: str) -> Link:
    """The state machine's page, which lists its executions."""
    return Link(
        label="Executions", url=f"{_console(region, 'states')}#/statemachines/view/{_name(arn)}"
    )


def quota_link(region: str, service: str, code: str) -> Link:
    return Link(
        label="Quota",
        url=(
            f"{_host(region)}/servicequotas/home/services/{_name(service)}/quotas/{_name(code)}"
            f"?region={region}"
        ),
    )


_HTTP_API = re.compile(r"^(?P<name>.*) \((?P<id>[a-z0-9]{10})\)$")
"""An HTTP API as its alerts name it, ``<name> (<id>)`` (vigil.dials.apigateway); a REST API
is named by its name alone."""


def _api_links(labels: Labels, metric: str, stat: str) -> list[Link]:
    region = labels.region
    http = _HTTP_API.match(labels.resource)
    if labels.kind.startswith("apigateway.rest_") or http is None:
        return [
            metric_link(
                region, [["AWS/ApiGateway", metric, "ApiName", labels.resource]], stat=stat
            ),
            Link(label="APIs", url=f"{_host(region)}/apigateway/main/apis?region={region}"),
        ]
    api = http.group("id")
    http_metric = {"5XXError": "5xx", "4XXError": "4xx"}.get(metric, metric)
    return [
        metric_link(region, [["AWS/ApiGateway", http_metric, "ApiId", api]], stat=stat),
        Link(
            label="API",
            url=f"{_host(region)}/apigateway/main/apis/{api}/routes?api={api}&region={region}",
        ),
    ]


def _table(resource: str) -> tuple[str, str | None]:
    """A DynamoDB resource, ``orders`` or ``orders/index/by-customer``: table and index."""
    table, _, index = resource.partition("/index/")
    return table, index or None


def _dynamodb_links(labels: Labels, metrics: list[str], stat: str) -> list[Link]:
    table, index = _table(labels.resource)
    dimensions = ["TableName", table] + (["GlobalSecondaryIndexName", index] if index else [])
    graph = [["AWS/DynamoDB", metric, *dimensions] for metric in metrics]
    return [table_link(labels.region, table), metric_link(labels.region, graph, stat=stat)]


def _states_links(labels: Labels, metric: str) -> list[Link]:
    arn = state_machine_arn(labels.region, labels.account, labels.resource)
    return [
        state_machine_link(labels.region, arn),
        metric_link(labels.region, [["AWS/States", metric, "StateMachineArn", arn]]),
    ]


def _kinesis_links(labels: Labels, metrics: list[str], stat: str) -> list[Link]:
    graph = [["AWS/Kinesis", metric, "StreamName", labels.resource] for metric in metrics]
    return [
        stream_link(labels.region, labels.resource),
        metric_link(labels.region, graph, stat=stat),
    ]


def _sqs_links(labels: Labels, metric: str, stat: str) -> list[Link]:
    return [
        queue_link(labels.region, labels.account, labels.resource),
        metric_link(labels.region, [["AWS/SQS", metric, "QueueName", labels.resource]], stat=stat),
    ]


def _function_links(labels: Labels, metrics: list[str], stat: str) -> list[Link]:
    graph = [["AWS/Lambda", metric, "FunctionName", labels.resource] for metric in metrics]
    return [
        function_link(labels.region, labels.resource),
        metric_link(labels.region, graph, stat=stat),
    ]


def _account_concurrency(labels: Labels) -> list[Link]:
    region = labels.region
    return [
        metric_link(
            region,
            [["AWS/Lambda", "ConcurrentExecutions"], ["AWS/Lambda", "ClaimedAccountConcurrency"]],
            stat="Maximum",
        ),
        # "Concurrent executions", the account's Lambda concurrency quota (L-B99A9384).
        quota_link(region, "lambda", "L-B99A9384"),
    ]


def _errors(metric: str) -> Callable[[Labels, datetime], list[Link]]:
    def links(labels: Labels, window_end: datetime) -> list[Link]:
        if labels.resource == "account":
            graph = [["AWS/Lambda", metric], ["AWS/Lambda", "Invocations"]]
            return [
                metric_link(labels.region, graph),
                Link(label="Functions", url=f"{_console(labels.region, 'lambda')}#/functions"),
            ]
        return lambda_links(labels, metric=metric, window_end=window_end)

    return links


_TAGGED: dict[str, Callable[[str, str, str], Link]] = {
    "lambda": lambda region, account, name: function_link(region, name),
    "sqs": queue_link,
    "dynamodb": lambda region, account, name: table_link(region, name),
    "kinesis": lambda region, account, name: stream_link(region, name),
    "s3": lambda region, account, name: bucket_link(region, name),
    "states": lambda region, account, name: state_machine_link(
        region, state_machine_arn(region, account, name)
    ),
}


def _tagged_resource(labels: Labels) -> list[Link]:
    """``vigil.resource_tags_invalid``: the resource (``<service>:<name>``), whose tags to fix."""
    service, _, name = labels.resource.partition(":")
    make = _TAGGED.get(service)
    return [make(labels.region, labels.account, name)] if make and name else []


type LinkMaker = Callable[[Labels, datetime], list[Link]]


def _alarm(labels: Labels) -> list[Link]:
    """A CloudWatch alarm's own page: its graph, history and actions (ADR 47)."""
    url = f"{_console(labels.region, 'cloudwatch')}#alarmsV2:alarm/{_name(labels.resource)}"
    return [Link(label="Alarm", url=url)]


_BY_KIND: dict[str, LinkMaker] = {
    "cloudwatch.alarm": lambda labels, _: _alarm(labels),
    "lambda.errors": _errors("Errors"),
    "lambda.async_errors": _errors("Errors"),
    "lambda.new_error_type": _errors("Errors"),
    "lambda.throttles": _errors("Throttles"),
    "lambda.account_concurrency": lambda labels, _: _account_concurrency(labels),
    "lambda.reserved_concurrency": lambda labels, _: _function_links(
        labels, ["ConcurrentExecutions"], "Maximum"
    ),
    "lambda.duration_timeout": lambda labels, end: lambda_links(
        labels, metric="Duration", window_end=end, stat="Maximum"
    ),
    "lambda.async_failures": lambda labels, _: _function_links(
        labels, ["AsyncEventsDropped", "DeadLetterErrors", "DestinationDeliveryFailures"], "Sum"
    ),
    "lambda.iterator_age": lambda labels, _: _function_links(labels, ["IteratorAge"], "Maximum"),
    "sqs.dlq_messages": lambda labels, _: _sqs_links(
        labels, "ApproximateNumberOfMessagesVisible", "Maximum"
    ),
    "sqs.failure_rate": lambda labels, _: _sqs_links(
        labels, "ApproximateNumberOfMessagesVisible", "Maximum"
    ),
    "dynamodb.capacity": lambda labels, _: _dynamodb_links(
        labels, ["ConsumedReadCapacityUnits", "ConsumedWriteCapacityUnits"], "Sum"
    ),
    "dynamodb.throttles": lambda labels, _: _dynamodb_links(
        labels, ["ReadThrottleEvents", "WriteThrottleEvents"], "Sum"
    ),
    # SystemErrors is published per operation too: the table's page graphs them all.
    "dynamodb.system_errors": lambda labels, _: [table_link(labels.region, labels.resource)],
    "kinesis.write_throttles": lambda labels, _: _kinesis_links(
        labels, ["WriteProvisionedThroughputExceeded"], "Sum"
    ),
    "kinesis.shard_capacity": lambda labels, _: _kinesis_links(
        labels, ["IncomingBytes", "IncomingRecords"], "Sum"
    ),
    "kinesis.iterator_age": lambda labels, _: _kinesis_links(
        labels, ["GetRecords.IteratorAgeMilliseconds"], "Maximum"
    ),
    # The request metrics carry the bucket's filter id, which an alert does not: the bucket's
    # metrics tab shows them.
    "s3.5xx_rate": lambda labels, _: [bucket_link(labels.region, labels.resource)],
    "s3.latency": lambda labels, _: [bucket_link(labels.region, labels.resource)],
    "s3.request_metrics_missing": lambda labels, _: [bucket_link(labels.region, labels.resource)],
    "states.executions_failed": lambda labels, _: _states_links(labels, "ExecutionsFailed"),
    "states.executions_timed_out": lambda labels, _: _states_links(labels, "ExecutionsTimedOut"),
    "states.executions_throttled": lambda labels, _: _states_links(labels, "ExecutionThrottled"),
    "states.executions_aborted": lambda labels, _: _states_links(labels, "ExecutionsAborted"),
    "apigateway.rest_5xx": lambda labels, _: _api_links(labels, "5XXError", "Sum"),
    "apigateway.http_5xx": lambda labels, _: _api_links(labels, "5XXError", "Sum"),
    "apigateway.rest_4xx": lambda labels, _: _api_links(labels, "4XXError", "Sum"),
    "apigateway.http_4xx": lambda labels, _: _api_links(labels, "4XXError", "Sum"),
    "apigateway.latency": lambda labels, _: _api_links(labels, "Latency", "p99"),
    "vigil.resource_tags_invalid": lambda labels, _: _tagged_resource(labels),
}


def resource_links(labels: Labels, *, window_end: datetime, stack: str | None) -> list[Link]:
    """The console links of an alert's resource: the resource's page and its metric where
    the kind has one; cost alerts get Cost Explorer, Vigil's own alerts the stack."""
    if labels.kind.startswith("cost."):
        return cost_links()
    if labels.kind == "quota.usage":
        service, _, code = labels.resource.partition("/")
        return [quota_link(labels.region, service, code)] if code else []
    make = _BY_KIND.get(labels.kind)
    links = make(labels, window_end) if make else []
    if stack is None:
        return links
    if labels.kind == "vigil.config_invalid":
        links.append(stack_link(labels.region, stack, tab="parameters"))
    elif labels.kind.startswith("vigil."):
        links.append(stack_link(labels.region, stack))
    return links
