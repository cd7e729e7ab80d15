"""Deploy ``template.yaml`` into moto's CloudFormation and describe the result.

:func:`deploy` packages and translates the template (:mod:`emulator.template`), creates the
stack with the emulator's CloudFormation handlers installed (:mod:`emulator.cfn_shims`), then
does what moto's CloudFormation leaves out for Lambda (``Layers`` are attached, and
``DeadLetterConfig`` — which moto does not model — is kept for the runtime). It returns a
:class:`Deployment` and one :class:`~emulator.lambda_runtime.FunctionSpec` per function whose
code is on disk.
"""

from __future__ import annotations

import json
import logging
import uuid
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.cloudformation.models import cloudformation_backends
from moto.cloudformation.parsing import clean_json

from emulator import cfn_shims
from emulator._aws import ACCOUNT_ID, REGION, client
from emulator.errors import DeployError
from emulator.lambda_runtime import FunctionSpec, layer_python_path
from emulator.template import (
    PackagedTemplate,
    TemplateError,
    load_template,
    package,
    resolve_parameters,
    translate,
)

log = logging.getLogger(__name__)

MOTO = "moto"
EMULATOR_CFN = "emulator handler -> moto"
SKIPPED = "skipped"
CONDITION_FALSE = "not created (condition false)"

# What each resource type amounts to in the emulator (for Deployment.describe()).
_NOTES: dict[str, str] = {
    "AWS::Lambda::Function": "configuration in moto; the handler code runs in-process "
    "(emulator runtime)",
    "AWS::Lambda::LayerVersion": "zip in moto; its folder is put on sys.path by the emulator",
    "AWS::Lambda::Permission": "stored in moto, not enforced",
    "AWS::Lambda::EventInvokeConfig": "stored in moto; retries/destinations applied by the "
    "emulator runtime",
    "AWS::Lambda::Url": "stored in moto; requests are invoked by Emulator.post_function_url",
    "AWS::StepFunctions::StateMachine": "created in moto's executing backend with "
    "DefinitionSubstitutions applied by the emulator; moto runs the ASL",
    "AWS::Scheduler::Schedule": "stored in moto's Scheduler; fired by the emulator Clock",
    "AWS::Scheduler::ScheduleGroup": "stored in moto's Scheduler",
    "AWS::SNS::Topic": "moto (KMS encryption recorded, not applied)",
    "AWS::SNS::Subscription": "stored in moto; email captured in the Mailbox, Lambda "
    "deliveries run by the emulator runtime",
    "AWS::SecretsManager::Secret": "stored in moto (GenerateSecretString honoured)",
    "AWS::SQS::Queue": "moto",
    "AWS::SQS::QueuePolicy": "set on the queues in moto, not enforced",
    "AWS::DynamoDB::Table": "moto",
    "AWS::KMS::Key": "moto (key policy not enforced)",
    "AWS::IAM::Role": "moto (policies not enforced)",
    "AWS::IAM::Policy": "moto (not enforced)",
    "AWS::Logs::LogGroup": "moto (retention not applied; handler logs are written here)",
    "AWS::CloudWatch::Alarm": "stored in moto; moto does not evaluate alarms",
    "AWS::CloudWatch::Dashboard": "moto (stored; GetDashboard answers its body)",
    "AWS::Events::Rule": "stored in moto; schedule rules are fired by the emulator Clock",
    "AWS::Oam::Sink": "kept by the emulator (moto has no OAM); links check its policy's "
    "resource types",
    "AWS::Oam::Link": "kept by the emulator (moto has no OAM); its sink must exist",
}

BEHAVIOUR_NOTES: tuple[str, ...] = (
    "Lambda: handler code runs in this Python process (one module instance per function), "
    "serialised, with the function's environment; moto alone would return a canned payload.",
    "Lambda async invocations: two immediate retries, then DeadLetterConfig/OnFailure "
    "(AWS waits about 1 and 2 minutes between attempts).",
    "Lambda timeouts are checked after the fact (wall time); memory limits are not enforced.",
    "Step Functions: moto executes the ASL in worker threads; Wait states, task-token "
    "time-outs and context-object times follow the simulated clock; Express executions keep "
    "a history here (AWS keeps none).",
    "Route 53 ARC: the route53-recovery-cluster data plane is a fake (emulator.arc).",
    "SNS: filter policies and MessageStructure=json are moto's; email is captured in the "
    "Mailbox; Lambda subscribers get the real attributes and subject; email subscriptions are "
    "treated as confirmed.",
    "EventBridge Scheduler: moto stores schedules but never fires them; the emulator Clock fires "
    "them on simulated time and waits for the workflows they start.",
    "CloudWatch: metrics of scenario workloads are written by the emulator; Vigil's own "
    "functions get Invocations/Errors from the emulator runtime; alarms are not evaluated.",
    "Slack: a local HTTP server stands in for the incoming webhook.",
    "IAM, KMS encryption, X-Ray tracing and log retention are not applied.",
    "Clock: only scheduled times, SNS timestamps and emitted metrics follow the simulated "
    "clock; code that calls datetime.now() sees the wall clock.",
)


