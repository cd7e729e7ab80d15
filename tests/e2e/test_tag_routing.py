"""Routing by team from resource tags through the real template (issue 16, item 2): the rules
config makes the ``team`` and ``env`` tags labels, a route with Alertmanager's matchers sends the
payments team's alerts to its own receiver, and a silence with a negative regular expression
mutes what it should.

The account: ``charge-api`` (tags team=payments, env=prod), ``charge-worker`` (team=payments,
env=dev) and ``search-api`` (team=search, env=prod) each fail once a minute from 10 to 20
minutes (a low-volume warning each). Before the scenario starts, a silence
``team="payments", env!~"prod|staging"`` is made for the hour. The root route goes to
``default`` (email and Slack); a child route ``matchers: ['team="payments"']`` goes to
``payments`` (its own Slack webhook).
"""

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
import yaml

from emulator import Emulator
from tests.e2e.scenario_runs import ALERT_EMAIL, collector_cycles, emails
from vigil.adapters.routing_store import SilenceStore
from vigil.alerting.silences import new_silence

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]

TAGS = {
    "charge-api": {"team": "payments", "env": "prod"},
    "charge-worker": {"team": "payments", "env": "dev"},
    "search-api": {"team": "search", "env": "prod"},
}
RULES = {
    "outage": {"enabled": False},
    "tags": {"labels": ["team", "env"]},
    "routing": {
        "receivers": [
            {"name": "default", "email": True, "slack": "webhook_url"},
            {"name": "payments", "slack": "payments_url"},
        ],
        "route": {
            "receivers": ["default"],
            "group_by": ["..."],
            "group_wait": "0s",
            "routes": [{"matchers": ['team="payments"'], "receivers": ["payments"]}],
        },
    },
}


def _scenario(directory: Path) -> Path:
    failing = [
        {"from": "0m", "to": "10m", "invocations_per_minute": 20},
        {"from": "10m", "to": "20m", "invocations_per_minute": 20, "errors_per_minute": 1},
        {"from": "20m", "invocations_per_minute": 20},
    ]
    document = {
        "name": "tag-routing",
        "description": "Three functions of two teams fail; routed and silenced by their tags.",
        "start": "2026-12-07T09:00:00Z",
        "duration": "30m",
        "cycle": "rate(5 minutes)",
        "parameters": {"RulesConfig": RULES},
        "workloads": [{"function": name, "phases": failing} for name in TAGS],
    }
    path = directory / "tag-routing.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    scenario = _scenario(tmp_path_factory.mktemp("scenario"))
    with Emulator.start(scenario=scenario, parameters={"AlertEmail": ALERT_EMAIL}) as emu:
        emu.set_chat_secret(
            {
                "webhook_url": emu.slack.webhook_url,
                "payments_url": emu.slack.base_url + "/payments",
            }
        )
        lam = boto3.client("lambda")
        for name, tags in TAGS.items():
            arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
            lam.tag_resource(Resource=arn, Tags=tags)
        silence = new_silence(
            "0123456789abcdef",
            matchers=['team="payments"', 'env!~"prod|staging"'],
            starts_at=emu.now,
            duration=timedelta(hours=1),
            now=emu.now,
            created_by="arn:aws:iam::123456789012:user/ana",
            comment="dev is being rebuilt",
        )
        SilenceStore(boto3.client("dynamodb"), emu.deployment.table_name).create(silence)
        emu.play()
        yield emu


def _titles(emu: Emulator, path: str) -> list[str]:
    return [str(p.payload["text"]) for p in emu.slack.posts if p.path == path]


def test_payments_alerts_go_to_the_payments_receiver_and_nowhere_else(played: Emulator) -> None:
    payments = _titles(played, "/payments")
    default_slack = [str(p.payload["text"]) for p in played.slack.posts if p.path != "/payments"]
    subjects = [subject for _, subject in emails(played)]

    assert payments == [
        "[WARNING] Lambda errors firing: charge-api",
        "[RESOLVED] Lambda errors resolved: charge-api",
    ]
    search = [
        "[WARNING] Lambda errors firing: search-api",
        "[RESOLVED] Lambda errors resolved: search-api",
    ]
    assert default_slack == search
    assert subjects == search
    assert played.failures == []


def test_the_negative_regex_silence_mutes_the_dev_function_only(played: Emulator) -> None:
    everything = [str(p.payload["text"]) for p in played.slack.posts]
    everything += [email.subject for email in played.mailbox.emails]
    evaluated = [
        invocation.result["summary"]
        for invocation in played.invocations
        if invocation.function == "EvaluateFunction" and invocation.ok
    ]

    assert not [title for title in everything if "charge-worker" in title]
    assert sum(summary["silenced"] for summary in evaluated) == 1
    # the muted alert is still recorded, with its tag labels
    table = played.deployment.table_name
    items = boto3.client("dynamodb").scan(TableName=table)["Items"]
    alerts = {
        body["labels"]["resource"]: body
        for item in items
        if item["pk"]["S"].startswith("ALERT#") and "body" in item
        for body in [json.loads(item["body"]["S"])]
    }
    assert alerts["charge-worker"]["tags"] == {"team": "payments", "env": "dev"}


def test_the_tags_are_read_at_discovery_only(played: Emulator) -> None:
    calls = [cycle["api_calls"].get("GetResources", 0) for cycle in collector_cycles(played)]

    assert calls[0] == 1
    assert sum(calls) == 1
