"""Silences: matchers plus a time window. A silenced alert is recorded, not notified.

Stored in the state table (``SILENCE#<id>``, sk ``META``, ``body`` this model as JSON, gsi1pk
``SILENCES``); the ``vigil`` command to create, list and expire them is not written yet. Every
matcher must match (globs or regular expressions on the routing labels).
"""

from datetime import datetime
from typing import Annotated, Literal, Protocol

from pydantic import AwareDatetime, Field, model_validator

from vigil.model import CONTRACT_VERSION, Contract
from vigil.routing import Matchers


class Silence(Contract):
    version: Literal[1] = CONTRACT_VERSION
    silence_id: Annotated[str, Field(pattern=r"^[a-z0-9]{8,32}$")]
    matchers: Matchers
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    created_by: str = ""
    comment: Annotated[str, Field(max_length=500)] = ""

    @model_validator(mode="after")
    def _window(self) -> "Silence":
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if not self.matchers.match and not self.matchers.match_re:
            raise ValueError("a silence needs at least one matcher (it would mute everything)")
        return self

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def mutes(self, values: dict[str, str], now: datetime) -> bool:
        return self.active(now) and self.matchers.matches(values)


class SilenceStorePort(Protocol):
    def current(self, now: datetime) -> list[Silence]:
        """Silences not yet ended at ``now`` (active or starting later)."""
        ...
