"""What Organization mode costs per number of member accounts, measured on moto: the member
inventory's discovery, and the collection of the members' metrics by the collect workflow.

**Discovery.** An Organization of N member accounts spread over 10 OUs under the root (moto's
Organizations), the state table as the template defines it, and the collector's own adapters
(``vigil.adapters.organizations``: the tree walk, the role check, the member store) driven by
``vigil.accounts.members.AccountInventory`` as the collector drives it:

- ``discovery``: the hourly walk of the tree, the ``sts:AssumeRole`` check of every member and
  the members written to the state table;
- ``discovery_tags``: the same with a tag filter in ``organization.include`` (one
  ``ListTagsForResource`` per account: the only per-account Organizations call);
- ``cycle``: an ordinary collection cycle between discoveries, which reads the stored members
  back.

Per case: the AWS requests by API (moto pages ``ListAccountsForParent`` and ``ListChildren`` as
AWS does, 20 a page by default), the DynamoDB items written and their bytes, and the monthly
count at the default schedule (a discovery an hour, a cycle every 5 minutes).

**Collection** (ADR 51), for Organizations of M members × F functions in each of 2 regions
(``--cases 50x500,200x100``). Measured: the real collect workflow iteration
(``vigil.compose.collect_metrics.collect_target``) on moto, for ``--measured`` (3) members of
each function count, in each region: a member holds, in each region, F functions (10 of them
with traffic: Invocations and no Errors), a dead-letter queue with one source queue, a
provisioned and an on-demand table. Every member is created by ``emulator.organization`` as
a StackSet would (the member template: the role and an OAM link to the monitoring account's
sink in each region, ``sink/template.yaml``), its metrics are written into its own account and
read by the monitoring account through the sink (``emulator.metric_index`` and
``emulator.oam`` answer a query's ``AccountId`` and ``ListMetrics`` with
``IncludeLinkedAccounts`` as OAM does). Each target is collected at three moments, as
``benchmarks/collection_cycle.py`` picks them, with the template's ``ErrorStreamMode``
(account-policy): the daily function sweep (00:02, also an hourly sweep and discovery), the
hourly sweep and discovery (09:02) and a healthy ordinary cycle (09:07). Per target: the AWS
calls by API and the metrics requested, the same for every target of one size (checked). Then
``merge`` is run for real over as many parts as the case has targets (the measured batches,
each read again).

Not measured, computed: the whole Organization's cycle is not run (200 × 100 functions in two
regions would be 40,000 functions in moto). Per cycle, with T the targets
``vigil.accounts.fanout.targets`` gives (each member in each region, and the monitoring
account in the other region; at most ``MAX_TARGETS``)::

    calls  = T × per-target calls (AssumeRole and the batch's PutObject included)
           + 1 PutObject (the home batch) + 1 StartExecution (collect)
           + merge: (T + 1) GetObject + 1 StartExecution (Evaluate) [+ 1 PutObject past 256 KiB]
    Lambda invocations = T + 1 (the merge);  state transitions ≈ 2 T + 3 (not billed: Express)
    metrics requested  = T × per-target metrics
    wall time ≈ ceil(T / MaxConcurrency) × per-target seconds + merge seconds   (an estimate)

The monitoring account's own target in the other region is counted as a member's (an upper
bound: it assumes no role). The home cycle (the monitoring account in its own region) is the
single-account cycle of ``benchmarks/collection_cycle.py`` and is not counted here. Seconds on
AWS are assumed as ``collection_cycle.py`` assumes them (``COLLECTOR_BASE_SECONDS`` plus
``SECONDS_PER_API_CALL`` a call, calls sequential), moto's handler seconds are reported but say
little about AWS. Prices: public us-east-1 (constants below and in ``moto_stack``).

    .venv/bin/python benchmarks/organization.py [--accounts 50,200] [--cases 50x500,200x100]
        [--measured 3] [--json]

Counts are exact for moto's paging; AWS's pages may hold more (``ListFunctions``: 50 on AWS,
counted so in ``calls_on_aws``). An empty ``--accounts`` or ``--cases`` skips that part.
"""

import argparse
import io
import json
import math
import os
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "layers", "vigil")]

