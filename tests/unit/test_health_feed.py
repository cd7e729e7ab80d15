"""AWS Health feed fidelity (ADR 30): the event shapes AWS documents, abuse events, pages
merged into one event, forward-compatible parsing, bounded records, actionability filters.

Where the cases come from:

- SCHEMA: https://docs.aws.amazon.com/health/latest/ug/aws-health-events-eventbridge-schema.html
  (its sample payloads: the account-specific EC2 event with ``eventMetadata``, entity
  statuses and ``page``/``totalPages`` as strings; the two abuse event samples).
- PUBLIC: https://docs.aws.amazon.com/health/latest/ug/about-public-events.html (the public
  EC2 operational issue, ``eventScopeCode: PUBLIC``).
- PAGES: https://docs.aws.amazon.com/health/latest/ug/pagnation-of-health-events.html (pages
  keep the eventArn, differ only in their entities, arrive in any order).
- BACKUP: https://docs.aws.amazon.com/health/latest/ug/choosing-a-region.html (every event is
  also delivered to a backup region, us-west-2, or us-east-1 for us-west-2, flagged
  ``detail.backupEvent``).
- API: https://docs.aws.amazon.com/health/latest/APIReference/API_Event.html (``actionability``:
  ACTION_REQUIRED, ACTION_MAY_BE_REQUIRED, INFORMATIONAL; ``eventScopeCode``).
- ORG: https://docs.aws.amazon.com/health/latest/ug/aggregating-health-events.html (an
  organizational event names the member account in ``detail.affectedAccount``, unlike
  ``account``).
- An older abuse shape without ``statusCode`` or ``lastUpdatedTime``: the DoS report sample of
  https://github.com/aws/aws-health-tools (dos-report-notifier).
"""

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vigil.channels.chatbot import chatbot_notification
from vigil.channels.slack import slack_message
from vigil.channels.teams import teams_message
from vigil.channels.webhook import webhook_payload
from vigil.core.errors import InvalidEventError
from vigil.core.model import ChatPayload, HealthEvent, Labels, Signal
from vigil.health.events import (
    MAX_ENTITIES_LISTED,
    HealthChange,
    HealthPages,
    Page,
    PageSummary,
    digest,
    entity_set_hash,
    eventbridge_page,
    from_api,
    from_eventbridge,
    health_lines,
    health_notification,
    merge_page,
    parked_notification,
    track,
    wanted,
)
from vigil.rules.document import RulesConfig
from vigil.rules.health import HEALTH_POLL_KIND
from vigil.rules.kinds import judge, kind_title

# SCHEMA, "AWS Health Event Sample 2" (account-specific, page 1 of 10).
ACCOUNT_SPECIFIC: dict[str, Any] = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "AWS Health Event",
    "source": "aws.health",
    "account": "123456789012",
    "time": "2023-01-27T01:43:21Z",
    "region": "us-west-2",
    "resources": ["arn:ec2-1-101002929", "arn:ec2-1-101002930"],
    "detail": {
        "eventArn": "arn:aws:health:us-west-2::event/"
        "AWS_EC2_INSTANCE_STORE_DRIVE_PERFORMANCE_DEGRADED_90353408594353980",
        "service": "EC2",
        "eventTypeCode": "AWS_EC2_INSTANCE_STORE_DRIVE_PERFORMANCE_DEGRADED",
        "eventTypeCategory": "issue",
        "eventScopeCode": "ACCOUNT_SPECIFIC",
        "communicationId": "1234abc01232a4012345678-1",
        "startTime": "Thu, 27 Jan 2023 13:19:03 GMT",
        "lastUpdatedTime": "Thu, 27 Jan 2023 13:44:13 GMT",
        "statusCode": "open",
        "eventRegion": "us-west-2",
        "eventDescription": [
            {"language": "en_US", "latestDescription": "A description of the event"}
        ],
        "eventMetadata": {"keystring1": "valuestring1", "truncated": "true"},
        "affectedEntities": [
            {
                "entityValue": "arn:ec2-1-101002929",
                "lastUpdatedTime": "Thu, 26 Jan 2023 19:01:55 GMT",
                "status": "IMPAIRED",
            },
            {
                "entityValue": "arn:ec2-1-101002930",
                "lastUpdatedTime": "Thu, 26 Jan 2023 19:05:12 GMT",
                "status": "UNIMPAIRED",
            },
        ],
        "affectedAccount": "123456789012",
        "page": "1",
        "totalPages": "10",
    },
}

