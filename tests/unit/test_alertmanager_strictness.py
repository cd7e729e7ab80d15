"""The routing config is as strict as Alertmanager's, case by case.

Each case is one of Alertmanager's own test cases, ported to Vigil's JSON config: the routing
ones from prometheus/alertmanager config/config_test.go (TestRootRouteHasNoMatcher,
TestContinueErrorInRouteRoot, TestGroupByHasNoDuplicatedLabels,
TestWildcardGroupByWithOtherGroupByLabels, TestGroupIntervalIsGreaterThanZero,
TestRepeatIntervalIsGreaterThanZero), the time interval ones from timeinterval/timeinterval.go's
validation (weekday names, a week from Sunday, days of month against a 28-day month) and the
inhibition one from inhibit/inhibit_test.go (an alert matching both sides of a rule)."""

import json
from typing import Any

import pytest

from vigil.core.errors import ConfigError
from vigil.rules.document import RulesConfig
from vigil.rules.routing import inhibited


def _routing(**route: Any) -> str:
    base: dict[str, Any] = {"receivers": ["default"], "group_by": ["..."]}
    return json.dumps({"routing": {"route": base | route}})


def _interval(**entry: Any) -> str:
    return json.dumps(
        {"routing": {"time_intervals": [{"name": "quiet", "time_intervals": [entry]}]}}
    )


REFUSED = [
    (_routing(match={"kind": "lambda.errors"}), "root route matches every alert"),
    (_routing(match_re={"severity": "critical"}), "root route matches every alert"),
    (_routing(**{"continue": True}), "root route cannot have continue"),
    (_routing(group_by=["kind", "resource", "kind"]), "kind is listed more than once"),
    (_routing(group_by=["...", "kind"]), "'...' groups by every label"),
    (_routing(group_by=["...", "..."]), "... is listed more than once"),
    (_routing(group_interval="0s"), "group_interval"),
    (_routing(repeat_interval="0m"), "repeat_interval"),
    (
        _routing(routes=[{"match": {"kind": "cost.*"}, "group_interval": "0s"}]),
        "routes.0.group_interval",
    ),
    (_interval(weekdays=["1"]), "write its name (monday), not a number"),
    (_interval(weekdays=["1:5"]), "write its name"),
    (_interval(weekdays=["saturday:sunday"]), "a week runs from sunday to saturday"),
    (_interval(weekdays=["friday:monday"]), "a week runs from sunday to saturday"),
    (_interval(weekdays=["monday:tuesday:friday"]), "is not a range like a:b"),
    (_interval(days_of_month=["0"]), "0 is no day"),
    (_interval(days_of_month=["32"]), "day of month"),
    (_interval(days_of_month=["-32"]), "day of month"),
    (_interval(days_of_month=["10:5"]), "ends before it starts"),
    (_interval(days_of_month=["-1:5"]), "from a negative day ends on a negative day"),
    (_interval(days_of_month=["30:-5"]), "ends before it starts in every month"),
    (_interval(days_of_month=["-1:-3"]), "ends before it starts"),
    (_interval(days_of_month=["28:-1"]), "ends before it starts in every month"),  # February
    (_interval(months=["december:january"]), "ends before it starts"),
    (_interval(years=["2027:2026"]), "ends before it starts"),
    (_interval(times=[{"start_time": "10:00", "end_time": "10:00"}]), "must be before"),
]


@pytest.mark.parametrize(("document", "says"), REFUSED)
def test_what_alertmanager_refuses_is_refused_naming_the_field(document: str, says: str) -> None:
    with pytest.raises(ConfigError, match="invalid rules config") as raised:
        RulesConfig.from_json(document)

    assert says in str(raised.value)


ACCEPTED = [
    _interval(weekdays=["sunday:monday"]),  # Sunday is the first day of Alertmanager's week
    _interval(weekdays=["Monday:Friday", "saturday"]),
    _interval(days_of_month=["1:-1"]),  # the whole month
    _interval(days_of_month=["-7:-1"]),  # its last week
    _interval(days_of_month=["27:-1"]),  # in a 28-day month, its last two days
    _interval(months=["1:3", "december"]),
    _routing(group_wait="0s"),
]


@pytest.mark.parametrize("document", ACCEPTED)
def test_what_alertmanager_accepts_is_accepted(document: str) -> None:
    RulesConfig.from_json(document)


def test_a_sunday_to_monday_range_covers_sunday_and_monday_only() -> None:
    from datetime import UTC, datetime  # noqa: PLC0415 - local to this case

    config = RulesConfig.from_json(_interval(weekdays=["sunday:monday"]))
    interval = config.routing.time_intervals[0]
    sunday, monday, tuesday, saturday = (
        datetime(2026, 11, day, 12, tzinfo=UTC) for day in (1, 2, 3, 7)
    )

    assert [interval.covers(d) for d in (sunday, monday, tuesday, saturday)] == [
        True,
        True,
        False,
        False,
    ]


def test_alerts_matching_both_sides_of_a_rule_do_not_inhibit_each_other() -> None:
    """Alertmanager's inhibit_test.go: a rule whose source and target both match critical
    alerts of a service must not let two such alerts mute each other; a source that matches
    only the source side still inhibits."""
    config = RulesConfig.from_json(
        json.dumps(
            {
                "routing": {
                    "inhibit_rules": [
                        {
                            "source": {"match": {"service": "lambda"}},
                            "target": {"match": {"severity": "critical"}},
                            "equal": ["region"],
                        }
                    ]
                }
            }
        )
    ).routing

    def alert(resource: str, severity: str, kind: str = "lambda.errors") -> dict[str, str]:
        return {
            "kind": kind,
            "severity": severity,
            "resource": resource,
            "account": "123456789012",
            "region": "us-east-1",
            "service": kind.split(".", maxsplit=1)[0],
        }

    both_a, both_b = alert("orders", "critical"), alert("billing", "critical")
    only_source = alert("search", "warning")
    assert not inhibited(config, both_a, [both_a, both_b])
    assert inhibited(config, both_a, [both_a, only_source])
    queue = alert("orders-dlq", "critical", "sqs.dlq_messages")  # target side only
    assert inhibited(config, queue, [both_b])
