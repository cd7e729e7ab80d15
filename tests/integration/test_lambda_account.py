"""The GetAccountSettings adapter with botocore's Stubber (moto does not implement it)."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber

from vigil.adapters.lambda_account import (
    AccountSettingsUnavailable,
    LambdaAccountSettings,
    LimitsCache,
)
from vigil.adapters.stats import CallStats
from vigil.dials.resources import AccountLimits

T0 = datetime(2026, 11, 2, 9, 2, tzinfo=UTC)
ANSWER = {
    "AccountLimit": {"ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": 900},
    "AccountUsage": {"TotalCodeSize": 0, "FunctionCount": 3},
}


@pytest.fixture
def stubbed() -> Iterator[tuple[LambdaAccountSettings, Stubber, CallStats]]:
    client = boto3.client("lambda", region_name="us-east-1")
    stats = CallStats()
    with Stubber(client) as stubber:
        yield LambdaAccountSettings(client, stats, LimitsCache()), stubber, stats
        stubber.assert_no_pending_responses()


def test_the_limits_are_asked_once_an_hour_on_the_scheduled_time(
    stubbed: tuple[LambdaAccountSettings, Stubber, CallStats],
) -> None:
    settings, stubber, stats = stubbed
    stubber.add_response("get_account_settings", ANSWER, {})
    stubber.add_response("get_account_settings", ANSWER, {})

    answers = [settings.limits(T0 + timedelta(minutes=m)) for m in (0, 5, 55, 60)]

    assert set(answers) == {AccountLimits(1000, 900)}
    assert stats.by_api == {"GetAccountSettings": 2}


def test_a_scheduled_time_before_the_cached_answer_asks_again(
    stubbed: tuple[LambdaAccountSettings, Stubber, CallStats],
) -> None:
    settings, stubber, stats = stubbed
    stubber.add_response("get_account_settings", ANSWER, {})
    stubber.add_response("get_account_settings", ANSWER, {})

    settings.limits(T0)
    settings.limits(T0 - timedelta(minutes=5))

    assert stats.by_api == {"GetAccountSettings": 2}


def test_a_refusal_becomes_a_domain_error(
    stubbed: tuple[LambdaAccountSettings, Stubber, CallStats],
) -> None:
    settings, stubber, _ = stubbed
    stubber.add_client_error("get_account_settings", "AccessDeniedException", http_status_code=403)

    with pytest.raises(AccountSettingsUnavailable, match="AccessDenied"):
        settings.limits(T0)
