"""AWS Health and outage correlation settings, and the alert on a failing Health poll
(docs/rules.md, ``health``, ``outage``).
"""

from typing import Annotated, Any, Literal

from pydantic import Field

from vigil.core.model import Severity, Signal
from vigil.rules.base import Breach, ConfigModel, SignalKind, breach

HealthCategory = Literal["issue", "accountNotification", "scheduledChange", "investigation"]


class HealthMatch(ConfigModel):
    """Which AWS Health events a filter matches: every given list must match (an empty list
    matches anything). ``services`` and ``event_type_codes`` take shell-style patterns
    (``AWS_VPN_*``); ``regions`` takes region names or ``global``."""

    categories: list[HealthCategory] = Field(default_factory=list)
    services: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    event_type_codes: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    regions: list[Annotated[str, Field(pattern=r"^(global|[a-z]{2}(-[a-z]+)+-\d)$")]] = Field(
        default_factory=list
    )
    accounts: list[Annotated[str, Field(pattern=r"^\d{12}$")]] = Field(default_factory=list)
    # AWS's actionability (ACTION_REQUIRED, ACTION_MAY_BE_REQUIRED, INFORMATIONAL; more may
    # come); an event without one matches no list.
    actionabilities: list[Annotated[str, Field(pattern=r"^[A-Z][A-Z_]*$")]] = Field(
        default_factory=list
    )


class HealthConfig(ConfigModel):
    """AWS Health: which events notify. An event notifies when it matches ``include`` and
    no entry of ``exclude``."""

    enabled: bool = True
    include: HealthMatch = Field(default_factory=HealthMatch)
    exclude: list[HealthMatch] = Field(
        default_factory=lambda: [
            # One tunnel of a redundant VPN down is routine maintenance noise.
            HealthMatch(event_type_codes=["AWS_VPN_SINGLE_TUNNEL_NOTIFICATION"]),
        ]
    )
    poll_lookback_hours: Annotated[int, Field(ge=1, le=168)] = 24
    # vigil.health_poll alerts after this many catch-up polls in a row got no answer.
    poll_failures_before_alert: Annotated[int, Field(ge=1, le=1000)] = 3


class OutageConfig(ConfigModel):
    """Outage correlation: suspect an AWS outage when ``min_resources`` resources of one
    service in one region breach at once; inhibit the per-resource alerts it explains."""

    enabled: bool = True
    min_resources: Annotated[int, Field(ge=2, le=1000)] = 3
    kinds: list[Annotated[str, Field(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")]] = Field(
        default_factory=lambda: ["lambda.errors", "lambda.throttles"]
    )
    runbook: Literal["start", "suggest"] = "suggest"
    inhibit: bool = True


# The AWS Health catch-up poll got no answer (vigil.health.collect): the value is how many
# polls in a row failed.
HEALTH_POLL_KIND = "vigil.health_poll"


def _judge_health_poll(signal: Signal, config: HealthConfig) -> Breach | None:
    failures = signal.value
    if failures < config.poll_failures_before_alert:
        return None
    error = signal.context.get("error", "no answer")
    summary = (
        f"The AWS Health catch-up poll failed {failures:,.0f} times in a row (last: {error});"
        " aws.health events still arrive through EventBridge"
    )
    return breach(
        signal,
        Severity.WARNING,
        failures,
        config.poll_failures_before_alert,
        "Count",
        summary=summary,
    )


KINDS: tuple[SignalKind[Any], ...] = (
    SignalKind(HEALTH_POLL_KIND, "Vigil AWS Health poll failing", "health", _judge_health_poll),
)
