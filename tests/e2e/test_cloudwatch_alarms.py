"""CloudWatch alarms as input through the real template (ADR 47): the ``cloudwatch-alarms``
scenario's state changes reach ``AlarmIntakeFunction`` through the stack's EventBridge rule, as
CloudWatch sends them (shaped as AWS's documented sample, emulator.alarms).

A selected alarm going to ALARM is a routed Vigil alert (its own Slack receiver, not the root's
email), OK resolves it, INSUFFICIENT_DATA keeps it firing, an unselected alarm is ignored, a
silence made with ``vigil silence add`` mutes one, and the stack's own alarms never reach the
intake. The stack's dashboard of Vigil itself (``Dashboard=true``) deploys.
"""

import json
from collections.abc import Iterator

import boto3
import pytest

from emulator import Emulator
from emulator.clock import iso_z
from tests.e2e.scenario_runs import ALERT_EMAIL
from vigil_cli.main import main

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture(scope="module")
def played() -> Iterator[Emulator]:
    with Emulator.start(
        scenario="cloudwatch-alarms", parameters={"AlertEmail": ALERT_EMAIL}
    ) as emu:
        command = ["--stack", "vigil", "--region", "us-east-1", "silence", "add"]
        matchers = ["--match", "kind=cloudwatch.alarm", "--match", "resource=orders-batch-*"]
        assert main([*command, *matchers, "--for", "2h"], clock=lambda: emu.now) == 0
        emu.play()
        yield emu


def _slack(emu: Emulator) -> list[str]:
    return [str(post.payload["text"]) for post in emu.slack.posts]


def _intake(emu: Emulator) -> list[dict[str, object]]:
    return [
        invocation.result
        for invocation in emu.invocations
        if invocation.function == "AlarmIntakeFunction" and invocation.ok
    ]


def test_selected_alarms_fire_routed_to_their_receiver_and_resolve(played: Emulator) -> None:
    assert _slack(played) == [
        "[WARNING] CloudWatch alarm firing: orders-api-latency",
        "[CRITICAL] CloudWatch alarm firing: orders-db-cpu",
        "[RESOLVED] CloudWatch alarm resolved: orders-api-latency",
        "[RESOLVED] CloudWatch alarm resolved: orders-db-cpu",
    ]
    # the root route's receiver (email) hears nothing of them
    assert not [e.subject for e in played.mailbox.emails if "CloudWatch alarm" in e.subject]
    assert played.failures == []


def test_the_alert_names_the_alarms_metric_and_links_the_alarm(played: Emulator) -> None:
    post = next(p for p in played.slack.posts if "orders-api-latency" in str(p.payload["text"]))
    body = str(post.payload)

    assert "AWS/ApiGateway Latency (ApiName=orders)" in body
    assert "#alarmsV2:alarm/orders-api-latency" in body


def test_insufficient_data_unselected_and_own_alarms_start_no_evaluation(
    played: Emulator,
) -> None:
    results = {(r["alarm"], r["state"]): r for r in _intake(played)}

    assert results[("orders-db-cpu", "INSUFFICIENT_DATA")]["skipped"] == "state INSUFFICIENT_DATA"
    assert results[("legacy-disk-full", "ALARM")]["skipped"] == "not selected"
    assert "execution_arn" in results[("orders-api-latency", "ALARM")]
    # the stack's own alarm is left out by the rule's pattern: no invocation at all
    assert not [alarm for alarm, _ in results if alarm.startswith("vigil-")]
    unrouted = [e for e in played.timeline if e.kind == "event" and "no rule" in e.summary]
    assert [iso_z(e.at) for e in unrouted] == ["2025-03-14T09:30:00Z"]


def test_a_silence_mutes_a_selected_alarm(played: Emulator) -> None:
    summaries = [
        invocation.result["summary"]
        for invocation in played.invocations
        if invocation.function == "EvaluateFunction" and invocation.ok
    ]

    assert not [text for text in _slack(played) if "orders-batch-backlog" in text]
    assert sum(summary["silenced"] for summary in summaries) == 1


def test_the_dashboard_of_vigil_itself_names_the_deployed_resources(played: Emulator) -> None:
    body = boto3.client("cloudwatch").get_dashboard(DashboardName="vigil-vigil")["DashboardBody"]
    metrics = [m for w in json.loads(body)["widgets"] for m in w["properties"].get("metrics", [])]
    functions = {m[3] for m in metrics if m[0] == "AWS/Lambda"}

    assert "${" not in body
    assert functions <= set(played.deployment.function_names.values())
    assert played.deployment.function_name("ErrorStreamFunction") in functions
    assert len(functions) == 7  # the collectors, the intakes, chat and the Slack endpoint
