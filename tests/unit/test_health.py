"""AWS Health events: parsing with errors that name the field, filters, de-duplication."""

from datetime import timedelta
from typing import Any

import pytest

from tests.factories import T0
from vigil.core.errors import InvalidEventError
from vigil.core.model import HealthEvent
from vigil.health.events import HealthChange, from_eventbridge, health_notification, track, wanted
from vigil.rules.document import RulesConfig

ARN = "arn:aws:health:us-east-1::event/LAMBDA/AWS_LAMBDA_OPERATIONAL_ISSUE/1"


def health_event(**changes: Any) -> HealthEvent:
    values: dict[str, Any] = {
        "arn": ARN,
        "service": "LAMBDA",
        "event_type_code": "AWS_LAMBDA_OPERATIONAL_ISSUE",
        "category": "issue",
        "region": "us-east-1",
        "account": "123456789012",
        "status": "open",
        "last_updated": T0,
        "description": "Increased error rates.",
    }
    return HealthEvent(**(values | changes))


def eventbridge(**detail: Any) -> dict[str, Any]:
    return {
        "id": "e1",
        "source": "aws.health",
        "account": "123456789012",
        "time": "2026-11-02T09:00:00Z",
        "region": "us-east-1",
        "detail": {
            "eventArn": ARN,
            "service": "LAMBDA",
            "eventTypeCode": "AWS_LAMBDA_OPERATIONAL_ISSUE",
            "eventTypeCategory": "issue",
            "startTime": "Mon, 02 Nov 2026 08:55:00 GMT",
            "lastUpdatedTime": "Mon, 02 Nov 2026 09:00:00 GMT",
            "statusCode": "open",
            "eventRegion": "us-east-1",
            "eventDescription": [{"language": "en_US", "latestDescription": "Errors."}],
            "affectedEntities": [{"entityValue": "fn-b"}, {"entityValue": "fn-a"}],
        }
        | detail,
    }


def test_an_eventbridge_event_is_normalised_with_rfc1123_times() -> None:
    event = from_eventbridge(eventbridge())

    assert event.last_updated == T0
    assert event.affected_entities == ["fn-a", "fn-b"]
    assert event.service_key == "lambda"
    assert event.account == "123456789012"


def test_a_bad_event_names_the_field_as_aws_spells_it() -> None:
    with pytest.raises(InvalidEventError) as caught:
        from_eventbridge(eventbridge(eventArn="not-an-arn", eventTypeCode=None))
    with pytest.raises(InvalidEventError, match=r"detail\.lastUpdatedTime: 'yesterday'"):
        from_eventbridge(eventbridge(lastUpdatedTime="yesterday"))

    assert "detail.eventArn:" in str(caught.value)
    assert "detail.eventTypeCode:" in str(caught.value)


def test_a_new_event_notifies_once_and_a_replay_is_silent() -> None:
    record, change = track(None, health_event())
    replayed, again = track(record, health_event())

    assert change is HealthChange.NEW
    assert (replayed, again) == (None, None)


def test_only_changes_a_reader_cares_about_notify_as_updates() -> None:
    record, _ = track(None, health_event())
    assert record is not None
    later = T0 + timedelta(minutes=5)

    same_text, quiet = track(record, health_event(last_updated=later))
    _, reworded = track(record, health_event(last_updated=later, description="Mitigating."))
    _, entities = track(record, health_event(last_updated=later, affected_entities=["fn-a"]))
    _, older = track(record, health_event(last_updated=T0 - timedelta(minutes=1), status="closed"))

    assert same_text is not None
    assert quiet is None
    assert reworded is HealthChange.UPDATED
    assert entities is HealthChange.UPDATED
    assert older is None


def test_closing_resolves_once_and_an_event_first_seen_closed_resolves_once() -> None:
    record, _ = track(None, health_event())
    assert record is not None
    closed_record, closed = track(
        record, health_event(status="closed", last_updated=T0 + timedelta(hours=1))
    )
    assert closed_record is not None
    _, again = track(
        closed_record,
        health_event(
            status="closed", last_updated=T0 + timedelta(hours=2), description="Postmortem."
        ),
    )
    _, first_seen_closed = track(None, health_event(status="closed"))

    assert closed is HealthChange.RESOLVED
    assert again is None
    assert first_seen_closed is HealthChange.RESOLVED


def test_filters_drop_the_noise_by_code_category_service_region_and_account() -> None:
    rules = RulesConfig.from_json(
        '{"health": {"include": {"regions": ["us-east-1", "global"]},'
        ' "exclude": [{"event_type_codes": ["AWS_VPN_*"]}, {"categories": ["scheduledChange"],'
        ' "services": ["RDS"]}, {"accounts": ["999999999999"]}]}}'
    )

    assert wanted(health_event(), rules.health)
    assert not wanted(health_event(event_type_code="AWS_VPN_REDUNDANCY_LOSS"), rules.health)
    assert not wanted(health_event(service="RDS", category="scheduledChange"), rules.health)
    assert wanted(health_event(service="RDS"), rules.health)
    assert not wanted(health_event(region="eu-west-1"), rules.health)
    assert not wanted(health_event(account="999999999999"), rules.health)


def test_the_default_config_drops_single_vpn_tunnel_notices() -> None:
    event = health_event(event_type_code="AWS_VPN_SINGLE_TUNNEL_NOTIFICATION")

    assert not wanted(event, RulesConfig().health)


def test_an_invalid_filter_is_refused_naming_the_field() -> None:
    with pytest.raises(Exception, match=r"health\.exclude\.0\.categories\.0"):
        RulesConfig.from_json('{"health": {"exclude": [{"categories": ["outage"]}]}}')


def test_a_health_notification_carries_aws_text_and_entities() -> None:
    note = health_notification(
        health_event(affected_entities=["fn-a"]), HealthChange.NEW, stack="vigil"
    )

    assert note.subject == "[AWS HEALTH] LAMBDA issue in us-east-1: AWS_LAMBDA_OPERATIONAL_ISSUE"
    assert "Increased error rates." in note.message
    assert "fn-a" in note.message
    assert note.category == "health"