@dataclass(frozen=True)
class ResourcePlacement:
    logical_id: str
    resource_type: str
    where: str
    """``moto``, ``emulator handler -> moto``, ``skipped`` or ``not created (condition
    false)``."""
    physical_id: str | None
    note: str


@dataclass
class Deployment:
    """What the stack is made of, by logical id."""

    stack_name: str
    stack_id: str
    region: str
    account_id: str
    parameters: dict[str, str]
    outputs: dict[str, str]
    physical_ids: dict[str, str]
    resource_types: dict[str, str]
    function_names: dict[str, str]
    state_machine_arns: dict[str, str]
    topic_arns: dict[str, str]
    queue_urls: dict[str, str]
    secret_arns: dict[str, str]
    table_names: dict[str, str]
    template: dict[str, Any] = field(repr=False)
    """The translated CloudFormation template that was deployed."""
    placements: list[ResourcePlacement] = field(default_factory=list, repr=False)
    dead_letter_arns: dict[str, str] = field(default_factory=dict)
    """Function logical id -> resolved ``DeadLetterConfig.TargetArn``."""

    @property
    def topic_arn(self) -> str:
        """The alerts topic: the ``AlertsTopicArn`` output, else the stack's only topic."""
        return self._one("AlertsTopicArn", self.topic_arns, "topic")

    @property
    def table_name(self) -> str:
        """The state table: the ``StateTableName`` output, else the stack's only table."""
        return self._one("StateTableName", self.table_names, "table")

    def function_name(self, logical_id: str) -> str:
        try:
            return self.function_names[logical_id]
        except KeyError:
            raise KeyError(
                f"no function {logical_id!r}; the stack has {', '.join(self.function_names)}"
            ) from None

    def state_machine_arn(self, logical_id: str) -> str:
        try:
            return self.state_machine_arns[logical_id]
        except KeyError:
            raise KeyError(
                f"no state machine {logical_id!r}; the stack has"
                f" {', '.join(self.state_machine_arns)}"
            ) from None

    def _one(self, output: str, found: Mapping[str, str], what: str) -> str:
        if output in self.outputs:
            return self.outputs[output]
        if len(found) == 1:
            return next(iter(found.values()))
        raise KeyError(f"no {output} output and {len(found)} {what}s in the stack")

    def describe(self) -> str:
        """A 'what runs where' table of every resource, then the behaviours the emulator
        fills in."""
        width = max((len(p.logical_id) for p in self.placements), default=10)
        where = max((len(p.where) for p in self.placements), default=10)
        lines = [f"Stack {self.stack_name} ({self.region}, account {self.account_id})", ""]
        lines.append(f"{'resource':<{width}}  {'created by':<{where}}  type: note")
        for p in self.placements:
            lines.append(
                f"{p.logical_id:<{width}}  {p.where:<{where}}  {p.resource_type}: {p.note}"
            )
        lines += ["", "Behaviour filled in or left out by the emulator:"]
        lines += [f"  - {note}" for note in BEHAVIOUR_NOTES]
        return "\n".join(lines)


def _placement_of(resource_type: str) -> str:
    if resource_type in cfn_shims.SHIMS:
        return EMULATOR_CFN
    if cfn_shims.moto_supports(resource_type):
        return MOTO
    return SKIPPED


def _layer_paths(
    function_props: Mapping[str, Any],
    resources: Mapping[str, Any],
    packaged: PackagedTemplate,
    logical_id: str,
) -> tuple[Path, ...]:
    paths: list[Path] = []
    for layer in function_props.get("Layers") or []:
        ref = layer.get("Ref") if isinstance(layer, dict) else None
        resource = resources.get(ref) if isinstance(ref, str) else None
        key = ((resource or {}).get("Properties") or {}).get("Content", {}).get("S3Key", "")
        sam_id = str(key).removeprefix("layers/").removesuffix(".zip")
        source = packaged.layers.get(sam_id)
        if source is None:
            log.warning(
                "%s: layer %s is not a local layer of this template; its code is not on sys.path",
                logical_id,
                layer,
            )
            continue
        paths.append(layer_python_path(source.content_dir))
    return tuple(paths)


