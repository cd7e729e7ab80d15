"""CloudWatch alarm state changes (EventBridge ``CloudWatch Alarm State Change``) as signal
batches: parsed forward-compatibly, selected by the rules config, one signal each.

The parsing follows AWS's documented samples (single metric, metric math, anomaly detection,
composite and Metrics Insights alarms: "Alarm events and EventBridge" in the CloudWatch user
guide) and reads only what it needs; fields AWS adds are ignored. ``ALARM`` becomes a signal of
value 1, ``OK`` of value 0 (which resolves the alert, ``vigil.rules.kinds.STATE_KINDS``);
``INSUFFICIENT_DATA`` says nothing about the condition and starts no evaluation: a firing
alert stays firing, as Alertmanager keeps an alert whose source went silent until it resolves
it (ADR 47).
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final

from vigil.core.errors import InvalidEventError
from vigil.core.model import ALARM_STATE, Labels, Signal, SignalBatch
from vigil.rules.alarms import ALARM_KIND, SEVERITY_TAG, CloudWatchAlarmsRule

SOURCE: Final = "aws.cloudwatch"
DETAIL_TYPE: Final = "CloudWatch Alarm State Change"
_VALUES: Final = {"ALARM": 1.0, "OK": 0.0}
_DEFAULT_WINDOW = 60
_MAX_CONTEXT = 500


@dataclass(frozen=True)
class AlarmChange:
    """One state change of one alarm, as much of it as Vigil reads."""

    event_id: str
    name: str
    arn: str
    account: str
    region: str
    state: str
    """``ALARM``, ``OK``, ``INSUFFICIENT_DATA`` (or a value AWS adds later)."""
    previous: str | None
    reason: str
    at: datetime
    """The state's own timestamp: the order of an alarm's changes."""
    description: str = ""
    namespace: str | None = None
    metric: str | None = None
    dimensions: dict[str, str] = field(default_factory=dict)
    expression: str | None = None
    alarm_rule: str | None = None
    """A composite alarm's rule (``ALARM(a) OR ALARM(b)``)."""
    period: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    """The alarm's tags, where CloudWatch propagates them to the event (``alarmTags``)."""

    @property
    def metric_text(self) -> str:
        """``AWS/EC2 CPUUtilization (InstanceId=i-1)``, the expression, or the composite rule."""
        if self.alarm_rule:
            return self.alarm_rule
        parts = [p for p in (self.namespace, self.metric) if p]
        dims = ", ".join(f"{k}={v}" for k, v in sorted(self.dimensions.items()))
        text = " ".join(parts) + (f" ({dims})" if dims else "")
        if self.expression:
            text = f"{self.expression} of {text}" if text else self.expression
        return text


def parse_change(event: Mapping[str, Any]) -> AlarmChange:
    """The alarm state change an EventBridge event carries; ``InvalidEventError`` naming what
    is missing when it is not one."""
    if event.get("source") != SOURCE or event.get("detail-type") != DETAIL_TYPE:
        raise InvalidEventError(
            f"not a {DETAIL_TYPE} event: source {event.get('source')!r},"
            f" detail-type {event.get('detail-type')!r}"
        )
    detail = _mapping(event.get("detail"), "detail")
    name = _text(detail.get("alarmName"), "detail.alarmName")
    state = _mapping(detail.get("state"), "detail.state")
    previous = detail.get("previousState")
    account = _text(event.get("account"), "account")
    region = _text(event.get("region"), "region")
    resources = event.get("resources")
    arn = (
        str(resources[0])
        if isinstance(resources, list) and resources
        else f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}"
    )
    configuration = detail.get("configuration")
    config = configuration if isinstance(configuration, Mapping) else {}
    tags = detail.get("alarmTags")
    change = AlarmChange(
        event_id=_text(event.get("id"), "id"),
        name=name,
        arn=arn,
        account=account,
        region=region,
        state=_text(state.get("value"), "detail.state.value"),
        previous=str(previous["value"])
        if isinstance(previous, Mapping) and "value" in previous
        else None,
        reason=str(state.get("reason") or "")[:_MAX_CONTEXT],
        at=_timestamp(state.get("timestamp"), "detail.state.timestamp"),
        description=str(config.get("description") or "")[:_MAX_CONTEXT],
        alarm_rule=str(config["alarmRule"])[:_MAX_CONTEXT] if config.get("alarmRule") else None,
        tags={str(k): str(v) for k, v in tags.items()} if isinstance(tags, Mapping) else {},
    )
    return _with_metrics(change, config.get("metrics"))


