"""The collector's three entries on moto (ADR 51): the scheduled cycle that starts the collect
workflow, one target's iteration, and the merge; each with its dependencies failing.

Failures injected where they happen on AWS: STS refusing the member role (``AccessDenied``, as
the STS API reference lists for ``AssumeRole``; botocore's ``Stubber`` on the collector's own
STS client), CloudWatch throttling ``GetMetricData`` (the adapter's ``MetricsUnavailable``: the
workflow's ``Retry`` and ``Catch`` take it), and a part's batch object gone between the
iteration and the merge (a crash between two writes).
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.stub import Stubber

from tests.integration.conftest import BATCH_BUCKET, FakeContext
from vigil.adapters.cloudwatch import MetricsUnavailable
from vigil.adapters.collector_state import CollectorState
from vigil.compose.collect_metrics import TARGET_CLIENTS, target_clients
from vigil.core.model import SignalBatch
from vigil.rules.organization import MEMBER_KIND

Loader = Callable[..., ModuleType]
ACCOUNT, REGION, EU = "123456789012", "us-east-1", "eu-west-1"
MEMBER = "222222222222"
NOW = datetime(2026, 11, 2, 9, 7, tzinfo=UTC)
RULES = json.dumps({"collection": {"regions": [EU]}})


def _machines() -> tuple[str, str]:
    sfn = boto3.client("stepfunctions")
    arns = []
    for name in ("evaluate", "vigil-test-collect"):
        arns.append(
            sfn.create_state_machine(
                name=name,
                definition=json.dumps({"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}),
                roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
                type="EXPRESS",
            )["stateMachineArn"]
        )
    return arns[0], arns[1]


def _discovered(table: str) -> None:
    """An earlier discovery of every place the tests collect, which found nothing (moto has
    no Service Quotas: the cycles under test are ordinary ones), as in test_handlers."""
    for target in (None, (ACCOUNT, EU), (MEMBER, EU), (MEMBER, REGION)):
        state = CollectorState(boto3.client("dynamodb"), table, target=target)
        at = NOW - timedelta(minutes=5)
        state.remember_dead_letter_queues([], at=at)
        for family in ("s3", "states", "apigateway", "quotas", "reserved", "async"):
            state.remember_inventory(family, [], at=at)
        state.remember_inventory("duration", [], at=at)


@pytest.fixture
def app(table: str, load_handler: Loader) -> tuple[ModuleType, str, str]:
    boto3.client("s3").create_bucket(Bucket=BATCH_BUCKET)
    _discovered(table)
    evaluate, collect = _machines()
    module = load_handler(
        "collect_metrics",
        VIGIL_EVALUATE_STATE_MACHINE_ARN=evaluate,
        VIGIL_COLLECT_STATE_MACHINE_ARN=collect,
        VIGIL_RULES=RULES,
    )
    return module, evaluate, collect


def _input(execution_arn: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(
        boto3.client("stepfunctions").describe_execution(executionArn=execution_arn)["input"]
    )
    return found


def _batch(ref: dict[str, Any]) -> SignalBatch:
    body = boto3.client("s3").get_object(Bucket=ref["bucket"], Key=ref["key"])["Body"].read()
    return SignalBatch.model_validate_json(body)


def test_a_cycle_with_another_region_starts_the_collect_workflow_not_evaluate(
    app: tuple[ModuleType, str, str],
) -> None:
    module, _, collect = app

    summary = module.lambda_handler({"time": NOW.isoformat()}, FakeContext("collect"))

    assert summary["targets"] == 1
    assert summary["execution_arn"].startswith(collect.replace(":stateMachine:", ":execution:"))
    started = _input(summary["execution_arn"])
    assert started["targets"] == [{"account": ACCOUNT, "region": EU, "name": "", "member": False}]
    assert started["now"] == NOW.isoformat()
    home = _batch(started["home"])
    assert home.batch_id == started["run"] == summary["batch_id"]
    # The home batch speaks for its dials in its own account and region only.
    assert home.scope_of("lambda.errors") == frozenset({(ACCOUNT, REGION)})


def test_a_target_is_collected_in_its_region_under_its_own_keys(
    app: tuple[ModuleType, str, str], table: str
) -> None:
    module, _, _ = app
    event = {
        "target": {"account": ACCOUNT, "region": EU, "name": "", "member": False},
        "now": NOW.isoformat(),
        "run": "metrics-run",
    }

    part = module.lambda_handler(event, FakeContext("collect"))

    batch = _batch(part["ref"])
    assert part["target"]["region"] == EU
    assert batch.batch_id == f"metrics-{ACCOUNT}-{EU}-20261102T0907Z"
    assert batch.scope_of("lambda.errors") == frozenset({(ACCOUNT, EU)})
    keys = {
        item["pk"]["S"]
        for item in boto3.client("dynamodb").scan(TableName=table)["Items"]
        if item["pk"]["S"].startswith(("COVERAGE#", "DISCOVERY#"))
    }
    assert f"COVERAGE#{ACCOUNT}#{EU}#lambda" in keys
    # The stack's own coverage (its region's) is not this target's.
    assert "COVERAGE#lambda" not in keys


def test_a_refused_member_role_is_a_part_with_stss_answer_not_a_failure(
    app: tuple[ModuleType, str, str],
) -> None:
    module, _, _ = app
    sts = module._env().clients["sts"]
    event = {
        "target": {"account": MEMBER, "region": REGION, "name": "payments", "member": True},
        "now": NOW.isoformat(),
        "run": "metrics-run",
    }

    with Stubber(sts) as stub:
        stub.add_client_error(
            "assume_role", service_error_code="AccessDenied", service_message="not authorized"
        )
        part = module.lambda_handler(event, FakeContext("collect"))

    assert part["ref"] is None
    assert part["error"] == "the member role: AccessDenied: not authorized"


def test_a_throttled_target_fails_its_iteration_for_the_workflow_to_retry_and_catch(
    app: tuple[ModuleType, str, str],
) -> None:
    module, _, _ = app
    event = {
        "target": {"account": ACCOUNT, "region": EU, "name": "", "member": False},
        "now": NOW.isoformat(),
        "run": "metrics-run",
    }
    throttled = MetricsUnavailable("GetMetricData failed: Throttling: Rate exceeded")

    with (
        mock.patch("vigil.adapters.cloudwatch.CloudWatchMetrics.series", side_effect=throttled),
        pytest.raises(MetricsUnavailable),
    ):
        module.lambda_handler(event, FakeContext("collect"))


def _merge_request(module: ModuleType) -> tuple[dict[str, Any], dict[str, Any]]:
    summary = module.lambda_handler({"time": NOW.isoformat()}, FakeContext("collect"))
    started = _input(summary["execution_arn"])
    part = module.lambda_handler(
        {"target": started["targets"][0], "now": started["now"], "run": started["run"]},
        FakeContext("collect"),
    )
    failed = {
        "target": {"account": MEMBER, "region": EU, "name": "payments", "member": True},
        "ref": None,
        "error": "States.Timeout",
    }
    return started, {"now": started["now"], "home": started["home"], "parts": [part, failed]}


def test_the_merge_evaluates_every_part_once_and_alerts_the_failed_target(
    app: tuple[ModuleType, str, str],
) -> None:
    module, evaluate, _ = app
    started, request = _merge_request(module)

    first = module.lambda_handler({"merge": request}, FakeContext("collect"))
    again = module.lambda_handler({"merge": request}, FakeContext("collect"))

    assert first["collected"] == 1
    assert first["failed"] == [f"{MEMBER}/{EU}: States.Timeout"]
    # A retried merge is the same evaluation (named by the home batch's id).
    assert first["batch_id"] == again["batch_id"] == started["run"]
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=evaluate)
    assert [e["name"] for e in executions["executions"]] == [started["run"]]


def test_a_parts_batch_gone_before_the_merge_is_that_target_not_collected(
    app: tuple[ModuleType, str, str],
) -> None:
    module, _, _ = app
    _, request = _merge_request(module)
    gone = request["parts"][0]["ref"]
    boto3.client("s3").delete_object(Bucket=gone["bucket"], Key=gone["key"])

    merged = module.lambda_handler({"merge": request}, FakeContext("collect"))

    assert merged["collected"] == 0
    assert len(merged["failed"]) == 2
    assert merged["failed"][0].startswith(f"{ACCOUNT}/{EU}: batch reference")


def test_the_merged_batch_covers_the_member_kind_and_both_scopes(
    app: tuple[ModuleType, str, str],
) -> None:
    module, _, _ = app
    _, request = _merge_request(module)

    with mock.patch("vigil.adapters.workflow.EvaluateWorkflow.start") as start:
        start.return_value = "arn:execution"
        module.lambda_handler({"merge": request}, FakeContext("collect"))

    batch: SignalBatch = start.call_args.args[0]
    assert MEMBER_KIND in batch.covered_kinds
    assert batch.scope_of("lambda.errors") == frozenset({(ACCOUNT, REGION), (ACCOUNT, EU)})
    failure = [s for s in batch.signals if s.labels.kind == MEMBER_KIND]
    assert [(s.labels.account, s.labels.region, s.context["collection"]) for s in failure] == [
        (MEMBER, EU, "States.Timeout")
    ]


def test_an_iteration_whose_turn_comes_after_the_budget_reads_nothing(
    app: tuple[ModuleType, str, str],
) -> None:
    module, _, _ = app
    event = {
        "target": {"account": ACCOUNT, "region": EU, "name": "", "member": False},
        "now": NOW.isoformat(),
        "run": "metrics-run",
        # Step Functions' context object: the execution's start, the iteration's entry.
        "started": "2026-11-02T09:07:01.000Z",
        "entered": "2026-11-02T09:09:41.000Z",
    }

    with mock.patch("vigil.adapters.cloudwatch.CloudWatchMetrics.series") as series:
        part = module.lambda_handler(event, FakeContext("collect"))

    series.assert_not_called()
    assert part["ref"] is None
    assert part["error"].startswith("not read: the cycle's 150-second budget was spent")


def test_each_targets_clients_are_in_its_region_with_its_keys_and_parse_no_model_again(
    aws: None,
) -> None:
    keys = {
        "aws_access_key_id": "ASIAMEMBER",
        "aws_secret_access_key": "s",
        "aws_session_token": "t",
    }
    target_clients(REGION)  # the container's first target parses the models
    with mock.patch("botocore.loaders.JSONFileLoader.load_file", autospec=True) as load_file:
        member = target_clients(EU, keys)

    assert load_file.call_count == 0
    assert set(member) == set(TARGET_CLIENTS)
    assert {client.meta.region_name for client in member.values()} == {EU}
    signed = member["lambda"]._request_signer._credentials  # what SigV4 signs with
    assert (signed.access_key, signed.token) == ("ASIAMEMBER", "t")
