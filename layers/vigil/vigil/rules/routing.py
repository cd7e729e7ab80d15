"""The routing tree: which receivers hear about an alert, grouped how, and how often.

Alertmanager's semantics (docs/rules.md, "Routing"; docs/architecture.md, ADR 22): an alert
walks the tree from the root; a route matches when all its matchers match the alert's labels;
the first matching child wins unless it sets ``continue``; the deepest matching route decides.
Every setting a route leaves out is inherited from its parent. Labels are the alert's
``kind``, ``severity``, ``resource``, ``account``, ``region`` and ``service`` (the first part
of the kind, ``lambda`` for ``lambda.errors``), plus the resource's tags the rules config
names in ``tags.labels`` (``team``, ``env``). Routes, silences and inhibit rules match them with
Alertmanager's ``matchers`` (:mod:`vigil.rules.matchers`) or Vigil's ``match`` (shell globs) and
``match_re``; a label an alert does not carry matches as the empty string.
"""

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from functools import cached_property
from typing import Annotated, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from vigil.core.model import Labels, Severity
from vigil.rules.matchers import ConfigMatchers, LabelKey, all_match, flat
from vigil.rules.time_intervals import TimeInterval

LabelName = Literal["kind", "severity", "resource", "account", "region", "service"]
LABEL_NAMES: tuple[LabelName, ...] = (
    "kind",
    "severity",
    "resource",
    "account",
    "region",
    "service",
)
ALL_LABELS = "..."

_DURATION = re.compile(r"^(\d{1,6})(s|m|h|d)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_duration(value: object) -> timedelta:
    """``30s``, ``5m``, ``4h``, ``1d`` (or a timedelta) as a timedelta."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(str(value))
    if match is None:
        raise ValueError(f"{value!r} is not a duration like 30s, 5m, 4h or 1d")
    return timedelta(seconds=int(match[1]) * _UNIT_SECONDS[match[2]])


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit in ("d", "h", "m"):
        if seconds and seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]


def label_values(
    labels: Labels, severity: Severity, tags: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The values routes, silences and inhibition rules match on: the six fixed labels and
    the alert's tag labels (``Alert.tags``, the allowlisted tags of its resource)."""
    fixed = {
        "kind": labels.kind,
        "severity": severity.value,
        "resource": labels.resource,
        "account": labels.account,
        "region": labels.region,
        "service": labels.kind.split(".", 1)[0],
    }
    return {**(tags or {}), **fixed}


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Matchers(_Config):
    """Every given matcher must match: ``matchers`` in Alertmanager's syntax
    (``team="payments"``, ``env!~"dev|test"``), and Vigil's own ``match`` (shell-style globs,
    ``orders-*``) and ``match_re`` (regular expressions matched against the whole value)."""

    matchers: list[ConfigMatchers] = Field(default_factory=list)
    match: dict[LabelKey, Annotated[str, Field(min_length=1)]] = Field(default_factory=dict)
    match_re: dict[LabelKey, Annotated[str, Field(min_length=1)]] = Field(default_factory=dict)

    @field_validator("match_re")
    @classmethod
    def _compiles(cls, value: dict[str, str]) -> dict[str, str]:
        for label, pattern in value.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"{label}: {pattern!r} is not a regular expression ({exc})"
                ) from exc
        return value

    @property
    def empty(self) -> bool:
        """No matcher at all: it matches every alert."""
        return not (self.matchers or self.match or self.match_re)

    def may_match(self, known: Mapping[str, str]) -> bool:
        """Whether an alert with the ``known`` labels may match, whatever its other labels."""
        return Matchers(
            matchers=[(m,) for m in flat(self.matchers) if m.name in known],
            match={k: v for k, v in self.match.items() if k in known},
            match_re={k: v for k, v in self.match_re.items() if k in known},
        ).matches(known)

    def matches(self, values: Mapping[str, str]) -> bool:
        return (
            all_match(self.matchers, values)
            and all(fnmatchcase(values.get(k, ""), v) for k, v in self.match.items())
            and all(re.fullmatch(v, values.get(k, "")) for k, v in self.match_re.items())
        )


