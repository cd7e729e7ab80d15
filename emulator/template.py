"""From ``template.yaml`` to a CloudFormation template moto can create.

``sam build`` + ``sam deploy`` do three things before CloudFormation sees the template: they
upload each function's and layer's code, inline or upload the state machine definitions, and
apply the ``AWS::Serverless-2016-10-31`` transform. This module does the same offline:

1. :func:`load_template` reads the YAML with the CloudFormation short tags (``!Ref``, ...).
2. :func:`resolve_parameters` checks parameter overrides like CloudFormation would (unknown
   names, ``AllowedValues``, ``AllowedPattern``, numbers) and fills in defaults.
3. :func:`package` zips every ``CodeUri``/``ContentUri`` folder into a moto S3 bucket, rewrites
   them as ``s3://`` URIs and inlines each ``DefinitionUri`` file as ``Definition``.
4. :func:`translate` runs aws-sam-translator with a managed-policy map built from the AWS
   managed policies moto ships (no IAM call, no network).
"""

from __future__ import annotations

import copy
import io
import json
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import yaml
from moto.iam.aws_managed_policies import aws_managed_policies_data
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

from emulator._aws import REGION, client
from emulator.errors import EmulatorError

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
SERVERLESS_LAYER = "AWS::Serverless::LayerVersion"
SERVERLESS_STATE_MACHINE = "AWS::Serverless::StateMachine"

_SKIPPED_IN_ZIP = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}


class TemplateError(EmulatorError):
    """The template or a parameter override cannot be deployed."""


@dataclass(frozen=True)
class FunctionSource:
    """Where the code of one ``AWS::Serverless::Function`` lives on disk."""

    logical_id: str
    code_dir: Path
    handler: str
    runtime: str | None


@dataclass(frozen=True)
class LayerSource:
    logical_id: str
    content_dir: Path


@dataclass
class PackagedTemplate:
    """The SAM template with its code uploaded, plus what the runtime needs to find the code."""

    sam: dict[str, Any]
    functions: dict[str, FunctionSource] = field(default_factory=dict)
    layers: dict[str, LayerSource] = field(default_factory=dict)
    bucket: str = ""


def load_template(path: Path) -> dict[str, Any]:
    """Parse a SAM/CloudFormation YAML (or JSON) template, short tags included."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"cannot read template {path}: {exc}") from exc
    try:
        parsed = yaml_parse(text)
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(parsed, dict) or not isinstance(parsed.get("Resources"), dict):
        raise TemplateError(f"{path}: a template needs a Resources mapping")
    return dict(parsed)


def _as_parameter_string(name: str, value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        return ",".join(_as_parameter_string(name, v) for v in value)
    if isinstance(value, dict):
        # Convenience for JSON-valued parameters such as RulesConfig.
        return json.dumps(value, separators=(",", ":"))
    raise TemplateError(f"parameter {name}: cannot use a {type(value).__name__} as a value")


def resolve_parameters(
    template: Mapping[str, Any], overrides: Mapping[str, object]
) -> dict[str, str]:
    """Effective parameter values: defaults, then ``overrides``, validated like CloudFormation.

    Values may be strings or, for convenience, numbers, lists (CommaDelimitedList) and dicts
    (serialised as compact JSON, e.g. for ``RulesConfig``).
    """
    declared: dict[str, Any] = dict(template.get("Parameters") or {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise TemplateError(
            f"unknown parameter(s) {', '.join(unknown)}; the template declares"
            f" {', '.join(sorted(declared)) or 'none'}"
        )
    values: dict[str, str] = {}
    for name, declared_spec in declared.items():
        spec = declared_spec or {}
        if name in overrides:
            value = _as_parameter_string(name, overrides[name])
        elif "Default" in spec:
            value = _as_parameter_string(name, spec["Default"])
        else:
            raise TemplateError(f"parameter {name} has no default: pass a value for it")
        _check_parameter(name, spec, value)
        values[name] = value
    return values


def _check_parameter(name: str, spec: Mapping[str, Any], value: str) -> None:
    kind = str(spec.get("Type", "String"))
    items = [v.strip() for v in value.split(",")] if kind == "CommaDelimitedList" else [value]
    if kind == "Number":
        try:
            float(value)
        except ValueError:
            raise TemplateError(f"parameter {name}: {value!r} is not a number") from None
    allowed = spec.get("AllowedValues")
    if allowed is not None:
        allowed_strings = [str(a) for a in allowed]
        for item in items:
            if item not in allowed_strings:
                raise TemplateError(
                    f"parameter {name}: {item!r} is not one of {', '.join(allowed_strings)}"
                )
    pattern = spec.get("AllowedPattern")
    if pattern is not None and re.fullmatch(str(pattern), value) is None:
        raise TemplateError(f"parameter {name}: {value!r} does not match {pattern}")
    max_length = spec.get("MaxLength")
    if max_length is not None and len(value) > int(max_length):
        raise TemplateError(f"parameter {name}: longer than {max_length} characters")


def zip_directory(directory: Path) -> bytes:
    """A deployment package of ``directory`` (caches and bytecode left out)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            relative = path.relative_to(directory)
            if any(part in _SKIPPED_IN_ZIP for part in relative.parts):
                continue
            if path.is_file() and path.suffix != ".pyc":
                archive.write(path, relative.as_posix())
    return buffer.getvalue()


