"""The SQS dead-letter queue rule: any visible message warns, an old one pages."""

import pytest

from tests.factories import T0, labels
from vigil.core.errors import ConfigError
from vigil.core.model import Severity, Signal
from vigil.rules.document import RulesConfig
from vigil.rules.kinds import judge, kind_title

RULES = RulesConfig()
FOUR_DAYS = 4 * 86400


def dead_letters(visible: float, age: float = 0, retention: float = FOUR_DAYS) -> Signal:
    return Signal(
        source="metrics",
        labels=labels("orders-dlq", "sqs.dlq_messages"),
        value=visible,
        unit="Count",
        window_seconds=300,
        observed_at=T0,
        samples={
            "visible": visible,
            "oldest_age_seconds": age,
            "retention_seconds": retention,
        },
    )


def test_an_empty_dead_letter_queue_is_healthy() -> None:
    assert judge(dead_letters(0), RULES) is None


def test_one_message_warns_at_once() -> None:
    breach = judge(dead_letters(1, age=600), RULES)

    assert breach is not None
    assert (breach.severity, breach.for_seconds) == (Severity.WARNING, 0)
    assert (breach.evidence.value, breach.evidence.threshold) == (1, 0)
    assert breach.evidence.summary == (
        "1 message in the dead-letter queue, the oldest 10 min old of a 4 d retention"
    )


def test_without_an_age_datapoint_the_count_still_warns() -> None:
    breach = judge(dead_letters(3), RULES)

    assert breach is not None
    assert breach.severity is Severity.WARNING
    assert breach.evidence.summary == "3 messages in the dead-letter queue"


def test_an_oldest_message_past_half_the_retention_pages() -> None:
    breach = judge(dead_letters(2, age=FOUR_DAYS / 2), RULES)

    assert breach is not None
    assert breach.severity is Severity.CRITICAL
    assert breach.evidence.summary == (
        "2 messages in the dead-letter queue, the oldest 2 d old of a 4 d retention;"
        " SQS deletes it at the end of the retention, so it is about to be lost"
    )


def test_just_under_half_the_retention_still_warns() -> None:
    breach = judge(dead_letters(2, age=FOUR_DAYS / 2 - 1), RULES)

    assert breach is not None
    assert breach.severity is Severity.WARNING


def test_the_ratio_and_severity_are_configurable_and_the_rule_can_be_off() -> None:
    rules = RulesConfig.from_json(
        '{"sqs_dlq": {"severity": "info", "critical_retention_ratio": 0.25}}'
    )
    quiet = judge(dead_letters(1, age=60), rules)
    old = judge(dead_letters(1, age=FOUR_DAYS / 4), rules)
    off = RulesConfig.from_json('{"sqs_dlq": {"enabled": false}}')

    assert quiet is not None
    assert quiet.severity is Severity.INFO
    assert old is not None
    assert old.severity is Severity.CRITICAL
    assert judge(dead_letters(5), off) is None


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ('{"sqs_dlq": {"critical_retention_ratio": 1}}', "sqs_dlq.critical_retention_ratio"),
        ('{"collection": {"discovery_minutes": 62}}', "collection"),
    ],
)
def test_invalid_settings_name_the_field(document: str, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        RulesConfig.from_json(document)


def test_the_kind_has_a_title() -> None:
    assert kind_title("sqs.dlq_messages") == "SQS dead-letter messages"
