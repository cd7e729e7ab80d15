"""CloudWatch alarms as input (ADR 47, docs/rules.md "cloudwatch_alarms"): AWS's documented
state change events parsed (tests/unit/data/cloudwatch_alarm_events, copied from the
CloudWatch user guide's "Alarm events and EventBridge"), the selection and severity of the
rules config, and each change through the Evaluate pipeline: ALARM fires, OK resolves,
INSUFFICIENT_DATA keeps the alert as it is (Alertmanager keeps an alert until its source
resolves it), a duplicate changes nothing and an older state arriving late is ignored."""

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import MemoryAlertStore
from vigil.alarms.intake import batch_of, parse_change
from vigil.alerting.alarms import chat_payload
from vigil.alerting.silences import Matchers, Silence
from vigil.core.errors import ConfigError, InvalidEventError
from vigil.core.model import AlertState, Severity
from vigil.evaluation.pipeline import EvaluationResult, evaluate
from vigil.rules.alarms import ALARM_KIND, CloudWatchAlarmsRule
from vigil.rules.document import RulesConfig

SAMPLES = Path(__file__).parent / "data" / "cloudwatch_alarm_events"


def sample(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text())
    return document


def selecting(**section: object) -> CloudWatchAlarmsRule:
    return CloudWatchAlarmsRule.model_validate({"enabled": True, **section})


def changed(event: dict[str, Any], state: str, timestamp: str) -> dict[str, Any]:
    """``event`` with its state set to ``state`` at ``timestamp`` (CloudWatch's format)."""
    copied = copy.deepcopy(event)
    copied["detail"]["previousState"] = copied["detail"]["state"]
    copied["detail"]["state"] = {"value": state, "reason": f"now {state}", "timestamp": timestamp}
    copied["id"] = f"{copied['id'][:-4]}{timestamp[-8:-5].replace('.', '')}"
    return copied


# ------------------------------------------------------------------ AWS's samples


def test_a_single_metric_alarm_names_its_metric_dimensions_and_period() -> None:
    change = parse_change(sample("single-metric"))

    assert change.name == "ServerCpuTooHigh"
    assert change.arn == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh"
    assert (change.state, change.previous) == ("ALARM", "OK")
    assert change.at.isoformat() == "2019-10-02T17:04:40.989000+00:00"
    assert (change.namespace, change.metric) == ("AWS/EC2", "CPUUtilization")
    assert change.dimensions == {"InstanceId": "i-12345678901234567"}
    assert change.period == 300
    assert change.metric_text == "AWS/EC2 CPUUtilization (InstanceId=i-12345678901234567)"
    assert change.reason.startswith("Threshold Crossed: 1 out of the last 1 datapoints")


def test_a_metric_math_alarm_names_its_expression_and_the_metrics_it_reads() -> None:
    change = parse_change(sample("metric-math"))

    assert (change.state, change.previous) == ("ALARM", "INSUFFICIENT_DATA")
    assert change.expression == "SUM(METRICS())"
    assert (change.namespace, change.metric) == ("AWS/EC2", "NetworkIn, NetworkOut")
    assert change.metric_text == (
        "SUM(METRICS()) of AWS/EC2 NetworkIn, NetworkOut (InstanceId=i-12345678901234567)"
    )


def test_an_anomaly_detection_alarm_names_its_band_and_metric() -> None:
    change = parse_change(sample("anomaly-detection"))

    assert change.name == "EC2 CPU Utilization Anomaly"
    assert change.expression == "ANOMALY_DETECTION_BAND(m1, 0.8)"
    assert (change.namespace, change.metric, change.period) == ("AWS/EC2", "CPUUtilization", 60)


def test_a_composite_alarm_names_its_rule_and_no_metric() -> None:
    change = parse_change(sample("composite"))

    assert change.alarm_rule == "ALARM(ServerCpuTooHigh) OR ALARM(TotalNetworkTrafficTooHigh)"
    assert (change.namespace, change.metric, change.period) == (None, None, None)
    assert change.metric_text == change.alarm_rule
    assert change.reason.endswith("transitioned to ALARM at Friday 22 July, 2022 15:57:45 UTC")


def test_a_metrics_insights_alarm_is_its_query() -> None:
    change = parse_change(sample("metrics-insights"))

    assert change.expression is not None
    assert change.expression.startswith("SELECT AVG(")
    assert change.period == 60
    assert change.namespace is None


def test_fields_aws_adds_are_ignored_and_propagated_tags_are_read() -> None:
    event = sample("single-metric")
    event["detail"]["newField"] = {"anything": [1, 2]}
    event["detail"]["state"]["newField"] = "x"
    event["detail"]["alarmTags"] = {"team": "payments", "vigil:severity": "critical"}
    event["detail"]["alarmTagsStatus"] = "SUCCESS"

    assert parse_change(event).tags == {"team": "payments", "vigil:severity": "critical"}


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("source",), "aws.health", "not a CloudWatch Alarm State Change event"),
        (("detail-type",), "CloudWatch Alarm Configuration Change", "not a CloudWatch Alarm"),
        (("detail", "alarmName"), None, "detail.alarmName is missing"),
        (("detail", "state"), None, "detail.state is missing"),
        (("detail", "state", "timestamp"), "yesterday", "is not a time"),
        (("detail", "state", "timestamp"), "2019-10-02T17:04:40", "has no time zone"),
    ],
)
def test_an_event_that_is_not_a_state_change_is_refused_naming_the_field(
    path: tuple[str, ...], value: object, message: str
) -> None:
    event = sample("single-metric")
    target = event
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value

    with pytest.raises(InvalidEventError, match=message):
        parse_change(event)


