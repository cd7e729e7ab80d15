"""API Gateway REST and HTTP APIs: the 5xx rate, volume-aware like Lambda errors, and the 4xx
rate (429 throttles included) where enabled.

API Gateway publishes per-API metrics only (REST: ``5XXError``, ``4XXError`` and ``Count`` by
``ApiName``; HTTP: ``5xx``, ``4xx`` and ``Count`` by ``ApiId``), with no account aggregate. Each
cycle asks every discovered API's 5xx sum, one metric per API, and its 4xx sum with the 4xx
rules enabled (off by default: one more metric per API); only an API with 5xx or 4xx responses
in the window then has its ``Count`` read, in a second round (docs/architecture.md, ADR 25). A
sum is exact, so there is no sweep. Discovery (``GetRestApis``, ``GetApis``; both carry the
APIs' tags) runs every ``discovery_minutes``.
"""

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from vigil.dials.base import CycleContext, FamilyResult, FamilyRun, MetricKey, Stage
from vigil.dials.inventory import InventoryStore, TagScope, load_records
from vigil.dials.resources import NamedResource

REST_KIND = "apigateway.rest_5xx"
HTTP_KIND = "apigateway.http_5xx"
REST_4XX_KIND = "apigateway.rest_4xx"
HTTP_4XX_KIND = "apigateway.http_4xx"
_4XX = {REST_KIND: REST_4XX_KIND, HTTP_KIND: HTTP_4XX_KIND}
"""The 4xx kind of each type of API (an API's ``kind`` names its type by its 5xx kind)."""
_METRICS = {
    REST_KIND: {"errors": "5XXError", "client_errors": "4XXError", "requests": "Count"},
    HTTP_KIND: {"errors": "5xx", "client_errors": "4xx", "requests": "Count"},
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

    def metric(self, metric: str) -> MetricKey:
        """``errors`` (5xx), ``client_errors`` (4xx) or ``requests`` (``Count``) of the API."""
        name = _METRICS[self.kind][metric]
        if self.kind == REST_KIND:
            return MetricKey("AWS/ApiGateway", name, (("ApiName", self.name),))
        return MetricKey("AWS/ApiGateway", name, (("ApiId", self.id),))


class ApiGatewayFamily:
    name: str = "apigateway"
    kinds: tuple[str, ...] = (REST_KIND, HTTP_KIND, REST_4XX_KIND, HTTP_4XX_KIND)

    def __init__(
        self, rest: ApisPort, http: ApisPort, state: InventoryStore, scope: TagScope
    ) -> None:
        self._rest = rest
        self._http = http
        self._state = state
        self._scope = scope

    def run(self, ctx: CycleContext) -> FamilyRun:
        enabled = {kind for kind in self.kinds if kind in ctx.rules.enabled_kinds}
        if not enabled:
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
        apis = [api for api in found if reads[api.kind]]
        answers = yield [
            ctx.ask(api.metric(metric), Stage.FAST) for api in apis for _, metric in reads[api.kind]
        ]
        bad = {
            (api.id, kind): events
            for api in apis
            for kind, metric in reads[api.kind]
            if (events := answers.total(api.metric(metric), ctx.window)) > 0
        }
        failing = {api_id for api_id, _ in bad}
        answers = yield [
            ctx.ask(api.metric("requests"), Stage.DRILL) for api in apis if api.id in failing
        ]
        signals = []
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
