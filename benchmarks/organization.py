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
``IncludeLinkedAccounts`` as OAM does). A target has no error stream (it reads only the
stack's own account and region): its hourly sweep requests every function's ``Errors``.

Each target discovers at its own minute of ``discovery_minutes``
(``Target.discovery_offset``), so its cycles are chosen from that offset, each the first
minute whose window the collector's own ``window_for``, ``sweep_due`` and ``discovery_due``
say is of its kind (``moments``): ``sweep``, from 09:02 (the window crossing 09:00), a sweep
that does not cross the target's minute (shifted by up to 4 minutes when its minute is within
the sweep's window); ``healthy``, from 5 minutes later, neither; ``discovery``, from a minute
after that, the window that crosses the target's minute and not the hour (it ends at that
minute, or up to 4 minutes after it when such a window would cross the hour); and
``sweep_discovery``, both at once, as for the targets whose minute falls in the sweep's window,
measured at 08:02 with the target's offset set to 0 (its minute then is the sweep's). A first
cycle at 07:02 (same) stores every inventory and is not counted. Traffic is written in each of
these windows. Per target and cycle: the AWS calls by API and the metrics requested, the same
for every target of one size (checked; a target whose offset is 0 has no pure sweep nor
discovery, and is left out of those). Then ``merge`` is run for real over as many parts as the
case reads (the measured batches, each read again).

Not measured, computed: the whole Organization's cycle is not run (200 × 100 functions in two
regions would be 40,000 functions in moto). With T the targets ``vigil.accounts.fanout.targets``
gives (each member in each region, and the monitoring account in the other region; members get
synthetic ids), ``fanout.bounded`` reads the first ``MAX_TARGETS`` (400) and makes the others
failed parts, merged into the stack's own batch as ``vigil.member_not_connected`` signals (run
for real: ``over_the_bound``). Per cycle, with T the targets read::

    calls  = Σ per-target calls of each target's case (AssumeRole and its batch's PutObject
             included) + 1 PutObject (the home batch) + 1 StartExecution (collect)
           + merge: (T + 1) GetObject + 1 StartExecution (Evaluate) [+ 1 PutObject past 256 KiB]
    Lambda invocations = T + 1 (the merge);  state transitions ≈ 2 T + 3 (not billed: Express)
    metrics requested  = Σ per-target metrics

``healthy`` is T healthy targets, ``sweep`` T sweeping at once (the sweep is the same minute
for every target), ``worst`` the sweep with the discoveries of the hour's busiest cycle. Which
targets discover in each of the hour's 12 cycles comes from their offsets (``hour``): about
T × window / discovery_minutes a cycle. With ``sweep_minutes`` and ``discovery_minutes`` both
60, every hour is the same, so a month (8,640 cycles, 720 sweeps, 720 discoveries of each
target) is 720 times the hour.

Wall time (``map_run``): the Map's iterations in order, ``MaxConcurrency`` at a time, each
taking its case's assumed seconds; an iteration that begins more than ``BUDGET_SECONDS`` (150 s)
after the start hands back its part at once, one longer than the iteration's ``TimeoutSeconds``
(120 s) is cut there; the workflow must end within its ``TimeoutSeconds`` (290 s), merge
included. A cycle *fits* when no target is late or cut and it ends in time; for one that does
not, ``max_concurrency_to_fit_worst`` is the least ``MaxConcurrency`` that would. The home cycle
(the monitoring account in its own region) is the single-account cycle of
``benchmarks/collection_cycle.py`` and is not counted here. Seconds on AWS are assumed as
``collection_cycle.py`` assumes them (``COLLECTOR_BASE_SECONDS`` plus ``SECONDS_PER_API_CALL``
a call, calls sequential); moto's handler seconds are reported but say little about AWS.
Prices: public us-east-1 (constants below and in ``moto_stack``).

    .venv/bin/python benchmarks/organization.py [--accounts 50,200] [--cases 50x500,200x100]
        [--measured 3] [--json]

