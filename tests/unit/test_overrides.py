"""Per-resource overrides (issue 14, item 5): thresholds and opt-outs by resource globs and
tags in the config's ``overrides``, and by a resource's own ``vigil:`` tags.

The cases come from the issue's examples (``payments-*`` with a tighter ``lambda_errors``,
a ``team=batch`` opt-out, a per-kind ``enabled: false``, ``vigil:lambda_errors.warning_rate``
and ``vigil:ignore`` tags), from its demand that a bad tag be reported rather than ignored,
and from its cost bound: a cycle of 10,000 signals must not validate a rule per signal.
"""

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.factories import ACCOUNT, REGION, error_signal, labels
from vigil.core.errors import ConfigError
from vigil.core.model import Severity, Signal, SignalBatch
from vigil.dials.inventory import ResourceTagIndex, TagScope, resource_arn
from vigil.rules import overrides
from vigil.rules.document import RulesConfig, TagFilters
from vigil.rules.kinds import KINDS, breaches_any_rule, judge
from vigil.rules.self_watch import TAGS_KIND

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PAYMENTS = {"resources": ["payments-*"], "rules": {"lambda_errors": {"warning_rate": 0.0005}}}
BATCH_OFF = {"tags": {"team": "batch"}, "ignore": True}


def rules(*entries: dict[str, Any]) -> RulesConfig:
    return RulesConfig.from_json(json.dumps({"overrides": list(entries)}))


def errors_rule(config: RulesConfig, resource: str, tags: dict[str, str] | None = None) -> Any:
    return config.resolver.resolve("lambda.errors", "lambda_errors", resource, tags or {})


def dead_letters(queue: str, *, tags: dict[str, str] | None = None) -> Signal:
    """Three messages in a dead-letter queue, the oldest an hour old of four days' retention:
    a warning under the default ``sqs_dlq`` rule."""
    return Signal(
        source="metrics",
        labels=labels(queue, "sqs.dlq_messages"),
        value=3,
        unit="Count",
        window_seconds=300,
        observed_at=NOW,
        samples={"visible": 3, "oldest_age_seconds": 3600, "retention_seconds": 345_600},
        tags=tags or {},
    )


def severity(signal: Signal, config: RulesConfig) -> Severity | None:
    found = judge(signal, config)
    return found.severity if found else None


# Selection


def test_a_resource_glob_tightens_the_rule_of_the_resources_it_matches_only() -> None:
    config = rules(PAYMENTS)

    assert errors_rule(config, "payments-api").rule.warning_rate == 0.0005
    assert errors_rule(config, "payments-refunds").rule.warning_rate == 0.0005
    assert errors_rule(config, "orders-api").rule == config.lambda_errors
    # The entry names lambda_errors only: the throttles rule of payments-api is the config's.
    throttles = config.resolver.resolve("lambda.throttles", "lambda_throttles", "payments-api", {})
    assert throttles.rule == config.lambda_throttles


def test_a_tag_opt_out_silences_the_resources_carrying_the_tag() -> None:
    config = rules(BATCH_OFF)
    signal = dead_letters("reports-dlq", tags={"team": "batch"})

    assert judge(signal, config) is None
    assert judge(dead_letters("reports-dlq", tags={"team": "payments"}), config) is not None
    assert judge(dead_letters("reports-dlq"), config) is not None


def test_tag_values_are_globs_and_every_tag_of_an_entry_must_match() -> None:
    config = rules(
        {"tags": {"team": "batch*", "env": "prod"}, "rules": {"sqs_dlq": {"severity": "info"}}}
    )

    def tagged(tags: dict[str, str]) -> Severity | None:
        return severity(dead_letters("q", tags=tags), config)

    assert tagged({"team": "batch-nightly", "env": "prod"}) is Severity.INFO
    assert tagged({"team": "batch-nightly", "env": "dev"}) is Severity.WARNING
    assert tagged({"env": "prod"}) is Severity.WARNING


def test_resources_and_tags_together_select_only_where_both_match() -> None:
    config = rules({"resources": ["orders-*"], "tags": {"team": "batch"}, "ignore": True})

    assert judge(dead_letters("orders-dlq", tags={"team": "batch"}), config) is None
    assert judge(dead_letters("orders-dlq"), config) is not None
    assert judge(dead_letters("billing-dlq", tags={"team": "batch"}), config) is not None


