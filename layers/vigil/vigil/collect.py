"""One metrics collection cycle: inventory, one batched metric fetch, one signal batch."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from vigil.adapters.cloudwatch import MetricQuery
from vigil.adapters.lambda_inventory import FunctionInfo
from vigil.clock import floor_minute
from vigil.model import Labels, Signal, SignalBatch
from vigil.rules import RulesConfig

_LAMBDA_METRICS = ("Invocations", "Errors", "Throttles")
LAMBDA_KINDS = ("lambda.errors", "lambda.throttles")


class MetricsPort(Protocol):
    def sums(
        self,
        queries: Sequence[MetricQuery],
        *,
        start: datetime,
        end: datetime,
        period: int = 60,
    ) -> dict[str, float]: ...


class InventoryPort(Protocol):
    def functions(self) -> list[FunctionInfo]: ...


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


def window_for(now: datetime, rules: RulesConfig) -> Window:
    """The last complete window: minute-aligned, ``lag_minutes`` behind ``now``.

    CloudWatch publishes Lambda metrics about a minute late; the lag keeps a cycle from
    reading a minute that is still filling. Consecutive cycles tile time without gaps
    when the schedule rate equals the window.
    """
    end = floor_minute(now) - timedelta(minutes=rules.collection.lag_minutes)
    return Window(start=end - timedelta(minutes=rules.collection.window_minutes), end=end)


def collect_lambda(
    *,
    inventory: InventoryPort,
    metrics: MetricsPort,
    rules: RulesConfig,
    now: datetime,
    account: str,
    region: str,
) -> SignalBatch:
    """Read invocations, errors and throttles of every function for the last window."""
    window = window_for(now, rules)
    functions = inventory.functions()
    queries = [
        MetricQuery(
            id=f"m{index}_{metric.lower()}",
            namespace="AWS/Lambda",
            metric=metric,
            dimensions=(("FunctionName", fn.name),),
        )
        for index, fn in enumerate(functions)
        for metric in _LAMBDA_METRICS
    ]
    sums = metrics.sums(queries, start=window.start, end=window.end) if queries else {}
    kinds = set(rules.enabled_kinds)
    # The batch speaks for every kind this collector reads, enabled or not, so that the
    # active alerts of a rule that was just disabled resolve instead of freezing.
    signals: list[Signal] = []
    for index, fn in enumerate(functions):
        invocations = sums.get(f"m{index}_invocations", 0.0)
        errors = sums.get(f"m{index}_errors", 0.0)
        throttles = sums.get(f"m{index}_throttles", 0.0)
        if errors > 0 and "lambda.errors" in kinds:
            signals.append(
                _signal(
                    kind="lambda.errors",
                    resource=fn.name,
                    account=account,
                    region=region,
                    window=window,
                    ratio=errors / invocations if invocations else 1.0,
                    samples={"errors": errors, "invocations": invocations},
                )
            )
        if throttles > 0 and "lambda.throttles" in kinds:
            requests = invocations + throttles
            signals.append(
                _signal(
                    kind="lambda.throttles",
                    resource=fn.name,
                    account=account,
                    region=region,
                    window=window,
                    ratio=throttles / requests,
                    samples={
                        "throttles": throttles,
                        "requests": requests,
                        "invocations": invocations,
                    },
                )
            )
    return SignalBatch(
        batch_id=f"metrics-{account}-{region}-{now:%Y%m%dT%H%M}Z",
        source="metrics",
        collected_at=now,
        covered_kinds=sorted(LAMBDA_KINDS),
        signals=signals,
    )


def _signal(
    *,
    kind: str,
    resource: str,
    account: str,
    region: str,
    window: Window,
    ratio: float,
    samples: dict[str, float],
) -> Signal:
    return Signal(
        source="metrics",
        labels=Labels(kind=kind, resource=resource, account=account, region=region),
        value=round(ratio * 100, 4),
        unit="Percent",
        window_seconds=window.seconds,
        observed_at=window.end,
        samples=samples,
    )