Counts are exact for moto's paging; AWS's pages may hold more (``ListFunctions``: 50 on AWS,
counted so in ``calls_on_aws``). An empty ``--accounts`` or ``--cases`` skips that part.
"""

import argparse
import heapq
import io
import json
import math
import os
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
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
from vigil.accounts.fanout import (  # noqa: E402
    BUDGET_SECONDS,
    MAX_TARGETS,
    MergeRequest,
    Part,
    Target,
    bounded,
    merged,
    targets,
)
from vigil.accounts.members import AccountInventory, Connection, Member  # noqa: E402
from vigil.adapters.organizations import (  # noqa: E402
    MemberRoles,
    MemberStore,
    OrganizationTree,
    parts,
)
from vigil.adapters.stats import CallStats  # noqa: E402
from vigil.adapters.workflow import S3Batches  # noqa: E402
from vigil.compose import collect_metrics  # noqa: E402
from vigil.core.model import BatchRef  # noqa: E402
from vigil.dials.base import discovery_due, sweep_due, window_for  # noqa: E402
from vigil.rules.document import RulesConfig  # noqa: E402
from vigil.rules.organization import MEMBER_KIND, OrganizationConfig  # noqa: E402

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
BUSY = 10
"""A member's functions with traffic in each region (Invocations, no Errors)."""
CASE_NAMES = ("healthy", "sweep", "discovery", "sweep_discovery")
"""A target's cycles: neither sweep nor discovery; the hourly sweep; its discovery, at its own
minute; both at once (the cycles of the targets whose minute falls in the sweep's window)."""
FIRST_AT = collection_cycle.SWEEP_AT - timedelta(hours=2)
"""A target's first cycle (every inventory stored), not counted."""
SWEEP_DISCOVERY_AT = collection_cycle.SWEEP_AT - timedelta(hours=1)
HOURS_A_MONTH = 24 * 30
"""A 30-day month: 8,640 cycles at ``rate(5 minutes)``, 720 hours of 12 cycles; with
``sweep_minutes`` and ``discovery_minutes`` both 60 (the defaults), every hour's cycles are
the same, so a month is 720 times the measured hour."""
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
    """The collect workflow's ``TimeoutSeconds``, its iteration's, the budget after which an
    iteration hands back its part at once (``fanout.BUDGET_SECONDS``), and an Express
    execution's longest run (five minutes, Step Functions quotas)."""
    asl = _workflow()
    task = asl["States"]["CollectTargets"]["ItemProcessor"]["States"]["CollectTarget"]
    return {
        "workflow": int(asl["TimeoutSeconds"]),
        "target": int(task["TimeoutSeconds"]),
        "budget": BUDGET_SECONDS,
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


def _first(
    rules: RulesConfig, offset: int, after: datetime, *, sweep: bool, discovery: bool
) -> datetime | None:
    """The first minute from ``after`` whose window is (or is not) the sweep's and crosses (or
    not) the discovery minute ``offset`` gives, by the collector's own ``window_for``,
    ``sweep_due`` and ``discovery_due``; None when no minute of two periods is."""
    period = max(rules.collection.sweep_minutes, rules.collection.discovery_minutes)
    for minute in range(2 * period):
        now = after + timedelta(minutes=minute)
        window = window_for(now, rules)
        if (sweep_due(window, rules), discovery_due(window, rules, offset=offset)) == (
            sweep,
            discovery,
        ):
            return now
    return None


def moments(target: Target, rules: RulesConfig) -> dict[str, datetime | None]:
    """When ``target``'s cycles are measured (see the module docstring): its own discovery
    minute decides which minutes are a pure sweep, a healthy cycle and its discovery; None for
    a cycle the target never has (a target whose minute is the sweep's always discovers with
    it)."""
    offset = target.discovery_offset(rules.collection.discovery_minutes)
    sweep = _first(rules, offset, collection_cycle.SWEEP_AT, sweep=True, discovery=False)
    healthy = _first(
        rules,
        offset,
        (sweep or collection_cycle.SWEEP_AT) + timedelta(minutes=rules.collection.window_minutes),
        sweep=False,
        discovery=False,
    )
    assert healthy is not None  # most minutes of an hour are
    discovery = _first(rules, offset, healthy + timedelta(minutes=1), sweep=False, discovery=True)
    return {
        "first": FIRST_AT,
        "sweep_discovery": SWEEP_DISCOVERY_AT,
        "sweep": sweep,
        "healthy": healthy,
        "discovery": discovery,
    }


FORCED = ("first", "sweep_discovery")
"""The cycles measured with the target's discovery minute set to the sweep's (offset 0)."""


def _workload(
    session: boto3.Session, account: str, region: str, functions: int, at: list[datetime]
) -> None:
    """What a member holds in one region (see the module docstring), with traffic in the
    windows of the cycles at ``at``."""
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
        for end in at:
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
        {"name": "organization-benchmark", "start": "2026-11-02T00:00:00Z", "duration": "12h"}
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
        start=FIRST_AT,
    )
    play.create()
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
    """One size's measured targets, by cycle: the counts (identical across the targets that
    have the cycle)."""
    result: dict[str, Any] = {
        "targets_measured": len(runs),
        "offsets": [run["offset"] for run in runs],
        "cases": {},
    }
    for case in CASE_NAMES:
        seen = [run[case] for run in runs if case in run]
        first = seen[0]
        calls = _calls_on_aws(first["api_calls"], functions)
        result["cases"][case] = {
            "api_calls": first["api_calls"],
            "calls": sum(first["api_calls"].values()),
            "calls_on_aws": calls,
            "metrics_requested": first["metrics_requested"],
            "targets": len(seen),
            "identical": all(
                (s["api_calls"], s["metrics_requested"])
                == (first["api_calls"], first["metrics_requested"])
                for s in seen
            ),
            "at": [s["at"] for s in seen],
            "moto_handler_seconds": [s["seconds"] for s in seen],
            "assumed_seconds": _seconds(calls),
        }
    return result