from benchmarks.moto_stack import (  # noqa: E402
    ACCOUNT,
    BENCH_ENV,
    EXPRESS_USD_PER_GB_SECOND,
    EXPRESS_USD_PER_REQUEST,
    GET_METRIC_DATA_USD_PER_METRIC,
    LAMBDA_ARM_USD_PER_GB_SECOND,
    LAMBDA_USD_PER_REQUEST,
    TABLE,
    create_evaluate_stub,
    create_state_table,
)

if __name__ == "__main__":
    os.environ.update(BENCH_ENV)

from unittest import mock  # noqa: E402

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402

# collection_cycle.py sets the benchmark environment when imported: kept to the import here.
with mock.patch.dict(os.environ):
    from benchmarks import collection_cycle
from emulator import cfn_shims, metric_index, oam  # noqa: E402
from emulator.edge import EdgeDriver, EdgeScenario  # noqa: E402
from emulator.organization import MemberSpec, OrganizationPlay, OrganizationSpec  # noqa: E402
from emulator.scenario import parse_scenario  # noqa: E402
from vigil.accounts.fanout import MAX_TARGETS, MergeRequest, Part, Target, targets  # noqa: E402
from vigil.accounts.members import AccountInventory, Connection, Member  # noqa: E402
from vigil.adapters.organizations import (  # noqa: E402
    MemberRoles,
    MemberStore,
    OrganizationTree,
    parts,
)
from vigil.adapters.stats import CallStats  # noqa: E402
from vigil.compose import collect_metrics  # noqa: E402
from vigil.core.model import BatchRef  # noqa: E402
from vigil.rules.organization import OrganizationConfig  # noqa: E402

REPO = Path(ROOT)
OUS = 10
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
DISCOVERIES_A_MONTH = 24 * 30
CYCLES_A_MONTH = 12 * 24 * 30


def _organization(accounts: int) -> None:
    client = boto3.client("organizations")
    client.create_organization(FeatureSet="ALL")
    root = client.list_roots()["Roots"][0]["Id"]
    ous = [
        client.create_organizational_unit(ParentId=root, Name=f"ou-{i}")["OrganizationalUnit"]["Id"]
        for i in range(OUS)
    ]
    for index in range(accounts):
        created = client.create_account(
            AccountName=f"member-{index:04d}",
            Email=f"member-{index:04d}@example.com",
            Tags=[{"Key": "vigil", "Value": "watch"}],
        )["CreateAccountStatus"]
        client.move_account(
            AccountId=created["AccountId"],
            SourceParentId=root,
            DestinationParentId=ous[index % OUS],
        )


def _inventory(config: OrganizationConfig, stats: CallStats, *, discovery: bool) -> int:
    inventory = AccountInventory(
        config,
        OrganizationTree(boto3.client("organizations"), stats=stats),
        MemberRoles(boto3.client("sts"), role_name=config.role_name, stack="bench", stats=stats),
        MemberStore(boto3.client("dynamodb"), TABLE, stats=stats),
        account=ACCOUNT,
        region="us-east-1",
        discovery=discovery,
        now=NOW,
    )
    members = inventory.members()
    return len(members or [])


def measure(accounts: int) -> dict[str, Any]:
    """The three cases for an Organization of ``accounts`` members."""
    plain = OrganizationConfig(enabled=True)
    tagged = OrganizationConfig.model_validate(
        {"enabled": True, "include": {"tags": [{"key": "vigil", "values": ["watch"]}]}}
    )
    result: dict[str, Any] = {"accounts": accounts}
    with mock.patch.dict(os.environ, BENCH_ENV), mock_aws():
        boto3.setup_default_session()  # in the benchmark's region, whatever ran before
        create_state_table()
        _organization(accounts)
        for case, config, discovery in (
            ("discovery_tags", tagged, True),
            # last, so that the cycle reads back what the plain discovery stored
            ("discovery", plain, True),
            ("cycle", plain, False),
        ):
            stats = CallStats()
            members = _inventory(config, stats, discovery=discovery)
            result[case] = {"members": members, "requests": stats.calls, "by_api": stats.by_api}
        stored = MemberStore(boto3.client("dynamodb"), TABLE).members() or []
        chunks = parts(stored)
        result["stored"] = {"items": len(chunks), "bytes": sum(len(c.encode()) for c in chunks)}
    result["month"] = {
        "discovery_requests": result["discovery"]["requests"] * DISCOVERIES_A_MONTH,
        "cycle_requests": result["cycle"]["requests"] * (CYCLES_A_MONTH - DISCOVERIES_A_MONTH),
    }
    return result


