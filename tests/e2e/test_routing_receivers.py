"""Routing through the real template: an alert storm is one message, critical alerts page email
and Slack while warnings go to Slack only, and the JSON webhook and Amazon Q Developer topic
get documents valid against their schemas.

The account: 50 low-volume functions (``storm-00`` to ``storm-49``) each fail once a minute
from 10 to 30 minutes (every one a low-volume warning), and the high-volume ``payments-api``
fails 5% of its requests from 15 to 35 minutes (critical). The routing sends everything to
``chat`` (Slack, a JSON webhook, Amazon Q Developer) grouped by kind and region, and critical
alerts to ``pager`` (email and Slack). Outage correlation is off: 50 functions failing in one
region would otherwise be inhibited as one suspected AWS outage.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from emulator import Emulator
from tests.e2e.scenario_runs import ALERT_EMAIL, emails
from tests.schemas import problems

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]

STORM = 50
RULES = {
    "outage": {"enabled": False},
    "routing": {
        "receivers": [
            {"name": "pager", "email": True, "slack": "webhook_url"},
            {"name": "chat", "slack": "webhook_url", "webhook": "audit_url", "chatbot": True},
        ],
        "route": {
            "receivers": ["chat"],
            "group_by": ["kind", "region"],
            "group_wait": "0s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [{"match": {"severity": "critical"}, "receivers": ["pager"]}],
        },
    },
}


def _scenario(directory: Path) -> Path:
    storm = [
        {
            "function": f"storm-{index:02d}",
            "phases": [
                # 5 errors in 100 invocations a window: a warning (not improbable at 1 %)
                {"from": "0m", "to": "10m", "invocations_per_minute": 20},
                {"from": "10m", "to": "30m", "invocations_per_minute": 20, "errors_per_minute": 1},
                {"from": "30m", "invocations_per_minute": 20},
            ],
        }
        for index in range(STORM)
    ]
    payments = {
        "function": "payments-api",
        "phases": [
            {"from": "0m", "to": "15m", "invocations_per_minute": 5000},
            {"from": "15m", "to": "35m", "invocations_per_minute": 5000, "error_rate": 0.05},
            {"from": "35m", "invocations_per_minute": 5000},
        ],
    }
    document = {
        "name": "routing-storm",
        "description": "An alert storm across 50 functions and one critical failure.",
        "start": "2026-11-02T09:00:00Z",
        "duration": "60m",
        "cycle": "rate(5 minutes)",
        "parameters": {"RulesConfig": RULES},
        "workloads": [*storm, payments],
    }
    path = directory / "routing-storm.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Emulator, list[Any]]]:
    scenario = _scenario(tmp_path_factory.mktemp("scenario"))
    with Emulator.start(scenario=scenario, parameters={"AlertEmail": ALERT_EMAIL}) as emu:
        emu.set_chat_secret(
            {"webhook_url": emu.slack.webhook_url, "audit_url": emu.slack.base_url + "/audit"}
        )
        # what Amazon Q Developer does: subscribe to the stack's ChatbotTopic
        sns, sqs = boto3.client("sns"), boto3.client("sqs")
        queue = sqs.create_queue(QueueName="amazon-q-channel")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        sns.subscribe(
            TopicArn=emu.deployment.topic_arns["ChatbotTopic"],
            Protocol="sqs",
            Endpoint=queue_arn["Attributes"]["QueueArn"],
            Attributes={"RawMessageDelivery": "true"},
        )
        emu.play()
        received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
        yield emu, [json.loads(message["Body"]) for message in received]


def _slack_titles(emu: Emulator) -> list[str]:
    return [str(p.payload["text"]) for p in emu.slack.posts if p.path != "/audit"]


def test_the_storm_across_50_functions_is_one_grouped_message(
    played: tuple[Emulator, list[Any]],
) -> None:
    emu, _ = played
    storm = [t for t in _slack_titles(emu) if "storm-" in t or f": {STORM} " in t]

    assert storm == [
        f"[WARNING] Lambda errors: {STORM} firing",
        f"[RESOLVED] Lambda errors: {STORM} resolved",
    ]
    (post,) = [p for p in emu.slack.posts if p.payload["text"] == storm[0]]
    assert "...and 10 more alerts" in json.dumps(post.payload)  # 20 carried, 10 in full
    assert emu.failures == []


def test_critical_alerts_page_email_and_slack_and_warnings_reach_slack_only(
    played: tuple[Emulator, list[Any]],
) -> None:
    emu, _ = played
    subjects = [subject for _, subject in emails(emu)]
    slack = _slack_titles(emu)

    assert "[CRITICAL] Lambda errors firing: payments-api" in subjects
    assert "[CRITICAL] Lambda errors firing: payments-api" in slack
    assert not [s for s in subjects if "WARNING" in s or "storm" in s]
    # its route does not continue: the critical alert reaches Slack once, through pager
    assert slack.count("[CRITICAL] Lambda errors firing: payments-api") == 1


def test_the_json_webhook_gets_valid_v1_documents(played: tuple[Emulator, list[Any]]) -> None:
    emu, _ = played
    documents = [p.payload for p in emu.slack.posts if p.path == "/audit"]

    assert documents
    assert [problems("webhook", d) for d in documents] == [[] for _ in documents]
    first = documents[0]
    assert (first["status"], first["severity"], len(first["alerts"])) == ("firing", "warning", 20)
    assert first["title"] == f"[WARNING] Lambda errors: {STORM} firing"


def test_amazon_q_developer_gets_valid_custom_notifications(
    played: tuple[Emulator, list[Any]],
) -> None:
    _, received = played

    assert received
    assert [problems("chatbot", m) for m in received] == [[] for _ in received]
    titles = [m["content"]["title"] for m in received]
    assert f":large_orange_circle: [WARNING] Lambda errors: {STORM} firing" in titles
    assert len({m["metadata"]["threadId"] for m in received}) == 1  # one group, one thread