def _merged(
    env: collect_metrics.Environment, read: list[Target], refs: list[BatchRef], home: BatchRef
) -> dict[str, Any]:
    """The merge run for real over one part per target read (the measured batches, each read
    again), and the home batch."""
    stats: list[CallStats] = []
    parts = [Part(target=target, ref=refs[i % len(refs)]) for i, target in enumerate(read)]
    request = MergeRequest(now=collection_cycle.CYCLE_AT, home=home, parts=parts)
    started = time.perf_counter()
    with _recorded(stats):
        summary = collect_metrics.merge(env, request=request)
    seconds = time.perf_counter() - started
    calls = sum(stats[-1].by_api.values())
    return {
        "parts": len(parts),
        "collected": summary["collected"],
        "failed": len(summary["failed"]),
        "api_calls": stats[-1].by_api,
        "calls": calls,
        "moto_handler_seconds": round(seconds, 3),
        "assumed_seconds": _seconds(calls),
    }


def _beyond(env: collect_metrics.Environment, home: BatchRef, over: list[Part]) -> dict[str, Any]:
    """What the targets past ``MAX_TARGETS`` become: the stack's own cycle merges their failed
    parts into its batch before starting the workflow (``collect_metrics.run``), each a
    ``vigil.member_not_connected`` signal."""
    batch = S3Batches(env.clients["batches"], env.settings.batch_bucket, CallStats()).get(home)
    with_over = merged(batch, [], over, now=collection_cycle.CYCLE_AT)
    alerts = [s for s in with_over.signals if s.labels.kind == MEMBER_KIND]
    return {
        "targets": len(over),
        "alerts": [
            {
                "kind": s.labels.kind,
                "account": s.labels.account,
                "region": s.labels.region,
                "collection": s.context.get("collection"),
            }
            for s in alerts
        ],
    }


def map_run(seconds: list[float], *, concurrency: int) -> dict[str, Any]:
    """The collect workflow's Map over iterations of ``seconds``, in order, ``concurrency`` at a
    time: an iteration that begins past the budget hands back its part at once (the base
    seconds) and one longer than its time-out is cut there (both failed parts, alerts)."""
    limits = timeouts()
    free = [0.0] * concurrency  # when each slot is free next, a heap
    late = timed_out = 0
    for wanted in seconds:
        start = heapq.heappop(free)
        late += start > limits["budget"]
        timed_out += start <= limits["budget"] and wanted > limits["target"]
        took = COLLECTOR_BASE_SECONDS if start > limits["budget"] else min(wanted, limits["target"])
        heapq.heappush(free, start + took)
    return {"seconds": round(max(free, default=0.0), 1), "late": late, "timed_out": timed_out}