# SCHEMA, "AWS Health Abuse Event Sample 2" (a DoS report).
ABUSE: dict[str, Any] = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "AWS Health Abuse Event",
    "source": "aws.health",
    "account": "123456789012",
    "time": "2018-08-01T06:27:57Z",
    "region": "global",
    "resources": ["arn:ec2-1-101002929", "arn:ec2-1-101002930"],
    "detail": {
        "eventArn": "arn:aws:health:global::event/"
        "AWS_ABUSE_DOS_REPORT_92387492375_4498_2018_08_01_02_33_00",
        "service": "ABUSE",
        "eventTypeCode": "AWS_ABUSE_DOS_REPORT",
        "eventTypeCategory": "issue",
        "eventScopeCode": "ACCOUNT_SPECIFIC",
        "communicationId": "1234abc01232a4012345678-1",
        "startTime": "Wed, 01 Aug 2018 06:27:57 GMT",
        "lastUpdatedTime": "Thu, 27 Jan 2023 13:44:13 GMT",
        "statusCode": "open",
        "eventRegion": "us-west-2",
        "eventDescription": [
            {
                "language": "en_US",
                "latestDescription": "Denial of Service (DOS) attack has been reported.",
            }
        ],
        "eventMetadata": {"keystring1": "valuestring1", "truncated": "true"},
        "affectedEntities": [
            {"entityValue": "arn:ec2-1-101002929", "status": "IMPAIRED"},
            {"entityValue": "arn:ec2-1-101002930", "status": "UNKNOWN"},
        ],
        "affectedAccount": "123456789012",
        "page": "1",
        "totalPages": "1",
    },
}

# PUBLIC: the public EC2 operational issue in us-east-1.
PUBLIC: dict[str, Any] = {
    "version": "0",
    "id": "fd9d4512-1eb0-50f6-0491-d016ae56aef0",
    "detail-type": "AWS Health Event",
    "source": "aws.health",
    "account": "123456789012",
    "time": "2023-02-15T10:07:10Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {
        "eventArn": "arn:aws:health:us-east-1::event/EC2/AWS_EC2_OPERATIONAL_ISSUE",
        "service": "EC2",
        "eventTypeCode": "AWS_EC2_OPERATIONAL_ISSUE",
        "eventTypeCategory": "issue",
        "eventScopeCode": "PUBLIC",
        "communicationId": "01b0993207d81a09dcd552ebd1e633e36cf1f09a-1",
        "startTime": "Wed, 15 Feb 2023 22:07:07 GMT",
        "lastUpdatedTime": "Wed, 15 Feb 2023 22:07:07 GMT",
        "statusCode": "open",
        "eventRegion": "us-east-1",
        "eventDescription": [
            {"language": "en_US", "latestDescription": "We are investigating an issue."}
        ],
        "page": "1",
        "totalPages": "1",
        "affectedAccount": "123456789012",
    },
}


def variant(base: dict[str, Any], **detail: Any) -> dict[str, Any]:
    event = copy.deepcopy(base)
    event["detail"] |= detail
    return event


def test_the_documented_account_specific_event_parses_and_ignores_fields_it_does_not_use() -> None:
    event = from_eventbridge(ACCOUNT_SPECIFIC)  # SCHEMA, with eventMetadata and entity statuses

    assert event.region == "us-west-2"
    assert event.scope == "ACCOUNT_SPECIFIC"
    assert event.affected_entities == ["arn:ec2-1-101002929", "arn:ec2-1-101002930"]
    assert eventbridge_page(ACCOUNT_SPECIFIC) == Page(1, 10)


def test_the_documented_abuse_event_is_an_ordinary_health_event() -> None:
    event = from_eventbridge(ABUSE)  # SCHEMA, abuse sample 2
    note = health_notification(event, HealthChange.NEW, stack="vigil")

    assert (event.service, event.event_type_code, event.region) == (
        "ABUSE",
        "AWS_ABUSE_DOS_REPORT",
        "us-west-2",
    )
    assert eventbridge_page(ABUSE) is None  # page 1 of 1 comes whole
    assert note.subject == "[AWS HEALTH] ABUSE issue in us-west-2: AWS_ABUSE_DOS_REPORT"
    assert "Denial of Service" in note.message
    assert wanted(event, RulesConfig().health)


