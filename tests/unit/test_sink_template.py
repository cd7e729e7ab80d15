"""sink/template.yaml: the monitoring account's OAM sink in a watched region other than the
home one (docs/architecture.md, ADR 53).

template.yaml's ``OamSink`` is the one source of truth: the regional sink must be that very
resource (name and policy), so a change to one that misses the other fails here. Sinks and
links are regional (the OAM API Reference's introduction: cross-account observability spans
"multiple accounts within a Region"), hence a sink per region; the ARN shape is the OAM API
Reference's (GetSink example).
"""

import re
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
REGIONAL: dict[str, Any] = yaml_parse((ROOT / "sink" / "template.yaml").read_text())
MAIN: dict[str, Any] = yaml_parse((ROOT / "template.yaml").read_text())
MEMBER: dict[str, Any] = yaml_parse((ROOT / "member" / "template.yaml").read_text())


def test_the_regional_sink_is_the_monitoring_stacks_sink_minus_its_condition() -> None:
    main = {key: value for key, value in MAIN["Resources"]["OamSink"].items() if key != "Condition"}

    assert REGIONAL["Resources"]["OamSink"] == main
    # the same policy, read back: Organization principals only, metrics and log groups only
    (statement,) = REGIONAL["Resources"]["OamSink"]["Properties"]["Policy"]["Statement"]
    assert statement["Condition"]["StringEquals"] == {
        "aws:PrincipalOrgID": {"Ref": "OrganizationId"}
    }
    assert set(statement["Condition"]["ForAllValues:StringEquals"]["oam:ResourceTypes"]) == set(
        MEMBER["Resources"]["MonitoringLink"]["Properties"]["ResourceTypes"]
    )


def test_the_template_holds_the_sink_and_nothing_else() -> None:
    # Plain CloudFormation, one resource, always created: the region exists to hold the sink
    assert "Transform" not in REGIONAL
    assert "Conditions" not in REGIONAL
    assert [resource["Type"] for resource in REGIONAL["Resources"].values()] == ["AWS::Oam::Sink"]
    assert set(REGIONAL["Parameters"]) == {"OrganizationId"}


def test_its_output_is_what_the_member_template_takes_as_sink_arn() -> None:
    (name,) = REGIONAL["Outputs"]
    output = REGIONAL["Outputs"][name]

    # the monitoring stack's output name and value, so one command reads either
    assert name == "OamSinkArn"
    assert output["Value"] == MAIN["Outputs"]["OamSinkArn"]["Value"]
    assert "Condition" not in output


def test_the_organization_id_is_required_with_the_other_templates_pattern() -> None:
    pattern = REGIONAL["Parameters"]["OrganizationId"]["AllowedPattern"]

    assert "Default" not in REGIONAL["Parameters"]["OrganizationId"]
    assert pattern == MEMBER["Parameters"]["OrganizationId"]["AllowedPattern"]
    assert MAIN["Parameters"]["OrganizationId"]["AllowedPattern"] == f"^$|{pattern}"


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        # Organizations API Reference, Organization.Id: "o-" then 10 to 32 lowercase letters
        # or digits
        ("o-a1b2c3d4e5", True),
        ("o-exampleorgid", True),
        ("", False),
        ("r-a1b2", False),
        ("o-A1B2C3D4E5", False),
    ],
)  # fmt: skip
def test_the_organization_id_takes_the_values_aws_gives(value: str, valid: bool) -> None:
    pattern = REGIONAL["Parameters"]["OrganizationId"]["AllowedPattern"]

    assert bool(re.fullmatch(pattern, value)) is valid


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1"])
def test_a_sink_arn_of_any_region_is_a_valid_sink_arn_for_the_member_template(
    region: str,
) -> None:
    partition = "aws-us-gov" if region.startswith("us-gov-") else "aws"
    arn = f"arn:{partition}:oam:{region}:111111111111:sink/abcd1234-a123-456a-a12b-a123b456c789"

    assert re.fullmatch(MEMBER["Parameters"]["SinkArn"]["AllowedPattern"], arn)