def deploy(
    *,
    project_root: Path,
    parameters: Mapping[str, object] | None = None,
    stack_name: str = "vigil",
    template_path: Path | None = None,
    code_dirs: Mapping[str, Path] | None = None,
    region: str = REGION,
) -> tuple[Deployment, list[FunctionSpec]]:
    """Deploy the template into the active moto mock (see :data:`emulator.MOTO_CONFIG`)."""
    path = template_path or project_root / "template.yaml"
    try:
        template = load_template(path)
        values = resolve_parameters(template, parameters or {})
        packaged = package(
            template,
            base_dir=path.parent,
            bucket=f"emulator-artifacts-{uuid.uuid4().hex[:12]}",
            code_dirs=code_dirs,
            region=region,
        )
        cfn = translate(packaged.sam, values, region=region)
    except TemplateError as exc:
        raise DeployError(str(exc)) from exc

    resources: dict[str, Any] = cfn["Resources"]
    declared = set((cfn.get("Parameters") or {}).keys())
    cfn_client = client("cloudformation", region)
    with cfn_shims.installed(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Tried to parse .* not supported by moto")
        moto_logger = logging.getLogger("moto.cloudformation.parsing")
        previous_level = moto_logger.level
        moto_logger.setLevel(logging.ERROR)
        try:
            stack_id = cfn_client.create_stack(
                StackName=stack_name,
                TemplateBody=json.dumps(cfn),
                Parameters=[
                    {"ParameterKey": k, "ParameterValue": v}
                    for k, v in values.items()
                    if k in declared
                ],
                Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            )["StackId"]
        except DeployError:
            raise
        except Exception as exc:
            raise DeployError(f"moto could not create stack {stack_name}: {exc}") from exc
        finally:
            moto_logger.setLevel(previous_level)
        placement_by_type = {r["Type"]: _placement_of(r["Type"]) for r in resources.values()}

    stack = cloudformation_backends[ACCOUNT_ID][region].get_stack(stack_id)
    if stack.status != "CREATE_COMPLETE":
        raise DeployError(
            f"stack {stack_name} ended in {stack.status}: {getattr(stack, 'status_reason', '')}"
        )
    resource_map = stack.resource_map
    parsed: dict[str, Any] = resource_map._parsed_resources

    physical_ids: dict[str, str] = {}
    placements: list[ResourcePlacement] = []
    for logical_id, resource in resources.items():
        kind = resource["Type"]
        created = parsed.get(logical_id)
        physical = getattr(created, "physical_resource_id", None) if created is not None else None
        if physical is not None:
            physical_ids[logical_id] = str(physical)
        where = placement_by_type[kind]
        condition = resource.get("Condition")
        if created is None and condition and not resource_map.lazy_condition_map[condition]:
            where = CONDITION_FALSE
        note = _NOTES.get(
            kind, "no moto CloudFormation support: not created" if where == SKIPPED else "moto"
        )
        placements.append(
            ResourcePlacement(logical_id, kind, where, physical_ids.get(logical_id), note)
        )
    skipped = [p.logical_id for p in placements if p.where == SKIPPED]
    if skipped:
        log.warning("moto has no CloudFormation support for %s: not created", ", ".join(skipped))

    def of_type(kind: str) -> dict[str, str]:
        return {
            lid: physical_ids[lid]
            for lid, r in resources.items()
            if r["Type"] == kind and lid in physical_ids
        }

    lambda_client = client("lambda", region)
    specs: list[FunctionSpec] = []
    dead_letters: dict[str, str] = {}
    for logical_id, name in of_type("AWS::Lambda::Function").items():
        props = resources[logical_id].get("Properties") or {}
        # A Ref to a LayerVersion resolves to moto's model object, not to its ARN.
        layers = [
            str(getattr(layer, "arn", layer))
            for layer in clean_json(props.get("Layers") or [], resource_map)
            if layer
        ]
        if layers:
            lambda_client.update_function_configuration(FunctionName=name, Layers=layers)
        function_model = parsed[logical_id]
        if props.get("Architectures"):
            function_model.architectures = list(props["Architectures"])
        if props.get("TracingConfig"):
            function_model.tracing_config = dict(props["TracingConfig"])
        dead_letter = clean_json(props.get("DeadLetterConfig") or {}, resource_map)
        if dead_letter.get("TargetArn"):
            dead_letters[logical_id] = str(dead_letter["TargetArn"])
        source = packaged.functions.get(logical_id)
        if source is None:
            continue
        specs.append(
            FunctionSpec(
                logical_id=logical_id,
                function_name=name,
                code_dir=source.code_dir,
                handler=str(props.get("Handler") or source.handler),
                layer_paths=_layer_paths(props, resources, packaged, logical_id),
                runtime=source.runtime,
                dead_letter_arn=dead_letters.get(logical_id),
            )
        )

    described = cfn_client.describe_stacks(StackName=stack_id)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    deployment = Deployment(
        stack_name=stack_name,
        stack_id=stack_id,
        region=region,
        account_id=ACCOUNT_ID,
        parameters=values,
        outputs=outputs,
        physical_ids=physical_ids,
        resource_types={lid: r["Type"] for lid, r in resources.items()},
        function_names=of_type("AWS::Lambda::Function"),
        state_machine_arns=of_type("AWS::StepFunctions::StateMachine"),
        topic_arns=of_type("AWS::SNS::Topic"),
        queue_urls=of_type("AWS::SQS::Queue"),
        secret_arns=of_type("AWS::SecretsManager::Secret"),
        table_names=of_type("AWS::DynamoDB::Table"),
        template=cfn,
        placements=placements,
        dead_letter_arns=dead_letters,
    )
    return deployment, specs