def _table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| Accounts | Discovery requests | of which AssumeRole | With a tag filter | Cycle "
        "requests | Stored items / bytes | Requests a month |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        month = r["month"]["discovery_requests"] + r["month"]["cycle_requests"]
        lines.append(
            f"| {r['accounts']:,} | {r['discovery']['requests']:,}"
            f" | {r['discovery']['by_api'].get('AssumeRole', 0):,}"
            f" | {r['discovery_tags']['requests']:,} | {r['cycle']['requests']:,}"
            f" | {r['stored']['items']} / {r['stored']['bytes']:,} | {month:,} |"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- collection

REGIONS = ("us-east-1", "eu-west-1")
CASES = ((50, 500), (200, 100))
"""(members, functions in each member and region) of the issue's two Organizations."""
MEASURED = 3
"""Members of each function count collected for real, each in every region."""
ORGANIZATION_ID = "o-a1b2c3d4e5"
ERROR_STREAM_MODE = "account-policy"
"""The template's default ``ErrorStreamMode``: every function's Errors swept once a day."""
BUSY = 10
"""A member's functions with traffic in each region (Invocations, no Errors)."""
MOMENTS = (
    ("function_sweep", collection_cycle.FUNCTION_SWEEP_AT),
    ("sweep", collection_cycle.SWEEP_AT),
    ("healthy", collection_cycle.CYCLE_AT),
)
"""The cycles measured, in the order run (the first is also the first discovery)."""
CYCLES = {
    "healthy": collection_cycle.CYCLES_PER_MONTH - collection_cycle.SWEEPS_PER_MONTH,
    "sweep": collection_cycle.SWEEPS_PER_MONTH - collection_cycle.FUNCTION_SWEEPS_PER_MONTH,
    "function_sweep": collection_cycle.FUNCTION_SWEEPS_PER_MONTH,
}
"""A 30-day month at ``rate(5 minutes)``: 8,640 cycles, 720 of them hourly sweeps, 30 of
those also sweeping every function's Errors (with the error stream)."""
# Public us-east-1 prices besides moto_stack's (aws.amazon.com/s3/pricing, S3 Standard:
# PUT, COPY, POST, LIST $0.005 per 1,000 requests, GET $0.0004 per 1,000;
# aws.amazon.com/cloudwatch/pricing: API requests $0.01 per 1,000, GetMetricData billed per
# metric instead; aws.amazon.com/dynamodb/pricing/on-demand: $0.125 per million read and $0.625
# per million write request units; STS is free).
S3_PUT_USD_PER_REQUEST = 0.005 / 1_000
S3_GET_USD_PER_REQUEST = 0.0004 / 1_000
CLOUDWATCH_USD_PER_REQUEST = collection_cycle.CLOUDWATCH_USD_PER_REQUEST
DYNAMODB_USD_PER_READ = 0.125 / 1_000_000
DYNAMODB_USD_PER_WRITE = 0.625 / 1_000_000
EXPRESS_MAX_SECONDS = 300
"""An Express execution runs at most five minutes (Step Functions quotas)."""
EXPRESS_GB = 0.0625
"""An Express execution is billed by the 64 MB its payload fits in."""
# Assumed, as collection_cycle.py assumes them: a collector invocation's seconds on AWS.
COLLECTOR_BASE_SECONDS = collection_cycle.COLLECTOR_BASE_SECONDS
SECONDS_PER_API_CALL = collection_cycle.SECONDS_PER_API_CALL


def _template() -> dict[str, Any]:
    parsed: dict[str, Any] = yaml_parse((REPO / "template.yaml").read_text())
    return parsed


def collector_memory_gb() -> float:
    """The collector's ``MemorySize`` in template.yaml (its own, or the Globals'), in GB."""
    template = _template()
    own = template["Resources"]["CollectMetricsFunction"]["Properties"].get("MemorySize")
    return int(own or template["Globals"]["Function"]["MemorySize"]) / 1024


def _workflow() -> dict[str, Any]:
    asl: dict[str, Any] = json.loads((REPO / "statemachines" / "collect.asl.json").read_text())
    return asl


def max_concurrency() -> int:
    """The collect workflow's Map ``MaxConcurrency`` (statemachines/collect.asl.json)."""
    return int(_workflow()["States"]["CollectTargets"]["MaxConcurrency"])


def timeouts() -> dict[str, int]:
    """The collect workflow's ``TimeoutSeconds``, its iteration's, and an Express execution's
    longest run (five minutes, Step Functions quotas)."""
    asl = _workflow()
    task = asl["States"]["CollectTargets"]["ItemProcessor"]["States"]["CollectTarget"]
    return {
        "workflow": int(asl["TimeoutSeconds"]),
        "target": int(task["TimeoutSeconds"]),
        "express": EXPRESS_MAX_SECONDS,
    }


def _sink(region: str) -> str:
    """The monitoring account's sink in ``region`` (sink/template.yaml: the same sink as
    template.yaml's ``OamSink``)."""
    cfn = boto3.client("cloudformation", region_name=region)
    with cfn_shims.installed():
        cfn.create_stack(
            StackName="bench-sink",
            TemplateBody=(REPO / "sink" / "template.yaml").read_text(),
            Parameters=[{"ParameterKey": "OrganizationId", "ParameterValue": ORGANIZATION_ID}],
        )
    outputs = cfn.describe_stacks(StackName="bench-sink")["Stacks"][0]["Outputs"]
    return next(str(o["OutputValue"]) for o in outputs if o["OutputKey"] == "OamSinkArn")


def _workload(session: boto3.Session, account: str, region: str, functions: int) -> None:
    """What a member holds in one region (see the module docstring)."""
    role = session.client("iam").create_role(
        RoleName=f"workload-{region}", AssumeRolePolicyDocument=json.dumps({"Statement": []})
    )["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(e, c):\n    return e\n")
    lambda_client = session.client("lambda")
    for index in range(functions):
        lambda_client.create_function(
            FunctionName=f"fn-{index:05d}",
            Runtime="python3.13",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": buffer.getvalue()},
        )
    cloudwatch = session.client("cloudwatch")
    for index in range(min(functions, BUSY)):
        for end in (collection_cycle.SWEEP_AT, collection_cycle.CYCLE_AT):
            cloudwatch.put_metric_data(
                Namespace="AWS/Lambda",
                MetricData=[
                    {
                        "MetricName": metric,
                        "Dimensions": [{"Name": "FunctionName", "Value": f"fn-{index:05d}"}],
                        "Timestamp": end - timedelta(minutes=7 - minute, seconds=-30),
                        "Value": value,
                    }
                    for minute in range(5)
                    for metric, value in (("Invocations", 1_000.0), ("Errors", 0.0))
                ],
            )
    sqs = session.client("sqs")
    sqs.create_queue(QueueName="dlq")
    redrive = {"deadLetterTargetArn": f"arn:aws:sqs:{region}:{account}:dlq", "maxReceiveCount": 5}
    sqs.create_queue(QueueName="work", Attributes={"RedrivePolicy": json.dumps(redrive)})
    dynamodb = session.client("dynamodb")
    key: dict[str, Any] = {
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    }
    dynamodb.create_table(
        TableName="orders",
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 100, "WriteCapacityUnits": 50},
        **key,
    )
    dynamodb.create_table(TableName="events", BillingMode="PAY_PER_REQUEST", **key)