# ------------------------------------------------------------------ selection, severity


def test_the_section_is_off_by_default_and_enabled_needs_a_selection() -> None:
    assert RulesConfig().cloudwatch_alarms.enabled is False
    assert batch_of(parse_change(sample("single-metric")), RulesConfig().cloudwatch_alarms) is None
    with pytest.raises(ConfigError, match="cloudwatch_alarms"):
        RulesConfig.from_json('{"cloudwatch_alarms": {"enabled": true}}')
    with pytest.raises(ConfigError, match="tag_values needs a tag"):
        RulesConfig.from_json('{"cloudwatch_alarms": {"tag_values": ["x"]}}')


@pytest.mark.parametrize(
    ("section", "name", "tags", "selected"),
    [
        ({"prefixes": [{"prefix": "Server"}]}, "ServerCpuTooHigh", {}, True),
        ({"prefixes": [{"prefix": "Server"}]}, "DiskFull", {}, False),
        ({"tag": "oncall"}, "DiskFull", {"oncall": "yes"}, True),
        ({"tag": "oncall"}, "DiskFull", {"team": "a"}, False),
        ({"tag": "team", "tag_values": ["payments"]}, "x", {"team": "payments"}, True),
        ({"tag": "team", "tag_values": ["payments"]}, "x", {"team": "search"}, False),
    ],
)
def test_alarms_are_selected_by_name_prefix_or_tag(
    section: dict[str, object], name: str, tags: dict[str, str], selected: bool
) -> None:
    assert selecting(**section).selects(name, tags) is selected


def test_severity_comes_from_the_tag_then_the_longest_prefix_then_the_section() -> None:
    rule = selecting(
        prefixes=[
            {"prefix": "orders-"},
            {"prefix": "orders-db-", "severity": "critical"},
            {"prefix": "orders-d", "severity": "info"},
        ]
    )

    assert rule.severity_of("orders-api-5xx", {}) is Severity.WARNING
    assert rule.severity_of("orders-db-cpu", {}) is Severity.CRITICAL
    assert rule.severity_of("orders-db-cpu", {"vigil:severity": "INFO"}) is Severity.INFO
    assert rule.severity_of("orders-db-cpu", {"vigil:severity": "loud"}) is Severity.CRITICAL


def test_insufficient_data_and_unknown_states_start_no_evaluation() -> None:
    rule = selecting(prefixes=[{"prefix": "Server"}])
    event = sample("single-metric")

    for state in ("INSUFFICIENT_DATA", "SOMETHING_NEW"):
        waiting = changed(event, state, "2019-10-02T17:09:40.000+0000")
        assert batch_of(parse_change(waiting), rule) is None


def test_one_state_change_is_one_signal_whose_batch_id_is_stable() -> None:
    event = sample("single-metric")
    event["detail"]["alarmTags"] = {"team": "ops", "vigil:severity": "critical"}
    rule = selecting(prefixes=[{"prefix": "Server"}])
    batch = batch_of(parse_change(event), rule)
    again = batch_of(parse_change(copy.deepcopy(event)), rule)
    ok = batch_of(parse_change(changed(event, "OK", "2019-10-02T17:30:00.000+0000")), rule)

    assert batch is not None
    assert again is not None
    assert ok is not None
    assert batch.batch_id == again.batch_id != ok.batch_id
    assert len(batch.batch_id) <= 80
    assert batch.collected_at == parse_change(event).at
    (signal,) = batch.signals
    assert (signal.labels.kind, signal.labels.resource) == (ALARM_KIND, "ServerCpuTooHigh")
    assert (signal.value, ok.signals[0].value) == (1.0, 0.0)
    assert signal.window_seconds == 300
    assert signal.tags == {"team": "ops"}  # vigil:severity is no per-resource override
    assert signal.context["vigil:severity"] == "critical"
    assert signal.context["metric"] == "AWS/EC2 CPUUtilization (InstanceId=i-12345678901234567)"


# ------------------------------------------------------------------ through the pipeline

RULES = {
    "cloudwatch_alarms": {"enabled": True, "prefixes": [{"prefix": "Server"}, {"prefix": "EC2"}]},
    "routing": {
        "receivers": [{"name": "ops"}, {"name": "infra"}],
        "route": {
            "receivers": ["ops"],
            "group_wait": "0s",
            "routes": [{"match": {"kind": "cloudwatch.alarm"}, "receivers": ["infra"]}],
        },
    },
}


