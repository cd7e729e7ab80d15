"""Silences: matchers plus a time window. A silenced alert is recorded, not notified.

Stored in the state table (``SILENCE#<id>``, sk ``META``, ``body`` this model as JSON, gsi1pk
``SILENCES``), created, listed and expired with the ``vigil silence`` command (``cli/vigil_cli``).
Every matcher must match: Alertmanager's ``matchers`` (``team="payments"``, ``env!~"dev|test"``)
and Vigil's globs (``match``) and regular expressions (``match_re``) on the routing labels.

New silences are bounded (ADR 32): at most ``max_duration`` long (:data:`MAX_SILENCE`, 7 days,
unless the rules config's ``approvers.silence_max_hours`` says otherwise for Slack buttons),
and at least one matcher must need a non-empty value: a silence whose every matcher also
matches the empty string (``resource=*``, ``resource=~.*``, ``env!="prod"``, ``env!~"dev"``)
would mute everything (an alert without the label included), which Alertmanager refuses too.
"""

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Annotated, Literal, Protocol

from pydantic import AwareDatetime, Field, model_validator

from vigil.core.clock import iso
from vigil.core.errors import VigilError
from vigil.core.model import CONTRACT_VERSION, Contract
from vigil.rules.matchers import flat
from vigil.rules.routing import Matchers


class UnknownSilenceError(VigilError):
    """No silence has this id."""


class SilenceEndedError(VigilError):
    """The silence has already ended; there is nothing to expire."""


class SilenceWindowError(VigilError):
    """The requested time window is empty or already over."""


MAX_SILENCE = timedelta(days=7)
"""The longest new silence unless configured otherwise."""


class SilenceState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


class Silence(Contract):
    version: Literal[1] = CONTRACT_VERSION
    silence_id: Annotated[str, Field(pattern=r"^[a-z0-9]{8,32}$")]
    matchers: Matchers
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    created_by: str = ""
    comment: Annotated[str, Field(max_length=500)] = ""
    revision: int = 0

    @model_validator(mode="after")
    def _window(self) -> "Silence":
        if self.ends_at < self.starts_at:
            raise ValueError("ends_at must not be before starts_at")
        if self.matchers.empty:
            raise ValueError("a silence needs at least one matcher (it would mute everything)")
        return self

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def mutes(self, values: dict[str, str], now: datetime) -> bool:
        return self.active(now) and self.matchers.matches(values)

    def state(self, now: datetime) -> SilenceState:
        if now < self.starts_at:
            return SilenceState.PENDING
        return SilenceState.ACTIVE if now < self.ends_at else SilenceState.EXPIRED

    def expire(self, now: datetime) -> "Silence":
        """End it at ``now``; one that has not started yet ends as it starts (it mutes nothing).

        The record stays (``vigil silence list --all``) until the table's TTL removes it.
        """
        if self.ends_at <= now:
            raise SilenceEndedError(f"silence {self.silence_id} already ended")
        starts_at = min(self.starts_at, now)
        return self.model_validate({**self.model_dump(), "starts_at": starts_at, "ends_at": now})


class SilenceStorePort(Protocol):
    def current(self, now: datetime) -> list[Silence]:
        """Silences not yet ended at ``now`` (active or starting later)."""
        ...


def new_silence(
    silence_id: str,
    *,
    match: dict[str, str] | None = None,
    match_re: dict[str, str] | None = None,
    matchers: Sequence[str] = (),
    starts_at: datetime,
    duration: timedelta,
    now: datetime,
    created_by: str,
    comment: str = "",
    max_duration: timedelta = MAX_SILENCE,
) -> Silence:
    """A silence from ``starts_at`` for ``duration``: what ``vigil silence add`` and the Slack
    silence button create. ``matchers`` are Alertmanager matcher strings (``team="payments"``,
    ``env!~"prod|staging"``), ``match`` globs and ``match_re`` regular expressions by label.
    Refuses one that would already have ended at ``now``, one longer than ``max_duration`` and
    one that would match everything (``SilenceWindowError``); a matcher that does not parse
    fails validation naming it (``matchers.matchers.0``)."""
    ends_at = starts_at + duration
    if duration <= timedelta(0):
        raise SilenceWindowError("a silence must last longer than 0s")
    if duration > max_duration:
        raise SilenceWindowError(
            f"a silence may last at most {_hours(max_duration)}, not {_hours(duration)}"
        )
    if ends_at <= now:
        raise SilenceWindowError(f"the silence would already have ended at {iso(ends_at)}")
    silence = Silence.model_validate(
        {
            "silence_id": silence_id,
            "matchers": {
                "matchers": list(matchers),
                "match": match or {},
                "match_re": match_re or {},
            },
            "starts_at": starts_at,
            "ends_at": ends_at,
            "created_by": created_by,
            "comment": comment,
        }
    )
    given = silence.matchers
    if (
        all(matcher.matches_value("") for matcher in flat(given.matchers))
        and all(fnmatchcase("", glob) for glob in given.match.values())
        and all(re.fullmatch(pattern, "") for pattern in given.match_re.values())
    ):
        raise SilenceWindowError(
            "every matcher also matches an empty value, so the silence would mute everything;"
            " name at least one label value"
        )
    return silence


def _hours(duration: timedelta) -> str:
    return f"{duration.total_seconds() / 3600:g}h"
