"""The Health collector's handler on moto (state table, alerts topic, Step Functions) with
the Health API answered by botocore's ``Stubber`` (ADR 30).

Event shapes: https://docs.aws.amazon.com/health/latest/ug/aws-health-events-eventbridge-schema.html
(abuse sample 2, the paged account-specific sample) and
https://docs.aws.amazon.com/health/latest/ug/pagnation-of-health-events.html; the 503 answer is
the ``ServiceUnavailable`` error of https://docs.aws.amazon.com/health/latest/APIReference/CommonErrors.html.
"""

import copy
import json
import socket
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.integration.conftest import ACCOUNT, FakeContext
from tests.integration.test_handlers import _evaluate_state_machine
from tests.unit.test_health_feed import ABUSE, instances, page_event

Loader = Callable[..., Any]


def poll_at(hour: int) -> dict[str, str]:
    """The catch-up poll's schedule event for ``hour``:00 on 2 November 2026."""
    time = f"2026-11-02T{hour:02d}:00:00Z"
    return {"source": "vigil.scheduler", "schedule": "collect-health", "time": time}


def state_item(table: str, pk: str) -> dict[str, Any] | None:
    item = boto3.client("dynamodb").get_item(
        TableName=table, Key={"pk": {"S": pk}, "sk": {"S": "STATE"}}
    )
    found: dict[str, Any] | None = item.get("Item")
    return found


def executions(arn: str) -> int:
    return len(boto3.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"])


@pytest.fixture
def collector(table: str, load_handler: Loader, alerts_topic: Any) -> tuple[Any, str]:
    arn = _evaluate_state_machine()
    return load_handler("collect_health", VIGIL_EVALUATE_STATE_MACHINE_ARN=arn), arn


def test_an_unreadable_event_is_parked_once_announced_and_not_retried(
    table: str, collector: tuple[Any, str], alerts_topic: Callable[[], list[dict[str, Any]]]
) -> None:
    app, arn = collector
    broken = copy.deepcopy(ABUSE)
    broken["detail"]["eventTypeCode"] = ""

    first = app.lambda_handler(broken, FakeContext("collect-health"))
    again = app.lambda_handler(broken, FakeContext("collect-health"))  # a redelivery

    (message,) = alerts_topic()
    assert (
        message["Subject"] == f"[WARNING] Vigil self-watch: AWS Health event {ABUSE['id']} parked"
    )
    assert "detail.eventTypeCode" in message["Message"]
    parked = state_item(table, f"HEALTHPARKED#{ABUSE['id']}")
    assert parked is not None
    assert json.loads(parked["event"]["S"]) == broken
    assert "detail.eventTypeCode" in parked["reason"]["S"]
    assert first["executions"] == again["executions"] == []
    assert executions(arn) == 0


def test_the_pages_of_an_event_start_one_evaluation_once_all_are_in(
    table: str, collector: tuple[Any, str]
) -> None:
    app, arn = collector
    raws = [page_event(n + 1, 2, instances(n * 30, 30)) for n in range(2)]

    held = app.lambda_handler(raws[1], FakeContext("collect-health"))
    whole = app.lambda_handler(raws[0], FakeContext("collect-health"))

    assert held["executions"] == []
    assert len(whole["executions"]) == 1
    assert executions(arn) == 1
    stored = state_item(table, f"HEALTHPAGES#{raws[0]['detail']['eventArn']}#{ACCOUNT}")
    assert stored is not None
    assert len(stored["body"]["S"]) < 2_000


def test_failed_polls_are_counted_and_the_first_good_one_clears_the_count(
    table: str, collector: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_dns(name: str) -> tuple[str, list[str], list[str]]:
        raise OSError("no network in tests")

    monkeypatch.setattr(socket, "gethostbyname_ex", no_dns)
    app, arn = collector
    env = app._env()
    stubs = {}
    for region in ("us-east-1", "us-east-2"):
        env.health_clients[region] = boto3.client("health", region_name=region)
        stubs[region] = Stubber(env.health_clients[region])
        stubs[region].activate()
    for _ in range(3):
        for stub in stubs.values():
            stub.add_client_error(
                "describe_events", service_error_code="ServiceUnavailable", http_status_code=503
            )
    stubs["us-east-1"].add_response("describe_events", {"events": []})

    failed = [app.lambda_handler(poll_at(h), FakeContext("collect-health")) for h in (9, 10, 11)]
    counted = state_item(table, f"HEALTHPOLL#{ACCOUNT}")
    good = app.lambda_handler(poll_at(12), FakeContext("collect-health"))
    cleared = state_item(table, f"HEALTHPOLL#{ACCOUNT}")

    assert [len(r["executions"]) for r in failed] == [1, 1, 1]  # each carries its count
    assert counted is not None
    assert json.loads(counted["body"]["S"])["failures"] == 3
    assert len(good["executions"]) == 1  # covers vigil.health_poll: the alert resolves
    assert cleared is not None
    assert json.loads(cleared["body"]["S"])["failures"] == 0
    assert executions(arn) == 4
