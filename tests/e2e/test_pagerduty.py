"""PagerDuty through the real template (issue 16): alerts trigger incidents on a local
PagerDuty (:mod:`emulator.pagerduty`, every event checked against the Events API v2 schema),
one group is acknowledged from its Slack message's button, the other from PagerDuty's signed
webhook; neither repeats past its repeat interval, both resolve in PagerDuty when the failure
stops, and a webhook with a bad signature changes nothing. A third receiver's routing key is one
PagerDuty does not know: every event it sends is refused (400), is not retried by the chat
function, and ends in the chat dead-letter queue with PagerDuty's reason.

The account: ``orders-api``, ``billing-api`` and ``search-api`` fail 5% of their requests from
10 to 90 minutes (critical at once). The routing sends the first two to ``oncall`` (Slack and
PagerDuty) and ``search-api`` to ``search`` (Slack and the unknown key), grouped by resource,
repeating every 30 minutes. Webhook bodies are shaped as PagerDuty's v3
``incident.acknowledged`` example (developer.pagerduty.com, "Webhooks v3 Overview"), signed
as "Verifying Signatures" says.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from emulator import Emulator
from emulator.pagerduty import ROUTING_KEY, PagerDutyServer
from tests.e2e.scenario_runs import press_slack_button
from vigil.adapters.routing_store import GroupStore
from vigil.alerting.grouping import Group

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]

START = datetime.fromisoformat("2026-11-02T09:00:00+00:00")
SIGNING_SECRET = "4c1d8e2a6b3f5d7e9a0b"
UNKNOWN_KEY = "UNKN0WNR0UT1NGKEY000000000000000"  # PagerDuty's shape, no integration
ACKNOWLEDGED = ("orders-api", "billing-api")
ONCALL = ("U07ONCALL", "oncall")
RULES = {
    "outage": {"enabled": False},
    "approvers": {"slack_users": [ONCALL[0]]},
    "routing": {
        "receivers": [
            {"name": "oncall", "slack": "webhook_url", "pagerduty": "pagerduty_key"},
            {"name": "search", "slack": "webhook_url", "pagerduty": "pagerduty_search"},
        ],
        "route": {
            "receivers": ["oncall"],
            "group_by": ["resource"],
            "group_wait": "0s",
            "group_interval": "5m",
            "repeat_interval": "30m",
            "routes": [{"match": {"resource": "search-api"}, "receivers": ["search"]}],
        },
    },
}


def _scenario(directory: Path) -> Path:
    failing = [
        {
            "function": name,
            "phases": [
                {"from": "0m", "to": "10m", "invocations_per_minute": 2000},
                {"from": "10m", "to": "90m", "invocations_per_minute": 2000, "error_rate": 0.05},
                {"from": "90m", "invocations_per_minute": 2000},
            ],
        }
        for name in ("orders-api", "billing-api", "search-api")
    ]
    document = {
        "name": "pagerduty",
        "description": "Two functions failing, paged, acknowledged and resolved.",
        "start": START.isoformat().replace("+00:00", "Z"),
        "duration": "120m",
        "cycle": "rate(5 minutes)",
        "parameters": {"RulesConfig": RULES},
        "workloads": failing,
    }
    path = directory / "pagerduty.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@dataclass
class Run:
    emu: Emulator
    pd: PagerDutyServer
    keys: dict[str, str]
    """resource -> dedup key (its group id)"""
    acked_at: datetime
    before_bad: Group
    after_bad: Group
    bad_answer: dict[str, Any]
    webhook_answer: dict[str, Any]
    press_answer: dict[str, Any]


def _groups(emu: Emulator) -> GroupStore:
    return GroupStore(
        boto3.client("dynamodb"), emu.deployment.table_name, retention=timedelta(days=1)
    )


def _group(emu: Emulator, group_id: str) -> Group:
    group = _groups(emu).get(group_id)
    assert group is not None, f"no group {group_id}"
    return group


def _acknowledge_button(emu: Emulator, group_id: str) -> dict[str, Any]:
    return next(
        element
        for post in emu.slack.posts
        for block in (post.payload or {}).get("blocks", [])
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == "acknowledge_group" and element["value"] == group_id
    )


def _press(emu: Emulator, button: dict[str, Any]) -> dict[str, Any]:
    answer = press_slack_button(
        emu,
        button["action_id"],
        button["value"],
        secret=SIGNING_SECRET,
        user=ONCALL,
        response_path="/actions/T000/2/ack",
    )
    emu.settle()
    return answer


def _webhook(emu: Emulator, body: str, signature: str) -> dict[str, Any]:
    answer = emu.post_function_url(
        "SlackActionsFunction",
        body,
        headers={"Content-Type": "application/json", "X-PagerDuty-Signature": signature},
        path="/pagerduty",
    )
    emu.settle()
    return answer


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    scenario = _scenario(tmp_path_factory.mktemp("scenario"))
    with Emulator.start(scenario=scenario) as emu, PagerDutyServer(sim_clock=lambda: emu.now) as pd:
        emu.set_secret(
            "SlackSigningSecret",
            {"signing_secret": SIGNING_SECRET, "hooks_url": emu.slack.base_url},
        )
        emu.set_chat_secret(
            {
                "webhook_url": emu.slack.webhook_url,
                "pagerduty_key": ROUTING_KEY,
                "pagerduty_search": UNKNOWN_KEY,
                "pagerduty_events_url": pd.events_url,
                "pagerduty_webhook_secret": pd.webhook_secret,
            }
        )
        emu.play(START + timedelta(minutes=21))
        # (the chat function failing on the unknown key is itself watched: its own group
        # pages oncall too, as Vigil's functions are judged like any other)
        keys = {
            str(e.body["payload"]["source"]): e.dedup_key
            for e in pd.events
            if e.action == "trigger" and e.body["payload"]["source"] in ACKNOWLEDGED
        }
        acked_at = emu.now
        press_answer = _press(emu, _acknowledge_button(emu, keys["orders-api"]))

        body, signature = pd.acknowledge_in_pagerduty(keys["billing-api"])
        before_bad = _group(emu, keys["billing-api"])
        bad_answer = _webhook(emu, body, pd.sign(body, "a-guessed-secret"))
        after_bad = _group(emu, keys["billing-api"])
        webhook_answer = _webhook(emu, body, signature)

        emu.play()
        yield Run(
            emu, pd, keys, acked_at, before_bad, after_bad, bad_answer, webhook_answer, press_answer
        )


def test_every_event_is_valid_and_each_group_triggers_its_own_incident(run: Run) -> None:
    assert run.pd.events
    assert [e for e in run.pd.invalid if e.body["routing_key"] != UNKNOWN_KEY] == []
    assert set(run.keys) == {"orders-api", "billing-api"}
    assert len(set(run.keys.values())) == 2
    (first, *_) = [e for e in run.pd.events if e.dedup_key == run.keys["orders-api"]]
    assert first.action == "trigger"
    assert first.body["payload"]["severity"] == "critical"
    assert first.body["payload"]["class"] == "lambda.errors"
    assert first.body["links"], "the console links travel with the incident"


def test_a_refused_event_is_not_retried_and_ends_in_the_dead_letter_queue(run: Run) -> None:
    refused = [e for e in run.pd.events if e.body["routing_key"] == UNKNOWN_KEY]
    failures = run.emu.failures
    dead = run.emu.queue_messages("ChatDeadLetterQueue")

    assert refused
    assert {e.status for e in refused} == {400}
    assert {e.errors for e in refused} == {("routing_key: no integration has this routing key",)}
    # one POST per Lambda attempt (3 per notification): the adapter does not retry a 400
    assert len(refused) == 3 * len(failures)
    assert {(f.function, f.attempts, f.error_type) for f in failures} == {
        ("NotifyChatFunction", 3, "ChatDeliveryError")
    }
    assert all(
        f.error_message.startswith("PagerDuty Events API answered 400")
        and "no integration has this routing key" in f.error_message
        for f in failures
    )
    assert len(dead) == len(failures)
    assert all("search-api" in message["body"] for message in dead)
    # Slack heard of search-api all the same
    texts = [str(p.payload.get("text", "")) for p in run.emu.slack.posts if p.payload]
    assert "[CRITICAL] Lambda errors firing: search-api" in texts


def test_the_slack_button_acknowledges_and_pagerduty_hears_of_it(run: Run) -> None:
    assert run.press_answer["statusCode"] == 200
    key = run.keys["orders-api"]
    actions = [e.action for e in run.pd.events if e.dedup_key == key]
    assert actions[:2] == ["trigger", "acknowledge"]
    history = run.pd.incidents[key].history
    assert [a for a, _ in history][:2] == ["trigger", "acknowledge"]
    acknowledged_in_pd = history[1][1]
    assert acknowledged_in_pd is not None
    assert acknowledged_in_pd - run.acked_at <= timedelta(minutes=10)
    replies = [p for p in run.emu.slack.posts if p.path.startswith("/actions/")]
    assert any("Acknowledged" in str(p.payload) for p in replies)


def test_pagerdutys_signed_webhook_acknowledges_and_a_bad_signature_changes_nothing(
    run: Run,
) -> None:
    assert run.bad_answer["statusCode"] == 401
    assert run.after_bad == run.before_bad
    assert run.webhook_answer["statusCode"] == 200
    key = run.keys["billing-api"]
    assert json.loads(run.webhook_answer["body"]) == {"acknowledged": [key]}
    # PagerDuty is not sent back what it said
    assert "acknowledge" not in [e.action for e in run.pd.events if e.dedup_key == key]


def test_acknowledged_groups_stop_repeating(run: Run) -> None:
    texts = [str(p.payload.get("text", "")) for p in run.emu.slack.posts if p.payload]
    repeats = [t for t in texts if "still firing" in t]
    # 21 to 90 minutes firing with a 30-minute repeat interval: two repeats each, unacknowledged,
    # as search-api (never acknowledged) shows
    assert [t for t in repeats if "orders-api" in t or "billing-api" in t] == []
    assert [t for t in repeats if "search-api" in t] == [
        "[CRITICAL] Lambda errors still firing: search-api"
    ] * 2
    resolved = [t for t in texts if t.startswith("[RESOLVED]")]
    assert len([t for t in resolved if "orders-api" in t or "billing-api" in t]) == 2
    actions = {
        resource: [e.action for e in run.pd.events if e.dedup_key == key]
        for resource, key in run.keys.items()
    }
    assert actions == {
        "orders-api": ["trigger", "acknowledge", "resolve"],
        "billing-api": ["trigger", "resolve"],
    }
    for key in run.keys.values():
        late = [
            e
            for e in run.pd.events
            if e.dedup_key == key
            and e.action == "trigger"
            and e.sim_time is not None
            and e.sim_time > run.acked_at
        ]
        assert late == []


def test_both_incidents_resolve_in_pagerduty_when_the_failure_stops(run: Run) -> None:
    for key in run.keys.values():
        incident = run.pd.incidents[key]
        assert incident.status == "resolved"
        resolved_at = incident.history[-1][1]
        assert resolved_at is not None
        assert resolved_at >= START + timedelta(minutes=90)
    assert all(not _group(run.emu, key).is_open for key in run.keys.values())