def _organization_of(sizes: dict[str, int], regions: tuple[str, ...]) -> OrganizationPlay:
    """The Organization: every member (name: its function count) linked in every region."""
    scenario = parse_scenario(
        {"name": "organization-benchmark", "start": "2026-11-02T00:00:00Z", "duration": "10h"}
    )
    spec = OrganizationSpec(
        id=ORGANIZATION_ID,
        regions=regions,
        members=tuple(MemberSpec(name=name, connected=True, workloads=()) for name in sizes),
    )
    play = OrganizationPlay(
        spec,
        scenario=scenario,
        account=ACCOUNT,
        region=regions[0],
        stack_name="bench",
        home_sink=_sink(regions[0]),
        start=collection_cycle.FUNCTION_SWEEP_AT,
    )
    play.create()
    for name, functions in sizes.items():
        for region in regions:
            _workload(play.session(name, region), play.ids[name], region, functions)
    return play


@contextmanager
def _recorded(stats: list[CallStats]) -> Iterator[None]:
    """The collector's ``CallStats`` of each invocation, kept in ``stats``."""

    def made() -> CallStats:
        stats.append(CallStats())
        return stats[-1]

    with mock.patch.object(collect_metrics, "CallStats", made):
        yield


def _calls_on_aws(by_api: dict[str, int], functions: int) -> int:
    """The calls with ``ListFunctions`` paged by 50, as AWS pages it (moto: one page)."""
    pages = by_api.get("ListFunctions", 0)
    return sum(by_api.values()) - pages + (math.ceil(functions / 50) if pages else 0)


