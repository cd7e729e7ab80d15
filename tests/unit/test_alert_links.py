"""Every alert says where to look and what to do: a console link for every kind, the top errors
of a Lambda errors alert with a trace and their log lines, since when, the value on resolve and
the runbook the config names.

The URL forms, from AWS's consoles as public projects link them (``find_string`` over public
code: CloudFormation outputs, console-link helpers) and AWS documentation:

- SQS: ``/sqs/v3/home?region=<r>#/queues/<percent-encoded queue URL>``, the queue URL being
  ``https://sqs.<region>.amazonaws.com/<account>/<name>`` (SQS developer guide, "Queue and
  message identifiers").
- Step Functions: ``/states/home?region=<r>#/statemachines/view/<state machine ARN>``, whose page
  lists the executions; ARN ``arn:aws:states:<r>:<account>:stateMachine:<name>``.
- DynamoDB: ``/dynamodbv2/home?region=<r>#table?name=<table>``.
- Kinesis: ``/kinesis/home?region=<r>#/streams/details/<stream>/<tab>``.
- API Gateway: ``/apigateway/main/apis/<api id>/routes?api=<id>&region=<r>`` (HTTP APIs) and
  ``/apigateway/main/apis?region=<r>`` (the list, for a REST API named without its id).
- S3: ``/s3/buckets/<bucket>?region=<r>&tab=metrics``.
- Service Quotas: ``/servicequotas/home/services/<service code>/quotas/<quota code>``; Lambda's
  concurrent executions quota is ``L-B99A9384``.
- X-Ray in the CloudWatch console: ``/cloudwatch/home?region=<r>#xray:traces/<trace id>``; a
  trace id is ``1-<8 hex digits>-<24 hex digits>`` (X-Ray developer guide, "Tracing header").
"""

import json
import re
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import pytest
from slack_sdk.models.blocks import Block

from tests.factories import ACCOUNT, REGION, T0, batch, error_signal
from tests.fakes import MemoryAlertStore
from tests.schemas import problems
from vigil.alerting.links import resource_links, trace_link
from vigil.alerting.messages import view
from vigil.channels.chatbot import chatbot_notification
from vigil.channels.slack import slack_message
from vigil.channels.teams import teams_message
from vigil.channels.webhook import webhook_payload
from vigil.core.errors import ConfigError
from vigil.core.model import (
    Alert,
    AlertState,
    ChatPayload,
    ErrorGroup,
    Evidence,
    Labels,
    Notification,
    NotifyReason,
    Severity,
)
from vigil.evaluation.pipeline import evaluate
from vigil.rules.document import RulesConfig
from vigil.rules.kinds import KINDS
from vigil.rules.overrides import read_tags, rule_sections

CONSOLE = re.compile(r"^https://(?P<region>[a-z]{2}(-[a-z]+)+-\d)\.console\.aws\.amazon\.com/\S+$")

# A resource as each family names it in its alerts (vigil.dials.*).
RESOURCES = {
    "lambda.account_concurrency": "account",
    "dynamodb.capacity": "orders/index/by-customer",
    "apigateway.http_5xx": "orders-http (a1b2c3d4e5)",
    "apigateway.http_4xx": "orders-http (a1b2c3d4e5)",
    "quota.usage": "lambda/L-B99A9384",
    "vigil.resource_tags_invalid": "states:refund-flow",
    "vigil.config_invalid": "RulesConfig",
    "vigil.health_poll": "AWS Health API",
}


def _labels(kind: str, resource: str | None = None) -> Labels:
    resource = resource or RESOURCES.get(kind, "orders")
    return Labels(kind=kind, resource=resource, account=ACCOUNT, region="eu-west-1")


@pytest.mark.parametrize("kind", [*sorted(KINDS), "lambda.new_error_type"])
def test_every_kind_links_a_console_page_of_its_region(kind: str) -> None:
    links = resource_links(_labels(kind), window_end=T0, stack="vigil")

    assert links, kind
    for link in links:
        match = CONSOLE.match(link.url)
        assert match is not None, link.url
        assert match["region"] == "eu-west-1" or link.url.startswith(
            "https://us-east-1.console.aws.amazon.com/costmanagement/"
        )


