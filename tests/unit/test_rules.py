import pytest

from tests.factories import error_signal, throttle_signal
from vigil.core.errors import ConfigError
from vigil.core.model import Severity
from vigil.rules.document import RulesConfig
from vigil.rules.kinds import judge

RULES = RulesConfig()


def test_a_single_error_of_a_low_volume_function_fires_at_once() -> None:
    breach = judge(error_signal("nightly-report", invocations=12, errors=1), RULES)

    assert breach is not None
    assert breach.severity is Severity.WARNING
    assert breach.for_seconds == 0
    assert breach.evidence.summary == (
        "1 error in 12 invocations over 5 min (low volume: every one counts)"
    )


def test_a_high_volume_function_below_the_rate_threshold_is_healthy() -> None:
    assert judge(error_signal("search-api", invocations=100_000, errors=50), RULES) is None


def test_a_high_volume_function_at_exactly_the_threshold_is_healthy() -> None:
    assert judge(error_signal("search-api", invocations=100_000, errors=100), RULES) is None


def test_a_high_volume_burst_pages_after_the_for_duration() -> None:
    breach = judge(error_signal("orders-api", invocations=100_000, errors=2_000), RULES)

    assert breach is not None
    assert breach.severity is Severity.CRITICAL
    assert breach.for_seconds == 300
    assert breach.evidence.value == pytest.approx(2.0)
    assert breach.evidence.threshold == pytest.approx(1.0)


def test_a_rate_between_warning_and_critical_warns() -> None:
    breach = judge(error_signal("orders-api", invocations=100_000, errors=500), RULES)

    assert breach is not None
    assert breach.severity is Severity.WARNING
    assert breach.evidence.threshold == pytest.approx(0.1)


def test_throttles_use_their_own_thresholds_against_all_requests() -> None:
    quiet = judge(throttle_signal("orders-api", invocations=99_500, throttles=500), RULES)
    loud = judge(throttle_signal("orders-api", invocations=90_000, throttles=10_000), RULES)

    assert quiet is None  # 0.5% of requests is under the 1% warning rate
    assert loud is not None
    assert loud.severity is Severity.CRITICAL


def test_a_disabled_rule_judges_nothing() -> None:
    rules = RulesConfig.from_json('{"lambda_errors": {"enabled": false}}')

    assert judge(error_signal("nightly-report", invocations=1, errors=1), rules) is None
    assert rules.enabled_kinds == ["lambda.throttles", "apigateway.rest_5xx", "apigateway.http_5xx"]


def test_overrides_merge_into_the_defaults() -> None:
    rules = RulesConfig.from_json(
        '{"repeat_interval_minutes": 30, "lambda_errors": {"for_minutes": 0}}'
    )

    assert rules.repeat_interval_minutes == 30
    assert rules.lambda_errors.for_minutes == 0
    assert rules.lambda_errors.warning_rate == 0.001


@pytest.mark.parametrize(
    ("document", "names"),
    [
        ('{"lambda_errors": {"warning_rate": 2}}', "lambda_errors.warning_rate"),
        ('{"lambda_errors": {"critical_rate": 0.0001}}', "lambda_errors"),
        ('{"repeat_interval_minutes": "soon"}', "repeat_interval_minutes"),
        ('{"lamda_errors": {}}', "lamda_errors"),
        ("[1, 2]", "expected a JSON object"),
        ("{not json", "not valid JSON"),
        ('{"collection": {"sweep_minutes": 62}}', "sweep_minutes must be a multiple"),
        ('{"collection": {"sweep_minutes": 240}}', "collection.sweep_minutes"),
    ],
)
def test_an_invalid_config_names_what_is_wrong(document: str, names: str) -> None:
    with pytest.raises(ConfigError) as caught:
        RulesConfig.from_json(document)

    assert names in str(caught.value)
    assert str(caught.value).startswith("VIGIL_RULES:")