def _seconds(calls: int) -> float:
    """An invocation's assumed seconds on AWS: its calls one after another."""
    return round(COLLECTOR_BASE_SECONDS + SECONDS_PER_API_CALL * calls, 2)


def _per_target(runs: list[dict[str, Any]], functions: int) -> dict[str, Any]:
    """One size's measured targets, by cycle: the counts (identical across targets)."""
    result: dict[str, Any] = {"targets_measured": len(runs), "cases": {}}
    for case, _ in MOMENTS:
        seen = [run[case] for run in runs]
        first = seen[0]
        calls = _calls_on_aws(first["api_calls"], functions)
        result["cases"][case] = {
            "api_calls": first["api_calls"],
            "calls": sum(first["api_calls"].values()),
            "calls_on_aws": calls,
            "metrics_requested": first["metrics_requested"],
            "identical": all(
                (s["api_calls"], s["metrics_requested"])
                == (first["api_calls"], first["metrics_requested"])
                for s in seen
            ),
            "moto_handler_seconds": [s["seconds"] for s in seen],
            "assumed_seconds": _seconds(calls),
        }
    return result


def _merged(
    env: collect_metrics.Environment, found: list[Target], refs: list[BatchRef], home: BatchRef
) -> dict[str, Any]:
    """The merge run for real over one part per target (the measured batches, each read
    again), and the home batch."""
    stats: list[CallStats] = []
    parts = [Part(target=target, ref=refs[i % len(refs)]) for i, target in enumerate(found)]
    request = MergeRequest(now=collection_cycle.CYCLE_AT, home=home, parts=parts)
    started = time.perf_counter()
    with _recorded(stats):
        summary = collect_metrics.merge(env, request=request)
    seconds = time.perf_counter() - started
    calls = sum(stats[-1].by_api.values())
    return {
        "parts": len(parts),
        "collected": summary["collected"],
        "api_calls": stats[-1].by_api,
        "calls": calls,
        "moto_handler_seconds": round(seconds, 3),
        "assumed_seconds": _seconds(calls),
    }


def _organization_case(
    members: int,
    *,
    functions: int,
    per_target: dict[str, Any],
    merge: dict[str, Any],
    found: int,
    regions: tuple[str, ...],
) -> dict[str, Any]:
    """One Organization's cycle and month by the formula (see the module docstring)."""
    wanted = members * len(regions) + len(regions) - 1
    fixed = {"PutObject": 1, "StartExecution": 1}  # the home cycle starting the collect workflow
    rounds = math.ceil(found / max_concurrency())
    limits = timeouts()
    cycles: dict[str, Any] = {}
    for case, _ in MOMENTS:
        one = per_target["cases"][case]
        by_api = {api: found * count for api, count in one["api_calls"].items()}
        for api, count in [*fixed.items(), *merge["api_calls"].items()]:
            by_api[api] = by_api.get(api, 0) + count
        fixed_calls = sum(fixed.values()) + merge["calls"]
        cycles[case] = {
            "per_target_calls": one["calls_on_aws"],
            "fixed_calls": fixed_calls,
            "calls": found * one["calls_on_aws"] + fixed_calls,
            "api_calls": by_api,
            "metrics_requested": found * one["metrics_requested"],
            "lambda_invocations": found + 1,
            "state_transitions": 2 * found + 3,
            "wall_seconds_estimate": round(
                rounds * one["assumed_seconds"] + merge["assumed_seconds"], 1
            ),
            "target_within_timeout": one["assumed_seconds"] <= limits["target"],
            "within_workflow_timeout": rounds * one["assumed_seconds"] + merge["assumed_seconds"]
            <= limits["workflow"],
            "wall_seconds_on_moto": round(
                rounds * max(one["moto_handler_seconds"]) + merge["moto_handler_seconds"], 1
            ),
        }
    month = _monthly(cycles, per_target, merge, found)
    return {
        "members": members,
        "functions": functions,
        "regions": list(regions),
        "targets": found,
        "targets_left_out": wanted - found,
        "map_rounds": rounds,
        "merge": merge,
        "cycles": cycles,
        "monthly_usd_by_item": month,
        "monthly_usd": round(sum(month.values()), 2),
    }


