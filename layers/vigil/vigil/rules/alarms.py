"""The CloudWatch alarms the user selects, taken in as Vigil alerts (docs/rules.md,
``cloudwatch_alarms``): which alarms, at what severity, and the judge of their state.

An alarm's state change arrives as one signal (``vigil.alarms``): value 1 in ``ALARM``, 0 in
``OK``. The alarm has already judged its metric; the judge only says how loud its alert is.
"""

from collections.abc import Mapping
from typing import Annotated, Any, Final

from pydantic import Field, model_validator

from vigil.core.model import ALARM_STATE, Severity, Signal
from vigil.rules.base import Breach, ConfigModel, SignalKind, breach

ALARM_KIND: Final = "cloudwatch.alarm"
SEVERITY_TAG: Final = "vigil:severity"
"""The alarm tag that sets its alerts' severity (``info``, ``warning``, ``critical``). The intake
moves it from the signal's tags to its context: it is not a ``vigil:<rule>.<field>`` override
(``vigil.rules.overrides``), whose other tags (``vigil:ignore``) apply to alarms as to any
resource."""


class AlarmPrefix(ConfigModel):
    """Alarms whose name starts with ``prefix``, alerted at ``severity`` (default: the
    section's)."""

    prefix: Annotated[str, Field(min_length=1, max_length=255)]
    severity: Severity | None = None


class CloudWatchAlarmsRule(ConfigModel):
    """Which CloudWatch alarms become Vigil alerts. An alarm is selected when its name starts
    with one of ``prefixes`` or it carries the tag ``tag`` (``tag_values``: one of these
    values; none listed: any). Tags are read from the event: the alarm needs CloudWatch's tag
    propagation (docs/rules.md). Off by default."""

    enabled: bool = False
    prefixes: list[AlarmPrefix] = Field(default_factory=list)
    tag: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    tag_values: list[Annotated[str, Field(max_length=256)]] = Field(default_factory=list)
    severity: Severity = Severity.WARNING

    @model_validator(mode="after")
    def _selects_something(self) -> "CloudWatchAlarmsRule":
        if self.enabled and not self.prefixes and self.tag is None:
            raise ValueError("enabled needs prefixes or a tag: which alarms to take in")
        if self.tag_values and self.tag is None:
            raise ValueError("tag_values needs a tag")
        return self

    def selects(self, name: str, tags: Mapping[str, str]) -> bool:
        """Whether the alarm ``name`` with ``tags`` is one the user selected."""
        if not self.enabled:
            return False
        if any(name.startswith(entry.prefix) for entry in self.prefixes):
            return True
        if self.tag is None or self.tag not in tags:
            return False
        return not self.tag_values or tags[self.tag] in self.tag_values

    def severity_of(self, name: str, tags: Mapping[str, str]) -> Severity:
        """The alarm's ``vigil:severity`` tag, else the longest matching prefix's severity,
        else the section's."""
        tagged = tags.get(SEVERITY_TAG, "").strip().lower()
        if tagged in Severity.__members__.values():
            return Severity(tagged)
        matching = [e for e in self.prefixes if name.startswith(e.prefix) and e.severity]
        if matching:
            chosen = max(matching, key=lambda entry: len(entry.prefix)).severity
            if chosen is not None:
                return chosen
        return self.severity


def _judge_alarm(signal: Signal, rule: CloudWatchAlarmsRule) -> Breach | None:
    if signal.value < 1:
        return None
    name = signal.labels.resource
    watched = signal.context.get("metric")
    reason = signal.context.get("reason", "").rstrip(".")
    summary = f"CloudWatch alarm {name} is in ALARM" + (f" on {watched}" if watched else "")
    return breach(
        signal,
        rule.severity_of(name, signal.context),
        signal.value,
        1.0,
        ALARM_STATE,
        summary=summary + (f": {reason}" if reason else ""),
    )


KINDS: tuple[SignalKind[Any], ...] = (
    SignalKind(ALARM_KIND, "CloudWatch alarm", "cloudwatch_alarms", _judge_alarm),
)
