"""Smoke test of the local emulator: the real template.yaml deploys into in-process moto, its
state machines are fully substituted, invoking a function runs handler code, SNS email is
captured, and the local Slack server receives posts.

Hermetic: the emulator forces fake credentials and runs moto in-process; sockets may only
connect to 127.0.0.1 (the local Slack server).

The chat function's code is replaced by a small throwaway handler (``code_dirs``) so these
checks do not depend on the chat contract, which other tests own; the last test runs one real
collection cycle with the real handlers.
"""

from __future__ import annotations

import json
import textwrap
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from emulator import PROJECT_ROOT, Emulator, FunctionError
from emulator.template import load_template

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]

START = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
ALERT_EMAIL = "ops@example.com"

SMOKE_HANDLER = textwrap.dedent(
    '''
    """Throwaway chat handler: echoes its environment and posts each SNS record to Slack."""
    import json
    import os
    import urllib.request

    import boto3

    COLD_STARTS = {"count": 0}
    COLD_STARTS["count"] += 1  # module level: runs once per cold start


    def lambda_handler(event, context):
        if event.get("fail"):
            raise ValueError("asked to fail")
        print(f"smoke handler request {context.aws_request_id}")
        secret = boto3.client("secretsmanager").get_secret_value(
            SecretId=os.environ["VIGIL_SLACK_SECRET_ARN"]
        )
        url = json.loads(secret["SecretString"])["webhook_url"]
        statuses = []
        for record in event.get("Records", []):
            sns = record["Sns"]
            body = json.dumps(
                {"text": sns["Subject"], "attributes": sns["MessageAttributes"]}
            ).encode()
            request = urllib.request.Request(
                url, data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=5) as response:
                statuses.append(response.status)
        return {
            "function_name": context.function_name,
            "invoked_function_arn": context.invoked_function_arn,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "table": os.environ["VIGIL_TABLE_NAME"],
            "region": os.environ["AWS_REGION"],
            "lambda_name": os.environ["AWS_LAMBDA_FUNCTION_NAME"],
            "cold_starts": COLD_STARTS["count"],
            "statuses": statuses,
        }
    '''
)


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    chat_dir = tmp_path_factory.mktemp("smoke_chat")
    (chat_dir / "app.py").write_text(SMOKE_HANDLER, encoding="utf-8")
    with Emulator.start(
        parameters={"AlertEmail": ALERT_EMAIL},
        code_dirs={"NotifyChatFunction": chat_dir},
        start=START,
    ) as emulator:
        yield emulator


def test_the_real_template_deploys_with_every_resource_accounted_for(emu: Emulator) -> None:
    # Given the template deployed into moto
    deployment = emu.deployment

    # Then the outputs a user needs exist and point at real moto resources
    assert deployment.topic_arn.startswith("arn:aws:sns:us-east-1:123456789012:")
    assert deployment.table_name in boto3.client("dynamodb").list_tables()["TableNames"]
    assert set(deployment.function_names) >= {
        "CollectMetricsFunction",
        "EvaluateFunction",
        "NotifyChatFunction",
        "RunbookFunction",
    }
    # And no resource was silently dropped: each is created by moto or by an emulator handler
    skipped = [p.logical_id for p in deployment.placements if p.where == "skipped"]
    assert skipped == [], f"moto cannot create {skipped}: add a handler in emulator/cfn_shims.py"
    # And the chat function still gets the secret ARN that moto alone would have dropped
    chat = boto3.client("lambda").get_function_configuration(
        FunctionName=deployment.function_name("NotifyChatFunction")
    )
    secret_arn = deployment.secret_arns["SlackWebhookSecret"]
    assert chat["Environment"]["Variables"]["VIGIL_SLACK_SECRET_ARN"] == secret_arn
    assert "AlertsEmailSubscription" in emu.describe()


def test_state_machine_definitions_have_no_placeholders_left(emu: Emulator) -> None:
    sfn = boto3.client("stepfunctions")
    sam = load_template(PROJECT_ROOT / "template.yaml")["Resources"]
    arns = emu.deployment.state_machine_arns
    assert set(arns) >= {"EvaluateStateMachine", "OutageRunbookStateMachine"}
    for logical_id, arn in arns.items():
        definition = sfn.describe_state_machine(stateMachineArn=arn)["definition"]
        assert "${" not in definition, f"{logical_id} still has a placeholder"
        json.loads(definition)
        # Only the placeholders changed: ASL context paths such as $$.Execution survive
        source = (PROJECT_ROOT / sam[logical_id]["Properties"]["DefinitionUri"]).read_text()
        assert definition.count("$$.") == source.count("$$.")


