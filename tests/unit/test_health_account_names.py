"""AWS Health notices name an Organization member's account by its name (ADR 52).

The organizational view reports affected accounts by id only
(``DescribeAffectedAccountsForOrganization`` returns ``affectedAccounts``, a list of ids; AWS
Health API Reference); the names are Organizations' ``Account.Name`` (1 to 50 characters of
``[\\u0020-\\u007E]``, so markup characters are legal), which Vigil stores at discovery (ADR 50).
"""

import json

from tests.factories import T0
from tests.fakes import MemoryAlertStore, MemoryHealthStore, MemoryOutageStore
from tests.unit.test_health import health_event
from vigil.channels.slack import slack_message
from vigil.channels.teams import teams_message
from vigil.core.model import ChatPayload, EvaluationResult, HealthEvent, SignalBatch
from vigil.evaluation.pipeline import OutagePorts, evaluate
from vigil.health.events import HealthChange, health_notification
from vigil.rules.document import RulesConfig

RUNBOOK = "arn:aws:states:us-east-1:123456789012:stateMachine:runbook"
EC2 = {"service": "EC2", "event_type_code": "AWS_EC2_OPERATIONAL_ISSUE"}


class Members:
    """The stored members' names, counting the accounts asked about."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        self.asked: list[str] = []

    def name(self, account: str) -> str | None:
        self.asked.append(account)
        return self.names.get(account)


def run(*events: HealthEvent, members: Members | None) -> EvaluationResult:
    store = MemoryAlertStore()
    ports = OutagePorts(
        MemoryOutageStore(store.outbox),
        MemoryHealthStore(store.outbox),
        RUNBOOK,
        account_names=members,
    )
    health = SignalBatch(
        batch_id="health-0",
        source="health",
        collected_at=T0,
        covered_kinds=[],
        signals=[],
        health_events=list(events),
    )
    return evaluate(
        health,
        rules=RulesConfig(),
        store=store,
        routing=store.routing,
        stack="vigil",
        correlation=ports,
    )


def bodies(result: EvaluationResult) -> list[tuple[str, str]]:
    """Each notice's email and chat text."""
    found = []
    for notification in result.notifications:
        message = json.loads(notification.message)
        found.append((message["email"], ChatPayload.model_validate_json(message["lambda"]).text))
    return found


def test_each_member_accounts_notice_names_it() -> None:
    members = Members({"111111111111": "prod-payments"})
    # One organizational event, one notice per affected account (ADR 30): a member, and an
    # account the last discovery did not store.
    result = run(
        health_event(account="111111111111", **EC2),
        health_event(account="222222222222", **EC2),
        members=members,
    )

    (named_email, named_chat), (other_email, other_chat) = bodies(result)
    assert "\nAccount:    prod-payments (111111111111)\n" in named_email
    assert "Account: prod-payments (111111111111)" in named_chat
    assert "\nAccount:    222222222222\n" in other_email
    assert "Account: 222222222222" in other_chat
    assert members.asked == ["111111111111", "222222222222"]


def test_without_organization_mode_a_notice_reads_as_before_and_nothing_is_asked() -> None:
    (email, chat), *_ = bodies(run(health_event(account="111111111111", **EC2), members=None))

    assert "\nAccount:    111111111111\n" in email
    assert "Account: 111111111111" in chat


def test_an_event_naming_no_account_asks_for_no_name() -> None:
    members = Members({"111111111111": "prod-payments"})

    result = run(health_event(account=None, **EC2), members=members)

    assert len(result.notifications) == 1
    assert members.asked == []


def test_a_member_name_is_escaped_when_the_notice_is_rendered() -> None:
    event = health_event(account="111111111111", **EC2)
    notice = health_notification(
        event, HealthChange.NEW, stack="vigil", account_name="<!here> & _prod_"
    )
    payload = ChatPayload.model_validate_json(json.loads(notice.message)["lambda"])

    slack = json.dumps(slack_message(payload))
    assert "Account: &lt;!here&gt; &amp; _prod_ (111111111111)" in slack
    assert "<!here>" not in slack
    teams = json.dumps(teams_message(payload))
    assert "Account: \\\\<!here\\\\> \\\\& \\\\_prod\\\\_ (111111111111)" in teams
    assert "Account:    <!here> & _prod_ (111111111111)" in json.loads(notice.message)["email"]
