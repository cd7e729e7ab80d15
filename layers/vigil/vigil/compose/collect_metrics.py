"""The metrics collector's composition: the adapters of every dial family wired into one
collection cycle, and the cycle run and handed to the Evaluate workflow
(``functions/collect_metrics/app.py`` is the handler)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

import boto3
import botocore.session
from aws_lambda_powertools.metrics import MetricUnit

from vigil.accounts.fanout import (
    BUDGET_SECONDS,
    MergeRequest,
    Part,
    Target,
    bounded,
    merged,
    named,
    scoped,
    targets,
    watched_regions,
)
from vigil.accounts.members import AccountInventory, RolePort, UngrantedRole
from vigil.adapters.cloudwatch import CloudWatchMetrics
from vigil.adapters.collector_state import CollectorState
from vigil.adapters.config_store import LastGoodConfig
from vigil.adapters.dynamodb_tables import DynamoDbTables
from vigil.adapters.event_source_mappings import EventSourceMappings
from vigil.adapters.inventory import (
    HttpApis,
    LambdaDestinations,
    LambdaReservations,
    ResourceTags,
    RestApis,
    S3Buckets,
    ServiceQuotas,
    StateMachines,
)
from vigil.adapters.kinesis_streams import KinesisStreams
from vigil.adapters.lambda_account import LambdaAccountSettings, LimitsCache
from vigil.adapters.lambda_inventory import LambdaInventory
from vigil.adapters.log_subscriptions import LogSubscriptions
from vigil.adapters.oam_links import OamLinks
from vigil.adapters.organizations import (
    MemberRefused,
    MemberRoles,
    MemberStore,
    OrganizationTree,
)
from vigil.adapters.sqs_queues import SqsDeadLetterQueues
from vigil.adapters.stats import CallStats
from vigil.adapters.workflow import CollectWorkflow, EvaluateWorkflow, S3Batches
from vigil.compose.settings import CollectorSettings
from vigil.core.errors import InvalidEventError
from vigil.core.model import SignalBatch
from vigil.core.observability import logger, metrics
from vigil.dials.apigateway import ApiGatewayFamily
from vigil.dials.base import discovery_due, window_for
from vigil.dials.collect import Cycle, collect
from vigil.dials.dynamodb import DynamoDbFamily
from vigil.dials.event_sources import EventSourceFamily
from vigil.dials.inventory import (
    AsyncProtection,
    FunctionDestinations,
    ResourceTagIndex,
    ScopedDeadLetters,
    ScopedFunctions,
    TagFiltered,
    TagScope,
)
from vigil.dials.kinesis import KinesisFamily
from vigil.dials.lambda_duration import LambdaDurationFamily
from vigil.dials.lambda_functions import LambdaFamily
from vigil.dials.quotas import QuotaFamily
from vigil.dials.reserved_concurrency import ReservedConcurrencyFamily
from vigil.dials.s3 import S3Family
from vigil.dials.sqs import DeadLetterFamily
from vigil.dials.step_functions import StepFunctionsFamily
from vigil.rules.document import RulesConfig
from vigil.rules.loading import load_rules
from vigil.rules.self_watch import TAGS_KIND
from vigil.tracking.logs import FILTER_PATTERN
from vigil.tracking.subscriptions import subscribe_functions

CLIENTS = {
    "cloudwatch": "cloudwatch",
    "lambda": "lambda",
    "stepfunctions": "stepfunctions",
    "dynamodb": "dynamodb",
    "sqs": "sqs",
    "kinesis": "kinesis",
    "autoscaling": "application-autoscaling",
    "s3": "s3",
    "apigateway": "apigateway",
    "apigatewayv2": "apigatewayv2",
    "service-quotas": "service-quotas",
    "tagging": "resourcegroupstaggingapi",
    "batches": "s3",
    "logs": "logs",
    "organizations": "organizations",
    "sts": "sts",
}
"""The boto3 clients a cycle uses, by the name the wiring gives them."""

TARGET_CLIENTS = (
    "lambda",
    "stepfunctions",
    "dynamodb",
    "sqs",
    "kinesis",
    "autoscaling",
    "s3",
    "apigateway",
    "apigatewayv2",
    "service-quotas",
    "tagging",
)
"""The clients of a target's inventory, with the member role's credentials in its region
(its metrics are read with the stack's own, through the OAM sink)."""


@dataclass(frozen=True)
class Environment:
    """What every cycle of one cold start shares (the handler caches it)."""

    settings: CollectorSettings
    rules: RulesConfig
    clients: dict[str, Any]
    limits: LimitsCache = field(default_factory=LimitsCache)
    """The account's Lambda limits, kept by this instance for up to an hour."""
    target_limits: dict[tuple[str, str], LimitsCache] = field(default_factory=dict)
    """The same, of each target (account, region) this instance collected."""


def environment() -> Environment:
    """The settings, the rules config in force (the last good one if it is invalid) and the
    clients."""
    settings = CollectorSettings.from_env()
    last_good = LastGoodConfig(boto3.client("dynamodb"), settings.table_name, stats=CallStats())
    rules = load_rules(settings.rules_json, last_good=last_good).rules
    if rules.organization.enabled and rules.organization.role_name != settings.member_role_name:
        logger.error(
            "organization.role_name differs from the stack's MemberRoleName parameter: every"
            " member is reported not connected until both name the same role",
            extra={
                "role_name": rules.organization.role_name,
                "member_role_name": settings.member_role_name,
            },
        )
    return Environment(
        settings=settings,
        rules=rules,
        clients={name: boto3.client(service) for name, service in CLIENTS.items()},  # type: ignore[call-overload]
    )


def member_roles(env: Environment, stats: CallStats) -> RolePort:
    """The member role as the stack may assume it, or every member refused when the rules
    config names another one (the grant is scoped to ``MemberRoleName``)."""
    wanted, granted = env.rules.organization.role_name, env.settings.member_role_name
    if wanted != granted:
        return UngrantedRole(role_name=wanted, granted=granted)
    return granted_roles(env, stats)


@cache
def _service_models() -> Any:
    """The botocore data loader every target's clients share: it keeps the service models it
    has parsed for as long as the container lives."""
    return botocore.session.get_session().get_component("data_loader")


def target_clients(region: str, credentials: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A target's inventory clients (``TARGET_CLIENTS``) in ``region``: with ``credentials``
    (a member role's), else the stack's own. A botocore session of their own reads the service
    models through the shared loader: a fresh boto3 session parses them again, 0.36 s of CPU
    for the 11 clients of every target iteration against 0.08 s."""
    session = botocore.session.get_session()
    session.register_component("data_loader", _service_models())
    if credentials is not None:
        # every key required: a member's clients never fall back to the stack's credentials
        session.set_credentials(
            credentials["aws_access_key_id"],
            credentials["aws_secret_access_key"],
            credentials["aws_session_token"],
        )
    return {
        name: session.create_client(CLIENTS[name], region_name=region) for name in TARGET_CLIENTS
    }


def granted_roles(env: Environment, stats: CallStats) -> MemberRoles:
    """The member role the stack's grant names (``MemberRoleName``)."""
    return MemberRoles(
        env.clients["sts"],
        role_name=env.settings.member_role_name,
        stack=env.settings.stack_name,
        partition=env.settings.evaluate_state_machine_arn.split(":")[1],
        stats=stats,
    )


@dataclass(frozen=True)
class Collected:
    """One account's cycle in one region, before it is handed on."""

    cycle: Cycle
    functions: ScopedFunctions
    tags: TagScope
    dead_letters: ScopedDeadLetters


def _collect(
    env: Environment,
    clients: Mapping[str, Any],
    *,
    cloudwatch: CloudWatchMetrics,
    state: CollectorState,
    limits: LimitsCache,
    stats: CallStats,
    now: datetime,
    account: str,
    region: str,
    error_stream: bool,
    discovery_offset: int = 0,
) -> Collected:
    """Every family of one account in one region collected at ``now``; ``clients`` are that
    account's in that region (the state table's client is always the stack's own).
    ``error_stream``: the account's error lines reach the error stream (its function sweep is
    then the daily backstop); ``discovery_offset``: see ``discovery_due``."""
    rules = env.rules
    lambda_client = clients["lambda"]
    tags = TagScope(rules.tags, ResourceTags(clients["tagging"], stats))
    # One ListFunctions pass per cycle at most, shared by the families that need it, with the
    # functions the tag filters exclude left out.
    window = window_for(now, rules)
    discovery = discovery_due(window, rules, offset=discovery_offset)
    functions = ScopedFunctions(
        cache(LambdaInventory(lambda_client, stats).functions),
        tags,
        state,
        discovery=discovery,
        now=now,
    )
    # Read once a cycle at most, for dead-letter queue discovery and async protection alike.
    destinations = FunctionDestinations(
        LambdaDestinations(lambda_client, stats),
        functions,
        state,
        rotation=int(window.end.timestamp()) // 60 // rules.collection.discovery_minutes,
        now=now,
    )
    dead_letters = ScopedDeadLetters(SqsDeadLetterQueues(clients["sqs"], stats), destinations, tags)
    cycle = collect(
        families=[
            LambdaFamily(
                functions=functions,
                state=state,
                account_settings=LambdaAccountSettings(lambda_client, stats, limits),
                async_protected=AsyncProtection(
                    functions, destinations, state, discovery=discovery, now=now
                ),
            ),
            ReservedConcurrencyFamily(LambdaReservations(lambda_client, stats), functions, state),
            LambdaDurationFamily(functions, state),
            DeadLetterFamily(queues=dead_letters, state=state, functions=functions),
            EventSourceFamily(
                mappings=TagFiltered(
                    EventSourceMappings(lambda_client, clients["kinesis"], stats), rules.tags
                ),
                state=state,
            ),
            DynamoDbFamily(
                tables=TagFiltered(
                    DynamoDbTables(clients["dynamodb"], clients["autoscaling"], stats), rules.tags
                ),
                state=state,
                active=cloudwatch,
            ),
            KinesisFamily(
                streams=TagFiltered(KinesisStreams(clients["kinesis"], stats), rules.tags),
                state=state,
                active=cloudwatch,
            ),
            S3Family(S3Buckets(clients["s3"], region, stats), state, tags),
            StepFunctionsFamily(
                StateMachines(clients["stepfunctions"], stats),
                state,
                tags,
                # Its failures raise CollectFailuresAlarm (ADR 51).
                unwatched=frozenset({f"{env.settings.stack_name}-collect"}),
            ),
            ApiGatewayFamily(
                RestApis(clients["apigateway"], stats),
                HttpApis(clients["apigatewayv2"], stats),
                state,
                tags,
            ),
            QuotaFamily(ServiceQuotas(clients["service-quotas"], stats), state),
        ],
        metrics=cloudwatch,
        rules=rules,
        now=now,
        account=account,
        region=region,
        error_stream=error_stream,
        discovery_offset=discovery_offset,
    )
    return Collected(cycle, functions, tags, dead_letters)


def run(env: Environment, *, now: datetime, account: str) -> dict[str, Any]:
    """One cycle at ``now`` of the stack's own account and region, the batch handed to
    Evaluate, or with other targets to collect (ADR 51) to the collect workflow; a summary of
    what it saw and asked of AWS (also logged)."""
    settings, rules, clients = env.settings, env.rules, env.clients
    stats = CallStats()
    state = CollectorState(clients["dynamodb"], settings.table_name, stats=stats)
    collected = _collect(
        env,
        clients,
        cloudwatch=CloudWatchMetrics(clients["cloudwatch"], stats),
        state=state,
        limits=env.limits,
        stats=stats,
        now=now,
        account=account,
        region=settings.region,
        error_stream=settings.error_stream_mode != "off",
    )
    cycle, functions, tags = collected.cycle, collected.functions, collected.tags
    window = window_for(now, rules)
    discovery = discovery_due(window, rules)
    # The tags the per-resource overrides read, for the batch's signals (read at discovery).
    batch = ResourceTagIndex(
        tags,
        state,
        rules,
        account=account,
        region=settings.region,
        discovery=discovery,
        now=now,
    ).labelled(cycle.batch)
    # Organization mode (ADR 50): the members' names on their alerts, and the members whose
    # role cannot be assumed.
    members = AccountInventory(
        rules.organization,
        OrganizationTree(clients["organizations"], stats),
        member_roles(env, stats),
        MemberStore(clients["dynamodb"], settings.table_name, stats),
        account=account,
        region=settings.region,
        discovery=discovery,
        now=now,
        # Each watched region's links to the monitoring account's sinks (ADR 54).
        links=OamLinks(lambda region: boto3.client("oam", region_name=region), stats),
        regions=watched_regions(settings.region, rules.collection.regions),
    )
    batch = members.signals(batch)
    subscribed = None
    if discovery and settings.error_stream_mode == "log-groups" and settings.error_stream_arn:
        # Never Vigil's own functions (CloudFormation names them <stack>-<LogicalId>-<suffix>):
        # their errors are the self-watch alarms', and the stream must not read its own lines.
        own = (f"{settings.stack_name}-", settings.error_stream_arn.rsplit(":", 1)[-1])
        subscribed = subscribe_functions(
            [fn.name for fn in functions() if not fn.name.startswith(own)],
            port=LogSubscriptions(
                clients["logs"],
                destination_arn=settings.error_stream_arn,
                pattern=FILTER_PATTERN,
                stats=stats,
            ),
            state=state,
            now=now,
        )
        if subscribed.full:
            logger.warning(
                "log groups hold two subscription filters already: their error lines do not"
                " reach the error stream",
                extra={"functions": subscribed.full[:20], "count": len(subscribed.full)},
            )
    batches = S3Batches(clients["batches"], settings.batch_bucket, stats)
    others, beyond = bounded(
        targets(
            account=account,
            region=settings.region,
            regions=rules.collection.regions,
            members=members.members(),
        )
    )
    if others and settings.collect_state_machine_arn:
        # The collect workflow reads the other targets and evaluates every batch as one.
        home = scoped(
            batch,
            account=account,
            region=settings.region,
            kinds=[*cycle.batch.covered_kinds, TAGS_KIND],
        )
        if beyond:
            logger.warning("targets beyond the bound not read", extra={"count": len(beyond)})
            home = merged(home, [], beyond, now=now)
        execution_arn = CollectWorkflow(
            clients["stepfunctions"], settings.collect_state_machine_arn, stats, batches=batches
        ).start(home, others, now=now)
    else:
        execution_arn = EvaluateWorkflow(
            clients["stepfunctions"], settings.evaluate_state_machine_arn, stats, batches=batches
        ).start(batch)
    metrics.add_metric("SignalsCollected", MetricUnit.Count, len(batch.signals))
    metrics.add_metric("MetricsRequested", MetricUnit.Count, stats.metrics_requested)
    summary = {
        "batch_id": batch.batch_id,
        "signals": len(batch.signals),
        "metrics_requested": stats.metrics_requested,
        "metrics_by_stage": cycle.metrics_by_stage,
        "drilled": cycle.drilled,
        "watched": len(cycle.watched),
        "swept": cycle.swept,
        "resources": {name: result.resources for name, result in cycle.families.items()},
        "dead_letter_queues": cycle.resources("sqs"),
        "destination_targets": collected.dead_letters.destination_targets,
        "signal_kinds": sorted({signal.labels.kind for signal in batch.signals}),
        "discovered": cycle.discovered,
        "members": members.counts.summary(),
        "targets": len(others),
        "targets_beyond_bound": len(beyond),
        "log_groups_subscribed": None if subscribed is None else len(subscribed.subscribed),
        "api_calls": stats.by_api,
        "execution_arn": execution_arn,
    }
    logger.info("collected", extra=summary)
    return summary


def collect_target(
    env: Environment, *, target: Target, now: datetime, late: bool = False
) -> dict[str, Any]:
    """One iteration of the collect workflow: ``target``'s cycle at ``now``, its batch written
    to the batch bucket; the part the merge takes. A member whose role is refused, or a target
    whose turn came after the cycle's time budget (``late``), makes a part with the reason, not
    a failure: the merge raises its alert."""
    settings = env.settings
    stats = CallStats()
    part: dict[str, Any] = {"target": target.model_dump(mode="json")}
    if late:
        logger.warning("target skipped: time budget spent", extra={"account": target.account})
        return {
            **part,
            "ref": None,
            "error": f"not read: the cycle's {BUDGET_SECONDS}-second budget was spent before"
            " its turn (too many slow accounts for the collect workflow's concurrency)",
        }
    credentials: Mapping[str, str] | None = None
    if target.member:
        try:
            credentials = granted_roles(env, stats).credentials(target.account)
        except MemberRefused as exc:
            logger.warning("member role refused", extra={"account": target.account})
            return {**part, "ref": None, "error": f"the member role: {exc}"[:500]}
    clients = target_clients(target.region, credentials)
    state = CollectorState(
        env.clients["dynamodb"],
        settings.table_name,
        stats=stats,
        target=(target.account, target.region),
    )
    collected = _collect(
        env,
        clients,
        # Metrics through the sink of the target's region, with the stack's own credentials.
        cloudwatch=CloudWatchMetrics(
            boto3.client("cloudwatch", region_name=target.region),
            stats,
            account_id=target.account if target.member else None,
        ),
        state=state,
        limits=env.target_limits.setdefault((target.account, target.region), LimitsCache()),
        stats=stats,
        now=now,
        account=target.account,
        region=target.region,
        # The error stream reads the stack's own account in its own region only: every other
        # target's functions keep the hourly sweep of their errors.
        error_stream=False,
        discovery_offset=target.discovery_offset(env.rules.collection.discovery_minutes),
    )
    # The target's resource tags (overrides, tag labels), kept under its own keys.
    labelled = ResourceTagIndex(
        collected.tags,
        state,
        env.rules,
        account=target.account,
        region=target.region,
        discovery=discovery_due(
            window_for(now, env.rules),
            env.rules,
            offset=target.discovery_offset(env.rules.collection.discovery_minutes),
        ),
        now=now,
    ).labelled(collected.cycle.batch)
    batch = scoped(
        named(labelled, target),
        account=target.account,
        region=target.region,
        kinds=labelled.covered_kinds,
    )
    ref = S3Batches(env.clients["batches"], settings.batch_bucket, stats).put(
        batch, batch.model_dump_json().encode()
    )
    logger.info(
        "collected target",
        extra={
            "account": target.account,
            "region": target.region,
            "signals": len(batch.signals),
            "metrics_requested": stats.metrics_requested,
            "api_calls": stats.by_api,
        },
    )
    # Every part has the same keys: the workflow's ResultSelector names each of them.
    return {**part, "ref": ref.model_dump(mode="json"), "error": None}


def merge(env: Environment, *, request: MergeRequest) -> dict[str, Any]:
    """The collect workflow's last step: every part's batch read back, merged with the home
    batch and evaluated once."""
    settings, clients = env.settings, env.clients
    stats = CallStats()
    batches = S3Batches(clients["batches"], settings.batch_bucket, stats)
    home = batches.get(request.home)
    collected: list[SignalBatch] = []
    failed: list[Part] = []
    for part in request.parts:
        if part.ref is None:
            failed.append(part)
            continue
        try:
            collected.append(batches.get(part.ref))
        except InvalidEventError as exc:
            # Gone or not that batch: the target is not collected this cycle, the rest are.
            failed.append(part.model_copy(update={"ref": None, "error": str(exc)[:500]}))
    batch = merged(home, collected, failed, now=request.now)
    execution_arn = EvaluateWorkflow(
        clients["stepfunctions"], settings.evaluate_state_machine_arn, stats, batches=batches
    ).start(batch)
    summary = {
        "batch_id": batch.batch_id,
        "signals": len(batch.signals),
        "collected": len(collected),
        "failed": [f"{p.target.account}/{p.target.region}: {p.error}" for p in failed][:50],
        "api_calls": stats.by_api,
        "execution_arn": execution_arn,
    }
    logger.info("merged", extra=summary)
    return summary
