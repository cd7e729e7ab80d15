"""``vigil dashboard``: a CloudWatch dashboard of the resources Vigil watches, generated from the
discovery the collector stored in the state table (``vigil.dials.dashboard``, ADR 47).

    vigil [--stack S] [--region R] dashboard [--name NAME]

It reads the stored inventories (one ``GetItem`` each) and the dashboard as it stands
(``GetDashboard``), and calls ``PutDashboard`` only when the body changed: run it after a
discovery, by hand or from a deployment pipeline, as often as you like. Nothing runs it in the
stack: a dashboard costs $3.00 a month beyond the free tier's three, and is yours to want.
"""

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from vigil.adapters.collector_state import CollectorState
from vigil.core.errors import VigilError
from vigil.dials.dashboard import dashboard_body, stored_graphs
from vigil_cli.output import Document

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient


class DashboardRefused(VigilError):
    """CloudWatch refused the generated body (``DashboardValidationMessages``)."""


@dataclass(frozen=True)
class Generated:
    """What one generation did."""

    name: str
    changed: bool
    graphs: int
    bytes: int

    def document(self) -> Document:
        return Document(self.line(), asdict(self))

    def line(self) -> str:
        done = "updated" if self.changed else "unchanged"
        graphs = "1 graph" if self.graphs == 1 else f"{self.graphs} graphs"
        return f"dashboard {self.name}: {done} ({graphs}, {self.bytes:,} bytes)"


def default_name(stack: str) -> str:
    return f"{stack}-watched"


def generate(
    *,
    dynamodb: "DynamoDBClient",
    cloudwatch: "CloudWatchClient",
    table: str,
    stack: str,
    region: str,
    name: str | None = None,
) -> Generated:
    """Build the body from the stored discovery; put it only when it differs from the one
    CloudWatch has (compared as JSON, so the console's reformatting is no change)."""
    graphs = stored_graphs(CollectorState(dynamodb, table))
    body = dashboard_body(graphs, region=region, stack=stack)
    dashboard = name or default_name(stack)
    try:
        current = cloudwatch.get_dashboard(DashboardName=dashboard)["DashboardBody"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in {
            "ResourceNotFound",
            "ResourceNotFoundException",
        }:
            raise
        current = None
    size = len(body.encode())
    if current is not None and json.loads(current) == json.loads(body):
        return Generated(dashboard, changed=False, graphs=len(graphs), bytes=size)
    answer = cloudwatch.put_dashboard(DashboardName=dashboard, DashboardBody=body)
    problems = [m.get("Message", "") for m in answer.get("DashboardValidationMessages", [])]
    if problems:
        raise DashboardRefused(f"dashboard {dashboard}: {'; '.join(problems)}")
    return Generated(dashboard, changed=True, graphs=len(graphs), bytes=size)
