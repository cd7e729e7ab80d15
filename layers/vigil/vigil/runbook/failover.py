"""Failover plans: named, validated lists of actions the runbook runs after an approval.

Plans come from one JSON document (the ``FailoverPlans`` template parameter, the function's
``VIGIL_FAILOVER_PLANS``), validated at cold start; the runbook input names the plan
(``failover_plan``). docs/runbook.md, "Failover plans", describes the format::

    {"plans": {"api-to-west": {
        "description": "Serve the API from us-west-2",
        "failback": "Set the routing control back to Off and the weight back to 0",
        "actions": [
          {"type": "arc_routing_control", "routing_control_arn": "arn:aws:route53-recovery-...",
           "state": "On", "cluster_endpoints": [{"url": "https://host-....com/v1",
           "region": "us-west-2"}]},
          {"type": "route53_weight", "hosted_zone_id": "Z0123", "record_name":
           "api.example.com.", "record_type": "A", "set_identifier": "west", "weight": 100},
          {"type": "ssm_parameter", "name": "/vigil/failover/active-region",
           "value": "us-west-2"}]}}}

Each action kind has a runner (the plug-in interface, :class:`ActionRunner`) behind an
adapter. A runner reads the current state in both modes: in a dry run it says exactly what it
would change and changes nothing. Actions run in order; the first failure stops the plan
(later actions may depend on it) and is recorded, and the runbook escalates.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Literal, Protocol

from pydantic import AwareDatetime, Field, ValidationError

from vigil.core.errors import ConfigError, VigilError, describe_validation
from vigil.core.model import Contract


class FailoverActionError(VigilError):
    """An action could not be applied (or its current state could not be read)."""


class ClusterEndpoint(Contract):
    url: Annotated[str, Field(pattern=r"^https://")]
    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")]


class ArcRoutingControl(Contract):
    """Route 53 ARC: set a routing control's state through the cluster's data plane."""

    type: Literal["arc_routing_control"]
    routing_control_arn: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:route53-recovery-control:")]
    state: Literal["On", "Off"]
    cluster_endpoints: Annotated[list[ClusterEndpoint], Field(min_length=1, max_length=5)]

    def target(self) -> str:
        return f"routing control {self.routing_control_arn}"


class Route53Weight(Contract):
    """Route 53: change the weight of one weighted record (everything else kept)."""

    type: Literal["route53_weight"]
    hosted_zone_id: Annotated[str, Field(pattern=r"^[A-Z0-9]{1,32}$")]
    record_name: Annotated[str, Field(min_length=1, max_length=255)]
    record_type: Literal["A", "AAAA", "CNAME", "TXT", "MX", "SRV", "NS", "PTR", "SPF", "CAA"]
    set_identifier: Annotated[str, Field(min_length=1, max_length=128)]
    weight: Annotated[int, Field(ge=0, le=255)]

    def target(self) -> str:
        return (
            f"record {self.record_name} {self.record_type} ({self.set_identifier})"
            f" in hosted zone {self.hosted_zone_id}"
        )


class SsmParameter(Contract):
    """SSM Parameter Store: write the value applications read (e.g. the active region)."""

    type: Literal["ssm_parameter"]
    name: Annotated[str, Field(pattern=r"^/[A-Za-z0-9_.\-/]{1,1010}$")]
    value: Annotated[str, Field(min_length=1, max_length=4096)]

    def target(self) -> str:
        return f"parameter {self.name}"


FailoverAction = Annotated[
    ArcRoutingControl | Route53Weight | SsmParameter, Field(discriminator="type")
]


class FailoverPlan(Contract):
    description: Annotated[str, Field(min_length=1, max_length=500)]
    failback: Annotated[str, Field(max_length=2000)] = ""
    actions: Annotated[list[FailoverAction], Field(min_length=1, max_length=20)]


class FailoverPlans(Contract):
    plans: dict[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")], FailoverPlan] = Field(
        default_factory=dict
    )

    @classmethod
    def from_json(
        cls,
        text: str,
        *,
        hosted_zone_ids: frozenset[str] | None = None,
        parameter_prefix: str | None = None,
    ) -> "FailoverPlans":
        """Parse and validate; with the allowed targets given, refuse plans the function's
        role could not carry out (it is scoped to those zones and that prefix)."""
        try:
            plans = cls.model_validate_json(text or "{}")
        except ValidationError as exc:
            raise ConfigError(
                f"VIGIL_FAILOVER_PLANS: {describe_validation(exc)}; see docs/runbook.md"
            ) from exc
        problems: list[str] = []
        for name, plan in plans.plans.items():
            for index, action in enumerate(plan.actions):
                where = f"plans.{name}.actions.{index}"
                if (
                    isinstance(action, Route53Weight)
                    and hosted_zone_ids is not None
                    and action.hosted_zone_id not in hosted_zone_ids
                ):
                    problems.append(
                        f"{where}: hosted zone {action.hosted_zone_id} is not in"
                        " FailoverHostedZoneIds"
                    )
                if (
                    isinstance(action, SsmParameter)
                    and parameter_prefix is not None
                    and not action.name.startswith(parameter_prefix)
                ):
                    problems.append(
                        f"{where}: parameter {action.name} is outside FailoverParameterPrefix"
                        f" {parameter_prefix}"
                    )
        if problems:
            raise ConfigError(
                "VIGIL_FAILOVER_PLANS: " + "; ".join(problems) + " (the runbook's role may"
                " only change the targets the template allows; see docs/runbook.md)"
            )
        return plans

    def get(self, name: str) -> FailoverPlan | None:
        return self.plans.get(name)


class ActionRecord(Contract):
    """What one action did (or would do), for the timeline and the report."""

    at: AwareDatetime
    plan: str
    kind: str
    target: str
    dry_run: bool
    ok: bool
    detail: str


class ActionRunner(Protocol):
    """The plug-in interface: one runner per action ``type``."""

    def preview(self, action: FailoverAction) -> str:
        """Read the current state; say exactly what ``apply`` would change (no change)."""
        ...

    def apply(self, action: FailoverAction) -> str:
        """Make the change; say what changed. Raises :class:`FailoverActionError`."""
        ...


def run_plan(
    name: str,
    plan: FailoverPlan,
    *,
    dry_run: bool,
    runners: Mapping[str, ActionRunner],
    now: datetime,
) -> list[ActionRecord]:
    """Run (or preview) the plan's actions in order; stop at the first failure."""
    records: list[ActionRecord] = []
    for action in plan.actions:
        runner = runners.get(action.type)
        try:
            if runner is None:
                raise FailoverActionError(f"no runner for action type {action.type!r}")
            detail = (
                f"DRY RUN, nothing changed: would {runner.preview(action)}"
                if dry_run
                else runner.apply(action)
            )
            ok = True
        except FailoverActionError as exc:
            detail, ok = f"FAILED: {exc}", False
        records.append(
            ActionRecord(
                at=now,
                plan=name,
                kind=action.type,
                target=action.target(),
                dry_run=dry_run,
                ok=ok,
                detail=detail,
            )
        )
        if not ok:
            break
    return records


def failback_guidance(name: str, plan: FailoverPlan, records: list[ActionRecord]) -> list[str]:
    """How to undo what was done, action by action, in reverse order."""
    lines = [plan.failback] if plan.failback else []
    applied = [r for r in records if r.ok and not r.dry_run]
    if not applied:
        lines.append(f"Plan {name} changed nothing; there is nothing to fail back.")
        return lines
    lines.append("Fail back in reverse order once the region is healthy and has been for a while:")
    lines += [f"- undo on {r.target}: {r.detail}" for r in reversed(applied)]
    return lines
