"""The data dial rules: capacity, refused or failed requests, iterator age against retention."""

import pytest

from tests.factories import T0, labels
from vigil.core.errors import ConfigError
from vigil.core.model import Severity, Signal
from vigil.rules.document import RulesConfig
from vigil.rules.kinds import judge, kind_title

RULES = RulesConfig()


def signal(kind: str, value: float, samples: dict[str, float], resource: str = "orders") -> Signal:
    return Signal(
        source="metrics",
        labels=labels(resource, kind),
        value=value,
        unit="Percent",
        window_seconds=300,
        observed_at=T0,
        samples=samples,
    )


def table_capacity(write: float, capacity: float = 50) -> Signal:
    return signal(
        "dynamodb.capacity",
        write / capacity * 100,
        {"write_per_second": write, "write_capacity": capacity, "write_provisioned": capacity},
    )


@pytest.mark.parametrize(
    ("write", "severity"),
    [(39.9, None), (40, Severity.WARNING), (44.9, Severity.WARNING), (45, Severity.CRITICAL)],
)
def test_capacity_warns_at_80_percent_and_pages_at_90(
    write: float, severity: Severity | None
) -> None:
    breach = judge(table_capacity(write), RULES)

    assert (breach.severity if breach else None) == severity


def test_capacity_evidence_says_what_was_used_of_what() -> None:
    breach = judge(table_capacity(45), RULES)

    assert breach is not None
    assert breach.for_seconds == 0
    assert "writes 45 of 50 units/s" in breach.evidence.summary
    assert "throttled" in breach.evidence.summary


def test_shard_capacity_is_judged_on_bytes_or_records_whichever_is_higher() -> None:
    records = signal(
        "kinesis.shard_capacity",
        92.0,
        {
            "bytes_per_second": 100_000,
            "bytes_capacity": 2_097_152,
            "records_per_second": 1_840,
            "records_capacity": 2_000,
        },
        resource="clicks",
    )

    breach = judge(records, RULES)

    assert breach is not None
    assert breach.severity is Severity.CRITICAL
    assert "1,840 of 2,000 records/s" in breach.evidence.summary


@pytest.mark.parametrize(
    ("kind", "events", "severity"),
    [
        ("dynamodb.throttles", 0, None),
        ("dynamodb.throttles", 1, Severity.WARNING),
        ("dynamodb.throttles", 1000, Severity.CRITICAL),
        ("dynamodb.system_errors", 99, Severity.WARNING),
        ("dynamodb.system_errors", 100, Severity.CRITICAL),
        ("kinesis.write_throttles", 999, Severity.WARNING),
        ("kinesis.write_throttles", 1000, Severity.CRITICAL),
    ],
)
def test_any_refused_or_failed_request_warns_and_many_page(
    kind: str, events: float, severity: Severity | None
) -> None:
    breach = judge(signal(kind, events, {"events": events}), RULES)

    assert (breach.severity if breach else None) == severity


def test_iterator_age_is_judged_against_the_retention() -> None:
    day = 86_400.0

    def age(seconds: float) -> Severity | None:
        found = judge(
            signal(
                "kinesis.iterator_age",
                seconds / day * 100,
                {"age_seconds": seconds, "retention_seconds": day},
                resource="clicks",
            ),
            RULES,
        )
        return found.severity if found else None

    assert [age(3600), age(6 * 3600), age(12 * 3600)] == [
        None,
        Severity.WARNING,
        Severity.CRITICAL,
    ]


def test_a_lagging_consumer_without_a_known_retention_is_not_judged() -> None:
    lag = signal("lambda.iterator_age", 0.0, {"age_seconds": 50_000, "retention_seconds": 0})

    assert judge(lag, RULES) is None


def test_disabled_data_rules_judge_nothing() -> None:
    rules = RulesConfig.from_json(
        '{"dynamodb_capacity": {"enabled": false}, "kinesis_write_throttles": {"enabled": false}}'
    )

    assert judge(table_capacity(50), rules) is None
    assert judge(signal("kinesis.write_throttles", 5, {}), rules) is None


def test_a_warning_above_the_critical_level_is_refused_with_the_field_named() -> None:
    with pytest.raises(ConfigError, match="kinesis_iterator_age"):
        RulesConfig.from_json(
            '{"kinesis_iterator_age": {"warning_retention_ratio": 0.6,'
            ' "critical_retention_ratio": 0.5}}'
        )


def test_the_new_kinds_have_human_titles() -> None:
    assert kind_title("dynamodb.capacity") == "DynamoDB capacity"
    assert kind_title("lambda.iterator_age") == "Lambda stream iterator age"
