"""The dial rules: account concurrency against the limit, async delivery failures."""

import pytest

from tests.factories import T0, labels
from vigil.core.errors import ConfigError
from vigil.core.model import Severity, Signal
from vigil.rules.document import RulesConfig
from vigil.rules.kinds import judge, kind_title

RULES = RulesConfig()


def concurrency(claimed: float, concurrent: float, limit: float = 1000) -> Signal:
    return Signal(
        source="metrics",
        labels=labels("account", "lambda.account_concurrency"),
        value=max(claimed, concurrent) / limit * 100 if limit else 100.0,
        unit="Percent",
        window_seconds=300,
        observed_at=T0,
        samples={
            "claimed": claimed,
            "concurrent": concurrent,
            "limit": limit,
            "unreserved_limit": limit - 100,
        },
    )


def async_failures(dropped: float = 0, dead_letter: float = 0, destination: float = 0) -> Signal:
    return Signal(
        source="metrics",
        labels=labels("orders-worker", "lambda.async_failures"),
        value=dropped + dead_letter + destination,
        unit="Count",
        window_seconds=300,
        observed_at=T0,
        samples={
            "dropped": dropped,
            "dead_letter_errors": dead_letter,
            "destination_failures": destination,
        },
    )


def test_concurrency_below_the_warning_level_is_healthy() -> None:
    assert judge(concurrency(claimed=799, concurrent=700), RULES) is None


def test_claimed_concurrency_at_80_percent_of_the_limit_warns_at_once() -> None:
    breach = judge(concurrency(claimed=800, concurrent=300), RULES)

    assert breach is not None
    assert (breach.severity, breach.for_seconds) == (Severity.WARNING, 0)
    assert (breach.evidence.value, breach.evidence.threshold) == (80.0, 80.0)
    assert breach.evidence.summary == (
        "peak concurrency 800 of the account limit 1,000 (80%) over 5 min, at or above 80%;"
        " every function throttles at the limit"
    )


def test_concurrent_executions_above_claimed_still_count_and_page_at_90_percent() -> None:
    breach = judge(concurrency(claimed=0, concurrent=950), RULES)

    assert breach is not None
    assert breach.severity is Severity.CRITICAL
    assert breach.evidence.threshold == 90.0


def test_an_unknown_limit_judges_nothing() -> None:
    assert judge(concurrency(claimed=900, concurrent=900, limit=0), RULES) is None


def test_a_disabled_concurrency_rule_judges_nothing() -> None:
    rules = RulesConfig.from_json('{"lambda_concurrency": {"enabled": false}}')

    assert judge(concurrency(claimed=990, concurrent=990), rules) is None


def test_the_critical_level_may_not_be_below_the_warning_level() -> None:
    with pytest.raises(ConfigError, match="critical_ratio must be at least warning_ratio"):
        RulesConfig.from_json(
            '{"lambda_concurrency": {"warning_ratio": 0.9, "critical_ratio": 0.8}}'
        )


def test_a_dropped_async_event_warns() -> None:
    breach = judge(async_failures(dropped=1), RULES)

    assert breach is not None
    assert breach.severity is Severity.WARNING
    assert breach.evidence.summary == "1 dropped event over 5 min"


def test_an_event_that_could_not_reach_its_dead_letter_queue_pages() -> None:
    breach = judge(async_failures(dropped=3, dead_letter=2, destination=1), RULES)

    assert breach is not None
    assert breach.severity is Severity.CRITICAL
    assert breach.evidence.value == 6
    assert breach.evidence.summary == (
        "3 dropped events, 2 dead-letter errors, 1 destination delivery failure over 5 min;"
        " those events are lost"
    )


def test_no_async_failure_is_healthy_and_the_severities_are_configurable() -> None:
    rules = RulesConfig.from_json('{"lambda_async": {"dropped_severity": "critical"}}')

    assert judge(async_failures(), RULES) is None
    breach = judge(async_failures(dropped=1), rules)
    assert breach is not None
    assert breach.severity is Severity.CRITICAL


def test_every_dial_has_a_human_title() -> None:
    assert kind_title("lambda.account_concurrency") == "Lambda account concurrency"
    assert kind_title("lambda.async_failures") == "Lambda async delivery failures"
    assert kind_title("lambda.errors") == "Lambda errors"
    assert kind_title("cost.daily_spike") == "Cost spike"