class Stack:
    """One stack's stored alerts, fed alarm events as the intake hands them over."""

    def __init__(self, document: dict[str, Any] = RULES) -> None:
        self.rules = RulesConfig.from_json(json.dumps(document))
        self.store = MemoryAlertStore()

    def feed(self, event: dict[str, Any]) -> EvaluationResult | None:
        batch = batch_of(parse_change(event), self.rules.cloudwatch_alarms)
        if batch is None:
            return None
        return evaluate(
            batch, rules=self.rules, store=self.store, routing=self.store.routing, stack="vigil"
        )

    def state(self, name: str) -> AlertState | None:
        alerts = [a for a in self.store.items.values() if a.labels.resource == name]
        return alerts[0].state if alerts else None


def subjects(result: EvaluationResult | None) -> list[str]:
    assert result is not None
    return [n.subject for n in result.notifications]


def test_alarm_fires_routed_like_a_native_alert_and_ok_resolves_it() -> None:
    stack = Stack()
    event = sample("single-metric")

    fired = stack.feed(event)
    resolved = stack.feed(changed(event, "OK", "2019-10-02T17:30:00.000+0000"))

    assert subjects(fired) == ["[WARNING] CloudWatch alarm firing: ServerCpuTooHigh"]
    assert fired is not None
    assert fired.notifications[0].receiver == "infra"
    assert subjects(resolved) == ["[RESOLVED] CloudWatch alarm resolved: ServerCpuTooHigh"]
    assert resolved is not None
    text = json.loads(resolved.notifications[0].message)["default"]
    assert "Now OK: now OK" in text
    assert "Value:      OK" in text
    firing = json.loads(fired.notifications[0].message)["default"]
    assert "CloudWatch alarm ServerCpuTooHigh is in ALARM on AWS/EC2 CPUUtilization" in firing
    assert "Value:      ALARM" in firing
    assert stack.state("ServerCpuTooHigh") is AlertState.RESOLVED


def test_a_duplicate_changes_nothing_and_an_older_state_arriving_late_is_ignored() -> None:
    stack = Stack()
    event = sample("single-metric")
    ok = changed(event, "OK", "2019-10-02T17:30:00.000+0000")
    stack.feed(event)
    stack.feed(ok)
    writes = stack.store.writes

    stack.feed(copy.deepcopy(ok))  # EventBridge delivers at least once
    stack.feed(event)  # the ALARM before the OK, delivered again after it

    assert stack.store.writes == writes
    assert stack.state("ServerCpuTooHigh") is AlertState.RESOLVED


def test_insufficient_data_keeps_a_firing_alarm_firing_until_ok() -> None:
    stack = Stack()
    event = sample("single-metric")
    stack.feed(event)

    assert stack.feed(changed(event, "INSUFFICIENT_DATA", "2019-10-02T17:10:00.000+0000")) is None
    assert stack.state("ServerCpuTooHigh") is AlertState.FIRING


def test_one_alarms_ok_leaves_another_alarms_alert_firing() -> None:
    stack = Stack()
    cpu, anomaly = sample("single-metric"), sample("anomaly-detection")
    anomaly["detail"]["state"]["timestamp"] = "2019-10-02T17:05:00.000+0000"
    stack.feed(cpu)
    stack.feed(anomaly)

    stack.feed(changed(cpu, "OK", "2019-10-02T17:30:00.000+0000"))

    assert stack.state("ServerCpuTooHigh") is AlertState.RESOLVED
    assert stack.state("EC2 CPU Utilization Anomaly") is AlertState.FIRING


def test_an_unselected_alarm_is_ignored() -> None:
    stack = Stack()

    assert stack.feed(sample("composite")) is None
    assert stack.store.items == {}


def test_a_silence_mutes_an_alarms_alert() -> None:
    document = copy.deepcopy(RULES)
    stack = Stack(document)
    at = parse_change(sample("single-metric")).at
    stack.store.silences.items.append(
        Silence(
            silence_id="alarmsilence1",
            matchers=Matchers(match={"kind": "cloudwatch.alarm", "resource": "Server*"}),
            starts_at=at - timedelta(hours=1),
            ends_at=at + timedelta(hours=1),
        )
    )

    assert subjects(stack.feed(sample("single-metric"))) == []
    assert stack.state("ServerCpuTooHigh") is AlertState.FIRING


# ------------------------------------------------------------------ the alerts topic


def _topic_message(name: str) -> str:
    return json.dumps(
        {
            "AlarmName": name,
            "AlarmArn": f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}",
            "NewStateValue": "ALARM",
            "NewStateReason": "Threshold Crossed",
            "StateChangeTime": "2026-11-02T09:00:00.000+0000",
            "Region": "US East (N. Virginia)",
        }
    )


def test_only_the_stacks_own_alarms_on_the_topic_are_titled_self_watch() -> None:
    own = chat_payload(_topic_message("vigil-ChatDeadLettersAlarm-ABC"), stack="vigil")
    theirs = chat_payload(_topic_message("orders-5xx"), stack="vigil")

    assert own.title == "[ALARM] Vigil self-watch: vigil-ChatDeadLettersAlarm-ABC"
    assert theirs.title == "[ALARM] CloudWatch alarm: orders-5xx"
    assert theirs.category == "cloudwatch-alarm"
