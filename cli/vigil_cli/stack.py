"""Find the deployed stack's resources through its outputs (``StateTableName``, ...)."""

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from vigil.core.errors import VigilError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

TABLE_OUTPUT = "StateTableName"
RUNBOOK_OUTPUT = "OutageRunbookStateMachineArn"
TOPIC_OUTPUT = "AlertsTopicArn"


class StackNotFoundError(VigilError):
    """The stack does not exist, or it is not a Vigil stack."""


def stack_outputs(client: "CloudFormationClient", stack: str) -> dict[str, str]:
    """The stack's outputs by key (one DescribeStacks call)."""
    try:
        described = client.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "ValidationError" and "does not exist" in error.get("Message", ""):
            raise StackNotFoundError(
                f"stack {stack!r} does not exist (choose one with --stack, or name the table"
                " with --table)"
            ) from exc
        raise
    return {
        output["OutputKey"]: output["OutputValue"]
        for output in described[0].get("Outputs", [])
        if "OutputKey" in output and "OutputValue" in output
    }


def output(outputs: dict[str, str], key: str, *, stack: str) -> str:
    value = outputs.get(key)
    if not value:
        raise StackNotFoundError(f"stack {stack!r} has no {key} output (not Vigil?)")
    return value


def state_table(client: "CloudFormationClient", stack: str) -> str:
    return output(stack_outputs(client, stack), TABLE_OUTPUT, stack=stack)
