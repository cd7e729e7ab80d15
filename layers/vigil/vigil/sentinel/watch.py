"""Whether the primary Vigil is evaluating: a pure decision over the sentinel's state and one
check's observations, with hysteresis (ADR 48).

A check is *missed* when the primary's last successful collection cycle is older than
``Policy.stale_after``, when none is known, or when the read itself failed (the primary
region's CloudWatch throttled, answered 5xx, timed out, was unreachable, or refused the
sentinel). The primary is declared down after ``Policy.down_after`` consecutive missed checks,
or at the first one when AWS Health has an open issue for the primary region (AWS confirms
it). One announcement when it goes down, one repeat every ``Policy.repeat_every`` while it
stays down, one when it recovers. A check replayed for a time already judged (the scheduler
and Lambda deliver at least once) changes nothing.
"""

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal, NamedTuple

from pydantic import AwareDatetime, Field

from vigil.core.model import Contract, HealthEvent


class Failure(StrEnum):
    """Why a read of the primary region (or of AWS Health) failed."""

    THROTTLED = "throttled"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    ACCESS_DENIED = "access_denied"
    OTHER = "other"


FAILURE_MEANING: dict[Failure, str] = {
    Failure.THROTTLED: "throttled (the monitoring account is over its API rate)",
    Failure.SERVER_ERROR: "answered a server error (5xx)",
    Failure.TIMEOUT: "timed out",
    Failure.UNREACHABLE: "could not be reached",
    Failure.ACCESS_DENIED: "refused the sentinel (access denied: fix the sentinel's role)",
    Failure.OTHER: "failed",
}


class ReadFailure(Contract):
    failure: Failure
    detail: Annotated[str, Field(max_length=300)] = ""


class Observation(Contract):
    """What one check saw at ``now``."""

    now: AwareDatetime
    last_heartbeat: AwareDatetime | None = None
    """The latest minute with a successful collection cycle of the primary, if any was seen."""
    heartbeat_failure: ReadFailure | None = None
    health_events: list[HealthEvent] = Field(default_factory=list)
    """Open AWS Health issues in the primary region."""
    health_failure: ReadFailure | None = None


class Policy(Contract):
    primary_region: Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")]
    primary_stack: Annotated[str, Field(min_length=1)]
    stale_after: timedelta = timedelta(minutes=15)
    down_after: Annotated[int, Field(ge=1)] = 2
    repeat_every: timedelta = timedelta(hours=1)


class Status(StrEnum):
    UP = "up"
    DOWN = "down"


class Announcement(Contract):
    kind: Literal["down", "still_down", "recovered"]
    at: AwareDatetime
    primary_region: str
    primary_stack: str
    last_heartbeat: AwareDatetime | None
    down_since: AwareDatetime | None
    reasons: list[str]
    services: list[str] = Field(default_factory=list)
    """The services of the open AWS Health issues for the primary region, as Health names them."""


class State(Contract):
    """The sentinel's memory between checks (one item of its table)."""

    version: Literal[1] = 1
    status: Status = Status.UP
    missed: Annotated[int, Field(ge=0)] = 0
    last_heartbeat: AwareDatetime | None = None
    last_check: AwareDatetime | None = None
    down_since: AwareDatetime | None = None
    announced_at: AwareDatetime | None = None
    outbox: Announcement | None = None
    """The last announcement while a channel has not taken it yet."""
    pending: list[str] = Field(default_factory=list)
    """The channels that have yet to take ``outbox``."""


class Decision(NamedTuple):
    state: State
    announcement: Announcement | None
    replay: bool


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def reasons(observation: Observation, last_heartbeat: datetime | None, policy: Policy) -> list[str]:
    """What the check saw, one line each, for people."""
    now, region = observation.now, policy.primary_region
    lines: list[str] = []
    if last_heartbeat is None:
        lines.append(f"No successful collection cycle of {policy.primary_stack} seen.")
    else:
        age = _minutes(now - last_heartbeat)
        lines.append(
            f"Last successful collection cycle of {policy.primary_stack}: "
            f"{last_heartbeat:%Y-%m-%d %H:%M} UTC ({age} min ago)."
        )
    if observation.heartbeat_failure is not None:
        failure = observation.heartbeat_failure
        lines.append(
            f"CloudWatch in {region} {FAILURE_MEANING[failure.failure]}: {failure.detail}".rstrip(
                ": "
            )
        )
    for event in observation.health_events:
        lines.append(
            f"AWS Health: {event.event_type_code} ({event.service}) open in {region}"
            f" since {event.start_time or event.last_updated:%Y-%m-%d %H:%M} UTC."
        )
    if observation.health_failure is not None:
        failure = observation.health_failure
        lines.append(
            f"AWS Health API {FAILURE_MEANING[failure.failure]}: {failure.detail}".rstrip(": ")
        )
    return lines


def is_missed(observation: Observation, last_heartbeat: datetime | None, policy: Policy) -> bool:
    if observation.heartbeat_failure is not None or last_heartbeat is None:
        return True
    return observation.now - last_heartbeat > policy.stale_after


def decide(state: State, observation: Observation, policy: Policy) -> Decision:
    """The next state and what to announce, if anything, after one check at ``now``."""
    now = observation.now
    if state.last_check is not None and now <= state.last_check:
        return Decision(state, None, replay=True)
    heartbeat = _latest(state.last_heartbeat, observation.last_heartbeat)
    missed = is_missed(observation, heartbeat, policy)

    def announce(
        kind: Literal["down", "still_down", "recovered"], since: datetime | None
    ) -> Announcement:
        return Announcement(
            kind=kind,
            at=now,
            primary_region=policy.primary_region,
            primary_stack=policy.primary_stack,
            last_heartbeat=heartbeat,
            down_since=since,
            reasons=reasons(observation, heartbeat, policy),
            services=sorted({event.service for event in observation.health_events}),
        )

    base = state.model_copy(update={"last_check": now, "last_heartbeat": heartbeat})
    if not missed:
        if state.status is Status.DOWN:
            message = announce("recovered", state.down_since)
            return Decision(
                base.model_copy(
                    update={
                        "status": Status.UP,
                        "missed": 0,
                        "down_since": None,
                        "announced_at": now,
                    }
                ),
                message,
                replay=False,
            )
        return Decision(base.model_copy(update={"missed": 0}), None, replay=False)

    count = state.missed + 1
    if state.status is Status.DOWN:
        assert state.announced_at is not None  # set whenever the status turns down
        if now - state.announced_at >= policy.repeat_every:
            message = announce("still_down", state.down_since)
            return Decision(
                base.model_copy(update={"missed": count, "announced_at": now}),
                message,
                replay=False,
            )
        return Decision(base.model_copy(update={"missed": count}), None, replay=False)

    threshold = 1 if observation.health_events else policy.down_after
    if count < threshold:
        return Decision(base.model_copy(update={"missed": count}), None, replay=False)
    since = heartbeat or now
    message = announce("down", since)
    return Decision(
        base.model_copy(
            update={
                "status": Status.DOWN,
                "missed": count,
                "down_since": since,
                "announced_at": now,
            }
        ),
        message,
        replay=False,
    )
