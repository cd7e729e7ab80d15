"""Flap control (``for``, ``keep_firing_for``) and recurring mute windows on routes."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import T0, batch, error_signal, minutes
from tests.fakes import MemoryAlertStore
from vigil.alerting.grouping import Group
from vigil.core.errors import ConfigError
from vigil.core.model import EvaluationResult
from vigil.evaluation.pipeline import evaluate
from vigil.rules.document import RulesConfig
from vigil.rules.time_intervals import TimeInterval


def _rules(route: dict[str, Any], intervals: list[dict[str, Any]] | None = None) -> RulesConfig:
    return RulesConfig.from_json(
        json.dumps(
            {
                "lambda_errors": {"for_minutes": 0},
                "routing": {
                    "receivers": [{"name": "chat", "slack": "webhook_url"}],
                    "route": {
                        "receivers": ["chat"],
                        "group_by": ["kind"],
                        "group_wait": "0s",
                        "group_interval": "5m",
                        "repeat_interval": "4h",
                        "routes": [{"match": {"kind": "lambda.*"}, **route}],
                    },
                    "time_intervals": intervals or [],
                },
            }
        )
    )


def _cycle(store: MemoryAlertStore, rules: RulesConfig, at: datetime, *bad: str) -> list[str]:
    """One evaluation with the ``bad`` functions failing; the titles it notifies."""
    signals = [error_signal(name, invocations=1, errors=1, at=at) for name in bad]
    result: EvaluationResult = evaluate(
        batch(at, *signals), rules=rules, store=store, routing=store.routing, stack="vigil"
    )
    return [n.subject for n in result.notifications]


def _interval(**entry: Any) -> TimeInterval:
    return TimeInterval.model_validate({"name": "w", "time_intervals": [entry]})


# ----------------------------------------------------------------- time intervals


def test_weekday_and_time_ranges_are_read_in_the_intervals_time_zone() -> None:
    nights = _interval(
        weekdays=["monday:friday"],
        times=[{"start_time": "22:00", "end_time": "24:00"}],
        location="Europe/Berlin",
    )

    # 2026-11-02 is a Monday; Berlin is UTC+1 in November.
    assert nights.covers(datetime(2026, 11, 2, 21, 0, tzinfo=UTC))  # 22:00 Berlin
    assert nights.covers(datetime(2026, 11, 2, 22, 59, tzinfo=UTC))
    assert not nights.covers(datetime(2026, 11, 2, 23, 0, tzinfo=UTC))  # 00:00 Tuesday: end
    assert not nights.covers(datetime(2026, 11, 2, 20, 59, tzinfo=UTC))
    assert not nights.covers(datetime(2026, 11, 7, 21, 30, tzinfo=UTC))  # a Saturday
    # in July Berlin is UTC+2: 22:00 local is 20:00 UTC
    assert nights.covers(datetime(2026, 7, 6, 20, 0, tzinfo=UTC))


def test_days_of_month_count_from_the_end_when_negative() -> None:
    last_days = _interval(days_of_month=["-2:-1"], months=["february"], years=["2028"])

    assert last_days.covers(datetime(2028, 2, 28, 12, tzinfo=UTC))  # 2028 is a leap year
    assert last_days.covers(datetime(2028, 2, 29, 12, tzinfo=UTC))
    assert not last_days.covers(datetime(2028, 2, 27, 12, tzinfo=UTC))
    assert not last_days.covers(datetime(2027, 2, 28, 12, tzinfo=UTC))  # another year
    assert not last_days.covers(datetime(2028, 3, 31, 12, tzinfo=UTC))  # another month


def test_an_interval_covers_a_moment_when_any_entry_does() -> None:
    interval = TimeInterval.model_validate(
        {"name": "x", "time_intervals": [{"months": ["1"]}, {"weekdays": ["sunday"]}]}
    )

    assert interval.covers(datetime(2026, 1, 14, tzinfo=UTC))  # January
    assert interval.covers(datetime(2026, 11, 8, tzinfo=UTC))  # a Sunday
    assert not interval.covers(datetime(2026, 11, 9, tzinfo=UTC))


@pytest.mark.parametrize(
    ("intervals", "route", "field"),
    [
        ([{"name": "n", "time_intervals": [{"weekdays": ["funday"]}]}], {}, "weekday"),
        ([{"name": "n", "time_intervals": [{"location": "Mars/Base"}]}], {}, "IANA time zone"),
        (
            [
                {
                    "name": "n",
                    "time_intervals": [{"times": [{"start_time": "25:00", "end_time": "26:00"}]}],
                }
            ],
            {},
            "is not a time of day",
        ),
        ([{"name": "n", "time_intervals": [{"days_of_month": ["0"]}]}], {}, "0 is no day"),
        ([], {"mute_time_intervals": ["nights"]}, "unknown time interval nights"),
        ([], {"for": "ten minutes"}, "routing.route.routes.0.for"),
    ],
)
def test_a_bad_interval_or_reference_names_the_field(
    intervals: list[dict[str, Any]], route: dict[str, Any], field: str
) -> None:
    with pytest.raises(ConfigError, match=field):
        _rules(route, intervals)


def test_the_root_route_cannot_be_muted() -> None:
    document = {
        "routing": {
            "route": {"mute_time_intervals": ["always"]},
            "time_intervals": [{"name": "always", "time_intervals": [{}]}],
        }
    }
    with pytest.raises(ConfigError, match="root route cannot have mute"):
        RulesConfig.from_json(json.dumps(document))


# ----------------------------------------------------------------- muted routes

NIGHTS = [
    {
        "name": "nights",
        "time_intervals": [{"times": [{"start_time": "00:00", "end_time": "09:10"}]}],
    }
]  # T0 is 09:00 UTC


def test_a_muted_route_stays_quiet_records_the_alert_and_speaks_when_the_window_ends() -> None:
    store = MemoryAlertStore()
    rules = _rules({"mute_time_intervals": ["nights"]}, NIGHTS)

    during = [_cycle(store, rules, T0 + minutes(5 * i), "orders-api") for i in range(2)]
    after = _cycle(store, rules, T0 + minutes(10), "orders-api")

    assert during == [[], []]
    assert [a.labels.resource for a in store.items.values()] == ["orders-api"]
    assert after == ["[WARNING] Lambda errors firing: orders-api"]


def test_an_active_interval_lets_a_route_speak_only_inside_it() -> None:
    store = MemoryAlertStore()
    rules = _rules({"active_time_intervals": ["nights"]}, NIGHTS)

    inside = _cycle(store, rules, T0, "orders-api")
    outside = [
        _cycle(store, rules, T0 + minutes(10), "orders-api", "billing-api"),
        _cycle(store, rules, T0 + minutes(15)),  # both resolve
    ]
    (group,) = store.groups.items.values()
    held = {fp: member.state for fp, member in group.members.items()}
    next_morning = _cycle(store, rules, T0 + timedelta(days=1))

    assert inside == ["[WARNING] Lambda errors firing: orders-api"]
    assert outside == [[], []]
    # the resolution of what was heard waits for the window; billing-api was never heard of
    orders = next(fp for fp, a in store.items.items() if a.labels.resource == "orders-api")
    assert held == {orders: "resolved"}
    assert next_morning == ["[RESOLVED] Lambda errors resolved: orders-api"]


# ----------------------------------------------------------------- for / keep_firing_for


def test_with_for_an_alert_that_clears_before_it_is_notified_is_never_heard() -> None:
    store = MemoryAlertStore()
    rules = _rules({"for": "10m"})

    blip = [_cycle(store, rules, T0 + minutes(5 * i), *bad) for i, bad in enumerate([["a"], []])]
    lasting = [_cycle(store, rules, T0 + minutes(10 + 5 * i), "b") for i in range(3)]

    assert blip == [[], []]
    assert lasting == [[], [], ["[WARNING] Lambda errors firing: b"]]
    blipped = next(fp for fp, alert in store.items.items() if alert.labels.resource == "a")
    assert all(blipped not in group.members for group in store.groups.items.values())
    assert store.items[blipped].state.value == "resolved"  # recorded all the same


def test_with_keep_firing_for_a_flapping_alert_is_not_resolved_and_fired_again() -> None:
    store = MemoryAlertStore()
    rules = _rules({"keep_firing_for": "10m"})
    pattern = [["a"], [], ["a"], [], [], [], []]

    sent = [_cycle(store, rules, T0 + minutes(5 * i), *bad) for i, bad in enumerate(pattern)]

    assert sent == [
        ["[WARNING] Lambda errors firing: a"],
        [],
        [],
        [],
        [],
        ["[RESOLVED] Lambda errors resolved: a"],  # 10 minutes after it last cleared
        [],
    ]


# ----------------------------------------------------------------- the invariants

_FOR, _KEEP = timedelta(minutes=10), timedelta(minutes=10)
_FLAPPY = _rules({"for": "10m", "keep_firing_for": "10m"})
runs = st.lists(st.lists(st.booleans(), min_size=2, max_size=2), min_size=1, max_size=16)


@settings(max_examples=40, deadline=None)
@given(cycles=runs, replay=st.booleans())
def test_flap_control_invariants(cycles: list[list[bool]], replay: bool) -> None:
    store = MemoryAlertStore()
    firing_at: dict[str, list[datetime]] = {"a": [], "b": []}  # cycles the table said firing
    heard: dict[str, str] = {}
    for index, failing in enumerate(cycles):
        at = T0 + minutes(5 * index)
        bad = [name for name, fails in zip(("a", "b"), failing, strict=True) if fails]
        signals = [error_signal(name, invocations=1, errors=1, at=at) for name in bad]
        signal_batch = batch(at, *signals)
        result = evaluate(
            signal_batch, rules=_FLAPPY, store=store, routing=store.routing, stack="vigil"
        )
        if replay:  # a retried evaluation sends nothing new
            again = evaluate(
                signal_batch, rules=_FLAPPY, store=store, routing=store.routing, stack="vigil"
            )
            assert [n.notification_id for n in again.notifications] == [
                n.notification_id for n in result.notifications
            ]
        # a cold start reads the groups back from their stored JSON: nothing changes
        for group_id, group in list(store.groups.items.items()):
            restored = Group.model_validate_json(group.model_dump_json())
            assert restored == group
            store.groups.items[group_id] = restored
        for alert in store.items.values():
            if alert.state.value == "firing":
                firing_at[alert.labels.resource].append(at)
        cycle_times = [T0 + minutes(5 * i) for i in range(index + 1)]
        for notification in result.notifications:
            payload = json.loads(json.loads(notification.message)["lambda"])
            for alert in payload["alerts"]:
                name, state = alert["labels"]["resource"], alert["state"]
                window = [
                    t for t in cycle_times if at - t <= (_FOR if state == "firing" else _KEEP)
                ]
                if state == "firing" and heard.get(name) != "firing":
                    # first heard only after firing through the whole ``for``
                    assert window[0] <= at - _FOR
                    assert all(t in firing_at[name] for t in window)
                if state == "resolved":
                    # resolved only after ``keep_firing_for`` without firing, and once heard
                    assert heard.get(name) == "firing"
                    assert window[0] <= at - _KEEP
                    assert not any(t in firing_at[name] for t in window)
                heard[name] = state