def test_an_older_abuse_report_without_status_or_update_time_reads_as_open() -> None:
    older = copy.deepcopy(ABUSE)  # aws-health-tools DoS sample: no statusCode, lastUpdatedTime
    for field in ("statusCode", "lastUpdatedTime", "eventScopeCode", "page", "totalPages"):
        del older["detail"][field]

    event = from_eventbridge(older)

    assert event.status == "open"
    assert event.last_updated == datetime(2018, 8, 1, 6, 27, 57, tzinfo=UTC)  # the event's time


def test_a_public_event_and_an_organization_members_event_keep_the_right_account() -> None:
    public = from_eventbridge(PUBLIC)  # PUBLIC
    member = from_eventbridge(variant(ACCOUNT_SPECIFIC, affectedAccount="210987654321"))  # ORG

    assert (public.scope, public.account) == ("PUBLIC", "123456789012")
    assert member.account == "210987654321"


def test_the_backup_region_copy_is_the_same_event_and_changes_nothing() -> None:
    primary = variant(PUBLIC, backupEvent=False)  # BACKUP: us-west-2 also gets us-east-1's
    copied = variant(PUBLIC, backupEvent=True) | {"id": "another-id", "region": "us-west-2"}

    record, change = track(None, from_eventbridge(primary))

    assert from_eventbridge(copied) == from_eventbridge(primary)
    assert change is HealthChange.NEW
    assert track(record, from_eventbridge(copied)) == (None, None)


def test_a_scheduled_change_shows_its_window_and_is_info() -> None:
    # SCHEMA's fields on a scheduledChange: upcoming, with a start and an end.
    scheduled = variant(
        PUBLIC,
        eventArn="arn:aws:health:us-east-1::event/RDS/AWS_RDS_MAINTENANCE_SCHEDULED/1",
        service="RDS",
        eventTypeCode="AWS_RDS_MAINTENANCE_SCHEDULED",
        eventTypeCategory="scheduledChange",
        eventScopeCode="ACCOUNT_SPECIFIC",
        statusCode="upcoming",
        startTime="Sat, 04 Mar 2023 06:00:00 GMT",
        endTime="Sat, 04 Mar 2023 08:00:00 GMT",
        actionability="ACTION_MAY_BE_REQUIRED",
    )
    event = from_eventbridge(scheduled)
    note = health_notification(event, HealthChange.NEW, stack="vigil")

    assert "Window:     2023-03-04 06:00 UTC to 2023-03-04 08:00 UTC" in health_lines(event)
    assert "Action:     ACTION_MAY_BE_REQUIRED" in health_lines(event)
    assert note.severity.value == "info"
    chat = ChatPayload.model_validate_json(json.loads(note.message)["lambda"])
    assert chat.text.startswith("Window: 2023-03-04 06:00 UTC to 2023-03-04 08:00 UTC\n")


def test_a_scheduled_changes_resources_reach_chat_in_every_channel_capped() -> None:
    """Issue 15: scheduled changes are ``info``, which the default email filter drops, and
    chat showed only their description: every channel now lists the entities (the first
    ten, then a count) and the window. SCHEMA's scheduledChange fields, with the
    ``AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED`` type code its table names, on 37
    instances of SCHEMA Sample 2's account."""
    entities = [{"entityValue": f"i-{n:017x}", "status": "IMPAIRED"} for n in range(1, 38)]
    scheduled = variant(
        ACCOUNT_SPECIFIC,
        eventArn="arn:aws:health:us-west-2::event/EC2/"
        "AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED/1",
        eventTypeCode="AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED",
        eventTypeCategory="scheduledChange",
        statusCode="upcoming",
        startTime="Fri, 14 Mar 2025 09:30:00 GMT",
        endTime="Fri, 14 Mar 2025 13:30:00 GMT",
        affectedEntities=entities,
        totalPages="1",
    )
    event = from_eventbridge(scheduled)
    note = health_notification(event, HealthChange.NEW, stack="vigil")
    chat = ChatPayload.model_validate_json(json.loads(note.message)["lambda"])
    window = "Window: 2025-03-14 09:30 UTC to 2025-03-14 13:30 UTC"
    first_ten = [f"  - i-{n:017x}" for n in range(1, 11)]

    assert note.severity.value == "info"
    assert chat.text.splitlines()[:14] == [
        window,
        "Account: 123456789012",
        "Affected resources (37):",
        *first_ten,
        "  - and 27 more",
    ]
    assert "i-0000000000000000b" not in chat.text
    email = json.loads(note.message)["email"]
    assert "Window:     2025-03-14 09:30 UTC to 2025-03-14 13:30 UTC" in email
    assert "  - i-00000000000000014\n  - and 17 more" in email  # email lists 20
    slack = json.dumps(slack_message(chat))
    teams = json.dumps(teams_message(chat))
    chatbot = chatbot_notification(chat)["content"]["description"]
    webhook = webhook_payload(chat)["text"]
    for shown in (slack, teams, chatbot, webhook):
        assert "2025-03-14 09:30 UTC" in shown
        assert "i-0000000000000000a" in shown
        assert "and 27 more" in shown


