"""An outage across accounts (issue 17: "a regional outage across 3 member accounts is one
outage notice naming them"; docs/architecture.md, ADR 52).

Where the cases come from:
- one evaluation carries every account's breaches of a minute (ADR 51), and two accounts may
  both run a function called ``orders-api``: a resource is an account's resource;
- account names are Organizations' ``Account.Name``: 1 to 50 characters of
  ``[\\u0020-\\u007E]`` (AWS Organizations API Reference, ``Account``), so ``<``, ``>``, ``&``,
  ``*``, ``_`` and a backtick are all legal in one; each channel escapes them as its format
  asks (Slack's "Escaping text", api.slack.com/reference/surfaces/formatting; CommonMark's
  backslash escapes for Teams; ADR 33);
- the bounds are the outage item's (ADR 28: DynamoDB items at most 400 KB).
"""

import json
from datetime import datetime

from tests.factories import T0, batch, error_signal, minutes
from tests.fakes import MemoryAlertStore, MemoryHealthStore, MemoryOutageStore
from vigil.channels.chatbot import chatbot_notification
from vigil.channels.slack import slack_message
from vigil.channels.teams import teams_message
from vigil.channels.webhook import webhook_payload
from vigil.core.model import ChatPayload, Labels, Notification, Scope, Severity, Signal
from vigil.evaluation.outages import reads_every_account
from vigil.evaluation.pipeline import OutagePorts, evaluate
from vigil.health.outages import (
    MAX_ACCOUNTS,
    MAX_EVIDENCE,
    MAX_MUTED_LISTED,
    Outage,
    OutageAccount,
    OutageChange,
    OutageState,
    outage_notification,
    suspicion,
)
from vigil.rules.base import Breach, breach
from vigil.rules.document import RulesConfig
from vigil.rules.health import OutageConfig

RUNBOOK = "arn:aws:states:us-east-1:123456789012:stateMachine:runbook"
PAYMENTS, STAGING, SANDBOX = "111111111111", "222222222222", "333333333333"
NAMES = {PAYMENTS: "prod-payments", STAGING: "staging"}  # the sandbox has no name: its id alone


def signal(
    resource: str, account: str, *, at: datetime = T0, names: dict[str, str] = NAMES
) -> Signal:
    """A failing function of ``account``, named as the collector names a member's signals."""
    failing = error_signal(resource, invocations=10_000, errors=2_000, at=at)
    labels = Labels(kind="lambda.errors", resource=resource, account=account, region="us-east-1")
    named = {"account_name": names[account]} if account in names else {}
    return failing.model_copy(update={"labels": labels, "tags": named})


def breaches(*pairs: tuple[str, str], names: dict[str, str] = NAMES) -> list[Breach]:
    return [
        breach(
            signal(resource, account, names=names),
            Severity.CRITICAL,
            20.0,
            1.0,
            "Percent",
            summary="2,000 errors in 10,000 invocations over 5 min (20.00%)",
        )
        for resource, account in pairs
    ]


def suspect(
    current: Outage | None, found: list[Breach], *, minute: int = 0, least: int = 3
) -> Outage | None:
    step = suspicion(
        current,
        found,
        service="lambda",
        region="us-east-1",
        now=T0 + minutes(minute),
        batch_id=f"minute-{minute}",
        config=OutageConfig(min_resources=least),
    )
    return step.after if step else None


# ---------------------------------------------------------------------------- counting
def test_one_function_name_in_two_accounts_is_two_resources() -> None:
    outage = suspect(None, breaches(("orders-api", PAYMENTS), ("orders-api", STAGING)), least=2)

    assert outage is not None
    assert (outage.signals, outage.resources) == (2, 2)
    assert [(e.account, e.resource) for e in outage.evidence] == [
        (PAYMENTS, "orders-api"),
        (STAGING, "orders-api"),
    ]


