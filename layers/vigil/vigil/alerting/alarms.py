"""CloudWatch alarm notifications on the alerts topic (Vigil's self-watch) as chat payloads.

The self-watch alarms in template.yaml publish CloudWatch's own JSON message to the alerts
topic. It carries no Vigil contract, so the chat function recognises it by its fields and
renders it like any other notification. Only an alarm of Vigil's own stack (CloudFormation
names it ``<stack>-<logical id>-<suffix>``) is titled "Vigil self-watch"; any other alarm whose
actions publish to the topic is relayed as a plain "CloudWatch alarm" message, neither routed
nor silenced: the alarms the user selects come in through EventBridge instead (ADR 47).
"""

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict

from vigil.core.events import parse_model
from vigil.core.model import ChatPayload, NotifyReason, Severity


class CloudWatchAlarmMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    AlarmName: str
    AlarmDescription: str | None = None
    AlarmArn: str
    NewStateValue: Literal["ALARM", "OK", "INSUFFICIENT_DATA"]
    NewStateReason: str
    StateChangeTime: str
    Region: str


def chat_payload(message: str, *, stack: str) -> ChatPayload:
    """Parse an SNS message for chat: a Vigil ``ChatPayload`` or a CloudWatch alarm."""
    try:
        document = json.loads(message)
    except json.JSONDecodeError:
        document = None
    if isinstance(document, dict) and "AlarmName" in document and "NewStateValue" in document:
        alarm = parse_model(CloudWatchAlarmMessage, document, what="CloudWatch alarm message")
        return _alarm_payload(alarm, stack=stack)
    return parse_model(ChatPayload, message, what="chat notification")


def _alarm_payload(alarm: CloudWatchAlarmMessage, *, stack: str) -> ChatPayload:
    firing = alarm.NewStateValue == "ALARM"
    state = {"ALARM": "ALARM", "OK": "OK", "INSUFFICIENT_DATA": "INSUFFICIENT DATA"}
    own = alarm.AlarmName.startswith(f"{stack}-")
    key = f"{alarm.AlarmArn}|{alarm.StateChangeTime}|{alarm.NewStateValue}"
    return ChatPayload(
        notification_id=hashlib.sha256(key.encode()).hexdigest()[:24],
        category="self-watch" if own else "cloudwatch-alarm",
        reason=NotifyReason.FIRING if firing else NotifyReason.RESOLVED,
        severity=Severity.CRITICAL if firing else Severity.INFO,
        title=f"[{state[alarm.NewStateValue]}] "
        + ("Vigil self-watch" if own else "CloudWatch alarm")
        + f": {alarm.AlarmName}",
        text=f"{alarm.AlarmDescription or alarm.AlarmName}\n{alarm.NewStateReason}",
        stack=stack,
        alerts=[],
    )
