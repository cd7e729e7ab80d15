"""Per-resource ``vigil:`` tags on moto (issue 14, item 5): read with one ``GetResources`` at
discovery, kept in the state table for the other cycles, handed to the signals, and a bad tag
raised as an alert naming its resource, the tag and the error."""

from datetime import UTC, datetime

import boto3

from tests.integration.conftest import (
    ACCOUNT,
    REGION,
    create_workload_function,
    label_by_tags,
)
from vigil.adapters.stats import CallStats
from vigil.core.model import Labels, Signal, SignalBatch
from vigil.rules.document import RulesConfig
from vigil.rules.kinds import judge
from vigil.rules.self_watch import TAGS_KIND

NOW = datetime(2026, 11, 2, 10, 2, tzinfo=UTC)


def _tag(function: str, tags: dict[str, str]) -> None:
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}"
    boto3.client("lambda").tag_resource(Resource=arn, Tags=tags)


def _errors(function: str) -> Signal:
    """Every invocation of a quiet function failed: an alert under the default rule."""
    return Signal(
        source="metrics",
        labels=Labels(kind="lambda.errors", resource=function, account=ACCOUNT, region=REGION),
        value=100.0,
        unit="Percent",
        window_seconds=300,
        observed_at=NOW,
        samples={"errors": 4.0, "invocations": 4.0},
    )


def _labelled(table: str, stats: CallStats, discovery: bool, *signals: Signal) -> SignalBatch:
    rules = RulesConfig()
    return label_by_tags(table, stats, list(signals), rules=rules, discovery=discovery, now=NOW)


def test_vigil_tags_reach_the_judge_and_a_bad_one_is_an_alert(table: str) -> None:
    for name in ("nightly-report", "ledger", "orders"):
        create_workload_function(name)
    _tag("nightly-report", {"vigil:ignore": "true", "team": "reports"})
    _tag("ledger", {"vigil:lambda_errors.warning_rate": "2"})
    _tag("orders", {"team": "payments"})
    discovering = CallStats()

    labelled = _labelled(table, discovering, True, _errors("nightly-report"), _errors("ledger"))

    nightly, ledger_errors, problem = labelled.signals
    # Only the tags the overrides read travel: vigil: ones (no override selects by team).
    assert nightly.tags == {"vigil:ignore": "true"}
    assert judge(nightly, RulesConfig()) is None
    # The bad tag leaves ledger under the config's rule, and says so.
    assert judge(ledger_errors, RulesConfig()) is not None
    assert problem.labels.kind == TAGS_KIND
    assert problem.labels.resource == "lambda:ledger"
    assert problem.context == {
        "problem": "tag vigil:lambda_errors.warning_rate=2: Input should be less than 1"
    }
    assert TAGS_KIND in labelled.covered_kinds
    assert discovering.by_api["GetResources"] == 1

    later = CallStats()
    again = _labelled(table, later, False, _errors("nightly-report"))

    assert again.signals[0].tags == {"vigil:ignore": "true"}
    assert "GetResources" not in later.by_api
    assert later.by_api["GetItem"] == 1