def _monthly(
    cycles: dict[str, Any], per_target: dict[str, Any], merge: dict[str, Any], found: int
) -> dict[str, float]:
    """The fan-out's month at the default schedule (the home cycle not counted)."""

    def total(read: Any) -> float:
        return float(sum(CYCLES[case] * read(case) for case in CYCLES))

    def api(case: str, *names: str) -> int:
        calls: dict[str, int] = per_target["cases"][case]["api_calls"]
        return sum(calls.get(name, 0) for name in names)

    cycles_a_month = sum(CYCLES.values())
    target_seconds = found * total(lambda c: per_target["cases"][c]["assumed_seconds"])
    lambda_seconds = target_seconds + cycles_a_month * merge["assumed_seconds"]
    workflow_seconds = total(lambda c: cycles[c]["wall_seconds_estimate"])
    costs = {
        "get_metric_data": total(lambda c: cycles[c]["metrics_requested"])
        * GET_METRIC_DATA_USD_PER_METRIC,
        "cloudwatch_list_metrics": found
        * total(lambda c: api(c, "ListMetrics"))
        * CLOUDWATCH_USD_PER_REQUEST,
        "lambda": (found + 1) * cycles_a_month * LAMBDA_USD_PER_REQUEST
        + collector_memory_gb() * lambda_seconds * LAMBDA_ARM_USD_PER_GB_SECOND,
        "step_functions": cycles_a_month * EXPRESS_USD_PER_REQUEST
        + EXPRESS_GB * workflow_seconds * EXPRESS_USD_PER_GB_SECOND,
        "s3": total(lambda c: cycles[c]["api_calls"].get("PutObject", 0)) * S3_PUT_USD_PER_REQUEST
        + total(lambda c: cycles[c]["api_calls"].get("GetObject", 0)) * S3_GET_USD_PER_REQUEST,
        "dynamodb": found
        * (
            total(lambda c: api(c, "GetItem", "Query")) * DYNAMODB_USD_PER_READ
            + total(lambda c: api(c, "PutItem")) * DYNAMODB_USD_PER_WRITE
        ),
    }
    return {name: round(value, 2) for name, value in costs.items()}


