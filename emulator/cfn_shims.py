"""CloudFormation handlers for resource types moto's CloudFormation skips or gets wrong.

moto 5.2 creates most of Vigil's resources from a template, but (checked on the translated
``template.yaml``) it has **no CloudFormation support** for ``AWS::SNS::Subscription``,
``AWS::SecretsManager::Secret``, ``AWS::SQS::QueuePolicy``, ``AWS::Scheduler::Schedule`` (and
``ScheduleGroup``), ``AWS::CloudWatch::Alarm``, ``AWS::Lambda::EventInvokeConfig``,
``AWS::S3::BucketPolicy``, ``AWS::Logs::AccountPolicy`` (nor the CloudWatch Logs account
policy API: :mod:`emulator.logs` answers it) and the OAM sink and link (member/template.yaml): it
logs a warning, creates nothing, and every ``Ref`` to them resolves to nothing (so, e.g., the
chat function's ``VIGIL_SLACK_SECRET_ARN`` silently disappears). It also creates
``AWS::StepFunctions::StateMachine`` in the *plain* Step Functions backend, while with
``execute_state_machine`` the API serves the *parser* backend, so the stack's state machines
would be invisible to ``StartExecution``; and it ignores ``DefinitionSubstitutions``. Its
``AWS::S3::Bucket`` applies only ``BucketEncryption`` (versioning, the public access block,
ownership controls and lifecycle rules are applied by :class:`BucketShim`).

Each class here is a small stand-in model that moto's CloudFormation calls like its own
(``create_from_cloudformation_json`` with properties already resolved, ``physical_resource_id``
for ``Ref``, ``get_cfn_attribute`` for ``GetAtt``) and that creates the resource *in moto*
through the service API. :func:`installed` adds them to moto's model map for the duration of
the emulator only (``unittest.mock.patch.dict``): nothing leaks into other moto users.

The state machine handler substitutes ``${Name}`` placeholders with the resolved
``DefinitionSubstitutions`` values before creating the state machine (no ``string.Template``:
``$$.Execution.Name`` and other ASL ``$`` paths are left alone) and fails the deployment if a
placeholder has no value.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar
from unittest import mock

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.cloudformation.models import cloudformation_backends
from moto.cloudformation.parsing import get_model_map
from moto.s3.models import FakeBucket
from moto.stepfunctions.models import StateMachine
from moto.stepfunctions.responses import get_backend as get_sfn_backend
from moto.stepfunctions.utils import cfn_to_api_tags

from emulator._aws import client
from emulator.errors import DeployError

_PLACEHOLDER = re.compile(r"\$\{([^}\s]+)\}")


def substitute_definition(
    definition: str, substitutions: Mapping[str, Any], *, where: str = "state machine"
) -> str:
    """Replace each ``${Key}`` in ``definition`` by ``substitutions[Key]``.

    Raises :class:`DeployError` naming the keys left without a value (a missing entry, or a
    ``Ref`` to a resource that was not created).
    """
    missing: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        value = substitutions.get(key)
        if value is None:
            missing.add(key)
            return match.group(0)
        return str(value)

    result = _PLACEHOLDER.sub(replace, definition)
    if missing:
        raise DeployError(
            f"{where}: definition placeholders without a DefinitionSubstitutions value:"
            f" {', '.join('${' + k + '}' for k in sorted(missing))}"
        )
    return result


class _Shim:
    """A resource created by the emulator in moto on behalf of moto's CloudFormation."""

    cfn_type: ClassVar[str]
    cfn_attributes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, physical_id: str, attributes: Mapping[str, Any] | None = None) -> None:
        self._physical_id = physical_id
        self._attributes = dict(attributes or {})
        self._private: dict[str, Any] = {}
        self.cf_resource_type = self.cfn_type
        self.logical_resource_id = ""

    @property
    def physical_resource_id(self) -> str:
        return self._physical_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.cfn_attributes

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name in self._attributes:
            return self._attributes[attribute_name]
        raise UnformattedGetAttTemplateException()

    def is_created(self) -> bool:
        return True

    def delete(self, account_id: str, region_name: str) -> None:
        self._delete(region_name)

    def _delete(self, region_name: str) -> None:
        return None

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> _Shim:
        return cls.create(
            resource_name, dict(cloudformation_json.get("Properties") or {}), region_name
        )

    @classmethod
    def create(cls, resource_name: str, props: dict[str, Any], region: str) -> _Shim:
        raise NotImplementedError

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: _Shim,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> _Shim:
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        return None