def _urls(kind: str, resource: str | None = None) -> dict[str, str]:
    links = resource_links(_labels(kind, resource), window_end=T0, stack="vigil-prod")
    return {link.label: link.url for link in links}


def test_each_resource_link_has_the_form_of_its_console() -> None:
    queue = _urls("sqs.dlq_messages", "orders-dlq")["Queue"]
    assert queue.startswith(
        "https://eu-west-1.console.aws.amazon.com/sqs/v3/home?region=eu-west-1#/queues/"
    )
    assert unquote(queue.rsplit("/", 1)[-1]) == (
        f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT}/orders-dlq"
    )
    assert _urls("states.executions_failed", "refund-flow")["Executions"] == (
        "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1"
        f"#/statemachines/view/arn%3Aaws%3Astates%3Aeu-west-1%3A{ACCOUNT}%3AstateMachine%3Arefund-flow"
    )
    # an index's alert links its table
    assert _urls("dynamodb.capacity")["Table"] == (
        "https://eu-west-1.console.aws.amazon.com/dynamodbv2/home?region=eu-west-1"
        "#table?name=orders&tab=monitoring"
    )
    assert _urls("kinesis.iterator_age", "clicks")["Stream"] == (
        "https://eu-west-1.console.aws.amazon.com/kinesis/home?region=eu-west-1"
        "#/streams/details/clicks/monitoring"
    )
    assert _urls("apigateway.http_5xx")["API"] == (
        "https://eu-west-1.console.aws.amazon.com/apigateway/main/apis/a1b2c3d4e5/routes"
        "?api=a1b2c3d4e5&region=eu-west-1"
    )
    assert "ApiId~'a1b2c3d4e5" in _urls("apigateway.http_5xx")["Metric"]
    assert "ApiName~'orders" in _urls("apigateway.rest_5xx")["Metric"]
    assert _urls("s3.5xx_rate", "my bucket")["Bucket metrics"] == (
        "https://eu-west-1.console.aws.amazon.com/s3/buckets/my%20bucket"
        "?region=eu-west-1&tab=metrics"
    )
    assert _urls("quota.usage")["Quota"] == (
        "https://eu-west-1.console.aws.amazon.com/servicequotas/home/services/lambda/quotas/"
        "L-B99A9384?region=eu-west-1"
    )
    assert _urls("vigil.config_invalid")["Stack"] == (
        "https://eu-west-1.console.aws.amazon.com/cloudformation/home?region=eu-west-1"
        "#/stacks/parameters?stackId=vigil-prod"
    )
    assert "#/statemachines/view/" in _urls("vigil.resource_tags_invalid")["Executions"]
    assert "FunctionName~'orders" in _urls("lambda.duration_timeout")["Metric"]


def test_a_name_is_percent_encoded_in_every_link() -> None:
    for kind in ("sqs.dlq_messages", "dynamodb.throttles", "kinesis.write_throttles", "s3.latency"):
        for url in _urls(kind, "a b&c#d").values():
            assert " " not in url, url
            assert "&c" not in url, url
            assert "#d" not in url, url


def test_a_trace_link_opens_the_trace_and_refuses_anything_else() -> None:
    link = trace_link(REGION, "1-5759e988-bd862e3fe1be46a994272793")

    assert link is not None
    assert link.url == (
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
        "#xray:traces/1-5759e988-bd862e3fe1be46a994272793"
    )
    assert trace_link(REGION, "javascript:alert(1)") is None


HOSTILE_MESSAGE = "'user_id' <!channel> <https://evil.example|click> & *bold* [x](https://e.x)"


def _error(fingerprint: str, **update: Any) -> ErrorGroup:
    return ErrorGroup(
        fingerprint=fingerprint,
        error_type="KeyError",
        message=HOSTILE_MESSAGE,
        count=12,
        first_seen=T0 - timedelta(minutes=3),
        last_seen=T0 - timedelta(minutes=1),
        request_id="8f5b6c1e-2d3a-4b5c-9d8e-7f6a5b4c3d2e",
        trace_id="1-5759e988-bd862e3fe1be46a994272793",
        new=True,
    ).model_copy(update=update)