def _with_metrics(change: AlarmChange, metrics: object) -> AlarmChange:
    """The metric behind the alarm: the one it returns (single metric, anomaly detection) or
    the ones its expression reads (metric math), with the expression; a Metrics Insights
    query is an expression alone."""
    if not isinstance(metrics, list):
        return change
    entries = [m for m in metrics if isinstance(m, Mapping)]
    stats = [m["metricStat"] for m in entries if isinstance(m.get("metricStat"), Mapping)]
    read = [s["metric"] for s in stats if isinstance(s.get("metric"), Mapping)]
    expressions = [
        str(m["expression"]) for m in entries if m.get("expression") and m.get("returnData", True)
    ]
    namespaces = {str(m.get("namespace")) for m in read if m.get("namespace")}
    names = list(dict.fromkeys(str(m.get("name")) for m in read if m.get("name")))
    dimensions: dict[str, str] = {}
    for metric in read:
        dims = metric.get("dimensions")
        if isinstance(dims, Mapping):
            dimensions.update({str(k): str(v) for k, v in dims.items()})
    periods = [int(s["period"]) for s in stats if isinstance(s.get("period"), int)] + [
        int(m["period"]) for m in entries if isinstance(m.get("period"), int)
    ]
    return replace(
        change,
        namespace=namespaces.pop() if len(namespaces) == 1 else None,
        metric=", ".join(names) or None,
        dimensions=dimensions,
        expression=", ".join(expressions)[:_MAX_CONTEXT] or None,
        period=max(periods) if periods else None,
    )


def batch_of(change: AlarmChange, rules: CloudWatchAlarmsRule) -> SignalBatch | None:
    """The batch that hands ``change`` to the Evaluate workflow, or ``None`` when the alarm is
    not selected or its state says nothing (``INSUFFICIENT_DATA``).

    The batch id is a hash of the alarm and its state's timestamp and value: a redelivered event
    starts the same evaluation, which changes nothing (``vigil.alerting.lifecycle``); the
    batch's time is the state's, so an older state arriving late is ignored by the lifecycle.
    """
    if change.state not in _VALUES or not rules.selects(change.name, change.tags):
        return None
    context = {
        key: value
        for key, value in {
            "reason": change.reason,
            "previous_state": change.previous or "",
            "description": change.description,
            "metric": change.metric_text,
            "namespace": change.namespace or "",
            "expression": change.expression or "",
            "alarm_rule": change.alarm_rule or "",
            "alarm_arn": change.arn,
            SEVERITY_TAG: change.tags.get(SEVERITY_TAG, ""),
        }.items()
        if value
    }
    signal = Signal(
        source="alarms",
        labels=Labels(
            kind=ALARM_KIND, resource=change.name, account=change.account, region=change.region
        ),
        value=_VALUES[change.state],
        unit=ALARM_STATE,
        window_seconds=change.period or _DEFAULT_WINDOW,
        observed_at=change.at,
        context=context,
        tags={k: v for k, v in change.tags.items() if k != SEVERITY_TAG},
    )
    key = f"{change.arn}|{change.at.isoformat()}|{change.state}"
    return SignalBatch(
        batch_id=f"alarm-{hashlib.sha256(key.encode()).hexdigest()[:40]}",
        source="alarms",
        collected_at=change.at,
        covered_kinds=[],
        signals=[signal],
    )


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidEventError(f"{DETAIL_TYPE}: {where} is missing or not an object")
    return value


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidEventError(f"{DETAIL_TYPE}: {where} is missing or not a string")
    return value


def _timestamp(value: object, where: str) -> datetime:
    """CloudWatch writes ``2019-10-02T17:04:40.989+0000``."""
    text = _text(value, where)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidEventError(f"{DETAIL_TYPE}: {where} {text!r} is not a time") from exc
    if moment.tzinfo is None:
        raise InvalidEventError(f"{DETAIL_TYPE}: {where} {text!r} has no time zone")
    return moment
