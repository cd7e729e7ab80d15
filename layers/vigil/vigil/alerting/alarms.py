"""CloudWatch alarm notifications (Vigil's self-watch) as chat payloads.

The self-watch alarms in template.yaml publish CloudWatch's own JSON message to the alerts
topic. It carries no Vigil contract, so the chat function recognises it by its fields and
renders it like any other notification.
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
    key = f"{alarm.AlarmArn}|{alarm.StateChangeTime}|{alarm.NewStateValue}"
    return ChatPayload(
        notification_id=hashlib.sha256(key.encode()).hexdigest()[:24],
        category="self-watch",
        reason=NotifyReason.FIRING if firing else NotifyReason.RESOLVED,
        severity=Severity.CRITICAL if firing else Severity.INFO,
        title=f"[{state[alarm.NewStateValue]}] Vigil self-watch: {alarm.AlarmName}",
        text=f"{alarm.AlarmDescription or alarm.AlarmName}\n{alarm.NewStateReason}",
        stack=stack,
        alerts=[],
    )
