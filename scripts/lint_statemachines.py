"""Lint every statemachines/*.asl.json with cfn-lint's Step Functions rules.

cfn-lint does not open files referenced by ``DefinitionUri``; its state machine rules run
on an inline ``AWS::StepFunctions::StateMachine`` ``Definition``. This script wraps each
workflow in such a template, with each ``${Substitution}`` replaced by a well-formed ARN
of the kind its name announces, and runs cfn-lint on it. Exit status: cfn-lint's.
"""

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


def _stand_in(name: str) -> str:
    account, region = "123456789012", "us-east-1"
    if name.endswith("FunctionArn"):
        return f"arn:aws:lambda:{region}:{account}:function:{name}"
    if name.endswith("TopicArn"):
        return f"arn:aws:sns:{region}:{account}:{name}"
    if name.endswith("StateMachineArn"):
        return f"arn:aws:states:{region}:{account}:stateMachine:{name}"
    if name.endswith("TableName"):
        return name
    raise SystemExit(f"lint_statemachines: no stand-in for substitution ${{{name}}}")


def main() -> int:
    files = sorted((ROOT / "statemachines").glob("*.asl.json"))
    resources = {}
    for index, path in enumerate(files):
        text = PLACEHOLDER.sub(lambda match: _stand_in(match.group(1)), path.read_text())
        try:
            definition = json.loads(text)
        except json.JSONDecodeError as exc:
            print(f"{path.relative_to(ROOT)}: not valid JSON: {exc}", file=sys.stderr)
            return 1
        resources[f"Workflow{index}"] = {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "Definition": definition,
                "RoleArn": "arn:aws:iam::123456789012:role/lint",
            },
        }
    template = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(template, handle)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--include-checks", "I", "--", handle.name],
        check=False,
        capture_output=True,
        text=True,
    )
    sys.stdout.write(result.stdout.replace(handle.name, "statemachines"))
    sys.stderr.write(result.stderr)
    Path(handle.name).unlink()
    if result.returncode == 0:
        print(f"lint_statemachines: {len(files)} workflows, no findings")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