def test_resources_of_several_accounts_add_up_to_the_threshold() -> None:
    # One failing function in each of three accounts: three resources, the default threshold.
    found = breaches(("orders-api", PAYMENTS), ("orders-api", STAGING), ("orders-api", SANDBOX))

    outage = suspect(None, found)

    assert outage is not None
    assert [(a.id, a.name) for a in outage.accounts] == [
        (PAYMENTS, "prod-payments"),
        (STAGING, "staging"),
        (SANDBOX, ""),
    ]
    assert outage.account == PAYMENTS  # the first account, as one account's outage had
    # Two resources stay below it, whichever accounts they are in.
    assert suspect(None, breaches(("orders-api", PAYMENTS), ("orders-api", STAGING))) is None


def test_capped_evidence_still_counts_every_account_and_resource() -> None:
    # The evidence is kept in (account, resource) order: the first account's thousand
    # functions fill it, the two other accounts are beyond it.
    found = breaches(
        *((f"fn-{i:04d}", PAYMENTS) for i in range(MAX_EVIDENCE)),
        *((f"fn-{i:04d}", account) for account in (STAGING, SANDBOX) for i in range(5)),
    )

    outage = suspect(None, found)

    assert outage is not None
    assert len(outage.evidence) == MAX_EVIDENCE
    assert {e.account for e in outage.evidence} == {PAYMENTS}
    assert (outage.signals, outage.resources) == (MAX_EVIDENCE + 10, MAX_EVIDENCE + 10)
    assert [a.id for a in outage.accounts] == [PAYMENTS, STAGING, SANDBOX]


def test_accounts_accumulate_and_learn_their_names_while_the_outage_is_open() -> None:
    first = breaches(("a", PAYMENTS), ("b", PAYMENTS), ("c", SANDBOX))
    opened = suspect(None, first)
    assert opened is not None
    unnamed = opened.model_copy(
        update={"accounts": [OutageAccount(id=PAYMENTS), OutageAccount(id=SANDBOX)]}
    )

    later = suspect(unnamed, breaches(("a", PAYMENTS), ("d", STAGING), ("e", STAGING)), minute=1)

    assert later is not None
    assert [a.label for a in later.accounts] == [
        "prod-payments (111111111111)",
        "333333333333",
        "staging (222222222222)",
    ]
    assert later.resources == 5


def test_beyond_the_listed_accounts_they_are_counted_and_the_count_never_drops() -> None:
    many = [f"{n:012d}" for n in range(1, MAX_ACCOUNTS + 51)]
    opened = suspect(None, breaches(*(("orders-api", account) for account in many)))
    assert opened is not None
    assert len(opened.accounts) == MAX_ACCOUNTS
    assert (opened.account_total, opened.account_count) == (MAX_ACCOUNTS + 50, MAX_ACCOUNTS + 50)
    assert len(opened.model_dump_json()) < 400_000

    # A later minute shows fewer of them failing: the outage still spans what it counted.
    later = suspect(opened, breaches(*(("orders-api", a) for a in many[:120])), minute=1)

    assert later is not None
    assert later.account_total == MAX_ACCOUNTS + 50
    assert later.accounts == opened.accounts


def test_the_largest_outage_stays_one_item() -> None:
    # The longest names Lambda (64 characters) and Organizations (50) allow, more evidence and
    # accounts than an outage keeps, every muted fingerprint it lists, a long AWS description.
    accounts = [f"{n:012d}" for n in range(1, MAX_ACCOUNTS + 51)]
    names = {account: account.rjust(50, "n") for account in accounts}
    found = breaches(
        *((f"{i:064d}", accounts[i % len(accounts)]) for i in range(2 * MAX_EVIDENCE)),
        names=names,
    )
    opened = suspect(None, found)
    assert opened is not None

    largest = opened.with_muted([f"{i:020x}" for i in range(MAX_MUTED_LISTED + 1)]).model_copy(
        update={"health_text": "x" * 10_000}
    )

    assert (len(largest.evidence), len(largest.accounts)) == (MAX_EVIDENCE, MAX_ACCOUNTS)
    assert len(largest.model_dump_json()) < 400_000  # a DynamoDB item (ADR 28)


