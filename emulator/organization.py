"""An AWS Organization the emulator plays (issue 17): member accounts, the member template in
each connected one, and their workloads' metrics on simulated time.

When a scenario has an ``organization`` section, :meth:`OrganizationPlay.create` (called by
the emulator once the stack is deployed):

- creates the Organization in moto's Organizations, an OU ``workloads`` and one account per
  member (moto gives the ids);
- deploys ``sink/template.yaml`` as the monitoring account in every listed region but the
  stack's own (whose sink is the stack's ``OamSink``): OAM sinks are regional (ADR 53);
- deploys ``member/template.yaml`` into every ``connected`` member in every listed region, as a
  service-managed StackSet does (through ``AWSCloudFormationStackSetExecutionRole`` of the
  member; moto keeps accounts apart by the credentials' account): the member role (created in
  the stack's region only, ``RoleRegion``) and one OAM link per region;
- creates each member's workloads in its own Lambda, in the region each names, and
  :meth:`write_until` writes their ``AWS/Lambda`` metrics into the member's own CloudWatch, as
  :class:`emulator.metrics.MetricsWriter` writes the scenario's (Vigil reads them through the
  sink: ``emulator.metric_index`` answers a query's ``AccountId`` from the linked account).

Scenario section::

    parameters:
      OrganizationId: o-a1b2c3d4e5      # the stack's sink admits this Organization
    organization:
      regions: [us-east-1, eu-west-1]   # where the member template is deployed
      members:
        - name: payments-prod
          connected: true               # false: no member template (no role, no links)
          regions: [us-east-1]          # where the template is deployed (default: every one)
          workloads:                    # as the scenario's, each with its region
            - {region: eu-west-1, function: pay-api, phases: [...]}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from emulator import cfn_shims
from emulator._aws import client
from emulator.errors import ScenarioError
from emulator.metrics import MetricsWriter
from emulator.scenario import Scenario, Workload, parse_workloads

_ROOT = Path(__file__).resolve().parent.parent
_MEMBER_KEYS = {"name", "connected", "regions", "workloads"}
STACKSET_ROLE = "AWSCloudFormationStackSetExecutionRole"
MEMBER_STACK = "StackSet-vigil-member"
SINK_STACK = "vigil-sink"


@dataclass(frozen=True)
class MemberSpec:
    name: str
    connected: bool
    workloads: tuple[tuple[str, Workload], ...]
    """Each workload with the region it runs in."""
    regions: tuple[str, ...] = ()
    """Where the member template is deployed (empty: every region of the Organization)."""


@dataclass(frozen=True)
class OrganizationSpec:
    id: str
    regions: tuple[str, ...]
    members: tuple[MemberSpec, ...]


def parse_organization(
    document: Mapping[str, Any], *, length: timedelta, home: str, organization_id: str
) -> OrganizationSpec:
    """The scenario's ``organization`` section; ``ScenarioError`` naming the wrong field."""
    unknown = sorted(set(document) - {"regions", "members"})
    if unknown:
        raise ScenarioError(f"organization: unknown field {', '.join(unknown)}")
    if not organization_id:
        raise ScenarioError("organization: needs parameters.OrganizationId (the stack's sink)")
    regions = document.get("regions") or [home]
    if not isinstance(regions, list) or not all(isinstance(r, str) for r in regions):
        raise ScenarioError("organization.regions: expected a list of region names")
    if home not in regions:
        raise ScenarioError(f"organization.regions: must include the stack's region {home}")
    members: list[MemberSpec] = []
    for index, item in enumerate(document.get("members") or []):
        where = f"organization.members[{index}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise ScenarioError(f"{where}: expected a mapping with a name")
        extra = sorted(set(item) - _MEMBER_KEYS)
        if extra:
            raise ScenarioError(f"{where}: unknown field {', '.join(extra)}")
        workloads: list[tuple[str, Workload]] = []
        for number, raw in enumerate(item.get("workloads") or []):
            if not isinstance(raw, Mapping):
                raise ScenarioError(f"{where}.workloads[{number}]: expected a mapping")
            region = str(raw.get("region", home))
            if region not in regions:
                raise ScenarioError(
                    f"{where}.workloads[{number}].region: {region} is not in organization.regions"
                )
            body = {key: value for key, value in raw.items() if key != "region"}
            for workload in parse_workloads([body], f"{where}.workloads[{number}]", length):
                workloads.append((region, workload))
        deployed = item.get("regions") or []
        if not isinstance(deployed, list) or any(r not in regions for r in deployed):
            raise ScenarioError(f"{where}.regions: expected regions of organization.regions")
        members.append(
            MemberSpec(
                name=str(item["name"]),
                connected=bool(item.get("connected", True)),
                workloads=tuple(workloads),
                regions=tuple(str(r) for r in deployed),
            )
        )
    return OrganizationSpec(id=organization_id, regions=tuple(regions), members=tuple(members))


