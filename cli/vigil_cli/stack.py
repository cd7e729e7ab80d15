"""Find the deployed stack's state table: the ``StateTableName`` output of the stack."""

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from vigil.errors import VigilError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

TABLE_OUTPUT = "StateTableName"


class StackNotFoundError(VigilError):
    """The stack does not exist, or it is not a Vigil stack."""


def state_table(client: "CloudFormationClient", stack: str) -> str:
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
    outputs = {
        output.get("OutputKey"): output.get("OutputValue")
        for output in described[0].get("Outputs", [])
    }
    table = outputs.get(TABLE_OUTPUT)
    if not table:
        raise StackNotFoundError(f"stack {stack!r} has no {TABLE_OUTPUT} output (not Vigil?)")
    return table