class Route(Matchers):
    """One node of the tree; ``None`` means inherit the parent's setting."""

    receivers: list[Annotated[str, Field(min_length=1)]] | None = None
    group_by: list[LabelKey | Literal["..."]] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    for_: Duration | None = Field(default=None, alias="for")
    keep_firing_for: Duration | None = None
    mute_time_intervals: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    active_time_intervals: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    continue_: bool = Field(default=False, alias="continue")
    routes: list["Route"] = Field(default_factory=list)

    @field_validator("group_by")
    @classmethod
    def _group_by_once(cls, value: list[str] | None) -> list[str] | None:
        """Refused as Alertmanager refuses them: a label twice, and ``...`` beside labels."""
        if value is None:
            return value
        twice = sorted({label for label in value if value.count(label) > 1})
        if twice:
            raise ValueError(f"{', '.join(twice)} is listed more than once")
        if ALL_LABELS in value and len(value) > 1:
            raise ValueError("'...' groups by every label: it cannot stand beside other labels")
        return value

    @field_validator("group_interval", "repeat_interval")
    @classmethod
    def _not_zero(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("cannot be zero (Alertmanager refuses it too)")
        return value


class Receiver(_Config):
    """Where a notification goes. Chat channels name the key of the chat secret
    (``SlackWebhookSecret``) that holds the URL, so no URL sits in the stack parameters."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")]
    email: bool = Field(default=False, description="The stack's email subscription.")
    slack: str | None = Field(default=None, description="Secret key of a Slack webhook URL.")
    slack_bot: str | None = Field(
        default=None, description="Secret key of a Slack bot token (threads, in-place edits)."
    )
    slack_channel: Annotated[str, Field(pattern=r"^[A-Z0-9]{8,12}$")] | None = Field(
        default=None, description="The channel ID the bot posts to (C0123ABCD)."
    )
    teams: str | None = Field(default=None, description="Secret key of a Teams Workflows URL.")
    webhook: str | None = Field(default=None, description="Secret key of a JSON webhook URL.")
    chatbot: bool = Field(default=False, description="The ChatbotTopicArn topic (Amazon Q).")
    pagerduty: str | None = Field(
        default=None,
        description="Secret key of a PagerDuty Events API v2 routing key (integration key).",
    )
    send_resolved: bool = True

    @model_validator(mode="after")
    def _bot_has_a_channel(self) -> Self:
        if bool(self.slack_bot) != bool(self.slack_channel):
            raise ValueError("slack_bot and slack_channel go together: the token and its channel")
        if self.pagerduty and not self.send_resolved:
            raise ValueError(
                "pagerduty needs send_resolved: PagerDuty incidents resolve with the group's"
                " resolution, and without it they would stay open"
            )
        return self

    @property
    def channels(self) -> list[str]:
        named = {
            "slack": self.slack or self.slack_bot,
            "teams": self.teams,
            "webhook": self.webhook,
            "pagerduty": self.pagerduty,
        }
        flags = {"email": self.email, "chatbot": self.chatbot}
        return [
            c
            for c in ("email", "slack", "teams", "webhook", "chatbot", "pagerduty")
            if named.get(c) or flags.get(c)
        ]


class InhibitRule(_Config):
    """While an alert matching the source side fires, alerts matching the target side that
    share the ``equal`` labels with it are not notified (they are still recorded).

    Each side is Alertmanager's ``source_matchers``/``target_matchers`` and Vigil's ``source``/
    ``target`` (``match``, ``match_re``, ``matchers``) together; a side given neither matches
    every alert, as in Alertmanager. An ``equal`` label both alerts lack counts as equal.
    """

    source: Matchers = Field(default_factory=Matchers)
    target: Matchers = Field(default_factory=Matchers)
    source_matchers: list[ConfigMatchers] = Field(default_factory=list)
    target_matchers: list[ConfigMatchers] = Field(default_factory=list)
    equal: list[LabelKey] = Field(default_factory=list)

    def source_matches(self, values: Mapping[str, str]) -> bool:
        return self.source.matches(values) and all_match(self.source_matchers, values)

    def target_matches(self, values: Mapping[str, str]) -> bool:
        return self.target.matches(values) and all_match(self.target_matchers, values)

    def source_kinds(self, kinds: Iterable[str]) -> list[str]:
        """The ``kinds`` whose alerts the source side may match, judged on the labels a kind
        decides (``kind`` and ``service``): the only ones an inhibition needs to read."""
        return [
            kind
            for kind in kinds
            if self.source.may_match(known := {"kind": kind, "service": kind.split(".", 1)[0]})
            and all(m.matches(known) for m in flat(self.source_matchers) if m.name in known)
        ]


def _default_receivers() -> list[Receiver]:
    return [Receiver(name="default", email=True, slack="webhook_url")]


def _default_route() -> Route:
    return Route(
        receivers=["default"],
        group_by=[ALL_LABELS],
        group_wait=timedelta(0),
        group_interval=timedelta(minutes=5),
    )


class RoutingConfig(_Config):
    receivers: Annotated[list[Receiver], Field(min_length=1)] = Field(
        default_factory=_default_receivers
    )
    route: Route = Field(default_factory=_default_route)
    inhibit_rules: list[InhibitRule] = Field(default_factory=list)
    time_intervals: list[TimeInterval] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        names = [receiver.name for receiver in self.receivers]
        if len(set(names)) != len(names):
            raise ValueError("receivers: a receiver name is used twice")
        if not self.route.receivers:
            raise ValueError("route.receivers: the root route must name at least one receiver")
        if self.route.group_by is None:
            raise ValueError("route.group_by: the root route must set group_by")
        if self.route.mute_time_intervals or self.route.active_time_intervals:
            raise ValueError("route: the root route cannot have mute or active time intervals")
        if not self.route.empty:
            raise ValueError("route: the root route matches every alert: it cannot have matchers")
        if self.route.continue_:
            raise ValueError("route: the root route cannot have continue")
        intervals = [interval.name for interval in self.time_intervals]
        if len(set(intervals)) != len(intervals):
            raise ValueError("time_intervals: an interval name is used twice")
        for path, route in _walk(self.route, "route"):
            unknown = sorted(set(route.receivers or []) - set(names))
            if unknown:
                raise ValueError(f"{path}.receivers: unknown receiver {', '.join(unknown)}")
            for field in ("mute_time_intervals", "active_time_intervals"):
                missing = sorted(set(getattr(route, field)) - set(intervals))
                if missing:
                    raise ValueError(f"{path}.{field}: unknown time interval {', '.join(missing)}")
        return self

    def muted(self, mute: tuple[str, ...], active: tuple[str, ...], now: datetime) -> bool:
        """Whether a route with these intervals stays quiet at ``now``: inside a mute
        interval, or outside every active one (when it names any)."""
        covering = {i.name for i in self.time_intervals if i.covers(now)}
        return bool(covering & set(mute)) or (bool(active) and not covering & set(active))

    def receiver(self, name: str) -> Receiver:
        return self._receivers_by_name[name]

    @cached_property
    def _receivers_by_name(self) -> dict[str, Receiver]:
        return {r.name: r for r in self.receivers}


def _walk(route: Route, path: str) -> list[tuple[str, Route]]:
    found = [(path, route)]
    for index, child in enumerate(route.routes):
        found += _walk(child, f"{path}.routes.{index}")
    return found


@dataclass(frozen=True)
class Destination:
    """A route's verdict for one alert: where it goes, and with which group and timing."""

    route: str
    receivers: tuple[str, ...]
    group_by: tuple[str, ...]
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta
    for_: timedelta = timedelta(0)
    keep_firing_for: timedelta = timedelta(0)
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()

    def group_key(self, values: Mapping[str, str]) -> str:
        """Route path plus the grouped label values; all labels when ``group_by`` is ``...``."""
        every = ALL_LABELS in self.group_by
        names = [*LABEL_NAMES, *sorted(set(values) - set(LABEL_NAMES))] if every else self.group_by
        # severity is part of no alert's identity: grouping by "..." must not split an alert
        # whose severity changes into two groups. A label the alert lacks groups as empty.
        shown = [f"{n}={values.get(n, '')}" for n in names if not (every and n == "severity")]
        return f"{self.route}|{','.join(shown)}"

    def group_id(self, receiver: str, values: Mapping[str, str]) -> str:
        key = f"{receiver}|{self.group_key(values)}"
        return hashlib.sha256(key.encode()).hexdigest()[:24]


def destinations(
    config: RoutingConfig, values: Mapping[str, str], *, repeat_interval: timedelta
) -> list[Destination]:
    """The routes an alert with ``values`` takes; the root when no child matches."""
    root = _settle(config.route, None, "route", repeat_interval)
    found = _descend(config.route, root, values)
    return found or [root]


def _pick[T](path: str, own: T | None, inherited: T | None) -> T:
    value = own if own is not None else inherited
    if value is None:
        raise ValueError(f"{path}: no value to inherit")  # the root validator prevents it
    return value


def _settle(route: Route, parent: Destination | None, path: str, repeat: timedelta) -> Destination:
    return Destination(
        route=path,
        receivers=tuple(_pick(path, route.receivers, parent.receivers if parent else None)),
        group_by=tuple(_pick(path, route.group_by, parent.group_by if parent else None)),
        group_wait=_pick(path, route.group_wait, parent.group_wait if parent else timedelta(0)),
        group_interval=_pick(
            path, route.group_interval, parent.group_interval if parent else timedelta(minutes=5)
        ),
        repeat_interval=_pick(
            path, route.repeat_interval, parent.repeat_interval if parent else repeat
        ),
        for_=_pick(path, route.for_, parent.for_ if parent else timedelta(0)),
        keep_firing_for=_pick(
            path, route.keep_firing_for, parent.keep_firing_for if parent else timedelta(0)
        ),
        # as in Alertmanager, time intervals are the route's own, never inherited
        mute_time_intervals=tuple(route.mute_time_intervals),
        active_time_intervals=tuple(route.active_time_intervals),
    )


def _descend(route: Route, settled: Destination, values: Mapping[str, str]) -> list[Destination]:
    found: list[Destination] = []
    for index, child in enumerate(route.routes):
        if not child.matches(values):
            continue
        child_settled = _settle(
            child, settled, f"{settled.route}.routes.{index}", settled.repeat_interval
        )
        found += _descend(child, child_settled, values) or [child_settled]
        if not child.continue_:
            break
    return found


def inhibited(
    config: RoutingConfig, target: Mapping[str, str], firing: Sequence[Mapping[str, str]]
) -> bool:
    """Whether a firing alert among ``firing`` inhibits ``target`` (never itself).

    As in Alertmanager, a target that matches the rule's source side too is not inhibited by a
    source that matches its target side too: two such alerts would mute each other.
    """
    for rule in config.inhibit_rules:
        if not rule.target_matches(target):
            continue
        two_sided = rule.source_matches(target)
        for source in firing:
            if source is target or source == target:
                continue
            if two_sided and rule.target_matches(source):
                continue
            if rule.source_matches(source) and all(
                source.get(n, "") == target.get(n, "") for n in rule.equal
            ):
                return True
    return False
