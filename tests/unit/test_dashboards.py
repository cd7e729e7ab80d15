"""The stack's dashboard of Vigil itself (template.yaml, ``VigilDashboard``; ADR 47) shows only
metrics that exist: each is one Vigil emits (a Powertools ``add_metric`` of the layer, namespace
``Vigil``, dimension ``service``) or an AWS metric of one of this stack's own resources, named by
the dimension AWS gives it. Its body stays within CloudWatch's "Dashboard Body Structure and
Syntax" (0 to 500 widgets on a grid 24 units wide) and under 1 MB."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE: dict[str, Any] = yaml_parse((ROOT / "template.yaml").read_text())
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
DASHBOARD = RESOURCES["VigilDashboard"]

# The AWS metrics of a stack resource: namespace -> (dimension, resource type, attribute the
# dimension's value is: "" for the resource's Ref).
AWS_METRICS = {
    "AWS/Lambda": ("FunctionName", "AWS::Serverless::Function", ""),
    "AWS/States": ("StateMachineArn", "AWS::Serverless::StateMachine", ""),
    "AWS/SQS": ("QueueName", "AWS::SQS::Queue", "QueueName"),
    "AWS/SNS": ("TopicName", "AWS::SNS::Topic", "TopicName"),
}
# The metric names each AWS namespace publishes that the dashboard may show (AWS's docs:
# Lambda, Step Functions, SQS and SNS "metrics and dimensions" pages).
AWS_NAMES = {
    "AWS/Lambda": {"Invocations", "Errors", "Throttles", "Duration"},
    "AWS/States": {"ExecutionTime", "ExecutionsFailed", "ExecutionsStarted"},
    "AWS/SQS": {"ApproximateNumberOfMessagesVisible"},
    "AWS/SNS": {
        "NumberOfNotificationsDelivered",
        "NumberOfNotificationsFailed",
        "NumberOfMessagesPublished",
    },
}
_SUB = re.compile(r"\$\{([A-Za-z0-9:]+)(?:\.([A-Za-z]+))?\}")


def emitted() -> set[str]:
    """Every metric name the layer emits: literal ``add_metric`` names, the chat outcomes
    (``Chat_<outcome>``) and the names bound to constants."""
    layer = ROOT / "layers" / "vigil" / "vigil"
    text = "\n".join(p.read_text() for p in layer.rglob("*.py"))
    names = set(re.findall(r'add_metric\(\s*"(\w+)"', text))
    names |= set(re.findall(r'"(SlackButton\w+)"', text))
    names |= set(re.findall(r'^\w+_METRIC = "(\w+)"', text, re.M))
    delivery = (layer / "channels" / "delivery.py").read_text()
    outcomes = set(re.findall(r'return "([a-z-]+)"', delivery)) | {"in-flight", "duplicate"}
    names |= {f"Chat_{o.replace('-', '_')}" for o in outcomes}
    return names


def bodies() -> list[str]:
    """The dashboard body as deployed, with and without the error stream (HasErrorStream)."""
    parts = DASHBOARD["Properties"]["DashboardBody"]["Fn::Join"][1]
    with_stream, without = "", ""
    for part in parts:
        if isinstance(part, str):
            with_stream, without = with_stream + part, without + part
        elif "Fn::Sub" in part:
            with_stream, without = with_stream + part["Fn::Sub"], without + part["Fn::Sub"]
        else:
            condition, yes, no = part["Fn::If"]
            assert condition == "HasErrorStream"
            with_stream += yes["Fn::Sub"] if isinstance(yes, dict) else yes
            without += no["Fn::Sub"] if isinstance(no, dict) else no
    return [with_stream, without]


def metrics_of(body: str) -> list[tuple[list[Any], str]]:
    document = json.loads(body)
    return [
        (metric, widget["properties"]["title"])
        for widget in document["widgets"]
        if widget["type"] == "metric"
        for metric in widget["properties"]["metrics"]
    ]


@pytest.mark.parametrize("body", bodies(), ids=["error stream on", "error stream off"])
def test_every_metric_on_the_dashboard_is_vigils_or_a_stack_resources(body: str) -> None:
    names = emitted()
    wrong: list[str] = []
    for metric, title in metrics_of(body):
        namespace, name, dimension, value = metric[:4]
        if namespace == "Vigil":
            if (dimension, value) != ("service", "vigil") or name not in names:
                wrong.append(f"{title}: Vigil {name} is not emitted by the layer")
            continue
        expected, resource_type, attribute = AWS_METRICS[namespace]
        reference = _SUB.fullmatch(value)
        assert reference is not None, f"{title}: {value} names no stack resource"
        logical_id, attr = reference.group(1), reference.group(2) or ""
        resource = RESOURCES.get(logical_id, {})
        if dimension != expected or resource.get("Type") != resource_type or attr != attribute:
            wrong.append(f"{title}: {namespace} {name} {dimension}={value}")
        if name not in AWS_NAMES[namespace]:
            wrong.append(f"{title}: {namespace} has no metric {name}")

    assert wrong == []


def test_the_error_stream_widget_exists_only_with_the_error_stream() -> None:
    on, off = bodies()

    assert "ErrorStreamFunction" in on
    assert "ErrorStreamFunction" not in off
    assert RESOURCES["ErrorStreamFunction"]["Condition"] == "HasErrorStream"


def test_the_dashboard_shows_what_issue_16_asks_for() -> None:
    shown = {(m[0], m[1]) for m, _ in metrics_of(bodies()[0])}

    assert {
        ("AWS/Lambda", "Invocations"),  # collection cycles
        ("Vigil", "MetricsRequested"),
        ("Vigil", "SignalsCollected"),
        ("Vigil", "Chat_posted"),  # notifications by channel
        ("AWS/SNS", "NumberOfMessagesPublished"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),  # DLQ depths
        ("AWS/States", "ExecutionTime"),  # Evaluate duration
        ("AWS/States", "ExecutionsFailed"),
        ("Vigil", "CostExplorerRequests"),
        ("Vigil", "ErrorLines"),  # error stream deliveries
    } <= shown


def test_the_dashboard_is_within_cloudwatchs_limits() -> None:
    for body in bodies():
        document = json.loads(body)
        assert len(body.encode()) < 1_000_000
        assert 1 <= len(document["widgets"]) <= 500
        for widget in document["widgets"]:
            assert 1 <= widget["width"] <= 24