def _session(credentials: Mapping[str, Any], region: str) -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


def stackset_session(account: str, region: str) -> boto3.Session:
    """A session in ``account`` through its StackSet execution role, as a service-managed
    StackSet acts there (moto keeps accounts apart by the credentials' account)."""
    credentials = client("sts", region).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{STACKSET_ROLE}", RoleSessionName="emulator"
    )["Credentials"]
    return _session(credentials, region)


def deploy_member_template(
    session: boto3.Session,
    *,
    monitoring_account: str,
    organization_id: str,
    sink_arn: str,
    stack_name: str,
    role_region: str,
) -> None:
    """``member/template.yaml`` in the session's account and region: the member role (in
    ``role_region`` only) and the OAM link to ``sink_arn``."""
    parameters = {
        "MonitoringAccountId": monitoring_account,
        "OrganizationId": organization_id,
        "SinkArn": sink_arn,
        "MonitoringStackName": stack_name,
        "RoleRegion": role_region,
    }
    cfn = session.client("cloudformation")
    with cfn_shims.installed():
        cfn.create_stack(
            StackName=MEMBER_STACK,
            TemplateBody=(_ROOT / "member" / "template.yaml").read_text(),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )


class OrganizationPlay:
    """The Organization of one scenario; see the module docstring."""

    def __init__(
        self,
        spec: OrganizationSpec,
        *,
        scenario: Scenario,
        account: str,
        region: str,
        stack_name: str,
        home_sink: str,
        start: datetime,
    ) -> None:
        self.spec = spec
        self._scenario = scenario
        self._account = account
        self._region = region
        self._stack_name = stack_name
        self._start = start
        self.sinks: dict[str, str] = {region: home_sink}
        self.ids: dict[str, str] = {}
        """Each member's account id, by name."""
        self._writers: list[MetricsWriter] = []

    def session(self, name: str, region: str | None = None) -> boto3.Session:
        """A session in the member's account (its StackSet execution role)."""
        return stackset_session(self.ids[name], region or self._region)

    def create(self) -> None:
        organizations = client("organizations", self._region)
        organizations.create_organization(FeatureSet="ALL")
        root = organizations.list_roots()["Roots"][0]["Id"]
        ou = organizations.create_organizational_unit(ParentId=root, Name="workloads")
        ou_id = ou["OrganizationalUnit"]["Id"]
        for member in self.spec.members:
            created = organizations.create_account(
                AccountName=member.name, Email=f"{member.name}@example.com"
            )
            account = created["CreateAccountStatus"]["AccountId"]
            organizations.move_account(
                AccountId=account, SourceParentId=root, DestinationParentId=ou_id
            )
            self.ids[member.name] = account
        for region in self.spec.regions:
            if region not in self.sinks:
                self.sinks[region] = self._deploy_sink(region)
        for member in self.spec.members:
            if member.connected:
                for region in member.regions or self.spec.regions:
                    self.deploy_member_template(member.name, region)
            self._create_workloads(member)

    def _deploy_sink(self, region: str) -> str:
        cfn = client("cloudformation", region)
        with cfn_shims.installed():
            cfn.create_stack(
                StackName=SINK_STACK,
                TemplateBody=(_ROOT / "sink" / "template.yaml").read_text(),
                Parameters=[{"ParameterKey": "OrganizationId", "ParameterValue": self.spec.id}],
            )
        outputs = cfn.describe_stacks(StackName=SINK_STACK)["Stacks"][0]["Outputs"]
        return next(str(o["OutputValue"]) for o in outputs if o["OutputKey"] == "OamSinkArn")

    def deploy_member_template(self, name: str, region: str) -> None:
        """The member template in one member and region, as the StackSet would deploy it."""
        deploy_member_template(
            self.session(name, region),
            monitoring_account=self._account,
            organization_id=self.spec.id,
            sink_arn=self.sinks[region],
            stack_name=self._stack_name,
            role_region=self._region,
        )

    def _create_workloads(self, member: MemberSpec) -> None:
        for region in self.spec.regions:
            workloads = tuple(w for r, w in member.workloads if r == region)
            if not workloads:
                continue
            writer = MetricsWriter(
                start=self._start,
                scenario=dataclasses.replace(
                    self._scenario,
                    workloads=workloads,
                    organization=None,
                    lambda_account=type(self._scenario.lambda_account)(),
                ),
                region=region,
                account=self.ids[member.name],
                session=self.session(member.name, region),
            )
            writer.create_workloads()
            self._writers.append(writer)

    def write_until(self, until: datetime) -> int:
        """Every member workload's metrics up to ``until``; the datapoints written."""
        return sum(writer.write_until(until) for writer in self._writers)
