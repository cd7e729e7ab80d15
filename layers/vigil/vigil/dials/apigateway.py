"""API Gateway REST and HTTP APIs: the 5xx rate, volume-aware like Lambda errors, and the 4xx
rate (429 throttles included) where enabled.

API Gateway publishes per-API metrics only (REST: ``5XXError``, ``4XXError``, ``Count`` and
``Latency`` by ``ApiName``; HTTP: ``5xx``, ``4xx``, ``Count`` and ``Latency`` by ``ApiId``), with
no account aggregate. Each cycle asks every discovered API's 5xx sum, one metric per API, its
4xx sum with the 4xx rules enabled and its ``Latency`` p99 with ``apigateway_latency`` enabled
(both off by default: one more metric per API each); only an API with 5xx or 4xx responses in
the window, or a p99 at or above ``warning_ms``, then has its ``Count`` read, in a second round
(docs/architecture.md, ADR 25). A sum is exact, so there is no sweep. Discovery
(``GetRestApis``, ``GetApis``; both carry the APIs' tags) runs every ``discovery_minutes``.
"""

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from vigil.dials.base import CycleContext, FamilyResult, FamilyRun, MetricAsk, MetricKey, Stage
from vigil.dials.inventory import InventoryStore, TagScope, load_records
from vigil.dials.resources import NamedResource

REST_KIND = "apigateway.rest_5xx"
HTTP_KIND = "apigateway.http_5xx"
REST_4XX_KIND = "apigateway.rest_4xx"
HTTP_4XX_KIND = "apigateway.http_4xx"
LATENCY_KIND = "apigateway.latency"
_4XX = {REST_KIND: REST_4XX_KIND, HTTP_KIND: HTTP_4XX_KIND}
"""The 4xx kind of each type of API (an API's ``kind`` names its type by its 5xx kind)."""
_METRICS = {
    REST_KIND: {
        "errors": "5XXError",
        "client_errors": "4XXError",
        "requests": "Count",
        "latency": "Latency",
    },
    HTTP_KIND: {"errors": "5xx", "client_errors": "4xx", "requests": "Count", "latency": "Latency"},
}


class ApisPort(Protocol):
    def list(self) -> list[NamedResource]: ...


class Api(BaseModel):
    """One API as its metrics name it: REST APIs by name, HTTP APIs by id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    id: str
    name: str

    @property
    def resource(self) -> str:
        return self.name if self.kind == REST_KIND else f"{self.name} ({self.id})"

    def metric(self, metric: str, stat: str = "Sum") -> MetricKey:
        """``errors`` (5xx), ``client_errors`` (4xx), ``requests`` (``Count``) or ``latency``
        (``Latency``, with ``stat`` ``p99``) of the API."""
        name = _METRICS[self.kind][metric]
        if self.kind == REST_KIND:
            return MetricKey("AWS/ApiGateway", name, (("ApiName", self.name),), stat)
        return MetricKey("AWS/ApiGateway", name, (("ApiId", self.id),), stat)


class ApiGatewayFamily:
    name: str = "apigateway"
    kinds: tuple[str, ...] = (REST_KIND, HTTP_KIND, REST_4XX_KIND, HTTP_4XX_KIND, LATENCY_KIND)

    def __init__(
        self, rest: ApisPort, http: ApisPort, state: InventoryStore, scope: TagScope
    ) -> None:
        self._rest = rest
        self._http = http
        self._state = state
        self._scope = scope

    def run(self, ctx: CycleContext) -> FamilyRun:
        enabled = {kind for kind in self.kinds if kind in ctx.rules.enabled_kinds}
        latency = ctx.rules.apigateway_latency
        if not enabled and not latency.enabled:
            return FamilyResult(signals=[])
        found, discovered = load_records(ctx, self._state, self.name, Api, self._discover)
        # (kind judged, sample read) for each type of API: its 5xx, its 4xx.
        reads = {
            api_type: [
                (kind, metric)
                for kind, metric in ((api_type, "errors"), (_4XX[api_type], "client_errors"))
                if kind in enabled
            ]
            for api_type in _METRICS
        }
        apis = [api for api in found if reads[api.kind] or latency.enabled]
        # The window's p99 at one period over the whole window, not the minutes'.
        p99_asks = [
            MetricAsk(
                api.metric("latency", "p99"),
                ctx.window.start,
                ctx.window.end,
                Stage.FAST,
                ctx.window.seconds,
            )
            for api in apis
            if latency.enabled
        ]
        answers = (
            yield [
                ctx.ask(api.metric(metric), Stage.FAST)
                for api in apis
                for _, metric in reads[api.kind]
            ]
            + p99_asks
        )
        bad = {
            (api.id, kind): events
            for api in apis
            for kind, metric in reads[api.kind]
            if (events := answers.total(api.metric(metric), ctx.window)) > 0
        }
        slow = {
            api.id: p99
            for api in apis
            if latency.enabled
            and (p99 := answers.peak(api.metric("latency", "p99"), ctx.window))
            >= latency.warning_ms
        }
        failing = {api_id for api_id, _ in bad} | set(slow)
        answers = yield [
            ctx.ask(api.metric("requests"), Stage.DRILL) for api in apis if api.id in failing
        ]
        signals = [
            ctx.signal(
                LATENCY_KIND,
                api.resource,
                value=slow[api.id],
                unit="ms",
                samples={
                    "p99_ms": slow[api.id],
                    "requests": answers.total(api.metric("requests"), ctx.window),
                },
                context={"api_id": api.id},
            )
            for api in apis
            if api.id in slow
        ]
        for api in apis:
            for kind, _ in reads[api.kind]:
                if (api.id, kind) not in bad:
                    continue
                errors = bad[(api.id, kind)]
                requests = answers.total(api.metric("requests"), ctx.window)
                signals.append(
                    ctx.signal(
                        kind,
                        api.resource,
                        value=round((errors / requests if requests else 1.0) * 100, 4),
                        unit="Percent",
                        samples={"errors": errors, "requests": requests},
                        context={"api_id": api.id},
                    )
                )
        return FamilyResult(
            signals=signals,
            resources=len(apis),
            discovered=discovered,
            extra={
                "apis_with_5xx": sum(1 for _, kind in bad if kind in _METRICS),
                "apis_with_4xx": sum(1 for _, kind in bad if kind not in _METRICS),
                "apis_slow": len(slow),
            },
        )

    def _discover(self) -> list[Api]:
        found = [
            Api(kind=REST_KIND, id=api.id, name=api.name)
            for api in self._rest.list()
            if self._scope.allows(api.id, api.tags)
        ]
        found += [
            Api(kind=HTTP_KIND, id=api.id, name=api.name)
            for api in self._http.list()
            if self._scope.allows(api.id, api.tags)
        ]
        return found
