"""The Evaluate function names Organization members in AWS Health notices with the one read of
the stored members it makes for the batch's labels (ADR 50, ADR 52), and makes none without
Organization mode or for a metrics batch. The members are stored as the metrics collector's
discovery stores them (``MemberStore``, pk ``MEMBERS``), in moto's DynamoDB."""

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3

from tests.factories import T0, batch, error_signal
from tests.integration.conftest import FakeContext
from tests.unit.test_health import health_event
from vigil.adapters.organizations import MemberStore
from vigil.core.model import SignalBatch

Loader = Callable[..., ModuleType]
Context = Callable[[str], FakeContext]
ORGANIZATION = json.dumps({"organization": {"enabled": True}})


def _members(table: str) -> None:
    MemberStore(boto3.client("dynamodb"), table).remember_members(
        [{"id": "111111111111", "name": "prod <payments> & co", "ou": "ou-ab12-prod0001"}],
        at=T0,
    )


def _health() -> dict[str, Any]:
    event = health_event(
        account="111111111111", service="EC2", event_type_code="AWS_EC2_OPERATIONAL_ISSUE"
    )
    return SignalBatch(
        batch_id="health-event-1",
        source="health",
        collected_at=T0,
        covered_kinds=[],
        signals=[],
        health_events=[event],
    ).model_dump(mode="json")


def _member_queries(app: ModuleType) -> int:
    return int(app._env().members.stats.by_api.get("Query", 0))


def test_a_health_notice_names_the_member_with_one_read_of_the_members(
    table: str,
    load_handler: Loader,
    context: Context,
    alerts_topic: Callable[[], list[dict[str, Any]]],
) -> None:
    _members(table)
    app = load_handler("evaluate", VIGIL_RULES=ORGANIZATION)

    app.lambda_handler(_health(), context("evaluate"))

    (message,) = alerts_topic()
    assert "\nAccount:    prod <payments> & co (111111111111)\n" in message["Message"]
    assert _member_queries(app) == 1


def test_without_organization_mode_the_notice_names_the_id_and_reads_no_members(
    table: str,
    load_handler: Loader,
    context: Context,
    alerts_topic: Callable[[], list[dict[str, Any]]],
) -> None:
    _members(table)
    app = load_handler("evaluate")

    app.lambda_handler(_health(), context("evaluate"))

    (message,) = alerts_topic()
    assert "\nAccount:    111111111111\n" in message["Message"]
    assert _member_queries(app) == 0


def test_a_metrics_batch_reads_no_members(
    table: str,
    load_handler: Loader,
    context: Context,
    alerts_topic: Callable[[], list[dict[str, Any]]],
) -> None:
    _members(table)
    app = load_handler("evaluate", VIGIL_RULES=ORGANIZATION)
    metrics = batch(T0, error_signal("orders-api", invocations=100, errors=50))

    app.lambda_handler(metrics.model_dump(mode="json"), context("evaluate"))

    assert [m["Subject"] for m in alerts_topic()] == ["[CRITICAL] Lambda errors firing: orders-api"]
    assert _member_queries(app) == 0