def test_an_issue_shows_when_it_started_and_ended_in_readable_utc() -> None:
    event = from_eventbridge(variant(PUBLIC, endTime="Thu, 16 Feb 2023 01:15:00 GMT"))
    chat = ChatPayload.model_validate_json(
        json.loads(health_notification(event, HealthChange.RESOLVED, stack="v").message)["lambda"]
    )

    assert "Started:    2023-02-15 22:07 UTC" in health_lines(event)
    assert "Ended:      2023-02-16 01:15 UTC" in health_lines(event)
    assert "Updated:    2023-02-15 22:07 UTC" in health_lines(event)
    assert chat.text.splitlines()[:2] == [
        "Started: 2023-02-15 22:07 UTC",
        "Ended: 2023-02-16 01:15 UTC",
    ]
    assert chat.text.endswith("\n\nWe are investigating an issue.")


def test_a_long_description_cuts_before_the_resources_in_slack() -> None:
    event = from_eventbridge(variant(ACCOUNT_SPECIFIC, totalPages="1"))
    long = event.model_copy(update={"description": "Maintenance & more. " * 400})
    chat = ChatPayload.model_validate_json(
        json.loads(health_notification(long, HealthChange.NEW, stack="v").message)["lambda"]
    )
    section = slack_message(chat)["blocks"][1]["text"]["text"]

    assert len(section) <= 3000
    assert "arn:ec2-1-101002930" in section
    assert "Started: 2023-01-27 13:19 UTC" in section


def test_categories_statuses_scopes_and_fields_aws_adds_later_pass_through() -> None:
    future = variant(
        PUBLIC,
        eventTypeCategory="futureCategory",
        statusCode="mitigating",
        eventScopeCode="REGIONAL",
        actionability="ACTION_REQUIRED",
        personas=["OPERATIONS"],
        somethingNew={"nested": True},
    )
    event = from_eventbridge(future)
    note = health_notification(event, HealthChange.NEW, stack="vigil")

    assert (event.category, event.status, event.scope) == (
        "futureCategory",
        "mitigating",
        "REGIONAL",
    )
    assert note.subject.startswith("[AWS HEALTH] EC2 futureCategory in us-east-1")
    assert note.severity.value == "warning"  # an unknown category is worth a look
    assert "Status:     mitigating" in note.message
    assert "Action: ACTION_REQUIRED" in note.message  # the chat text


def test_an_unknown_status_is_live_and_closing_still_resolves() -> None:
    event = from_eventbridge(variant(PUBLIC, statusCode="mitigating"))
    record, change = track(None, event)
    closed = event.model_copy(
        update={"status": "closed", "last_updated": event.last_updated + timedelta(hours=1)}
    )

    assert change is HealthChange.NEW
    assert track(record, closed)[1] is HealthChange.RESOLVED


def test_the_api_shape_carries_scope_and_actionability_too() -> None:
    # API: Event with actionability and eventScopeCode.
    item = {
        "arn": "arn:aws:health:us-east-1::event/EC2/AWS_EC2_OPERATIONAL_ISSUE/1",
        "service": "EC2",
        "eventTypeCode": "AWS_EC2_OPERATIONAL_ISSUE",
        "eventTypeCategory": "issue",
        "region": "us-east-1",
        "lastUpdatedTime": datetime(2023, 2, 15, 22, 7, tzinfo=UTC),
        "statusCode": "open",
        "eventScopeCode": "PUBLIC",
        "actionability": "INFORMATIONAL",
        "personas": ["OPERATIONS"],
    }

    event = from_api(item, description="", entities=[], account="123456789012")

    assert (event.scope, event.actionability) == ("PUBLIC", "INFORMATIONAL")


