"""The buttons Vigil puts in chat messages: their action ids and values.

The contract between the messages that offer a button (alert groups, the runbook's gate) and
the Slack endpoint that acts on a press (:mod:`vigil.runbook.slack_actions`). It is kept apart so
that rendering a message never loads the endpoint's request handling (the Slack SDK's
signature check, Powertools' event classes).
"""

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated

from pydantic import Field

from vigil.core.model import Contract
from vigil.rules.routing import Duration, LabelName, format_duration

APPROVE = "runbook_approve"
DECLINE = "runbook_decline"
SILENCE = "silence_group"
ACKNOWLEDGE = "acknowledge_group"
"""Value: the notification group's id (ADR 44)."""
SILENCE_BUTTON_DURATION = timedelta(hours=2)


class SilenceButton(Contract):
    """The ``silence_group`` button's value: label globs and how long."""

    match: Annotated[dict[LabelName, Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    duration: Duration = Field(alias="for")


def silence_button_value(match: Mapping[str, str], duration: timedelta) -> str:
    """Compact JSON for the button (Slack allows 2,000 characters in a value)."""
    return json.dumps(
        {"match": dict(match), "for": format_duration(duration)}, separators=(",", ":")
    )