def test_an_outage_stored_before_accounts_were_recorded_reads_as_its_own_account() -> None:
    # An item as the previous release wrote it: no accounts, evidence without an account.
    stored = {
        "version": 1,
        "service": "lambda",
        "region": "us-east-1",
        "account": PAYMENTS,
        "state": "suspected",
        "incident": "outage-lambda-us-east-1-20261102T0900Z",
        "opened_at": "2026-11-02T09:00:00Z",
        "last_seen": "2026-11-02T09:00:00Z",
        "last_batch": "minute-0",
        "evidence": [
            {"resource": r, "kind": "lambda.errors", "summary": "errors"} for r in ("a", "b", "c")
        ],
        "revision": 1,
    }
    outage = Outage.model_validate_json(json.dumps(stored))
    assert (outage.resources, [a.id for a in outage.spanned]) == (3, [PAYMENTS])

    later = suspect(outage, breaches(("a", PAYMENTS), ("b", PAYMENTS), ("c", PAYMENTS)), minute=1)

    assert later is not None
    assert (later.signals, later.resources) == (3, 3)  # the same three, not six
    assert [a.label for a in later.accounts] == ["prod-payments (111111111111)"]


# ---------------------------------------------------------------------------- the notice
def notice(outage: Outage, change: OutageChange = OutageChange.SUSPECTED) -> Notification:
    return outage_notification(
        outage, change, stack="vigil", runbook="suggest", runbook_arn=RUNBOOK
    )


def email(notification: Notification) -> str:
    return str(json.loads(notification.message)["email"])


def chat(notification: Notification) -> ChatPayload:
    return ChatPayload.model_validate_json(json.loads(notification.message)["lambda"])


def test_the_notice_names_the_accounts_and_where_each_resource_fails() -> None:
    found = breaches(("orders-api", PAYMENTS), ("orders-api", STAGING), ("orders-api", SANDBOX))
    outage = suspect(None, found)
    assert outage is not None

    body = email(notice(outage))

    assert "3 signals across 3 resources in 3 accounts of lambda in us-east-1" in body
    assert (
        "\n\nAccounts (3): prod-payments (111111111111), staging (222222222222), 333333333333\n"
    ) in body
    assert "  - orders-api (prod-payments) lambda.errors: 2,000 errors" in body
    assert "  - orders-api (333333333333) lambda.errors: 2,000 errors" in body
    assert "3 resources failing in 3 accounts" in str(chat(notice(outage)).command)
    resolved = email(notice(outage, OutageChange.RESOLVED))
    assert "Accounts (3): prod-payments (111111111111)," in resolved


def test_more_than_a_handful_of_accounts_are_the_first_five_and_a_count() -> None:
    accounts = [f"{n:012d}" for n in range(1, 8)]
    outage = suspect(None, breaches(*(("orders-api", a) for a in accounts)))
    assert outage is not None

    assert (
        "Accounts (7): 000000000001, 000000000002, 000000000003, 000000000004, 000000000005"
        " and 2 more accounts"
    ) in email(notice(outage))


def test_one_accounts_outage_reads_as_before_with_its_account_line() -> None:
    outage = suspect(None, breaches(("a", SANDBOX), ("b", SANDBOX), ("c", SANDBOX)))
    assert outage is not None

    body = email(notice(outage))

    assert "3 signals across 3 resources of lambda in us-east-1 are failing at once." in body
    assert "\n\nAccount:   333333333333\n\nEvidence (Vigil's own signals):\n" in body
    assert "  - a lambda.errors: 2,000 errors" in body
    assert str(chat(notice(outage)).command).endswith(
        "--reason 'AWS outage suspected: lambda in us-east-1; 3 resources failing'"
    )