def _alert(state: AlertState = AlertState.FIRING, errors: int = 2) -> Alert:
    return Alert(
        labels=Labels(kind="lambda.errors", resource="orders-api", account=ACCOUNT, region=REGION),
        state=state,
        severity=Severity.CRITICAL,
        first_seen=T0 - timedelta(minutes=30),
        last_seen=T0,
        fired_at=T0 - timedelta(minutes=25),
        resolved_at=T0 + timedelta(minutes=15) if state is AlertState.RESOLVED else None,
        evidence=Evidence(
            value=2.0,
            threshold=1.0,
            unit="Percent",
            window_seconds=300,
            observed_at=T0,
            summary="2,000 errors in 100,000 invocations over 5 min (2.00%)",
            errors=[_error(f"{index:016x}", count=12 - index) for index in range(errors)],
        ),
        last_batch="b1",
    )


def _payload(alerts: list[Alert], reason: NotifyReason = NotifyReason.FIRING) -> ChatPayload:
    return ChatPayload(
        notification_id="n1",
        category="alert",
        reason=reason,
        severity=Severity.CRITICAL,
        title="[CRITICAL] Lambda errors firing: orders-api",
        text="2,000 errors",
        stack="vigil",
        alerts=[view(alert, now=T0, stack="vigil") for alert in alerts],
    )


def test_the_top_errors_carry_a_trace_and_their_request_log_lines() -> None:
    shown = view(_alert(), now=T0, stack="vigil")
    links = shown.error_links["0000000000000000"]

    assert [link.label for link in links] == ["Trace", "Log lines"]
    query = unquote(links[1].url.replace("$", "%"))
    assert "8f5b6c1e-2d3a-4b5c-9d8e-7f6a5b4c3d2e" in query
    assert "*2faws*2flambda*2forders-api" in query  # the function's log group
    # bounded to the alert's window, a minute either side
    start, end = T0 - timedelta(minutes=6), T0 + timedelta(minutes=1)
    assert f"end~{int(end.timestamp() * 1000)}" in query
    assert f"start~{int(start.timestamp() * 1000)}" in query
    assert shown.error_lines()[0].startswith(
        "KeyError NEW: 12 times, first seen 2026-11-02 08:57 UTC"
    )


def test_an_error_without_a_sample_has_no_links_and_untrusted_ids_make_none() -> None:
    alert = _alert().model_copy(
        update={
            "evidence": _alert().evidence.model_copy(
                update={
                    "errors": [
                        _error("0000000000000001", request_id=None, trace_id=None),
                        _error("0000000000000002", request_id='x" | delete', trace_id="1-zz"),
                    ]
                }
            )
        }
    )

    assert view(alert).error_links == {}


def _slack_texts(message: dict[str, Any]) -> str:
    return json.dumps(message["blocks"])


def test_every_channel_shows_the_errors_escaped_with_their_links() -> None:
    payload = _payload([_alert()])

    slack = slack_message(payload)
    for block in slack["blocks"]:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()
    errors = next(b["text"]["text"] for b in slack["blocks"] if "Top errors" in str(b))
    assert "&lt;!channel&gt;" in errors
    assert "<!channel>" not in errors
    assert "&lt;https://evil.example|click&gt;" in errors
    assert "|Trace>" in errors
    assert "|Log lines>" in errors

    card = teams_message(payload)
    assert problems("teams", card) == []
    teams = json.dumps(card)
    assert "\\\\<!channel\\\\>" in teams
    assert "[Trace](https://" in teams

    document = webhook_payload(payload)
    assert problems("webhook", document) == []
    assert document["alerts"][0]["errors"][0]["message"] == HOSTILE_MESSAGE
    assert document["alerts"][0]["errors"][0]["links"][0]["label"] == "Trace"

    chatbot = chatbot_notification(payload)
    assert problems("chatbot", chatbot) == []
    assert "<!channel>" not in chatbot["content"]["description"]


