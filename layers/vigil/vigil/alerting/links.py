"""Deep links into the AWS console for the resource behind an alert.

The CloudWatch console keeps its state in the URL fragment in a compact encoding
(objects ``~(key~value)``, arrays ``~(~a~b)``, strings ``~'text`` with characters outside
``[A-Za-z0-9_.-]`` written as ``*XX``); the Logs Insights page additionally percent-encodes
its query string with ``$`` in place of ``%``.
"""

import re
from datetime import datetime
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


def _console(region: str, service: str) -> str:
    return f"https://{region}.console.aws.amazon.com/{service}/home?region={region}"


def lambda_links(labels: Labels, *, metric: str, window_end: datetime) -> list[Link]:
    """Links for a Lambda function alert: the metric graph, an error query, the function."""
    region, name = labels.region, labels.resource
    graph: JsonValue = {
        "metrics": [["AWS/Lambda", metric, "FunctionName", name]],
        "view": "timeSeries",
        "stacked": False,
        "region": region,
        "stat": "Sum",
        "period": 60,
        "start": "-PT3H",
        "end": "P0D",
    }
    end_ms = int(window_end.timestamp() * 1000)
    query: JsonValue = {
        "end": end_ms,
        "start": end_ms - 3 * 3600 * 1000,
        "timeType": "ABSOLUTE",
        "tz": "UTC",
        "editorString": (
            "fields @timestamp, @message, @logStream\n"
            "| filter @message like /(?i)(error|exception|task timed out)/\n"
            "| sort @timestamp desc\n| limit 100"
        ),
        "source": [f"/aws/lambda/{name}"],
    }
    insights = quote("?queryDetail=" + console_encode(query), safe="~()'*!").replace("%", "$")
    return [
        Link(
            label="Metric",
            url=f"{_console(region, 'cloudwatch')}#metricsV2:graph={console_encode(graph)}",
        ),
        Link(
            label="Logs Insights",
            url=f"{_console(region, 'cloudwatch')}#logsV2:logs-insights{insights}",
        ),
        Link(
            label="Function",
            url=f"{_console(region, 'lambda')}#/functions/{quote(name)}?tab=monitoring",
        ),
    ]


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