def test_actionability_can_be_filtered_and_old_configs_still_load() -> None:
    rules = RulesConfig.from_json(
        '{"health": {"exclude": [{"actionabilities": ["INFORMATIONAL"]}]}}'
    )
    informational = from_eventbridge(variant(PUBLIC, actionability="INFORMATIONAL"))
    required = from_eventbridge(variant(PUBLIC, actionability="ACTION_REQUIRED"))
    without = from_eventbridge(PUBLIC)

    assert not wanted(informational, rules.health)
    assert wanted(required, rules.health)
    assert wanted(without, rules.health)  # no actionability matches no list
    assert RulesConfig.from_json('{"health": {"include": {"services": ["EC2"]}}}')
    with pytest.raises(Exception, match=r"health\.include\.actionabilities\.0"):
        RulesConfig.from_json('{"health": {"include": {"actionabilities": ["action"]}}}')


# ---------------------------------------------------------------------------- pages (PAGES)
def page_event(number: int, total: int, entities: list[str], **detail: Any) -> dict[str, Any]:
    return variant(
        ACCOUNT_SPECIFIC,
        page=str(number),
        totalPages=str(total),
        affectedEntities=[{"entityValue": e, "status": "IMPAIRED"} for e in entities],
        **detail,
    ) | {"id": f"page-{number}"}


def instances(start: int, count: int) -> list[str]:
    return [
        f"arn:aws:ec2:us-west-2:123456789012:instance/i-{n:08d}"
        for n in range(start, start + count)
    ]


def fold(
    pages: HealthPages | None, raw: dict[str, Any]
) -> tuple[HealthPages | None, HealthEvent | None]:
    page = eventbridge_page(raw)
    assert page is not None
    after, whole = merge_page(pages, from_eventbridge(raw), page)
    return after or pages, whole


def test_pages_in_any_order_make_one_event_listing_the_union() -> None:
    raws = [page_event(n + 1, 3, instances(n * 30, 30)) for n in range(3)]

    stored, first = fold(None, raws[2])
    stored, second = fold(stored, raws[0])
    stored, whole = fold(stored, raws[1])

    assert (first, second) == (None, None)
    assert whole is not None
    assert whole.entity_count == 90
    assert whole.affected_entities == instances(0, MAX_ENTITIES_LISTED)
    everything = from_api(
        {
            "arn": whole.arn,
            "service": "EC2",
            "eventTypeCode": whole.event_type_code,
            "eventTypeCategory": "issue",
            "region": "us-west-2",
            "lastUpdatedTime": whole.last_updated,
            "statusCode": "open",
            "eventScopeCode": "ACCOUNT_SPECIFIC",
        },
        description=whole.description,
        entities=instances(0, 90),
        account="123456789012",
    )
    assert digest(whole) == digest(everything)  # the poll's view of it changes nothing
    assert whole.entities_digest == entity_set_hash(instances(0, 90))


def test_a_page_arriving_twice_is_a_no_op_and_a_complete_event_is_sent_again_unchanged() -> None:
    raws = [page_event(n + 1, 2, instances(n * 5, 5)) for n in range(2)]
    stored, _ = fold(None, raws[0])

    again, held = merge_page(stored, from_eventbridge(raws[0]), Page(1, 2))
    stored, whole = fold(stored, raws[1])
    after_twice, resent = merge_page(stored, from_eventbridge(raws[1]), Page(2, 2))
    record, change = track(None, whole) if whole else (None, None)

    assert (again, held) == (None, None)
    assert after_twice is None
    assert resent == whole
    assert change is HealthChange.NEW
    assert whole is not None
    assert whole.affected_entities == instances(0, 10)
    assert track(record, resent) == (None, None)  # the evaluation finds nothing new


def test_a_newer_version_starts_over_and_a_late_page_of_an_older_one_is_dropped() -> None:
    old = [page_event(n + 1, 2, instances(n * 5, 5)) for n in range(2)]
    newer_time = "Thu, 27 Jan 2023 14:44:13 GMT"
    new = [page_event(n + 1, 2, instances(n * 5, 4), lastUpdatedTime=newer_time) for n in range(2)]

    stored, _ = fold(None, old[0])
    stored, held = fold(stored, new[0])
    late, dropped = merge_page(stored, from_eventbridge(old[1]), Page(2, 2))
    stored, whole = fold(stored, new[1])

    assert held is None
    assert (late, dropped) == (None, None)
    assert whole is not None
    assert whole.entity_count == 8


