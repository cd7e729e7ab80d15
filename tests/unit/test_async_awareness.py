"""Async awareness (issue 14, item 2): the errors of a function whose failed asynchronous
events are kept (a dead-letter queue or an on-failure destination) do not page on their own;
what is dropped or could not be kept does.

The cases come from the issue's measured blind spot: on main, errors of asynchronously invoked
functions with a dead-letter queue or on-failure destination were judged like synchronous
errors, although Lambda retries them (twice by default) and only dropped or dead-lettered events
are lost. The AWS responses are the shapes of the Lambda API reference, checked against
botocore's service model by ``Stubber``:

- ``ListFunctions`` / ``GetFunctionConfiguration``: ``DeadLetterConfig.TargetArn``
  (https://docs.aws.amazon.com/lambda/latest/api/API_FunctionConfiguration.html,
  https://docs.aws.amazon.com/lambda/latest/api/API_DeadLetterConfig.html);
- ``ListFunctionEventInvokeConfigs``: ``FunctionEventInvokeConfig.DestinationConfig.OnFailure
  .Destination`` (https://docs.aws.amazon.com/lambda/latest/api/API_ListFunctionEventInvokeConfigs.html,
  https://docs.aws.amazon.com/lambda/latest/api/API_FunctionEventInvokeConfig.html);
- ``ListEventSourceMappings``: ``EventSourceMappingConfiguration.FunctionArn``
  (https://docs.aws.amazon.com/lambda/latest/api/API_ListEventSourceMappings.html).

moto answers these APIs too (tests/integration/test_edge_inventory.py); a Stubber is used here
so that 10,000 functions stay a unit test.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.factories import error_signal, labels
from tests.fakes import FixedAccountSettings, StoredMetrics
from vigil.adapters.inventory import LambdaDestinations
from vigil.adapters.lambda_inventory import LambdaInventory
from vigil.adapters.stats import CallStats
from vigil.alerting.lifecycle import step
from vigil.alerting.links import lambda_links
from vigil.alerting.messages import links_for
from vigil.core.model import Alert, AlertState, NotifyReason, Severity
from vigil.dials.collect import collect
from vigil.dials.inventory import DESTINATION_BATCH, AsyncProtection, FunctionDestinations
from vigil.dials.lambda_functions import (
    ASYNC_ERRORS_KIND,
    ASYNC_KIND,
    ERRORS_KIND,
    LambdaFamily,
    account_metric,
    function_metric,
)
from vigil.dials.resources import Coverage, FunctionInfo
from vigil.rules.document import RulesConfig
from vigil.rules.kinds import judge

ACCOUNT = "123456789012"
REGION = "us-east-1"
# 10:07 with the 2-minute lag: the first window is 10:00-10:05 (no discovery, no sweep).
START = datetime(2026, 11, 2, 10, 7, tzinfo=UTC)
MODIFIED = datetime(2026, 10, 1, tzinfo=UTC)


def _function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def _sqs(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


@dataclass
class FakeState:
    """The collector state's inventory and coverage halves, in memory; the watch list is the
    functions whose simulated alert is pending or firing."""

    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    reads: int = 0
    alerts: dict[tuple[str, str], Alert] = field(default_factory=dict)
    covered: list[Coverage] = field(default_factory=list)

    def inventory(self, family: str) -> list[dict[str, Any]] | None:
        self.reads += 1
        return self.records.get(family)

    def remember_inventory(
        self, family: str, records: list[dict[str, Any]], *, at: datetime
    ) -> None:
        self.records[family] = records

    def watched(self, kinds: Iterable[str]) -> set[str]:
        wanted = set(kinds)
        return {resource for kind, resource in self.alerts if kind in wanted}

    def record(self, coverage: Coverage, *, expires: datetime) -> None:
        self.covered.append(coverage)

    def coverage(self, start: datetime, end: datetime) -> list[Coverage]:
        return [c for c in self.covered if c.end > start and c.start < end]


class FakeMetrics(StoredMetrics):
    """CloudWatch: per-function datapoints a minute, and the account aggregates Lambda
    publishes (the sum over every function)."""

    def put(self, function: str, metric: str, start: datetime, minutes: int, value: float) -> None:
        for minute in range(minutes):
            at = start + timedelta(minutes=minute)
            for key in (function_metric(function, metric), account_metric(metric)):
                series = self.points.setdefault(key, {})
                series[at] = series.get(at, 0.0) + value


@dataclass
class Watch:
    """Cycles every 5 minutes through the Lambda family, the real judge and the alert
    lifecycle, as the Evaluate workflow steps them; what was notified, and how."""

    metrics: FakeMetrics
    protected: Callable[[], set[str]]
    rules: RulesConfig = field(default_factory=RulesConfig)
    state: FakeState = field(default_factory=FakeState)
    notified: list[tuple[str, str, str, NotifyReason]] = field(default_factory=list)
    kinds_seen: set[tuple[str, str]] = field(default_factory=set)
    fired: list[Alert] = field(default_factory=list)
    cycles: int = 0

    def run(self, cycles: int) -> None:
        """The next ``cycles`` cycles, 5 minutes apart, from ``START`` on."""
        for _ in range(cycles):
            self._cycle(START + timedelta(minutes=5 * self.cycles))
            self.cycles += 1

    def _cycle(self, now: datetime) -> None:
        family = LambdaFamily(
            functions=lambda: [FunctionInfo(n, _function_arn(n)) for n in ("thumbnailer", "api")],
            state=self.state,
            account_settings=FixedAccountSettings(),
            async_protected=self.protected,
        )
        batch = collect(
            families=[family],
            metrics=self.metrics,
            rules=self.rules,
            now=now,
            account=ACCOUNT,
            region=REGION,
        ).batch
        breaches = {}
        for signal in batch.signals:
            self.kinds_seen.add((signal.labels.kind, signal.labels.resource))
            if (verdict := judge(signal, self.rules)) is not None:
                breaches[(signal.labels.kind, signal.labels.resource)] = verdict
        active = {key for key in self.state.alerts if key[0] in batch.covered_kinds}
        for key in sorted(set(breaches) | active):
            moved = step(
                self.state.alerts.get(key),
                breaches.get(key),
                now=now,
                batch_id=batch.batch_id,
                rules=self.rules,
            )
            if moved.notify is not None and moved.after is not None:
                self.notified.append((*key, moved.after.severity.value, moved.notify))
                self.fired.append(moved.after)
            if moved.after is None or moved.after.state is AlertState.RESOLVED:
                self.state.alerts.pop(key, None)
            else:
                self.state.alerts[key] = moved.after


def _steady(metrics: FakeMetrics, name: str, minutes: int = 60, per_minute: float = 1000) -> None:
    metrics.put(name, "Invocations", START - timedelta(minutes=7), minutes, per_minute)


def _burst(metrics: FakeMetrics, name: str, minutes: int, per_minute: float = 80) -> None:
    """8 % of the steady 1,000 a minute fail for ``minutes``, from the first window on."""
    metrics.put(name, "Errors", START - timedelta(minutes=7), minutes, per_minute)


def test_a_burst_of_errors_of_a_protected_async_function_does_not_page() -> None:
    metrics = FakeMetrics()
    _steady(metrics, "thumbnailer")
    _burst(metrics, "thumbnailer", 15)  # three windows at 8 %, then clean
    watch = Watch(metrics, protected=lambda: {"thumbnailer"})

    watch.run(12)

    # Judged as async errors (never as lambda.errors), pending for 15 minutes, then cleared.
    assert {kind for kind, _ in watch.kinds_seen} == {ASYNC_ERRORS_KIND}
    assert watch.notified == []
    assert watch.state.alerts == {}


def test_a_synchronous_function_with_the_same_errors_alerts_as_before() -> None:
    metrics = FakeMetrics()
    _steady(metrics, "api")
    _burst(metrics, "api", 15)
    watch = Watch(metrics, protected=lambda: {"thumbnailer"})

    watch.run(12)

    # lambda_errors fires after its 5 minutes and resolves once the errors stop.
    assert [(kind, name, reason) for kind, name, _, reason in watch.notified] == [
        (ERRORS_KIND, "api", NotifyReason.FIRING),
        (ERRORS_KIND, "api", NotifyReason.RESOLVED),
    ]


def test_a_sustained_error_rate_of_a_protected_function_warns_after_30_minutes_never_pages() -> (
    None
):
    metrics = FakeMetrics()
    _steady(metrics, "thumbnailer")
    _burst(metrics, "thumbnailer", 60, per_minute=500)  # 50 % for an hour
    watch = Watch(metrics, protected=lambda: {"thumbnailer"})

    watch.run(6)
    assert watch.notified == []  # 25 minutes of breaching windows: still pending
    watch.run(8)

    assert watch.notified[0] == (
        ASYNC_ERRORS_KIND,
        "thumbnailer",
        Severity.WARNING.value,
        NotifyReason.FIRING,
    )
    assert all(severity == Severity.WARNING.value for _, _, severity, _ in watch.notified)
    # The alert links to the function's Errors graph and logs, as a lambda.errors alert does.
    alert = watch.fired[0]
    end = alert.evidence.observed_at
    assert links_for(alert) == lambda_links(alert.labels, metric="Errors", window_end=end)


def test_dropped_and_undeliverable_events_of_a_protected_function_alert_at_once() -> None:
    metrics = FakeMetrics()
    _steady(metrics, "thumbnailer")
    metrics.put("thumbnailer", "AsyncEventsDropped", START - timedelta(minutes=7), 1, 3)
    metrics.put("thumbnailer", "DeadLetterErrors", START - timedelta(minutes=2), 1, 1)
    watch = Watch(metrics, protected=lambda: {"thumbnailer"})

    watch.run(2)

    # Dropped (sent to its dead-letter queue first): a warning; not even deliverable: a page.
    assert watch.notified[:2] == [
        (ASYNC_KIND, "thumbnailer", Severity.WARNING.value, NotifyReason.FIRING),
        (ASYNC_KIND, "thumbnailer", Severity.CRITICAL.value, NotifyReason.ESCALATED),
    ]
    # Only the async metric whose account sum is not zero is read per function.
    drilled = {key.metric for key in metrics.asked if key.dimensions}
    assert drilled == {"AsyncEventsDropped", "DeadLetterErrors"}


@pytest.mark.parametrize(
    "overrides",
    ['{"lambda_async_errors": {"enabled": false}}', '{"lambda_async": {"enabled": false}}'],
)
def test_switched_off_or_without_delivery_alerts_the_errors_are_judged_as_before(
    overrides: str,
) -> None:
    metrics = FakeMetrics()
    _steady(metrics, "thumbnailer")
    _burst(metrics, "thumbnailer", 15)
    rules = RulesConfig.from_json(overrides)
    watch = Watch(metrics, protected=lambda: {"thumbnailer"}, rules=rules)

    watch.run(4)

    assert {kind for kind, _ in watch.kinds_seen} == {ERRORS_KIND}
    assert watch.notified[0][::3] == (ERRORS_KIND, NotifyReason.FIRING)


@pytest.mark.parametrize(
    ("invocations", "errors", "verdict"),
    [
        (5000, 250, None),  # 5.00 %: at the rate, not above it
        (5000, 400, "8.00% errors (400 of 5,000 invocations) over 5 min, above 5.00%"),
        (0, 3, "100.00% errors (3 of 0 invocations) over 5 min, above 5.00%"),  # none read
        (5000, 0, None),
    ],
)
def test_the_async_errors_verdict_as_docs_rules_md_states_it(
    invocations: float, errors: float, verdict: str | None
) -> None:
    """docs/rules.md, ``lambda_async_errors``: the verdict and its example."""
    signal = error_signal("thumbnailer", invocations=invocations, errors=errors)
    signal = signal.model_copy(update={"labels": labels("thumbnailer", kind=ASYNC_ERRORS_KIND)})

    found = judge(signal, RulesConfig())

    if verdict is None:
        assert found is None
        return
    assert found is not None
    assert (found.severity, found.for_seconds) == (Severity.WARNING, 30 * 60)
    assert found.evidence.summary == (
        f"{verdict}; Lambda retries these asynchronous events and keeps the ones it gives up on"
    )


# --- Discovery: which functions are protected, on the documented shapes -------------------


def _configuration(name: str, dead_letter: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "FunctionName": name,
        "FunctionArn": _function_arn(name),
        "Runtime": "python3.13",
        "Timeout": 30,
    }
    if dead_letter:
        found["DeadLetterConfig"] = {"TargetArn": dead_letter}
    return found


def _invoke_configs(name: str, on_failure: str | None) -> dict[str, Any]:
    if on_failure is None:
        return {"FunctionEventInvokeConfigs": []}  # no async invoke config
    return {
        "FunctionEventInvokeConfigs": [
            {
                "LastModified": MODIFIED,
                "FunctionArn": f"{_function_arn(name)}:$LATEST",
                "MaximumRetryAttempts": 2,
                "MaximumEventAgeInSeconds": 21600,
                "DestinationConfig": {"OnSuccess": {}, "OnFailure": {"Destination": on_failure}},
            }
        ]
    }


def _mappings(functions: list[str]) -> dict[str, Any]:
    return {
        "EventSourceMappings": [
            {
                "UUID": f"mapping-{name}",
                "EventSourceArn": _sqs(f"{name}-work"),
                "FunctionArn": _function_arn(name),
                "BatchSize": 10,
                "State": "Enabled",
            }
            for name in functions
        ]
    }


@dataclass
class Account:
    """An account's functions as Lambda lists them: a dead-letter queue, an on-failure
    destination, an event source mapping."""

    dead_letter: dict[str, str] = field(default_factory=dict)
    on_failure: dict[str, str] = field(default_factory=dict)
    mapped: list[str] = field(default_factory=list)
    plain: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return sorted({*self.dead_letter, *self.on_failure, *self.mapped, *self.plain})

    def stub(self, stubber: Stubber, *, share: list[str]) -> None:
        """The responses of one discovery, in the order it asks: ListFunctions (50 a page),
        ListFunctionEventInvokeConfigs for the share, ListEventSourceMappings."""
        names = self.names
        for first in range(0, len(names), 50):
            page: dict[str, Any] = {
                "Functions": [
                    _configuration(name, self.dead_letter.get(name))
                    for name in names[first : first + 50]
                ]
            }
            if first + 50 < len(names):
                page["NextMarker"] = names[first + 49]
            stubber.add_response("list_functions", page)
        for name in share:
            stubber.add_response(
                "list_function_event_invoke_configs",
                _invoke_configs(name, self.on_failure.get(name)),
                {"FunctionName": name, "MaxItems": 50},
            )
        stubber.add_response("list_event_source_mappings", _mappings(self.mapped))


@dataclass
class AccountPort:
    """What ``LambdaDestinations`` answers for ``account``, without the 700 stubbed responses
    a discovery takes (the shapes are checked above); counts the functions asked."""

    account: Account
    asked: list[int] = field(default_factory=list)

    def function_destinations(self, functions: Iterable[str]) -> dict[str, set[str]]:
        names = list(functions)
        self.asked.append(len(names))
        on_failure = self.account.on_failure
        return {name: {on_failure[name]} if name in on_failure else set() for name in names}

    def mapping_destinations(self) -> set[str]:
        return set()

    def mapped_functions(self) -> set[str]:
        return set(self.account.mapped)


def _discover(account: Account, state: FakeState, *, rotation: int, share: list[str]) -> tuple[
    set[str], CallStats
]:  # fmt: skip
    client = boto3.client("lambda", region_name=REGION)
    stats = CallStats()
    with Stubber(client) as stubber:
        account.stub(stubber, share=share)
        functions = cache(LambdaInventory(client, stats).functions)  # as the collector shares it
        destinations = FunctionDestinations(
            LambdaDestinations(client, stats), functions, state, rotation=rotation, now=START
        )
        protected = AsyncProtection(functions, destinations, state, discovery=True, now=START)()
        stubber.assert_no_pending_responses()
    return protected, stats


def test_discovery_keeps_functions_with_a_dead_letter_queue_or_on_failure_destination() -> None:
    account = Account(
        dead_letter={"thumbnailer": _sqs("thumbnailer-dlq"), "queue-worker": _sqs("worker-dlq")},
        on_failure={"order-events": f"arn:aws:sns:{REGION}:{ACCOUNT}:order-failures"},
        mapped=["queue-worker"],  # an SQS poller invokes synchronously: not protected
        plain=["checkout-api"],
    )
    state = FakeState()

    protected, stats = _discover(account, state, rotation=0, share=account.names)

    assert protected == {"thumbnailer", "order-events"}
    assert state.records["async"] == [{"function": "order-events"}, {"function": "thumbnailer"}]
    assert stats.by_api == {
        "ListFunctions": 1,
        "ListFunctionEventInvokeConfigs": 4,
        "ListEventSourceMappings": 1,
    }


def test_an_ordinary_cycle_reads_the_stored_set_once_and_asks_lambda_nothing() -> None:
    state = FakeState(records={"async": [{"function": "thumbnailer"}]})

    def unasked() -> list[FunctionInfo]:
        raise AssertionError("an ordinary cycle lists no functions for async protection")

    destinations = FunctionDestinations(
        LambdaDestinations(boto3.client("lambda", region_name=REGION)),
        unasked,
        state,
        rotation=0,
        now=START,
    )
    protection = AsyncProtection(unasked, destinations, state, discovery=False, now=START)

    assert (protection(), protection(), state.reads) == ({"thumbnailer"}, {"thumbnailer"}, 1)


def test_at_ten_thousand_functions_a_discovery_makes_a_bounded_number_of_calls() -> None:
    """10x load: 10,000 functions, 1,000 protected (500 with a dead-letter queue, 500 with an
    on-failure destination), 100 event-source-mapped."""
    names = [f"fn-{index:05d}" for index in range(10_000)]
    account = Account(
        dead_letter={name: _sqs(f"{name}-dlq") for name in names[5:5000:10]},
        on_failure={name: _sqs(f"{name}-failed") for name in names[0:5000:10]},
        mapped=[*names[9000:9100], *names[0:100:10]],  # 10 of them keep failed events too
        plain=names,
    )
    shares = 10_000 // DESTINATION_BATCH
    state = FakeState()

    protected, stats = _discover(account, state, rotation=0, share=names[0::shares])

    # 200 ListFunctions pages, 500 destination reads (a 20th share), 1 mapping page.
    assert stats.by_api == {
        "ListFunctions": 200,
        "ListFunctionEventInvokeConfigs": DESTINATION_BATCH,
        "ListEventSourceMappings": 1,
    }
    # Every dead-letter queue at once; the share's destinations (fn-00000, fn-00020, ...), and
    # the rest over the next discoveries, each a 20th of the functions; none ever mapped.
    assert len(protected) == 500 + 250 - 5
    port = AccountPort(account)
    functions = [FunctionInfo(n, _function_arn(n), account.dead_letter.get(n)) for n in names]
    for rotation in range(1, shares):
        destinations = FunctionDestinations(
            port, lambda: functions, state, rotation=rotation, now=START
        )
        protected = AsyncProtection(
            lambda: functions, destinations, state, discovery=True, now=START
        )()
    assert port.asked == [DESTINATION_BATCH] * (shares - 1)
    assert len(protected) == 1000 - 10
    assert not protected & set(account.mapped)
