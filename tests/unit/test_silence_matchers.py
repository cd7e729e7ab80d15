"""Silences with Alertmanager's matchers (issue 16, item 2): ``new_silence(matchers=[...])``
takes the strings ``amtool silence add`` takes, and refuses, as Alertmanager's silence
validation does (silence/silence.go, validateSilence: "at least one matcher must not match
the empty string"), one whose every matcher also matches an alert without the label."""

from datetime import timedelta

import pytest
from pydantic import ValidationError

from tests.factories import T0
from vigil.alerting.silences import Silence, SilenceWindowError, new_silence


def _silence(*matchers: str, match: dict[str, str] | None = None) -> Silence:
    return new_silence(
        "0123456789abcdef",
        matchers=list(matchers),
        starts_at=T0,
        duration=timedelta(hours=1),
        now=T0,
        created_by="arn:aws:iam::123456789012:user/ana",
        match=match,
    )


def test_a_negative_regex_silence_mutes_the_dev_alert_and_not_the_prod_one() -> None:
    silence = _silence('team="payments"', 'env!~"prod|staging"')

    assert silence.mutes({"team": "payments", "env": "dev"}, T0)
    assert not silence.mutes({"team": "payments", "env": "prod"}, T0)
    assert not silence.mutes({"team": "search", "env": "dev"}, T0)
    # Stored as the strings it was given, and read back the same.
    stored = silence.model_dump(mode="json")
    assert stored["matchers"]["matchers"] == ['team="payments"', 'env!~"prod|staging"']
    assert Silence.model_validate(stored) == silence


@pytest.mark.parametrize(
    "matchers",
    [
        ['env!="prod"'],  # an alert without env matches
        ['env!~"prod|staging"'],
        ['env=~".*"'],
        ['env=""'],
        ['env!~"prod"', 'team!="search"'],
    ],
)
def test_a_silence_whose_every_matcher_matches_the_empty_string_is_refused(
    matchers: list[str],
) -> None:
    with pytest.raises(SilenceWindowError, match="mute everything"):
        _silence(*matchers)


@pytest.mark.parametrize("matchers", [['env!=""'], ['env!~"prod"', 'team="payments"']])
def test_one_matcher_needing_a_value_is_enough(matchers: list[str]) -> None:
    assert _silence(*matchers).matchers.matchers


def test_a_bad_matcher_names_its_place() -> None:
    with pytest.raises(ValidationError, match=r"matchers\.matchers\.1"):
        _silence('team="payments"', 'env!~"prod')


def test_matchers_and_globs_combine() -> None:
    silence = _silence('env="dev"', match={"resource": "orders-*"})

    assert silence.mutes({"env": "dev", "resource": "orders-api"}, T0)
    assert not silence.mutes({"env": "dev", "resource": "search-api"}, T0)