class SecretShim(_Shim):
    """``AWS::SecretsManager::Secret`` (``SecretString`` or ``GenerateSecretString``)."""

    cfn_type = "AWS::SecretsManager::Secret"
    cfn_attributes = ("Id",)

    @classmethod
    def create(cls, resource_name: str, props: dict[str, Any], region: str) -> _Shim:
        sm = client("secretsmanager", region)
        secret = props.get("SecretString")
        generate = props.get("GenerateSecretString")
        if secret is None and isinstance(generate, dict):
            options = {
                k: generate[k]
                for k in (
                    "PasswordLength",
                    "ExcludeCharacters",
                    "ExcludeNumbers",
                    "ExcludePunctuation",
                    "ExcludeUppercase",
                    "ExcludeLowercase",
                    "IncludeSpace",
                    "RequireEachIncludedType",
                )
                if k in generate
            }
            password = sm.get_random_password(**options)["RandomPassword"]
            template = generate.get("SecretStringTemplate")
            if template is not None:
                document = json.loads(template)
                document[generate["GenerateStringKey"]] = password
                secret = json.dumps(document)
            else:
                secret = password
        request: dict[str, Any] = {"Name": props.get("Name") or resource_name}
        if secret is not None:
            request["SecretString"] = secret
        if props.get("Description"):
            request["Description"] = props["Description"]
        if props.get("KmsKeyId"):
            request["KmsKeyId"] = props["KmsKeyId"]
        if props.get("Tags"):
            request["Tags"] = props["Tags"]
        arn = sm.create_secret(**request)["ARN"]
        return cls(arn, {"Id": arn})

    def _delete(self, region_name: str) -> None:
        with contextlib.suppress(Exception):
            client("secretsmanager", region_name).delete_secret(
                SecretId=self._physical_id, ForceDeleteWithoutRecovery=True
            )


class SubscriptionShim(_Shim):
    """``AWS::SNS::Subscription`` with its filter policy, redrive policy and raw delivery."""

    cfn_type = "AWS::SNS::Subscription"

    @classmethod
    def create(cls, resource_name: str, props: dict[str, Any], region: str) -> _Shim:
        sns = client("sns", props.get("Region") or region)
        arn = sns.subscribe(
            TopicArn=props["TopicArn"],
            Protocol=props["Protocol"],
            Endpoint=props["Endpoint"],
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        for name in ("FilterPolicy", "RedrivePolicy", "DeliveryPolicy", "ReplayPolicy"):
            if props.get(name) is not None:
                value = props[name]
                sns.set_subscription_attributes(
                    SubscriptionArn=arn,
                    AttributeName=name,
                    AttributeValue=value if isinstance(value, str) else json.dumps(value),
                )
        for name in ("FilterPolicyScope", "RawMessageDelivery", "SubscriptionRoleArn"):
            if props.get(name) is not None:
                value = props[name]
                text = str(value).lower() if isinstance(value, bool) else str(value)
                sns.set_subscription_attributes(
                    SubscriptionArn=arn, AttributeName=name, AttributeValue=text
                )
        return cls(arn)

    def _delete(self, region_name: str) -> None:
        with contextlib.suppress(Exception):
            client("sns", region_name).unsubscribe(SubscriptionArn=self._physical_id)


class QueuePolicyShim(_Shim):
    """``AWS::SQS::QueuePolicy``: the ``Policy`` attribute of each queue."""

    cfn_type = "AWS::SQS::QueuePolicy"

    @classmethod
    def create(cls, resource_name: str, props: dict[str, Any], region: str) -> _Shim:
        sqs = client("sqs", region)
        policy = props["PolicyDocument"]
        text = policy if isinstance(policy, str) else json.dumps(policy)
        queues = [str(q) for q in props.get("Queues") or []]
        for url in queues:
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": text})
        shim = cls(resource_name)
        shim._private["queues"] = queues
        return shim

    def _delete(self, region_name: str) -> None:
        sqs = client("sqs", region_name)
        for url in self._private.get("queues", []):
            with contextlib.suppress(Exception):
                sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})


