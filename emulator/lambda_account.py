"""A fake of Lambda's ``GetAccountSettings``, which moto does not implement.

Lambda's API is REST-JSON: ``GetAccountSettings`` is ``GET /2016-08-19/account-settings/``.
While :meth:`FakeLambdaAccount.installed` is active, that request is answered from the
scenario's ``lambda_account`` section (:func:`emulator._aws.rest_service`); every other Lambda
request still reaches moto. The answer has the shape AWS documents: ``AccountLimit`` with
``ConcurrentExecutions`` and ``UnreservedConcurrentExecutions`` (the limit minus the reserved
concurrency of every function), and ``AccountUsage``.

Scenario section (all optional)::

    lambda_account:
      concurrency_limit: 1000      # AccountLimit.ConcurrentExecutions (AWS's default quota)
      reserved_concurrency: 100    # allocated to functions: the limit minus it is unreserved,
                                   # and it counts in ClaimedAccountConcurrency
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from emulator._aws import JsonAnswer, rest_service
from emulator.errors import ScenarioError

_ACCOUNT_SETTINGS = re.compile(
    r"^https://lambda\.[a-z0-9-]+\.amazonaws\.com/2016-08-19/account-settings/?$"
)


class LambdaAccount(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    concurrency_limit: int = Field(default=1000, ge=10)
    reserved_concurrency: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _reserved_below_limit(self) -> LambdaAccount:
        if self.reserved_concurrency > self.concurrency_limit:
            raise ValueError("reserved_concurrency must not exceed concurrency_limit")
        return self


def parse_lambda_account(document: object) -> LambdaAccount:
    if document is None:
        return LambdaAccount()
    try:
        return LambdaAccount.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            "lambda_account." + ".".join(str(part) for part in err["loc"]) + f": {err['msg']}"
            for err in exc.errors()
        )
        raise ScenarioError(problems) from None


class FakeLambdaAccount:
    """Answers ``GetAccountSettings``; ``calls`` counts the requests it answered."""

    def __init__(self, account: LambdaAccount) -> None:
        self.account = account
        self.calls = 0

    def answer(self) -> JsonAnswer:
        self.calls += 1
        limit = self.account.concurrency_limit
        body = {
            "AccountLimit": {
                "TotalCodeSize": 80_530_636_800,
                "CodeSizeUnzipped": 262_144_000,
                "CodeSizeZipped": 52_428_800,
                "ConcurrentExecutions": limit,
                "UnreservedConcurrentExecutions": limit - self.account.reserved_concurrency,
            },
            "AccountUsage": {"TotalCodeSize": 0, "FunctionCount": 0},
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    @contextlib.contextmanager
    def installed(self) -> Iterator[FakeLambdaAccount]:
        def matches(method: str, url: str) -> bool:
            return method == "GET" and bool(_ACCOUNT_SETTINGS.match(url.split("?", 1)[0]))

        def answer(_match: Any, _body: dict[str, Any]) -> JsonAnswer:
            return self.answer()

        with rest_service(matches, answer):
            yield self