def test_kinds_narrow_an_opt_out_to_some_kinds() -> None:
    config = rules({"resources": ["legacy-*"], "kinds": ["sqs.*"], "ignore": True})

    assert judge(dead_letters("legacy-dlq"), config) is None
    errors = config.resolver.resolve("lambda.errors", "lambda_errors", "legacy-worker", {})
    assert errors.rule == config.lambda_errors


def test_enabled_false_opts_a_resource_out_of_one_rule() -> None:
    config = rules({"resources": ["scratch-*"], "rules": {"sqs_dlq": {"enabled": False}}})

    assert judge(dead_letters("scratch-dlq"), config) is None
    assert judge(dead_letters("orders-dlq"), config) is not None


# Precedence


def test_later_entries_win() -> None:
    config = rules(
        {"resources": ["*"], "rules": {"sqs_dlq": {"severity": "info"}}},
        {"resources": ["orders-*"], "rules": {"sqs_dlq": {"severity": "critical"}}},
    )

    assert severity(dead_letters("orders-dlq"), config) is Severity.CRITICAL
    assert severity(dead_letters("billing-dlq"), config) is Severity.INFO


def test_a_later_entry_can_lift_an_earlier_opt_out() -> None:
    config = rules(BATCH_OFF, {"resources": ["ledger-*"], "ignore": False})

    assert judge(dead_letters("ledger-dlq", tags={"team": "batch"}), config) is not None
    assert judge(dead_letters("reports-dlq", tags={"team": "batch"}), config) is None


def test_a_resource_tag_applies_after_the_config_entries() -> None:
    config = rules(PAYMENTS)
    tags = {"vigil:lambda_errors.warning_rate": "0.002"}

    resolved = errors_rule(config, "payments-api", tags)

    assert resolved.rule.warning_rate == 0.002
    assert resolved.problems == ()


def test_vigil_ignore_tag_opts_out_and_false_overrides_a_config_opt_out() -> None:
    config = rules(BATCH_OFF)

    assert judge(dead_letters("q", tags={"vigil:ignore": "true"}), config) is None
    lifted = dead_letters("q", tags={"team": "batch", "vigil:ignore": "false"})
    assert judge(lifted, config) is not None


def test_a_nested_field_is_reached_by_a_dotted_tag() -> None:
    config = RulesConfig()
    tags = {"vigil:sqs_dlq.critical_retention_ratio": "0.01"}

    # An hour of four days is past 1 % of the retention: it pages.
    assert severity(dead_letters("orders-dlq", tags=tags), config) is Severity.CRITICAL


def test_an_account_aggregate_breaching_only_a_tighter_entry_still_drills() -> None:
    """0.08 % errors across the account is under the config's 0.1 % but over payments-*'s
    0.02 %: the collector must look at every function to find out which one it is."""
    config = rules(
        {"resources": ["payments-*"], "rules": {"lambda_errors": {"warning_rate": 0.0002}}}
    )
    aggregate = error_signal("account", invocations=1_000_000, errors=800)

    assert judge(aggregate, config) is None
    assert breaches_any_rule(aggregate, config)
    assert not breaches_any_rule(aggregate, RulesConfig())


def test_an_opt_out_of_every_resource_does_not_stop_the_aggregate_drilling() -> None:
    config = rules({"resources": ["*"], "kinds": ["lambda.errors"], "ignore": True})

    assert breaches_any_rule(error_signal("account", invocations=1_000_000, errors=5_000), config)