def _load_definition(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"cannot read state machine definition {path}: {exc}") from exc
    try:
        loaded = yaml.safe_load(text) if path.suffix in {".yaml", ".yml"} else json.loads(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise TemplateError(f"{path}: not a valid definition: {exc}") from exc
    if not isinstance(loaded, dict):
        raise TemplateError(f"{path}: a state machine definition is a JSON object")
    return dict(loaded)


def package(
    template: Mapping[str, Any],
    *,
    base_dir: Path,
    bucket: str,
    code_dirs: Mapping[str, Path] | None = None,
    region: str = REGION,
) -> PackagedTemplate:
    """Upload code to ``bucket`` (created in moto if missing) and return the rewritten template.

    ``code_dirs`` replaces the ``CodeUri``/``ContentUri`` folder of the named logical ids
    (e.g. a throwaway handler in a test); other paths are relative to ``base_dir``.
    """
    sam = copy.deepcopy(dict(template))
    overrides = dict(code_dirs or {})
    resources: dict[str, Any] = sam["Resources"]
    unknown = sorted(set(overrides) - set(resources))
    if unknown:
        raise TemplateError(f"code_dirs names unknown logical ids: {', '.join(unknown)}")
    globals_function: dict[str, Any] = dict((sam.get("Globals") or {}).get("Function") or {})
    s3 = client("s3", region)
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        # Outside us-east-1, S3 wants the region named (a second-region stack: the sentinel).
        where = {} if region == "us-east-1" else {"LocationConstraint": region}
        s3.create_bucket(Bucket=bucket, **({"CreateBucketConfiguration": where} if where else {}))
    packaged = PackagedTemplate(sam=sam, bucket=bucket)

    for logical_id, resource in resources.items():
        kind = resource.get("Type")
        props: dict[str, Any] = resource.setdefault("Properties", {})
        if kind == SERVERLESS_FUNCTION:
            code_uri = props.get("CodeUri", globals_function.get("CodeUri"))
            directory = overrides.get(logical_id)
            if directory is None and isinstance(code_uri, str) and not code_uri.startswith("s3:"):
                directory = base_dir / code_uri
            if directory is None:
                continue  # InlineCode, an S3 object or an image: nothing to run in-process
            directory = directory.resolve()
            if not directory.is_dir():
                raise TemplateError(f"{logical_id}: CodeUri folder {directory} does not exist")
            key = f"functions/{logical_id}.zip"
            s3.put_object(Bucket=bucket, Key=key, Body=zip_directory(directory))
            props["CodeUri"] = f"s3://{bucket}/{key}"
            handler = props.get("Handler", globals_function.get("Handler"))
            if not isinstance(handler, str):
                raise TemplateError(f"{logical_id}: a zip function needs a Handler")
            runtime = props.get("Runtime", globals_function.get("Runtime"))
            packaged.functions[logical_id] = FunctionSource(
                logical_id, directory, handler, runtime if isinstance(runtime, str) else None
            )
        elif kind == SERVERLESS_LAYER:
            content_uri = props.get("ContentUri")
            directory = overrides.get(logical_id)
            if (
                directory is None
                and isinstance(content_uri, str)
                and not content_uri.startswith("s3:")
            ):
                directory = base_dir / content_uri
            if directory is None:
                continue
            directory = directory.resolve()
            if not directory.is_dir():
                raise TemplateError(f"{logical_id}: ContentUri folder {directory} does not exist")
            key = f"layers/{logical_id}.zip"
            s3.put_object(Bucket=bucket, Key=key, Body=zip_directory(directory))
            props["ContentUri"] = f"s3://{bucket}/{key}"
            packaged.layers[logical_id] = LayerSource(logical_id, directory)
        elif kind == SERVERLESS_STATE_MACHINE:
            uri = props.get("DefinitionUri")
            if isinstance(uri, str):
                if uri.startswith("s3:"):
                    raise TemplateError(f"{logical_id}: an s3:// DefinitionUri is not supported")
                props.pop("DefinitionUri")
                props["Definition"] = _load_definition(base_dir / uri)
    return packaged


@cache
def _aws_managed_policies() -> dict[str, str]:
    """Name -> ARN of every AWS managed policy, from the data moto ships (offline)."""
    data: dict[str, Any] = json.loads(aws_managed_policies_data)
    return {name: f"arn:aws:iam::aws:policy{spec['Path']}{name}" for name, spec in data.items()}


def translate(
    sam: Mapping[str, Any], parameters: Mapping[str, str], *, region: str = REGION
) -> dict[str, Any]:
    """Apply the SAM transform (aws-sam-translator) and return the CloudFormation template."""
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    try:
        result = translator.translate(
            copy.deepcopy(dict(sam)),
            parameter_values=dict(parameters),
            get_managed_policy_map=_aws_managed_policies,
        )
    except InvalidDocumentException as exc:
        causes = "; ".join(str(getattr(c, "message", c)) for c in exc.causes)
        raise TemplateError(f"the SAM transform rejected the template: {causes}") from exc
    return dict(result)
