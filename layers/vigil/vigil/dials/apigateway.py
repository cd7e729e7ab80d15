"""API Gateway REST and HTTP APIs: the 5xx rate, volume-aware like Lambda errors.

API Gateway publishes per-API metrics only (REST: ``5XXError`` and ``Count`` by ``ApiName``;
HTTP: ``5xx`` and ``Count`` by ``ApiId``), with no account aggregate. Each cycle asks every
discovered API's 5xx sum, one metric per API; only an API with 5xx errors in the window then
has its ``Count`` read, in a second round (docs/architecture.md, ADR 25). A sum is exact, so
there is no sweep. Discovery (``GetRestApis``, ``GetApis``; both carry the APIs' tags) runs
every ``discovery_minutes``.
"""

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from vigil.dials.base import CycleContext, FamilyResult, FamilyRun, MetricKey, Stage
from vigil.dials.inventory import InventoryStore, TagScope, load_records
from vigil.dials.resources import NamedResource

REST_KIND = "apigateway.rest_5xx"
HTTP_KIND = "apigateway.http_5xx"


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
        if self.kind == REST_KIND:
            name = "5XXError" if metric == "errors" else "Count"
            return MetricKey("AWS/ApiGateway", name, (("ApiName", self.name),))
        name = "5xx" if metric == "errors" else "Count"
        return MetricKey("AWS/ApiGateway", name, (("ApiId", self.id),))


class ApiGatewayFamily:
    name: str = "apigateway"
    kinds: tuple[str, ...] = (REST_KIND, HTTP_KIND)

    def __init__(
        self, rest: ApisPort, http: ApisPort, state: InventoryStore, scope: TagScope
    ) -> None:
        self._rest = rest
        self._http = http
        self._state = state
        self._scope = scope

    def run(self, ctx: CycleContext) -> FamilyRun:
        enabled = [kind for kind in self.kinds if kind in ctx.rules.enabled_kinds]
        if not enabled:
            return FamilyResult(signals=[])
        found, discovered = load_records(ctx, self._state, self.name, Api, self._discover)
        apis = [api for api in found if api.kind in enabled]
        answers = yield [ctx.ask(api.metric("errors"), Stage.FAST) for api in apis]
        failing = {
            api.id: errors
            for api in apis
            if (errors := answers.total(api.metric("errors"), ctx.window)) > 0
        }
        answers = yield [
            ctx.ask(api.metric("requests"), Stage.DRILL) for api in apis if api.id in failing
        ]
        signals = []
        for api in apis:
            if api.id not in failing:
                continue
            errors, requests = failing[api.id], answers.total(api.metric("requests"), ctx.window)
            signals.append(
                ctx.signal(
                    api.kind,
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
            extra={"apis_with_5xx": len(failing)},
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