class BucketShim(FakeBucket):
    """``AWS::S3::Bucket``: moto's own model (it applies ``BucketEncryption`` only), then the
    properties its CloudFormation ignores, through the S3 API: ``VersioningConfiguration``,
    ``PublicAccessBlockConfiguration``, ``OwnershipControls`` and the ``LifecycleConfiguration``
    rule fields Vigil uses (``Id``, ``Status``, ``Prefix``, ``ExpirationInDays``,
    ``NoncurrentVersionExpiration``)."""

    cfn_type = "AWS::S3::Bucket"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> FakeBucket:
        bucket: FakeBucket = FakeBucket.create_from_cloudformation_json(
            resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        props = dict(cloudformation_json.get("Properties") or {})
        s3 = client("s3", region_name)
        name = bucket.name
        if "VersioningConfiguration" in props:
            s3.put_bucket_versioning(
                Bucket=name,
                VersioningConfiguration={"Status": props["VersioningConfiguration"]["Status"]},
            )
        if "PublicAccessBlockConfiguration" in props:
            s3.put_public_access_block(
                Bucket=name,
                PublicAccessBlockConfiguration={
                    k: v in (True, "true")
                    for k, v in props["PublicAccessBlockConfiguration"].items()
                },
            )
        if "OwnershipControls" in props:
            s3.put_bucket_ownership_controls(
                Bucket=name, OwnershipControls=props["OwnershipControls"]
            )
        rules = (props.get("LifecycleConfiguration") or {}).get("Rules") or []
        if rules:
            s3.put_bucket_lifecycle_configuration(
                Bucket=name, LifecycleConfiguration={"Rules": [_lifecycle_rule(r) for r in rules]}
            )
        return bucket


def _lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {
        "ID": rule.get("Id", "rule"),
        "Status": rule["Status"],
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "ExpirationInDays" in rule:
        converted["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "NoncurrentVersionExpiration" in rule:
        days = rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
        converted["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(days)}
    return converted


def _tls_only(statement: Mapping[str, Any]) -> bool:
    condition = statement.get("Condition") or {}
    secure = (condition.get("Bool") or {}).get("aws:SecureTransport")
    return statement.get("Effect") == "Deny" and str(secure).lower() == "false"


class BucketPolicyShim(_Shim):
    """``AWS::S3::BucketPolicy`` (moto's CloudFormation has none): PutBucketPolicy.

    moto evaluates bucket policies, and sees every in-process request as not using TLS: a
    "deny unless aws:SecureTransport" statement would refuse the stack's own functions. Such
    statements are left out here (every emulator request stays in the process anyway)."""

    cfn_type = "AWS::S3::BucketPolicy"

    @classmethod
    def create(cls, resource_name: str, props: dict[str, Any], region: str) -> _Shim:
        policy = props["PolicyDocument"]
        document = json.loads(policy) if isinstance(policy, str) else dict(policy)
        statements = document.get("Statement") or []
        kept = [s for s in statements if not _tls_only(s)]
        if kept:
            text = json.dumps({**document, "Statement": kept})
            client("s3", region).put_bucket_policy(Bucket=str(props["Bucket"]), Policy=text)
        shim = cls(resource_name)
        shim._private["bucket"] = str(props["Bucket"])
        return shim

    def _delete(self, region_name: str) -> None:
        with contextlib.suppress(Exception):
            client("s3", region_name).delete_bucket_policy(Bucket=self._private["bucket"])


class ScheduleGroupShim(_Shim):
    """``AWS::Scheduler::ScheduleGroup``."""

    cfn_type = "AWS::Scheduler::ScheduleGroup"
    cfn_attributes = ("Arn",)

    @classmethod
    def create(cls, resource_name: str, props: dict[str, Any], region: str) -> _Shim:
        name = props.get("Name") or resource_name
        arn = client("scheduler", region).create_schedule_group(Name=name)["ScheduleGroupArn"]
        return cls(name, {"Arn": arn})

    def _delete(self, region_name: str) -> None:
        with contextlib.suppress(Exception):
            client("scheduler", region_name).delete_schedule_group(Name=self._physical_id)


class ScheduleShim(_Shim):
    """``AWS::Scheduler::Schedule``: stored in moto's EventBridge Scheduler; moto never fires
    it, the emulator's :class:`~emulator.clock.Clock` does."""

    cfn_type = "AWS::Scheduler::Schedule"
    cfn_attributes = ("Arn",)

    @classmethod
    def create(cls, resource_name: str, props: dict[str, Any], region: str) -> _Shim:
        name = props.get("Name") or resource_name
        request: dict[str, Any] = {
            "Name": name,
            "ScheduleExpression": props["ScheduleExpression"],
            "FlexibleTimeWindow": props.get("FlexibleTimeWindow") or {"Mode": "OFF"},
            "Target": props["Target"],
        }
        for key in (
            "GroupName",
            "ScheduleExpressionTimezone",
            "State",
            "Description",
            "StartDate",
            "EndDate",
            "KmsKeyArn",
        ):
            if props.get(key) is not None:
                request[key] = props[key]
        scheduler = client("scheduler", region)
        arn = scheduler.create_schedule(**request)["ScheduleArn"]
        shim = cls(name, {"Arn": arn})
        shim._private["group"] = props.get("GroupName") or "default"
        return shim

    def _delete(self, region_name: str) -> None:
        with contextlib.suppress(Exception):
            client("scheduler", region_name).delete_schedule(
                Name=self._physical_id, GroupName=self._private.get("group", "default")
            )


class EventInvokeConfigShim(_Shim):
    """``AWS::Lambda::EventInvokeConfig`` (async retries and destinations)."""

    cfn_type = "AWS::Lambda::EventInvokeConfig"

    @classmethod
    def create(cls, resource_name: str, props: dict[str, Any], region: str) -> _Shim:
        request: dict[str, Any] = {"FunctionName": props["FunctionName"]}
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig"):
            if props.get(key) is not None:
                request[key] = props[key]
        client("lambda", region).put_function_event_invoke_config(**request)
        return cls(f"{props['FunctionName']}:{props.get('Qualifier', '$LATEST')}")


class FunctionUrlShim(_Shim):
    """``AWS::Lambda::Url``: the URL config stored in moto, ``FunctionUrl`` its address.

    moto does not serve function URLs over HTTP; :meth:`emulator.Emulator.post_function_url`
    invokes the function with the event a function URL would send.
    """

    cfn_type = "AWS::Lambda::Url"
    cfn_attributes = ("FunctionUrl", "FunctionArn")

    @classmethod
    def create(cls, resource_name: str, props: dict[str, Any], region: str) -> _Shim:
        target = str(props["TargetFunctionArn"])
        config = client("lambda", region).create_function_url_config(
            FunctionName=target, AuthType=props.get("AuthType", "NONE")
        )
        return cls(
            config["FunctionArn"],
            {"FunctionUrl": config["FunctionUrl"], "FunctionArn": config["FunctionArn"]},
        )


class AlarmShim(_Shim):
    """``AWS::CloudWatch::Alarm``: stored in moto (which never evaluates alarms)."""

    cfn_type = "AWS::CloudWatch::Alarm"
    cfn_attributes = ("Arn",)
    _PROPERTIES: ClassVar[tuple[str, ...]] = (
        "AlarmDescription",
        "ActionsEnabled",
        "AlarmActions",
        "OKActions",
        "InsufficientDataActions",
        "MetricName",
        "Namespace",
        "Statistic",
        "ExtendedStatistic",
        "Dimensions",
        "Period",
        "Unit",
        "EvaluationPeriods",
        "DatapointsToAlarm",
        "Threshold",
        "ComparisonOperator",
        "TreatMissingData",
        "EvaluateLowSampleCountPercentile",
        "Metrics",
        "ThresholdMetricId",
        "Tags",
    )

    @classmethod
    def create(cls, resource_name: str, props: dict[str, Any], region: str) -> _Shim:
        name = props.get("AlarmName") or resource_name
        request: dict[str, Any] = {"AlarmName": name}
        for key in cls._PROPERTIES:
            if props.get(key) is not None:
                request[key] = props[key]
        for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
            if key in request:
                request[key] = int(request[key])
        if "Threshold" in request:
            request["Threshold"] = float(request["Threshold"])
        cloudwatch = client("cloudwatch", region)
        cloudwatch.put_metric_alarm(**request)
        arn = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"]
        return cls(name, {"Arn": arn})

    def _delete(self, region_name: str) -> None:
        with contextlib.suppress(Exception):
            client("cloudwatch", region_name).delete_alarms(AlarmNames=[self._physical_id])


class AccountPolicyShim(_Shim):
    """``AWS::Logs::AccountPolicy`` (moto has neither the type nor the API): put through
    CloudWatch Logs' ``PutAccountPolicy``, which :mod:`emulator.logs` answers in process and
    whose subscription filter policy it plays."""

    cfn_type = "AWS::Logs::AccountPolicy"

    @classmethod
    def create(cls, resource_name: str, props: dict[str, Any], region: str) -> _Shim:
        document = props["PolicyDocument"]
        request: dict[str, Any] = {
            "policyName": props["PolicyName"],
            "policyDocument": document if isinstance(document, str) else json.dumps(document),
            "policyType": props["PolicyType"],
            "scope": props.get("Scope") or "ALL",
        }
        if props.get("SelectionCriteria"):
            request["selectionCriteria"] = str(props["SelectionCriteria"])
        client("logs", region).put_account_policy(**request)
        shim = cls(str(props["PolicyName"]))
        shim._private["type"] = props["PolicyType"]
        return shim

    def _delete(self, region_name: str) -> None:
        with contextlib.suppress(Exception):
            client("logs", region_name).delete_account_policy(
                policyName=self._physical_id, policyType=self._private["type"]
            )


class _OamShim(_Shim):
    """CloudWatch cross-account observability (moto has neither the types nor the API): the
    resource is kept in the stack that created it, under an ARN of its account and region."""

    kind: ClassVar[str]
    cfn_attributes = ("Arn",)

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> _Shim:
        props = dict(cloudformation_json.get("Properties") or {})
        arn = f"arn:aws:oam:{region_name}:{account_id}:{cls.kind}/{uuid.uuid4()}"
        shim = cls(arn, {"Arn": arn})
        shim._private.update(props, account=account_id, region=region_name)
        shim.check(props, account_id, region_name)
        return shim

    def check(self, props: dict[str, Any], account: str, region: str) -> None:
        return None

    @property
    def properties(self) -> dict[str, Any]:
        """The resolved properties, with the ``account`` and ``region`` it was created in."""
        return dict(self._private)


class OamSinkShim(_OamShim):
    """``AWS::Oam::Sink``: its policy is kept for the links that name it."""

    cfn_type = "AWS::Oam::Sink"
    kind = "sink"


class OamLinkShim(_OamShim):
    """``AWS::Oam::Link``: CreateLink's checks the emulator can make. The sink must exist in
    the link's region (any account's stack) and its policy must allow the link's resource
    types (``ForAllValues:StringEquals`` on ``oam:ResourceTypes``); the policy's
    ``aws:PrincipalOrgID`` is not evaluated (moto's accounts belong to no Organization)."""

    cfn_type = "AWS::Oam::Link"
    kind = "link"

    def check(self, props: dict[str, Any], account: str, region: str) -> None:
        sink_arn = str(props.get("SinkIdentifier", ""))
        sink = _oam_resource(sink_arn)
        if sink is None or sink.properties["region"] != region:
            raise DeployError(f"AWS::Oam::Link: no sink {sink_arn} in {region}")
        policy = sink.properties.get("Policy") or {}
        if isinstance(policy, str):
            policy = json.loads(policy)
        wanted = set(props.get("ResourceTypes") or [])
        for statement in policy.get("Statement", []):
            allowed = (statement.get("Condition") or {}).get("ForAllValues:StringEquals", {})
            types = allowed.get("oam:ResourceTypes")
            refused = sorted(wanted - set(types or wanted))
            if refused:
                raise DeployError(f"AWS::Oam::Link: the sink's policy does not allow {refused}")


def _oam_resource(arn: str) -> _OamShim | None:
    """The OAM sink or link of that ARN, in whichever account's stack created it."""
    for by_region in cloudformation_backends.values():
        for backend in by_region.values():
            for stack in backend.stacks.values():
                for resource in stack.resource_map._parsed_resources.values():
                    if isinstance(resource, _OamShim) and resource.physical_resource_id == arn:
                        return resource
    return None


class StateMachineShim:
    """``AWS::StepFunctions::StateMachine`` in the backend the API uses, with
    ``DefinitionSubstitutions`` applied. Returns moto's own state machine model."""

    cfn_type = "AWS::StepFunctions::StateMachine"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return bool(StateMachine.has_cfn_attr(attr)) or attr == "Arn"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        props: dict[str, Any] = dict(cloudformation_json.get("Properties") or {})
        logical_id = str(kwargs.get("LogicalId", resource_name))
        name = props.get("StateMachineName") or resource_name
        definition = props.get("DefinitionString")
        if definition is None and isinstance(props.get("Definition"), dict):
            definition = json.dumps(props["Definition"])
        if not isinstance(definition, str):
            raise DeployError(f"{logical_id}: no DefinitionString or Definition")
        substitutions = props.get("DefinitionSubstitutions") or {}
        definition = substitute_definition(definition, substitutions, where=logical_id)
        backend = get_sfn_backend(account_id, region_name)
        return backend.create_state_machine(
            name,
            definition,
            props.get("RoleArn", ""),
            tags=cfn_to_api_tags(props.get("Tags", [])),
            loggingConfiguration=_lower_keys(props.get("LoggingConfiguration")),
            tracingConfiguration=_lower_keys(props.get("TracingConfiguration")),
            sm_type=props.get("StateMachineType", "STANDARD"),
        )

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        with contextlib.suppress(Exception):
            get_sfn_backend(account_id, region_name).delete_state_machine(resource_name)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        props: dict[str, Any] = dict(cloudformation_json.get("Properties") or {})
        definition = props.get("DefinitionString") or json.dumps(props.get("Definition"))
        definition = substitute_definition(
            definition, props.get("DefinitionSubstitutions") or {}, where=original_resource.name
        )
        return get_sfn_backend(account_id, region_name).update_state_machine(
            original_resource.arn, definition=definition, role_arn=props.get("RoleArn")
        )


def _lower_keys(value: Any) -> Any:
    """CloudFormation spells ASL configuration keys in PascalCase, the API in camelCase."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value


SHIMS: dict[str, type[Any]] = {
    shim.cfn_type: shim
    for shim in (
        SecretShim,
        SubscriptionShim,
        QueuePolicyShim,
        ScheduleGroupShim,
        ScheduleShim,
        EventInvokeConfigShim,
        FunctionUrlShim,
        AlarmShim,
        StateMachineShim,
        BucketShim,
        BucketPolicyShim,
        AccountPolicyShim,
        OamSinkShim,
        OamLinkShim,
    )
}
"""Resource type -> the emulator's CloudFormation handler for it."""


def moto_supports(resource_type: str) -> bool:
    """Whether moto's own CloudFormation creates ``resource_type``."""
    return resource_type in get_model_map() and resource_type not in SHIMS


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """Let moto's CloudFormation use :data:`SHIMS` while the block runs."""
    with mock.patch.dict(get_model_map(), SHIMS):
        yield