def test_an_update_notifies_only_when_the_union_changes() -> None:
    pages = [page_event(n + 1, 2, instances(n * 30, 30)) for n in range(2)]
    stored, _ = fold(None, pages[0])
    _, whole = fold(stored, pages[1])
    assert whole is not None
    record, _ = track(None, whole)
    later = whole.last_updated + timedelta(hours=1)
    same = whole.model_copy(update={"last_updated": later})
    fewer = from_api(
        {
            "arn": whole.arn,
            "service": "EC2",
            "eventTypeCode": whole.event_type_code,
            "eventTypeCategory": "issue",
            "region": "us-west-2",
            "lastUpdatedTime": later,
            "statusCode": "open",
        },
        description=whole.description,
        entities=instances(0, 59),
        account="123456789012",
    )

    assert track(record, same)[1] is None
    assert track(record, fewer)[1] is HealthChange.UPDATED


def test_bad_page_numbers_are_refused_naming_the_field() -> None:
    with pytest.raises(InvalidEventError, match=r"detail\.page"):
        eventbridge_page(page_event(0, 3, []))
    with pytest.raises(InvalidEventError, match=r"detail\.page/totalPages"):
        eventbridge_page(variant(ACCOUNT_SPECIFIC, page="one", totalPages="3"))
    with pytest.raises(InvalidEventError, match="1 to 1000 pages"):
        eventbridge_page(page_event(1, 5000, []))


def test_records_stay_small_whatever_the_number_of_entities() -> None:
    many = instances(0, 50_000)  # far more than one 256 KB EventBridge event holds
    event = from_api(
        {
            "arn": "arn:aws:health:us-west-2::event/EC2/AWS_EC2_X/1",
            "service": "EC2",
            "eventTypeCode": "AWS_EC2_X",
            "eventTypeCategory": "issue",
            "region": "us-west-2",
            "lastUpdatedTime": datetime(2023, 1, 27, tzinfo=UTC),
            "statusCode": "open",
        },
        description="x" * 1000,
        entities=many,
        account="123456789012",
    )
    record, _ = track(None, event)
    pages = HealthPages(
        arn=event.arn,
        last_updated=event.last_updated,
        total_pages=1000,
        pages={n: PageSummary(count=50, digest="f" * 32) for n in range(1, 1001)},
        entities=event.affected_entities,
    )

    assert len(event.affected_entities) == MAX_ENTITIES_LISTED
    assert event.entity_count == 50_000
    assert "and 49,980 more" not in "".join(health_lines(event))  # counts are plain
    assert "  - and 49980 more" in health_lines(event)
    assert record is not None
    assert len(record.model_dump_json()) < 1_000
    assert len(event.model_dump_json()) < 5_000  # 25 a batch stay far under 256 KiB
    assert len(pages.model_dump_json()) < 100_000  # the 400 KB item limit, with room


# ---------------------------------------------------------------------------- self-watch
def test_a_parked_event_notice_names_the_event_and_the_reason() -> None:
    note = parked_notification(
        "evt-1", "aws.health event: detail.eventArn: missing", stack="vigil", table="vigil-state"
    )
    again = parked_notification("evt-1", "another wording", stack="vigil", table="vigil-state")

    assert note.subject == "[WARNING] Vigil self-watch: AWS Health event evt-1 parked"
    assert "detail.eventArn: missing" in note.message
    assert "HEALTHPARKED#evt-1" in note.message
    assert note.notification_id == again.notification_id  # one notice per event id
    assert note.category == "self-watch"


def poll_signal(failures: float) -> Signal:
    return Signal(
        source="health",
        labels=Labels(
            kind=HEALTH_POLL_KIND,
            resource="AWS Health API",
            account="123456789012",
            region="us-east-1",
        ),
        value=failures,
        unit="Count",
        window_seconds=60,
        observed_at=datetime(2026, 11, 2, 9, tzinfo=UTC),
        context={"error": "no Health endpoint answered: 503"},
    )


def test_the_poll_alerts_from_the_configured_number_of_failures_in_a_row() -> None:
    default = RulesConfig()
    patient = RulesConfig.from_json('{"health": {"poll_failures_before_alert": 5}}')

    breach = judge(poll_signal(3), default)

    assert judge(poll_signal(2), default) is None
    assert breach is not None
    assert breach.severity.value == "warning"
    assert "failed 3 times in a row (last: no Health endpoint answered: 503)" in (
        breach.evidence.summary
    )
    assert judge(poll_signal(3), patient) is None
    assert kind_title(HEALTH_POLL_KIND) == "Vigil AWS Health poll failing"