def test_a_storm_message_with_errors_stays_within_block_kit_limits() -> None:
    # 20 alerts of 5 errors each, every message 500 characters that grow fivefold escaped
    errors = [_error(f"{i:016x}", message="&" * 500) for i in range(5)]
    alerts = [
        _alert().model_copy(
            update={
                "labels": Labels(
                    kind="lambda.errors", resource=f"fn-{n}", account=ACCOUNT, region=REGION
                ),
                "evidence": _alert().evidence.model_copy(update={"errors": errors}),
            }
        )
        for n in range(20)
    ]
    message = slack_message(_payload(alerts))

    assert len(message["blocks"]) <= 50
    for block in message["blocks"]:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()


def test_since_when_and_for_how_long_in_the_notifications_time() -> None:
    assert view(_alert(), now=T0).timing == "since 2026-11-02 08:30 UTC, firing for 25 min"
    just = _alert().model_copy(update={"fired_at": T0 - timedelta(seconds=30)})
    assert view(just, now=T0).timing == (
        "since 2026-11-02 08:30 UTC, firing for less than a minute"
    )
    resolved = view(_alert(AlertState.RESOLVED), now=T0 + timedelta(minutes=15))
    assert resolved.timing == "resolved 2026-11-02 09:15 UTC after 40 min"
    fields = json.dumps(slack_message(_payload([_alert()]))["blocks"])
    assert "*When*\\nsince 2026-11-02 08:30 UTC, firing for 25 min" in fields


def _evaluate(
    *batches: Any, config: str = '{"lambda_errors": {"for_minutes": 0}}'
) -> list[Notification]:
    rules = RulesConfig.from_json(config)
    store = MemoryAlertStore()
    sent: list[Notification] = []
    for each in batches:
        sent += evaluate(
            each, rules=rules, store=store, routing=store.routing, stack="vigil"
        ).notifications
    return sent


def _email(notification: Notification) -> str:
    return str(json.loads(notification.message)["email"])


def test_a_resolved_alert_says_the_value_now() -> None:
    later = T0 + timedelta(minutes=5)
    calm = error_signal("orders-api", invocations=1_200, errors=0, at=later)
    sent = _evaluate(
        batch(T0, error_signal("orders-api", invocations=100_000, errors=2_000)), batch(later, calm)
    )
    email = _email(sent[-1])

    assert email.startswith("[RESOLVED] Lambda errors resolved: orders-api")
    assert "Now 0 errors in 1,200 invocations over 5 min (0.00%), below 1.00%." in email
    assert "When:       resolved 2026-11-02 09:05 UTC after 5 min" in email
    assert "above the critical" not in email


def test_a_resolved_alert_with_no_signal_says_there_was_none() -> None:
    sent = _evaluate(
        batch(T0, error_signal("orders-api", invocations=100_000, errors=2_000)),
        batch(T0 + timedelta(minutes=5)),
    )

    assert "No Lambda errors in the last 5 min." in _email(sent[-1])


RUNBOOKS = json.dumps(
    {
        "lambda_errors": {"for_minutes": 0},
        "overrides": [
            {
                "resources": ["*"],
                "kinds": ["lambda.*"],
                "runbook_url": "https://wiki.example/lambda",
            },
            {"resources": ["orders-*"], "runbook_url": "https://wiki.example/orders?x=1&y=2"},
            {
                "resources": ["billing-*"],
                "kinds": ["sqs.*"],
                "runbook_url": "https://wiki.example/q",
            },
        ],
    }
)


