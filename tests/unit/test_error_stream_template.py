"""template.yaml's account-level subscription filter policy (ADR 42): its filter pattern is the
one the parser is tested against, and it leaves out every log group of Vigil's own functions
(AWS's log recursion prevention advice: CloudWatch Logs User Guide, "Log recursion prevention")."""

import json
import re
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

from vigil.tracking.logs import FILTER_PATTERN

TEMPLATE: dict[str, Any] = yaml_parse(
    (Path(__file__).resolve().parents[2] / "template.yaml").read_text()
)
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
POLICY = RESOURCES["ErrorStreamPolicy"]["Properties"]


def test_the_policy_document_is_json_with_the_parsers_filter_pattern() -> None:
    body, values = POLICY["PolicyDocument"]["Fn::Sub"]
    text = body.replace("${Arn}", "arn:aws:lambda:us-east-1:123456789012:function:x")
    document = json.loads(text.replace("${Pattern}", values["Pattern"]))

    assert document["FilterPattern"] == FILTER_PATTERN
    assert len(FILTER_PATTERN) <= 1024  # PutSubscriptionFilter's limit on filterPattern
    assert document["Distribution"] == "Random"
    assert POLICY["PolicyType"] == "SUBSCRIPTION_FILTER_POLICY"


def test_every_function_of_the_stack_is_left_out_of_the_policy() -> None:
    functions = {name for name, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}
    excluded = set(re.findall(r"/aws/lambda/\$\{(\w+)\}", POLICY["SelectionCriteria"]["Fn::Sub"]))

    assert excluded == functions
    assert POLICY["SelectionCriteria"]["Fn::Sub"].startswith("LogGroupName NOT IN [")
