"""CloudWatch alarms of the account, fed by a scenario's ``alarms:`` section.

Each alarm is created in moto (``PutMetricAlarm``, with its tags) when the stack is deployed,
and each of its state changes is delivered, at its simulated time, as the
``CloudWatch Alarm State Change`` event CloudWatch sends to EventBridge, shaped as AWS's
documented single metric sample ("Alarm events and EventBridge", CloudWatch user guide), to the
Lambda targets of the stack's rules whose pattern matches it (moto stores rules but delivers to
no Lambda target). An alarm whose ``tags`` are set has CloudWatch's tag propagation on: the
event carries them as ``alarmTags``.

Scenario section::

    alarms:
      - name: orders-api-latency        # the alarm's name
        namespace: AWS/ApiGateway       # its metric (default AWS/Lambda Errors, no dimensions)
        metric: Latency
        dimensions: {ApiName: orders}
        tags: {team: payments}          # optional; propagated to the events
        changes: {10m: ALARM, 40m: OK}  # offsets from the scenario start: the new state
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import boto3

from emulator._aws import ACCOUNT_ID, REGION
from emulator.clock import parse_duration
from emulator.errors import ScenarioError

_KEYS = {"name", "namespace", "metric", "dimensions", "tags", "changes"}
_STATES = {"ALARM", "OK", "INSUFFICIENT_DATA"}
_PERIOD = 60


@dataclass(frozen=True)
class ScenarioAlarm:
    name: str
    namespace: str
    metric: str
    dimensions: dict[str, str]
    tags: dict[str, str]
    changes: tuple[tuple[timedelta, str], ...]
    """(offset from the scenario start, new state), in time order."""


@dataclass(frozen=True)
class AlarmScenario:
    alarms: tuple[ScenarioAlarm, ...] = ()


def parse_alarms(document: object, length: timedelta) -> AlarmScenario:
    """Validate a scenario's ``alarms:`` section (empty if absent)."""
    if document is None:
        return AlarmScenario()
    if not isinstance(document, list):
        raise ScenarioError("alarms: expected a list")
    alarms: list[ScenarioAlarm] = []
    for index, item in enumerate(document):
        where = f"alarms[{index}]"
        if not isinstance(item, Mapping):
            raise ScenarioError(f"{where}: expected a mapping")
        unknown = set(item) - _KEYS
        if unknown:
            raise ScenarioError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
        if not isinstance(item.get("name"), str) or not item["name"]:
            raise ScenarioError(f"{where}.name: missing")
        changes: list[tuple[timedelta, str]] = []
        raw = item.get("changes") or {}
        if not isinstance(raw, Mapping) or not raw:
            raise ScenarioError(f"{where}.changes: expected a mapping of offsets to states")
        for offset, state in raw.items():
            at = parse_duration(offset, f"{where}.changes")
            if at > length:
                raise ScenarioError(f"{where}.changes.{offset}: after the end of the scenario")
            if state not in _STATES:
                raise ScenarioError(
                    f"{where}.changes.{offset}: one of {', '.join(sorted(_STATES))}"
                )
            changes.append((at, str(state)))
        alarms.append(
            ScenarioAlarm(
                name=str(item["name"]),
                namespace=str(item.get("namespace", "AWS/Lambda")),
                metric=str(item.get("metric", "Errors")),
                dimensions=_strings(item.get("dimensions"), f"{where}.dimensions"),
                tags=_strings(item.get("tags"), f"{where}.tags"),
                changes=tuple(sorted(changes)),
            )
        )
    return AlarmScenario(tuple(alarms))


def _strings(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ScenarioError(f"{where}: expected a mapping")
    return {str(k): str(v) for k, v in value.items()}


def _timestamp(moment: datetime) -> str:
    """CloudWatch's own format: ``2019-10-02T17:04:40.989+0000``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


@dataclass
class AlarmDriver:
    """Creates the scenario's alarms and yields their state changes as EventBridge events."""

    scenario: AlarmScenario
    start: datetime
    _delivered: set[tuple[str, int]] = field(default_factory=set)
    _states: dict[str, tuple[str, datetime]] = field(default_factory=dict)

    def create(self) -> None:
        cloudwatch = boto3.client("cloudwatch")
        for alarm in self.scenario.alarms:
            cloudwatch.put_metric_alarm(
                AlarmName=alarm.name,
                Namespace=alarm.namespace,
                MetricName=alarm.metric,
                Dimensions=[{"Name": k, "Value": v} for k, v in alarm.dimensions.items()],
                Statistic="Sum",
                Period=_PERIOD,
                EvaluationPeriods=1,
                Threshold=0,
                ComparisonOperator="GreaterThanThreshold",
                Tags=[{"Key": k, "Value": v} for k, v in alarm.tags.items()],
            )

    def due_events(self, until: datetime) -> Iterator[dict[str, Any]]:
        """The state change events at or before ``until`` not yet delivered, in time order."""
        pending = sorted(
            (self.start + at, index, number, alarm, state)
            for index, alarm in enumerate(self.scenario.alarms)
            for number, (at, state) in enumerate(alarm.changes)
            if (alarm.name, number) not in self._delivered and self.start + at <= until
        )
        for at, _, number, alarm, state in pending:
            self._delivered.add((alarm.name, number))
            yield self.event(alarm, state, at)

    def event(self, alarm: ScenarioAlarm, state: str, at: datetime) -> dict[str, Any]:
        """The event CloudWatch sends when ``alarm`` enters ``state`` at ``at``."""
        previous, since = self._states.get(alarm.name, ("INSUFFICIENT_DATA", self.start))
        self._states[alarm.name] = (state, at)
        detail: dict[str, Any] = {
            "alarmName": alarm.name,
            "configuration": {
                "description": f"{alarm.namespace} {alarm.metric} (emulated)",
                "metrics": [
                    {
                        "id": "m1",
                        "metricStat": {
                            "metric": {
                                "dimensions": alarm.dimensions,
                                "name": alarm.metric,
                                "namespace": alarm.namespace,
                            },
                            "period": _PERIOD,
                            "stat": "Sum",
                        },
                        "returnData": True,
                    }
                ],
            },
            "previousState": {
                "reason": f"entered {previous}",
                "timestamp": _timestamp(since),
                "value": previous,
            },
            "state": {
                "reason": f"Threshold Crossed: the emulated alarm entered {state}",
                "timestamp": _timestamp(at),
                "value": state,
            },
        }
        if alarm.tags:
            detail |= {"alarmTags": dict(alarm.tags), "alarmTagsStatus": "SUCCESS"}
        return {
            "version": "0",
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{alarm.name}#{at.isoformat()}#{state}")),
            "detail-type": "CloudWatch Alarm State Change",
            "source": "aws.cloudwatch",
            "account": ACCOUNT_ID,
            "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{alarm.name}"],
            "detail": detail,
        }
