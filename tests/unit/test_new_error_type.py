"""The new-error-type alert (docs/rules.md, ``error_tracking``): fired by the error stream's
signal, cleared without a word by the next cycle, and news again when the function raises
another new type, even while its group is still open."""

from tests.factories import ACCOUNT, REGION, T0, batch, minutes
from tests.fakes import MemoryAlertStore
from vigil.core.model import ErrorGroup, Labels, Signal, SignalBatch
from vigil.evaluation.pipeline import evaluate
from vigil.rules.document import RulesConfig

RULES = RulesConfig()


def _new_type(error: str, at_minute: int) -> SignalBatch:
    at = T0 + minutes(at_minute)
    group = ErrorGroup(
        fingerprint=f"{abs(hash(error)):016x}"[:16],
        error_type=error,
        message="'user_id'",
        count=1,
        first_seen=at,
        last_seen=at,
        new=True,
    )
    signal = Signal(
        source="logs",
        labels=Labels(
            kind="lambda.new_error_type", resource="batch-job", account=ACCOUNT, region=REGION
        ),
        value=1,
        unit="Count",
        window_seconds=60,
        observed_at=at,
        errors=[group],
    )
    return SignalBatch(
        batch_id=f"logs-batch-job-{at_minute}",
        source="logs",
        collected_at=at,
        covered_kinds=[],
        signals=[signal],
    )


def _cycle(at_minute: int) -> SignalBatch:
    quiet = batch(T0 + minutes(at_minute))
    return quiet.model_copy(update={"covered_kinds": ["lambda.new_error_type"]})


def test_each_new_type_alerts_once_and_clears_without_a_resolved_notice() -> None:
    store = MemoryAlertStore()
    subjects: list[str] = []
    for evaluated in (_new_type("KeyError", 1), _cycle(5), _new_type("TypeError", 21), _cycle(25)):
        result = evaluate(evaluated, rules=RULES, store=store, routing=store.routing, stack="v")
        subjects += [n.subject for n in result.notifications]

    assert subjects == [
        "[WARNING] New error type firing: batch-job",
        "[WARNING] New error type firing: batch-job",
    ]


def test_a_new_type_is_not_alerted_when_the_rule_says_so() -> None:
    rules = RulesConfig.from_json('{"error_tracking": {"new_types": false}}')
    store = MemoryAlertStore()

    result = evaluate(
        _new_type("KeyError", 1), rules=rules, store=store, routing=store.routing, stack="v"
    )

    assert result.notifications == []
