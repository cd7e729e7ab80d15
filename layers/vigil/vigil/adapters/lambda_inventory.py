"""The Lambda functions in the account and region (``ListFunctions``, 50 per page)."""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from vigil.adapters.cloudwatch import CallStats

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient


@dataclass(frozen=True)
class FunctionInfo:
    name: str
    arn: str


class LambdaInventory:
    def __init__(self, client: "LambdaClient", stats: CallStats | None = None) -> None:
        self._client = client
        self.stats = stats or CallStats()

    def functions(self) -> list[FunctionInfo]:
        found: list[FunctionInfo] = []
        for page in self._client.get_paginator("list_functions").paginate():
            self.stats.count("ListFunctions")
            found += [
                FunctionInfo(name=fn["FunctionName"], arn=fn["FunctionArn"])
                for fn in page.get("Functions", [])
            ]
        return found
