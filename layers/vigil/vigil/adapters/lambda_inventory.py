"""The Lambda functions in the account and region (``ListFunctions``, 50 per page).

``ListFunctions`` also returns each function's ``DeadLetterConfig``: the SQS queue or SNS topic
its failed asynchronous events go to, which dead-letter queue discovery needs; and its
``Timeout`` in seconds, which the duration dial judges the slowest invocation against.
"""

from typing import TYPE_CHECKING

from vigil.adapters.stats import CallStats
from vigil.dials.resources import FunctionInfo

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

# ListFunctions returns at most 50 functions a call.
PAGE_SIZE = 50


class LambdaInventory:
    def __init__(self, client: "LambdaClient", stats: CallStats | None = None) -> None:
        self._client = client
        self.stats = stats or CallStats()

    def functions(self) -> list[FunctionInfo]:
        found: list[FunctionInfo] = []
        pages = self._client.get_paginator("list_functions").paginate(
            PaginationConfig={"PageSize": PAGE_SIZE}
        )
        for page in pages:
            self.stats.count("ListFunctions")
            found += [
                FunctionInfo(
                    name=fn["FunctionName"],
                    arn=fn["FunctionArn"],
                    dead_letter_target=fn.get("DeadLetterConfig", {}).get("TargetArn"),
                    timeout=fn.get("Timeout"),
                )
                for fn in page.get("Functions", [])
            ]
        return found