# Validation at load


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"resources": ["a"], "rules": {"lambda_errorz": {"warning_rate": 0.1}}},
            "overrides.0.rules.lambda_errorz (line 1, column 47): no rule section of that name",
        ),
        (
            {"resources": ["a"], "rules": {"lambda_errors": {"warning_rate": 2}}},
            "overrides.0.rules.lambda_errors.warning_rate (line 1, column 65): Input should be"
            " less than 1",
        ),
        (
            {"resources": ["a"], "rules": {"lambda_errors": {"waring_rate": 0.1}}},
            "overrides.0.rules.lambda_errors.waring_rate (line 1, column 65): Extra inputs",
        ),
        (
            {"resources": ["a"], "rules": {"lambda_errors": {"warning_rate": 0.5}}},
            "overrides.0.rules.lambda_errors (line 1, column 47): Value error, critical_rate"
            " must be at least warning_rate",
        ),
        (
            {"resources": ["a"], "rules": {"collection": {"window_minutes": 5}}},
            "overrides.0.rules.collection (line 1, column 47): no rule section",
        ),
        (
            {"resources": ["a"], "colour": "red", "ignore": True},
            "overrides.0.colour (line 1, column 37): Extra inputs are not permitted",
        ),
        ({"rules": {"sqs_dlq": {}}}, "overrides.0 (line 1, column 16): Value error, select"),
        (
            {"resources": ["a"]},
            "overrides.0 (line 1, column 16): Value error, give ignore or rules",
        ),
        (
            {"resources": ["a"], "ignore": True, "rules": {"sqs_dlq": {"severity": "info"}}},
            "overrides.0 (line 1, column 16): Value error, ignore: true judges nothing",
        ),
        (
            {"resources": ["a"], "kinds": ["Lambda Errors"], "ignore": True},
            "overrides.0.kinds.0 (line 1, column 47): String should match pattern",
        ),
    ],
)
def test_an_invalid_entry_fails_the_config_naming_the_field(
    entry: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        rules(entry)

    assert message in str(caught.value)


def test_an_entry_is_validated_merged_over_the_configs_own_rule() -> None:
    """A warning rate valid against the default critical rate (1 %) but not against the
    config's own 0.2 %."""
    document = {
        "lambda_errors": {"critical_rate": 0.002},
        "overrides": [{"resources": ["a"], "rules": {"lambda_errors": {"warning_rate": 0.005}}}],
    }

    with pytest.raises(ConfigError) as caught:
        RulesConfig.from_json(json.dumps(document))

    assert "overrides.0.rules.lambda_errors" in str(caught.value)
    assert "critical_rate must be at least warning_rate" in str(caught.value)


def test_the_overridable_sections_are_the_ones_a_kind_judges_with() -> None:
    sections = overrides.rule_sections(dict(RulesConfig()))

    assert set(sections) == {kind.config for kind in KINDS.values() if kind.config is not None}


# Bad tags: reported, and the resource keeps the config's rule


@pytest.mark.parametrize(
    ("tags", "problem"),
    [
        (
            {"vigil:lambda_errors.warning_rate": "2"},
            "tag vigil:lambda_errors.warning_rate=2: Input should be less than 1",
        ),
        (
            {"vigil:lambda_errors.warning_rate": "often"},
            "tag vigil:lambda_errors.warning_rate=often: Input should be a valid number",
        ),
        (
            {"vigil:lambda_errors.bogus": "1"},
            "tag vigil:lambda_errors.bogus=1: Extra inputs are not permitted",
        ),
        ({"vigil:lamda_errors.warning_rate": "0.01"}, "no rule section 'lamda_errors'"),
        ({"vigil:lambda_errors": "0.01"}, "expected vigil:<rule>.<field>=<value>"),
        ({"vigil:ignore": "yes please"}, "tag vigil:ignore=yes please: expected true or false"),
        (
            {"vigil:lambda_errors.warning_rate": "0.01", "vigil:lambda_errors.warning_rate.x": "1"},
            "tag vigil:lambda_errors.warning_rate=0.01: other tags set fields inside it",
        ),
        (
            {
                "vigil:lambda_errors.warning_rate": "0.02",
                "vigil:lambda_errors.critical_rate": "0.015",
            },
            "tags vigil:lambda_errors.critical_rate=0.015, vigil:lambda_errors.warning_rate=0.02:"
            " Value error, critical_rate must be at least warning_rate",
        ),
    ],
)
def test_a_bad_tag_is_reported_and_the_resource_keeps_the_configs_rule(
    tags: dict[str, str], problem: str
) -> None:
    config = rules(PAYMENTS)

    resolved = errors_rule(config, "payments-api", tags)

    assert resolved.rule.warning_rate == 0.0005
    assert any(problem in found for found in resolved.problems), resolved.problems


def test_entries_that_merge_into_an_invalid_rule_together_keep_the_configs_and_say_so() -> None:
    """Each entry is valid alone; together the warning rate passes the critical one."""
    config = rules(
        {"resources": ["pay*"], "rules": {"lambda_errors": {"warning_rate": 0.008}}},
        {"resources": ["*api"], "rules": {"lambda_errors": {"critical_rate": 0.005}}},
    )

    resolved = errors_rule(config, "payments-api")

    assert resolved.rule == config.lambda_errors
    assert resolved.problems == (
        "overrides 0, 1 merge into an invalid lambda_errors ((rule): Value error, critical_rate"
        " must be at least warning_rate): the config's rule applies",
    )


# Caching


def test_a_cycle_of_10000_signals_of_1000_resources_validates_six_merges(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """1,000 functions, 100 of them payments-*, a tenth of them team=batch (ignored), a tenth
    tagged warning_rate 0.002 and a tenth 0.003; five windows of errors and throttles each.
    The distinct merges: lambda_errors with the payments entry, with or without either tag
    (3), either tag alone (2), and lambda_throttles with the payments entry (1)."""
    validated: list[str] = []
    merged_rule = overrides.merged_rule

    def counting(base: Any, partials: Any) -> Any:
        validated.append(type(base).__name__)
        return merged_rule(base, partials)

    monkeypatch.setattr(overrides, "merged_rule", counting)
    config = rules(
        {
            "resources": ["payments-*"],
            "rules": {
                "lambda_errors": {"warning_rate": 0.0005},
                "lambda_throttles": {"warning_rate": 0.005},
            },
        },
        BATCH_OFF,
    )
    validated.clear()  # the load validated each entry once; count the cycle's
    signals = []
    for index in range(1000):
        name = f"payments-{index:03}" if index < 100 else f"svc-{index:03}"
        tags = {
            0: {"team": "batch"},
            1: {"vigil:lambda_errors.warning_rate": "0.002"},
            2: {"vigil:lambda_errors.warning_rate": "0.003"},
        }.get(index % 10, {})
        for _window in range(5):
            for kind, samples in (
                ("lambda.errors", {"errors": 30.0, "invocations": 20_000.0}),
                ("lambda.throttles", {"throttles": 30.0, "requests": 20_000.0}),
            ):
                signals.append(
                    Signal(
                        source="metrics",
                        labels=labels(name, kind),
                        value=0.15,
                        unit="Percent",
                        window_seconds=300,
                        observed_at=NOW,
                        samples=samples,
                        tags=tags,
                    )
                )

    for signal in signals:
        judge(signal, config)

    assert len(signals) == 10_000
    assert len(validated) == config.resolver.validations == 6


def test_the_cache_is_no_part_of_the_configs_equality() -> None:
    used = RulesConfig()
    errors_rule(used, "orders-api")

    assert used == RulesConfig()


def test_a_copy_of_the_config_does_not_reuse_its_cache() -> None:
    config = rules(PAYMENTS)
    assert errors_rule(config, "payments-api").rule.warning_rate == 0.0005

    copied = config.model_copy(update={"overrides": []})

    assert errors_rule(copied, "payments-api").rule == copied.lambda_errors


# The tags a collector hands to the signals


class FakeTags:
    def __init__(self, by_arn: dict[str, dict[str, str]]) -> None:
        self.tags = by_arn
        self.calls = 0

    def by_arn(self) -> dict[str, dict[str, str]]:
        self.calls += 1
        return self.tags


class FakeState:
    def __init__(self) -> None:
        self.stored: dict[str, list[dict[str, Any]]] = {}

    def inventory(self, family: str) -> list[dict[str, Any]] | None:
        return self.stored.get(family)

    def remember_inventory(
        self, family: str, records: list[dict[str, Any]], *, at: datetime
    ) -> None:
        self.stored[family] = records


def _function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def _index(
    config: RulesConfig, tags: FakeTags, state: FakeState, *, discovery: bool
) -> ResourceTagIndex:
    return ResourceTagIndex(
        TagScope(TagFilters(), tags),
        state,
        config,
        account=ACCOUNT,
        region=REGION,
        discovery=discovery,
        now=NOW,
    )


def _batch(*signals: Signal) -> SignalBatch:
    return SignalBatch(
        batch_id="metrics-test",
        source="metrics",
        collected_at=NOW,
        covered_kinds=["sqs.dlq_messages"],
        signals=list(signals),
    )


def test_signals_carry_the_tags_overrides_read_and_only_those() -> None:
    config = rules(BATCH_OFF)
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:reports-dlq"
    tags = FakeTags(
        {queue: {"team": "batch", "cost-centre": "42", "vigil:sqs_dlq.severity": "info"}}
    )

    labelled = _index(config, tags, FakeState(), discovery=True).labelled(
        _batch(dead_letters("reports-dlq"), dead_letters("orders-dlq"))
    )

    assert [signal.tags for signal in labelled.signals] == [
        {"team": "batch", "vigil:sqs_dlq.severity": "info"},
        {},
    ]
    assert TAGS_KIND in labelled.covered_kinds


def test_tags_are_read_at_discovery_and_from_the_state_in_other_cycles() -> None:
    config = RulesConfig()
    tags = FakeTags({_function_arn("orders"): {"vigil:ignore": "true"}})
    state = FakeState()

    _index(config, tags, state, discovery=True).labelled(_batch())
    later = _index(config, tags, state, discovery=False).labelled(
        _batch(
            Signal(
                source="metrics",
                labels=labels("orders", "lambda.errors"),
                value=1,
                unit="Percent",
                window_seconds=300,
                observed_at=NOW,
            )
        )
    )

    assert tags.calls == 1
    assert state.stored["resource_tags"] == [
        {"arn": _function_arn("orders"), "tags": {"vigil:ignore": "true"}}
    ]
    assert later.signals[0].tags == {"vigil:ignore": "true"}


def test_a_bad_tag_raises_one_alert_naming_the_resource_tag_and_error() -> None:
    config = RulesConfig()
    arn = _function_arn("payments-api")
    tags = FakeTags(
        {
            arn: {"vigil:lambda_errors.warning_rate": "2"},
            _function_arn("fine"): {"vigil:lambda_errors.warning_rate": "0.002"},
        }
    )

    labelled = _index(config, tags, FakeState(), discovery=True).labelled(_batch())
    found = [signal for signal in labelled.signals if signal.labels.kind == TAGS_KIND]

    assert [signal.labels.resource for signal in found] == ["lambda:payments-api"]
    breach = judge(found[0], config)
    assert breach is not None
    assert breach.severity is Severity.WARNING
    assert breach.evidence.summary == (
        "Tags of lambda:payments-api ignored, the config's rule applies: tag"
        " vigil:lambda_errors.warning_rate=2: Input should be less than 1"
    )


def test_a_tag_for_a_rule_that_does_not_judge_the_resource_is_reported() -> None:
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders-dlq"
    index = _index(RulesConfig(), FakeTags({}), FakeState(), discovery=True)

    problems = index.problems(queue, {"vigil:lambda_errors.warning_rate": "0.002"})

    assert problems == [
        "tag vigil:lambda_errors.warning_rate=0.002: no rule of that section judges this resource"
    ]


@pytest.mark.parametrize(
    ("kind", "resource", "arn"),
    [
        ("lambda.errors", "orders", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders"),
        ("sqs.dlq_messages", "orders-dlq", f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders-dlq"),
        ("s3.5xx_rate", "assets", "arn:aws:s3:::assets"),
        (
            "states.executions_failed",
            "checkout",
            f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:checkout",
        ),
        (
            "dynamodb.capacity",
            "orders/index/by-customer",
            f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders",
        ),
        ("kinesis.iterator_age", "clicks", f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/clicks"),
        ("apigateway.rest_5xx", "shop", None),
        ("quota.usage", "lambda/L-B99A9384", None),
    ],
)
def test_a_signals_resource_is_found_by_its_arn(kind: str, resource: str, arn: str | None) -> None:
    assert resource_arn(labels(resource, kind)) == arn
