"""The reserved concurrency dial on fakes: the rule's levels, and what the family reads, when it
discovers, and how it shares a large account's discovery over several runs."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from tests.factories import T0, labels
from tests.unit.test_edge_families import NOW, RULES, WINDOW_START, FakeMetrics, FakeState, run
from vigil.core.errors import ConfigError
from vigil.core.model import Severity, Signal
from vigil.dials.collect import collect
from vigil.dials.reserved_concurrency import (
    RESERVATION_BATCH,
    RESERVED_KIND,
    ReservedConcurrencyFamily,
    concurrency_metric,
)
from vigil.dials.resources import FunctionInfo
from vigil.rules.document import RulesConfig
from vigil.rules.kinds import judge, kind_title


def signal(concurrent: float, reserved: float) -> Signal:
    return Signal(
        source="metrics",
        labels=labels("ledger-writer", RESERVED_KIND),
        value=0.0,
        unit="Percent",
        window_seconds=300,
        observed_at=T0,
        samples={"concurrent": concurrent, "reserved": reserved},
    )


def test_reserved_concurrency_warns_at_80_and_pages_at_90_percent_of_the_reservation() -> None:
    assert judge(signal(79, 100), RULES) is None
    warning = judge(signal(80, 100), RULES)
    page = judge(signal(95, 100), RULES)

    assert warning is not None
    assert warning.severity is Severity.WARNING
    assert (warning.evidence.value, warning.evidence.threshold) == (80.0, 80.0)
    assert page is not None
    assert page.severity is Severity.CRITICAL
    assert page.evidence.summary == (
        "peak concurrency 95 of the function's reserved 100 (95%) over 5 min, at or above 90%;"
        " the function throttles at its reservation"
    )
    assert kind_title(RESERVED_KIND) == "Lambda reserved concurrency"


def test_a_reservation_of_zero_or_a_disabled_rule_never_alerts() -> None:
    assert judge(signal(5, 0), RULES) is None
    off = RulesConfig.from_json('{"lambda_reserved_concurrency": {"enabled": false}}')
    assert judge(signal(100, 100), off) is None


def test_levels_out_of_order_are_refused_naming_the_field() -> None:
    with pytest.raises(ConfigError, match="lambda_reserved_concurrency"):
        RulesConfig.from_json(
            '{"lambda_reserved_concurrency": {"warning_ratio": 0.9, "critical_ratio": 0.8}}'
        )


@dataclass
class FakeReservations:
    reserved_by_name: dict[str, int]
    asked: list[list[str]] = field(default_factory=list)

    def reserved(self, functions: Iterable[str]) -> dict[str, int]:
        names = list(functions)
        self.asked.append(names)
        return {
            name: self.reserved_by_name[name] for name in names if name in self.reserved_by_name
        }


def _functions(*names: str) -> list[FunctionInfo]:
    return [FunctionInfo(name=n, arn=f"arn:aws:lambda:us-east-1:1:function:{n}") for n in names]


def test_only_reserved_functions_are_read_once_a_cycle_and_judged_on_their_peak() -> None:
    reservations = FakeReservations({"ledger-writer": 100, "paused-job": 0})
    state = FakeState()
    family = ReservedConcurrencyFamily(
        reservations, lambda: _functions("checkout-api", "ledger-writer", "paused-job"), state
    )
    metrics = FakeMetrics()
    metrics.points[concurrency_metric("ledger-writer")] = {WINDOW_START: 92.0}

    cycle = run(family, metrics)

    # The first cycle discovers (none stored): every function asked once.
    assert reservations.asked == [["checkout-api", "ledger-writer", "paused-job"]]
    assert state.records["reserved"] == [
        {"function": "ledger-writer", "reserved": 100},
        {"function": "paused-job", "reserved": 0},
    ]
    # One metric: the switched-off function and the unreserved one are not read.
    assert metrics.calls == [[concurrency_metric("ledger-writer")]]
    [found] = cycle.batch.signals
    assert (found.labels.kind, found.labels.resource) == (RESERVED_KIND, "ledger-writer")
    assert found.samples == {"concurrent": 92.0, "reserved": 100.0}
    assert found.value == 92.0

    # The next cycle reads the stored reservations: no GetFunctionConcurrency.
    quiet = run(family, FakeMetrics())
    assert len(reservations.asked) == 1
    assert quiet.batch.signals == []
    assert RESERVED_KIND in quiet.batch.covered_kinds


def test_a_large_account_is_read_in_rotating_shares_keeping_what_earlier_discoveries_found() -> (
    None
):
    names = [f"fn-{i:04d}" for i in range(RESERVATION_BATCH + 1)]
    reservations = FakeReservations({"fn-0000": 10, "fn-0001": 20})
    state = FakeState()
    family = ReservedConcurrencyFamily(reservations, lambda: _functions(*names), state)
    hourly = RULES.collection.discovery_minutes
    discoveries = [NOW + timedelta(minutes=hourly * n - NOW.minute + 3) for n in (1, 2)]

    for at in discoveries:
        collect(
            families=[family],
            metrics=FakeMetrics(),
            rules=RULES,
            now=at,
            account="123456789012",
            region="us-east-1",
        )

    # Two shares of 251 and 250: each discovery reads one in turn, every function once over the two.
    assert sorted(len(asked) for asked in reservations.asked) == [250, 251]
    assert sorted(reservations.asked[0] + reservations.asked[1]) == names
    # The share read second keeps the reservation the first one found.
    assert state.records["reserved"] == [
        {"function": "fn-0000", "reserved": 10},
        {"function": "fn-0001", "reserved": 20},
    ]
