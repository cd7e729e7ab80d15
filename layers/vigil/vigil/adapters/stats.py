"""Counting what a run asks of AWS: calls per API and metrics requested (the billed units)."""

from dataclasses import dataclass, field


@dataclass
class CallStats:
    calls: int = 0
    metrics_requested: int = 0
    by_api: dict[str, int] = field(default_factory=dict)

    def count(self, api: str, metrics: int = 0) -> None:
        self.calls += 1
        self.metrics_requested += metrics
        self.by_api[api] = self.by_api.get(api, 0) + 1

    def total(self, apis: tuple[str, ...]) -> int:
        return sum(count for api, count in self.by_api.items() if api in apis)
