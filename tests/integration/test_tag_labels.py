"""Labels from resource tags on moto (issue 16, item 2): the allowlisted tag keys
(``tags.labels``) are read with discovery's one ``GetResources``, kept in the state table for
the other cycles, carried by the signals to the alert, and routed on; a resource without the
tag gets no label."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType

import boto3

from tests.factories import T0
from tests.integration.conftest import (
    ACCOUNT,
    BATCH_BUCKET,
    REGION,
    FakeContext,
    create_workload_function,
    label_by_tags,
)
from tests.integration.test_error_stream import PYTHON_ERROR, _payload
from vigil.adapters.collector_state import CollectorState
from vigil.adapters.stats import CallStats
from vigil.alerting.lifecycle import step
from vigil.core.model import AlertState, Labels, Signal, SignalBatch
from vigil.rules.document import RulesConfig
from vigil.rules.kinds import judge
from vigil.rules.routing import destinations, label_values

NOW = datetime(2026, 12, 6, 10, 2, tzinfo=UTC)
RULES = RulesConfig.model_validate(
    {
        "tags": {"labels": ["team", "env"]},
        "routing": {
            "receivers": [
                {"name": "default", "email": True},
                {"name": "payments", "slack": "payments_url"},
            ],
            "route": {
                "receivers": ["default"],
                "group_by": ["team", "kind"],
                "routes": [{"matchers": ['team="payments"'], "receivers": ["payments"]}],
            },
        },
    }
)


def _errors(function: str, source: str = "metrics") -> Signal:
    return Signal.model_validate(
        {
            "source": source,
            "labels": Labels(
                kind="lambda.errors", resource=function, account=ACCOUNT, region=REGION
            ),
            "value": 100.0,
            "unit": "Percent",
            "window_seconds": 300,
            "observed_at": NOW,
            "samples": {"errors": 4.0, "invocations": 4.0},
        }
    )


def _labelled(table: str, stats: CallStats, discovery: bool, *signals: Signal) -> SignalBatch:
    return label_by_tags(table, stats, list(signals), rules=RULES, discovery=discovery, now=NOW)


def test_allowlisted_tags_become_labels_read_at_discovery_only(table: str) -> None:
    for name in ("charge", "search-api", "untagged"):
        create_workload_function(name)
    lam = boto3.client("lambda")
    tags = {
        "charge": {"team": "payments", "env": "prod", "cost-center": "42"},
        "search-api": {"team": "search"},
    }
    for name, tagged in tags.items():
        lam.tag_resource(Resource=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}", Tags=tagged)
    discovering = CallStats()

    first = _labelled(table, discovering, True, _errors("charge"), _errors("untagged"))

    assert discovering.by_api["GetResources"] == 1
    # Only the allowlisted keys travel: cost-center is no label and no override reads it.
    assert first.signals[0].tags == {"team": "payments", "env": "prod"}
    assert first.signals[1].tags == {}

    later = CallStats()
    batch = _labelled(table, later, False, _errors("charge"), _errors("search-api"))

    assert "GetResources" not in later.by_api
    charge, search = (
        step(None, judge(s, RULES), now=NOW, batch_id="b1", rules=RULES).after
        for s in batch.signals
    )
    assert charge is not None
    assert search is not None
    assert charge.tags == {"team": "payments", "env": "prod"}
    assert search.tags == {"team": "search"}
    # The tags are no part of the alert's identity.
    assert charge.fingerprint == _errors("charge").labels.fingerprint
    values = label_values(charge.labels, charge.severity, charge.tags)
    assert values["team"] == "payments"
    assert values["kind"] == "lambda.errors"
    [to_payments] = destinations(RULES.routing, values, repeat_interval=timedelta(hours=4))
    assert to_payments.receivers == ("payments",)
    assert to_payments.group_key(values) == "route.routes.0|team=payments,kind=lambda.errors"
    search_values = label_values(search.labels, search.severity, search.tags)
    [elsewhere] = destinations(RULES.routing, search_values, repeat_interval=timedelta(hours=4))
    assert elsewhere.receivers == ("default",)


def test_an_error_stream_breach_keeps_the_labels_the_alert_has() -> None:
    """The error stream reads no tags: its breach neither adds nor removes tag labels."""
    tagged = _errors("charge").model_copy(update={"tags": {"team": "payments"}})
    fired = step(None, judge(tagged, RULES), now=NOW, batch_id="b1", rules=RULES).after
    assert fired is not None
    assert fired.state is AlertState.FIRING

    later = NOW + timedelta(minutes=1)
    streamed = _errors("charge", source="logs").model_copy(update={"observed_at": later})
    kept = step(fired, judge(streamed, RULES), now=later, batch_id="b2", rules=RULES).after

    assert kept is not None
    assert kept.tags == {"team": "payments"}

    untagged = _errors("charge").model_copy(update={"observed_at": later + timedelta(minutes=1)})
    cleared = step(
        kept, judge(untagged, RULES), now=later + timedelta(minutes=1), batch_id="b3", rules=RULES
    ).after
    assert cleared is not None
    assert cleared.tags == {}  # the tag was removed from the resource: so is the label


def test_the_error_stream_carries_the_stored_tag_labels(
    table: str, load_handler: Callable[..., ModuleType]
) -> None:
    """A quiet function's first errors, alerted by the error stream, route by team from the
    first notification: the delivery reads the tags the collector's discovery stored."""
    CollectorState(boto3.client("dynamodb"), table).remember_inventory(
        "resource_tags",
        [
            {
                "arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:batch-job",
                "tags": {"team": "payments", "vigil:ignore": "false"},
            }
        ],
        at=NOW,
    )
    sfn = boto3.client("stepfunctions")
    role = boto3.client("iam").create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")
    machine = sfn.create_state_machine(
        name="evaluate",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn=role["Role"]["Arn"],
        type="EXPRESS",
    )["stateMachineArn"]
    boto3.client("s3").create_bucket(Bucket=BATCH_BUCKET)
    module = load_handler(
        "error_stream",
        VIGIL_EVALUATE_STATE_MACHINE_ARN=machine,
        AWS_REGION=REGION,
        VIGIL_ERROR_STREAM_MODE="account-policy",
        VIGIL_RULES=json.dumps({"tags": {"labels": ["team"]}}),
    )
    event = _payload("/aws/lambda/batch-job", [(T0, PYTHON_ERROR)])

    summary = module.lambda_handler(event, FakeContext("vigil-error-stream"))

    started = sfn.describe_execution(executionArn=summary["execution_arn"])
    batch = SignalBatch.model_validate_json(started["input"])
    assert [signal.tags for signal in batch.signals] == [{"team": "payments"}] * 2
    woken = step(None, judge(batch.signals[1], RULES), now=T0, batch_id="b", rules=RULES).after
    assert woken is not None
    assert woken.tags == {"team": "payments"}