def _cycle(
    cases: list[str],
    *,
    per_target: dict[str, Any],
    merge: dict[str, Any],
    concurrency: int,
) -> dict[str, Any]:
    """One cycle of the collect workflow whose targets, in Map order, have ``cases``."""
    one = per_target["cases"]
    fixed = {"PutObject": 1, "StartExecution": 1}  # the home cycle starting the collect workflow
    by_api: dict[str, int] = {}
    for case in cases:
        for api, count in one[case]["api_calls"].items():
            by_api[api] = by_api.get(api, 0) + count
    for api, count in [*fixed.items(), *merge["api_calls"].items()]:
        by_api[api] = by_api.get(api, 0) + count
    fixed_calls = sum(fixed.values()) + merge["calls"]
    assumed = map_run([one[c]["assumed_seconds"] for c in cases], concurrency=concurrency)
    on_moto = map_run([max(one[c]["moto_handler_seconds"]) for c in cases], concurrency=concurrency)
    limits = timeouts()
    wall = round(assumed["seconds"] + merge["assumed_seconds"], 1)
    return {
        "targets": len(cases),
        "discovering": sum(c in ("discovery", "sweep_discovery") for c in cases),
        "fixed_calls": fixed_calls,
        "calls": sum(one[c]["calls_on_aws"] for c in cases) + fixed_calls,
        "api_calls": by_api,
        "metrics_requested": sum(one[c]["metrics_requested"] for c in cases),
        "lambda_invocations": len(cases) + 1,
        "state_transitions": 2 * len(cases) + 3,
        "lambda_seconds": round(
            sum(one[c]["assumed_seconds"] for c in cases) + merge["assumed_seconds"], 1
        ),
        "wall_seconds_estimate": wall,
        "late_targets": assumed["late"],
        "timed_out_targets": assumed["timed_out"],
        "fits": not assumed["late"] and not assumed["timed_out"] and wall <= limits["workflow"],
        "wall_seconds_on_moto": round(on_moto["seconds"] + merge["moto_handler_seconds"], 1),
    }


def _concurrency_to_fit(
    cases: list[str], *, per_target: dict[str, Any], merge: dict[str, Any]
) -> int | None:
    """The least Map ``MaxConcurrency`` at which a cycle of ``cases`` fits; None if none does
    (an iteration longer than its time-out: more concurrency does not shorten it)."""
    for concurrency in range(max_concurrency(), max(len(cases), max_concurrency()) + 1):
        if _cycle(cases, per_target=per_target, merge=merge, concurrency=concurrency)["fits"]:
            return concurrency
    return None