def measure_collection(
    cases: tuple[tuple[int, int], ...] = CASES,
    *,
    regions: tuple[str, ...] = REGIONS,
    measured: int = MEASURED,
) -> dict[str, Any]:
    """The collection part: per-target counts measured, the Organizations computed."""
    sizes = sorted({functions for _, functions in cases}, reverse=True)
    names = {f"f{functions}-{n}": functions for functions in sizes for n in range(measured)}
    rules = {"organization": {"enabled": True}, "collection": {"regions": list(regions)}}
    variables = {
        **BENCH_ENV,
        "AWS_DEFAULT_REGION": regions[0],
        "AWS_REGION": regions[0],
        "VIGIL_RULES": json.dumps(rules),
        "VIGIL_ERROR_STREAM_MODE": ERROR_STREAM_MODE,
    }
    quotas = EdgeDriver(
        start=collection_cycle.SWEEP_AT,
        scenario=EdgeScenario(),
        now=lambda: collection_cycle.SWEEP_AT,
    )
    runs: dict[int, list[dict[str, Any]]] = {functions: [] for functions in sizes}
    refs: dict[int, list[BatchRef]] = {functions: [] for functions in sizes}
    with (
        mock.patch.dict(os.environ, variables),
        mock_aws(),
        metric_index.installed(),
        oam.installed(),
        quotas.installed(),  # ListServiceQuotas, which moto lacks: no quota
    ):
        boto3.setup_default_session()
        create_state_table()
        boto3.client("s3").create_bucket(Bucket=BENCH_ENV["VIGIL_BATCH_BUCKET"])
        os.environ["VIGIL_EVALUATE_STATE_MACHINE_ARN"] = create_evaluate_stub()
        play = _organization_of(names, regions)
        linked = {region: sorted(oam.metric_sources(ACCOUNT, region)) for region in regions}
        env = collect_metrics.environment()
        for name, functions in names.items():
            for region in regions:
                target = Target(account=play.ids[name], region=region, name=name, member=True)
                run: dict[str, Any] = {}
                for case, now in MOMENTS:
                    stats: list[CallStats] = []
                    started = time.perf_counter()
                    with _recorded(stats):
                        part = collect_metrics.collect_target(env, target=target, now=now)
                    seconds = round(time.perf_counter() - started, 3)
                    if part.get("error"):
                        raise RuntimeError(f"{name} in {region}: {part['error']}")
                    run[case] = {
                        "api_calls": stats[-1].by_api,
                        "metrics_requested": stats[-1].metrics_requested,
                        "seconds": seconds,
                    }
                runs[functions].append(run)
                refs[functions].append(BatchRef.model_validate(part["ref"]))
        per_target = {functions: _per_target(runs[functions], functions) for functions in sizes}
        organizations = []
        for index, (members, functions) in enumerate(cases):
            inventory = [
                Member(
                    id=f"{100_000_000_000 + n:012d}",
                    name=f"member-{n}",
                    connection=Connection.CONNECTED,
                )
                for n in range(members)
            ]
            found = targets(account=ACCOUNT, region=regions[0], regions=regions, members=inventory)
            home = refs[functions][index % len(refs[functions])]
            merge = _merged(env, found, refs[functions], home)
            organizations.append(
                _organization_case(
                    members,
                    functions=functions,
                    per_target=per_target[functions],
                    merge=merge,
                    found=len(found),
                    regions=regions,
                )
            )
    return {
        "regions": list(regions),
        "error_stream": ERROR_STREAM_MODE,
        "member_holds_per_region": {
            "functions": "F (the case's)",
            "functions_with_traffic": BUSY,
            "queues": 2,
            "dead_letter_queues": 1,
            "tables": 2,
        },
        "linked_members": linked,
        "moments": {case: now.isoformat() for case, now in MOMENTS},
        "cycles_per_month": CYCLES,
        "max_targets": MAX_TARGETS,
        "max_concurrency": max_concurrency(),
        "timeout_seconds": timeouts(),
        "collector_memory_gb": collector_memory_gb(),
        "assumed": {
            "collector_base_seconds": COLLECTOR_BASE_SECONDS,
            "seconds_per_api_call": SECONDS_PER_API_CALL,
        },
        "per_target": {str(functions): per_target[functions] for functions in sizes},
        "organizations": organizations,
    }


def _collection_table(result: dict[str, Any]) -> str:
    lines = [
        "| Members × functions × regions | Targets | Calls a healthy cycle | metrics | Calls a"
        " sweep | metrics | Calls a function sweep | metrics | Wall time healthy / sweep |"
        " Monthly cost |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for org in result["organizations"]:
        c = org["cycles"]
        lines.append(
            f"| {org['members']} × {org['functions']} × {len(org['regions'])}"
            f" | {org['targets']}"
            + "".join(
                f" | {c[case]['calls']:,} | {c[case]['metrics_requested']:,}"
                for case in ("healthy", "sweep", "function_sweep")
            )
            + f" | {c['healthy']['wall_seconds_estimate']:,} s"
            f" / {c['sweep']['wall_seconds_estimate']:,} s | ${org['monthly_usd']:,} |"
        )
    return "\n".join(lines)


def _cases(text: str) -> tuple[tuple[int, int], ...]:
    return tuple(
        (int(members), int(functions))
        for members, functions in (case.split("x") for case in text.split(",") if case)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", default="50,200", help="comma-separated member counts")
    parser.add_argument(
        "--cases",
        default=",".join(f"{m}x{f}" for m, f in CASES),
        help="collection: comma-separated MEMBERSxFUNCTIONS (each member, each region)",
    )
    parser.add_argument(
        "--measured", type=int, default=MEASURED, help="members of each size collected for real"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    discovery = [measure(int(n)) for n in args.accounts.split(",") if n]
    cases = _cases(args.cases)
    collection = measure_collection(cases, measured=args.measured) if cases else None
    if args.json:
        print(json.dumps({"discovery": discovery, "collection": collection}, indent=2))
        return 0
    if discovery:
        print(_table(discovery))
    if collection:
        print()
        print(_collection_table(collection))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