def test_a_lambda_invoke_runs_the_handler_code_with_its_environment(emu: Emulator) -> None:
    name = emu.deployment.function_name("NotifyChatFunction")

    # When the function is invoked through the Lambda API, twice
    first = emu.invoke("NotifyChatFunction", {"Records": []})
    second = emu.invoke("NotifyChatFunction", {"Records": []})

    # Then the handler ran with the function's configuration and a Lambda-like context
    assert first["function_name"] == name == first["lambda_name"]
    assert first["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    assert first["table"] == emu.deployment.table_name
    assert first["region"] == "us-east-1"
    assert 0 < first["remaining_ms"] <= 30_000
    # And the module was imported once (one cold start per function)
    assert second["cold_starts"] == 1
    # And its output was captured in the function's log
    assert "smoke handler request" in emu.logs["NotifyChatFunction"].text()


def test_a_handler_exception_becomes_a_lambda_error_payload(emu: Emulator) -> None:
    with pytest.raises(FunctionError) as raised:
        emu.invoke("NotifyChatFunction", {"fail": True})

    assert raised.value.error_type == "ValueError"
    assert raised.value.error_message == "asked to fail"
    assert raised.value.payload["stackTrace"]


def test_sns_email_is_captured_after_the_filter_policy(emu: Emulator) -> None:
    sns = boto3.client("sns")
    before = len(emu.mailbox.emails)

    # When a critical and an info message are published to the alerts topic
    sns.publish(
        TopicArn=emu.deployment.topic_arn,
        Subject="Smoke: critical",
        MessageStructure="json",
        Message=json.dumps({"default": "{}", "email": "plain text for email"}),
        MessageAttributes={
            "severity": {"DataType": "String", "StringValue": "critical"},
            "channels": {"DataType": "String.Array", "StringValue": '["email", "slack"]'},
        },
    )
    sns.publish(
        TopicArn=emu.deployment.topic_arn,
        Subject="Smoke: info",
        Message="{}",
        MessageAttributes={
            "severity": {"DataType": "String", "StringValue": "info"},
            "channels": {"DataType": "String.Array", "StringValue": '["email", "slack"]'},
        },
    )

    # Then only the critical one reaches the email subscriber, with its email body
    emails = emu.mailbox.emails[before:]
    assert [e.subject for e in emails] == ["Smoke: critical"]
    assert emails[0].to == ALERT_EMAIL
    assert emails[0].body == "plain text for email"
    assert emails[0].attribute("severity") == "critical"


def test_the_slack_server_receives_posts(emu: Emulator) -> None:
    # Given the webhook URL the emulator stored in the stack's Slack secret
    secret = boto3.client("secretsmanager").get_secret_value(
        SecretId=emu.deployment.secret_arns["SlackWebhookSecret"]
    )
    url = json.loads(secret["SecretString"])["webhook_url"]
    assert url == emu.slack.webhook_url
    assert url.startswith("http://127.0.0.1:")

    # When something posts to it
    request = urllib.request.Request(
        url, data=b'{"text": "smoke direct"}', headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200

    # Then the post is recorded; and SNS -> Lambda deliveries carry the real attributes
    texts = [p.payload["text"] for p in emu.slack.posts if isinstance(p.payload, dict)]
    assert "smoke direct" in texts
    via_sns = [p for p in emu.slack.posts if p.payload.get("text") == "Smoke: critical"]
    assert len(via_sns) == 1
    assert via_sns[0].payload["attributes"]["severity"] == {"Type": "String", "Value": "critical"}


def test_a_scripted_slack_failure_is_retried_and_dead_lettered(emu: Emulator) -> None:
    # Given Slack answers 500 to the next three posts (one SNS delivery + two retries)
    emu.slack.fail_next(3, status=500)
    failures_before = len(emu.failures)

    # When a message reaches the chat function through SNS
    boto3.client("sns").publish(
        TopicArn=emu.deployment.topic_arn,
        Subject="Smoke: dead letter",
        Message="{}",
        MessageAttributes={
            "severity": {"DataType": "String", "StringValue": "info"},
            "channels": {"DataType": "String.Array", "StringValue": '["email", "slack"]'},
        },
    )

    # Then Lambda's async semantics apply: three attempts, then the dead-letter queue
    failures = emu.failures[failures_before:]
    assert len(failures) == 1
    assert failures[0].attempts == 3
    assert failures[0].sent_to == (emu.deployment.dead_letter_arns["NotifyChatFunction"],)
    dead = emu.queue_messages("ChatDeadLetterQueue")
    assert any("Smoke: dead letter" in m["body"] for m in dead)


@pytest.mark.skipif(
    not (PROJECT_ROOT / "functions/collect_metrics/app.py").is_file()
    or not (PROJECT_ROOT / "functions/evaluate/app.py").is_file(),
    reason="the real collect_metrics/evaluate handlers are not in the tree yet",
)
def test_one_collection_cycle_runs_the_real_handlers(emu: Emulator) -> None:
    # When the clock passes one collection schedule
    fired = emu.advance(timedelta(minutes=5))

    # Then the real collector ran and the Evaluate workflow it started succeeded
    assert [o.schedule.name for o in fired] == ["CollectMetricsFunctionEvery"]
    collector = [i for i in emu.invocations if i.function == "CollectMetricsFunction"]
    assert collector
    assert collector[-1].ok, collector[-1].result
    runs = emu.executions("EvaluateStateMachine")
    assert runs
    assert runs[-1].status == "SUCCEEDED", (runs[-1].error, runs[-1].cause)
    assert emu.now == START + timedelta(minutes=5)