def test_the_runbook_the_config_names_is_the_first_link_in_every_channel() -> None:
    sent = _evaluate(
        batch(T0, error_signal("orders-api", invocations=100_000, errors=2_000)), config=RUNBOOKS
    )
    payload = ChatPayload.model_validate_json(json.loads(sent[0].message)["lambda"])

    assert payload.alerts[0].links[0].label == "Runbook"
    assert payload.alerts[0].links[0].url == "https://wiki.example/orders?x=1&y=2"
    assert "Runbook: https://wiki.example/orders?x=1&y=2" in _email(sent[0])
    buttons = [
        element
        for block in slack_message(payload)["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if "url" in element
    ]
    assert buttons[0]["text"]["text"] == "Runbook"
    assert "Runbook" in json.dumps(teams_message(payload))
    assert webhook_payload(payload)["alerts"][0]["links"][0]["label"] == "Runbook"


def test_a_runbook_entry_selects_by_kind_and_resource_and_the_last_wins() -> None:
    rules = RulesConfig.from_json(RUNBOOKS)

    assert rules.runbook_url(_labels("lambda.errors", "orders-api")) == (
        "https://wiki.example/orders?x=1&y=2"
    )
    assert rules.runbook_url(_labels("lambda.throttles", "users")) == "https://wiki.example/lambda"
    assert rules.runbook_url(_labels("sqs.dlq_messages", "billing-dlq")) == "https://wiki.example/q"
    assert rules.runbook_url(_labels("sqs.dlq_messages", "users-dlq")) is None


@pytest.mark.parametrize("url", ["wiki.example/x", "https://a b", "https://x|y", "javascript:x"])
def test_a_runbook_url_that_is_no_web_link_fails_the_config(url: str) -> None:
    with pytest.raises(ConfigError, match=r"overrides\.0\.runbook_url"):
        RulesConfig.from_json(json.dumps({"overrides": [{"resources": ["*"], "runbook_url": url}]}))


def test_a_storm_of_error_alerts_makes_a_message_sns_takes() -> None:
    """The first 5 alerts of a message carry their errors, the rest are listed without."""
    errors = [_error(f"{i:016x}", message="é<&" * 166) for i in range(5)]
    signals = [
        error_signal(f"fn-{n:02}", invocations=1_000, errors=500).model_copy(
            update={"errors": errors}
        )
        for n in range(40)
    ]
    grouped = {"lambda_errors": {"for_minutes": 0}, "routing": {"route": {"group_by": ["kind"]}}}
    sent = _evaluate(batch(T0, *signals), config=json.dumps(grouped))
    payload = ChatPayload.model_validate_json(json.loads(sent[0].message)["lambda"])

    assert len(payload.alerts) == 20
    assert [bool(alert.evidence.errors) for alert in payload.alerts] == [True] * 5 + [False] * 15
    # SNS takes 256 KB; a non-ASCII message is escaped twice (\\u00e9, 7 bytes a character)
    assert len(sent[0].message.encode()) < 160_000
    assert len(slack_message(payload)["blocks"]) <= 50


def test_a_resource_names_its_runbook_by_its_vigil_runbook_tag() -> None:
    config = json.dumps(
        {
            "lambda_errors": {"for_minutes": 0},
            "overrides": [
                {"tags": {"team": "payments"}, "runbook_url": "https://wiki.example/pay"}
            ],
        }
    )
    tagged = error_signal("orders-api", invocations=1_000, errors=500).model_copy(
        update={"tags": {"vigil:runbook": "https://wiki.example/orders"}}
    )
    team = error_signal("pay-api", invocations=1_000, errors=500).model_copy(
        update={"tags": {"team": "payments"}}
    )
    sent = _evaluate(batch(T0, tagged, team), config=config)
    runbooks = {
        alert.labels.resource: alert.links[0].url
        for notification in sent
        for alert in ChatPayload.model_validate_json(
            json.loads(notification.message)["lambda"]
        ).alerts
        if alert.links[0].label == "Runbook"
    }

    assert runbooks == {
        "orders-api": "https://wiki.example/orders",
        "pay-api": "https://wiki.example/pay",
    }


def test_a_runbook_tag_that_is_no_web_link_is_a_tag_problem() -> None:
    rules = RulesConfig()
    told = read_tags({"vigil:runbook": "wiki/orders"}, rule_sections(dict(rules)))

    assert told.problems == ("tag vigil:runbook=wiki/orders: expected an http(s) URL",)
    assert (
        read_tags({"vigil:runbook": "https://w.example/o"}, rule_sections(dict(rules))).problems
        == ()
    )