def hour(read: list[Target], rules: RulesConfig) -> list[dict[str, Any]]:
    """The hour's cycles from ``collection_cycle.SWEEP_AT`` (the sweep's first): for each, whether
    it sweeps and which of ``read`` discover, by the collector's ``sweep_due`` and
    ``discovery_due`` with each target's own offset."""
    collection = rules.collection
    if collection.discovery_minutes != collection.sweep_minutes:
        raise ValueError("the hour's pattern assumes discovery_minutes == sweep_minutes")
    cycles = []
    for index in range(collection.sweep_minutes // collection.window_minutes):
        now = collection_cycle.SWEEP_AT + timedelta(minutes=index * collection.window_minutes)
        window = window_for(now, rules)
        due = [
            discovery_due(
                window, rules, offset=target.discovery_offset(collection.discovery_minutes)
            )
            for target in read
        ]
        cycles.append({"at": now.isoformat(), "sweep": sweep_due(window, rules), "due": due})
    return cycles


def _cases_of(sweep: bool, due: list[bool]) -> list[str]:
    if sweep:
        return ["sweep_discovery" if d else "sweep" for d in due]
    return ["discovery" if d else "healthy" for d in due]


def _organization_case(
    members: int,
    *,
    functions: int,
    per_target: dict[str, Any],
    merge: dict[str, Any],
    read: list[Target],
    over: dict[str, Any],
    rules: RulesConfig,
    regions: tuple[str, ...],
) -> dict[str, Any]:
    """One Organization's cycles and month (see the module docstring)."""
    concurrency = max_concurrency()
    pattern = hour(read, rules)
    count = len(read)

    def cycle(cases: list[str]) -> dict[str, Any]:
        return _cycle(cases, per_target=per_target, merge=merge, concurrency=concurrency)

    hourly = [cycle(_cases_of(c["sweep"], c["due"])) for c in pattern]
    discoveries = [sum(c["due"]) for c in pattern]
    busiest = max(range(len(pattern)), key=lambda i: (discoveries[i], -i))
    worst_cases = _cases_of(True, pattern[busiest]["due"])
    cycles = {
        "healthy": cycle(["healthy"] * count),
        "sweep": cycle(["sweep"] * count),
        "busiest_discovery": hourly[busiest] if not pattern[busiest]["sweep"] else None,
        "sweep_hour": next(h for h, c in zip(hourly, pattern, strict=True) if c["sweep"]),
        "worst": cycle(worst_cases),
    }
    month = _monthly(hourly, count)
    needed = [
        _concurrency_to_fit(_cases_of(c["sweep"], c["due"]), per_target=per_target, merge=merge)
        for c in pattern
    ]
    return {
        "members": members,
        "functions": functions,
        "regions": list(regions),
        "targets": count + over["targets"],
        "targets_read": count,
        "over_the_bound": over,
        "map_rounds": math.ceil(count / concurrency),
        "merge": merge,
        "discoveries_per_cycle": {
            "expected": round(
                count * rules.collection.window_minutes / rules.collection.discovery_minutes, 1
            ),
            "hour": discoveries,
            "max": max(discoveries),
            "in_the_sweep": next(
                d for d, c in zip(discoveries, pattern, strict=True) if c["sweep"]
            ),
        },
        "cycles": cycles,
        "hour": [
            {"at": c["at"], "sweep": c["sweep"], **h} for c, h in zip(pattern, hourly, strict=True)
        ],
        "hour_cycles_fitting": sum(h["fits"] for h in hourly),
        "max_concurrency_to_fit_worst": _concurrency_to_fit(
            worst_cases, per_target=per_target, merge=merge
        ),
        "max_concurrency_to_fit_hour": _all_fit(needed),
        "monthly_usd_by_item": month,
        "monthly_usd": round(sum(month.values()), 2),
    }


def _all_fit(needed: list[int | None]) -> int | None:
    """The ``MaxConcurrency`` at which every cycle fits, None if one never does."""
    return None if None in needed else max(n for n in needed if n is not None)


def _monthly(hourly: list[dict[str, Any]], read: int) -> dict[str, float]:
    """The fan-out's month at the default schedule: 720 times the hour's cycles (the home cycle
    not counted)."""

    def total(value: Any) -> float:
        return float(HOURS_A_MONTH * sum(value(c) for c in hourly))

    def api(*names: str) -> float:
        return total(lambda c: sum(c["api_calls"].get(name, 0) for name in names))

    costs = {
        "get_metric_data": total(lambda c: c["metrics_requested"]) * GET_METRIC_DATA_USD_PER_METRIC,
        "cloudwatch_list_metrics": api("ListMetrics") * CLOUDWATCH_USD_PER_REQUEST,
        "lambda": total(lambda c: c["lambda_invocations"]) * LAMBDA_USD_PER_REQUEST
        + collector_memory_gb()
        * total(lambda c: c["lambda_seconds"])
        * LAMBDA_ARM_USD_PER_GB_SECOND,
        "step_functions": HOURS_A_MONTH * len(hourly) * EXPRESS_USD_PER_REQUEST
        + EXPRESS_GB * total(lambda c: c["wall_seconds_estimate"]) * EXPRESS_USD_PER_GB_SECOND,
        "s3": api("PutObject") * S3_PUT_USD_PER_REQUEST + api("GetObject") * S3_GET_USD_PER_REQUEST,
        "dynamodb": api("GetItem", "Query") * DYNAMODB_USD_PER_READ
        + api("PutItem") * DYNAMODB_USD_PER_WRITE,
    }
    return {name: round(value, 2) for name, value in costs.items()}


def _collect_one(
    env: collect_metrics.Environment, target: Target, now: datetime, *, forced: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``target``'s cycle at ``now`` (with its discovery minute the sweep's when ``forced``):
    what it asked, and its part."""
    stats: list[CallStats] = []
    offset = mock.patch.object(Target, "discovery_offset", return_value=0)
    started = time.perf_counter()
    with _recorded(stats), offset if forced else nullcontext():
        part = collect_metrics.collect_target(env, target=target, now=now)
    seconds = round(time.perf_counter() - started, 3)
    if part.get("error"):
        raise RuntimeError(f"{target.account} in {target.region}: {part['error']}")
    measured = {
        "api_calls": stats[-1].by_api,
        "metrics_requested": stats[-1].metrics_requested,
        "seconds": seconds,
        "at": now.isoformat(),
    }
    return measured, part


def measure_collection(
    cases: tuple[tuple[int, int], ...] = CASES,
    *,
    regions: tuple[str, ...] = REGIONS,
    measured: int = MEASURED,
) -> dict[str, Any]:
    """The collection part: per-target counts measured, the Organizations computed."""
    sizes = sorted({functions for _, functions in cases}, reverse=True)
    names = {f"f{functions}-{n}": functions for functions in sizes for n in range(measured)}
    document = {"organization": {"enabled": True}, "collection": {"regions": list(regions)}}
    rules = RulesConfig.model_validate(document)
    variables = {
        **BENCH_ENV,
        "AWS_DEFAULT_REGION": regions[0],
        "AWS_REGION": regions[0],
        "VIGIL_RULES": json.dumps(document),
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
        plan = {
            (name, region): (
                target := Target(account=play.ids[name], region=region, name=name, member=True),
                moments(target, rules),
            )
            for name in names
            for region in regions
        }
        for (name, region), (target, at) in plan.items():
            nows = [now for now in at.values() if now is not None]
            _workload(play.session(name, region), target.account, region, names[name], nows)
        linked = {region: sorted(oam.metric_sources(ACCOUNT, region)) for region in regions}
        env = collect_metrics.environment()
        for (name, _region), (target, at) in plan.items():
            run: dict[str, Any] = {
                "offset": target.discovery_offset(rules.collection.discovery_minutes)
            }
            for case, now in sorted(
                ((c, n) for c, n in at.items() if n is not None), key=lambda item: item[1]
            ):
                run[case], part = _collect_one(env, target, now, forced=case in FORCED)
            del run["first"]
            runs[names[name]].append(run)
            refs[names[name]].append(BatchRef.model_validate(part["ref"]))
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
            read, over = bounded(
                targets(account=ACCOUNT, region=regions[0], regions=regions, members=inventory)
            )
            home = refs[functions][index % len(refs[functions])]
            organizations.append(
                _organization_case(
                    members,
                    functions=functions,
                    per_target=per_target[functions],
                    merge=_merged(env, read, refs[functions], home),
                    read=read,
                    over=_beyond(env, home, over),
                    rules=rules,
                    regions=regions,
                )
            )
    return {
        "regions": list(regions),
        "member_holds_per_region": {
            "functions": "F (the case's)",
            "functions_with_traffic": BUSY,
            "queues": 2,
            "dead_letter_queues": 1,
            "tables": 2,
        },
        "linked_members": linked,
        "schedule": {
            "cycles_a_month": HOURS_A_MONTH * 12,
            "sweeps_a_month": HOURS_A_MONTH,
            "discoveries_a_month_per_target": HOURS_A_MONTH,
            "window_minutes": rules.collection.window_minutes,
            "sweep_minutes": rules.collection.sweep_minutes,
            "discovery_minutes": rules.collection.discovery_minutes,
        },
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
        "| Per target | Healthy | Sweep | Discovery | Sweep and discovery |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for size, one in result["per_target"].items():
        c = one["cases"]
        lines.append(
            f"| {size} functions: calls / metrics / s"
            + "".join(
                f" | {c[case]['calls_on_aws']:,} / {c[case]['metrics_requested']:,}"
                f" / {c[case]['assumed_seconds']:,}"
                for case in CASE_NAMES
            )
            + " |"
        )
    lines += [
        "",
        "| Members × functions × regions | Targets (read) | Healthy: calls / metrics | Sweep:"
        " calls / metrics | Discoveries a cycle (avg / max) | Worst: calls / metrics | Wall time"
        " sweep / worst | Worst fits? | Cycles of the hour that fit | A month |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for org in result["organizations"]:
        c = org["cycles"]
        d = org["discoveries_per_cycle"]
        worst = c["worst"]
        verdict = (
            "yes"
            if worst["fits"]
            else f"no: {worst['late_targets']} late, {worst['timed_out_targets']} timed out"
            f" (MaxConcurrency {org['max_concurrency_to_fit_worst']} would fit)"
        )
        lines.append(
            f"| {org['members']} × {org['functions']} × {len(org['regions'])}"
            f" | {org['targets']} ({org['targets_read']})"
            f" | {c['healthy']['calls']:,} / {c['healthy']['metrics_requested']:,}"
            f" | {c['sweep']['calls']:,} / {c['sweep']['metrics_requested']:,}"
            f" | {d['expected']} / {d['max']}"
            f" | {worst['calls']:,} / {worst['metrics_requested']:,}"
            f" | {c['sweep']['wall_seconds_estimate']:,} s / {worst['wall_seconds_estimate']:,} s"
            f" | {verdict} | {org['hour_cycles_fitting']} of {len(org['hour'])}"
            f" | ${org['monthly_usd']:,} |"
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