def test_an_account_name_is_escaped_by_every_channel() -> None:
    # A legal Organizations account name that is markup in Slack and in Teams' Markdown.
    names = NAMES | {"444444444444": "<!channel> & *ops*"}
    found = breaches(("a", "444444444444"), ("b", "444444444444"), ("c", PAYMENTS), names=names)
    outage = suspect(None, found)
    assert outage is not None
    payload = chat(notice(outage))

    slack = json.dumps(slack_message(payload))
    assert "&lt;!channel&gt; &amp; *ops* (444444444444)" in slack
    assert "<!channel>" not in slack
    chatbot = chatbot_notification(payload)["content"]["description"]
    assert "&lt;!channel&gt; &amp; *ops* (444444444444)" in chatbot
    teams = json.dumps(teams_message(payload))
    assert "\\\\<!channel\\\\> \\\\& \\\\*ops\\\\* (444444444444)" in teams
    assert "<!channel> & *ops* (444444444444)" in webhook_payload(payload)["text"]
    assert "<!channel> & *ops* (444444444444)" in email(notice(outage))  # plain text


# ---------------------------------------------------------------------------- end to end
def test_a_regional_outage_across_three_accounts_is_one_notice_naming_them() -> None:
    store = MemoryAlertStore()
    outages = MemoryOutageStore(store.outbox)
    ports = OutagePorts(outages, MemoryHealthStore(store.outbox), RUNBOOK)
    rules = RulesConfig.from_json(json.dumps({"lambda_errors": {"for_minutes": 0}}))
    # One evaluation of every account's minute (ADR 51): a function failing in each of three.
    merged = batch(T0, *(signal("orders-api", a) for a in (PAYMENTS, STAGING, SANDBOX)))

    result = evaluate(
        merged, rules=rules, store=store, routing=store.routing, stack="vigil", correlation=ports
    )

    assert [n.subject for n in result.notifications] == [
        "[CRITICAL] Suspected AWS outage: lambda in us-east-1"
    ]
    assert result.summary.muted == 3
    (outage,) = outages.items.values()
    assert [a.id for a in outage.accounts] == [PAYMENTS, STAGING, SANDBOX]
    assert "Accounts (3): prod-payments (111111111111), staging (222222222222), 333333333333" in (
        email(result.notifications[0])
    )


# ---------------------------------------------------------------------------- partial batches
def test_a_batch_that_did_not_read_every_account_does_not_lift_the_outage() -> None:
    # Given an outage suspected across three accounts (ADR 51's merged batches)
    found = breaches(("orders-api", PAYMENTS), ("orders-api", STAGING), ("orders-api", SANDBOX))
    outage = suspect(None, found)
    assert outage is not None
    config = OutageConfig(min_resources=3)
    # When a minute's merged batch read only the payments account (the others' targets failed)
    partial = batch(T0 + minutes(5), signal("orders-api", PAYMENTS, at=T0 + minutes(5))).model_copy(
        update={"scopes": [Scope(account=PAYMENTS, region="us-east-1", kinds=["lambda.errors"])]}
    )
    whole = partial.model_copy(
        update={
            "scopes": [
                Scope(account=account, region="us-east-1", kinds=["lambda.errors"])
                for account in (PAYMENTS, STAGING, SANDBOX)
            ]
        }
    )

    # Then it does not read every account, and too few breaches keep the outage open
    assert not reads_every_account(partial, outage, config.kinds)
    kept = suspicion(
        outage,
        found[:1],
        service="lambda",
        region="us-east-1",
        now=T0 + minutes(5),
        batch_id="minute-5",
        config=config,
        lift=False,
    )
    assert kept is None or kept.change is not OutageChange.RESOLVED
    # And a batch that read all three lifts it, as one account's batch always could
    assert reads_every_account(whole, outage, config.kinds)
    assert reads_every_account(batch(T0), outage, config.kinds)  # no scopes: one account
    lifted = suspect(outage, found[:1], minute=5)
    assert lifted is not None
    assert lifted.state is not OutageState.SUSPECTED
