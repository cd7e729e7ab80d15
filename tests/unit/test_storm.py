"""A storm, at ten times the load we expect: no item, message or workflow state outgrows its
limit, and people hear a few grouped messages, not one per alert.

The limits come from AWS's quotas pages: DynamoDB items at most 400 KB
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html),
Step Functions state and SNS messages at most 256 KiB
(https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html,
https://docs.aws.amazon.com/general/latest/gr/sns.html).
"""

import json

from tests.factories import T0, batch, error_signal, minutes
from tests.fakes import MemoryAlertStore, MemoryHealthStore, MemoryOutageStore
from vigil.alerting.grouping import MAX_MEMBERS
from vigil.evaluation.pipeline import OutagePorts, evaluate
from vigil.health.outages import MAX_EVIDENCE, MAX_MUTED_LISTED
from vigil.rules.document import RulesConfig

ITEM_LIMIT = 400_000
STATE_LIMIT = 256 * 1024
RUNBOOK = "arn:aws:states:us-east-1:123456789012:stateMachine:vigil-runbook"


def failing(count: int, at_minute: int = 0) -> list:  # type: ignore[type-arg]
    at = T0 + minutes(at_minute)
    return [error_signal(f"fn-{i:05d}", invocations=100, errors=60, at=at) for i in range(count)]


def test_an_outage_of_ten_thousand_functions_stays_one_bounded_item_and_one_message() -> None:
    store = MemoryAlertStore()
    outages = MemoryOutageStore(store.outbox)
    ports = OutagePorts(outages, MemoryHealthStore(store.outbox), RUNBOOK)
    rules = RulesConfig()

    first = evaluate(
        batch(T0, *failing(10_000)),
        rules=rules,
        store=store,
        routing=store.routing,
        stack="vigil",
        correlation=ports,
    )

    (outage,) = outages.items.values()
    assert len(outage.model_dump_json()) < ITEM_LIMIT
    assert len(outage.muted) == MAX_MUTED_LISTED
    assert outage.muted_total == 10_000
    assert len(outage.evidence) == MAX_EVIDENCE
    assert (outage.signals, outage.resources) == (10_000, 10_000)
    (notice,) = first.notifications
    assert notice.subject == "[CRITICAL] Suspected AWS outage: lambda in us-east-1"
    assert "10000 signals across 10000 resources" in json.loads(notice.message)["email"]
    assert len(first.model_dump_json()) < STATE_LIMIT

    # Most recover; the suspicion lifts and the 40 still failing are released, one message
    # each (flood control keeps the room), although the outage listed only 2,000 of them.
    still = [s for s in failing(10_000, 5) if s.labels.resource.endswith(("00", "50"))][:2]
    over = evaluate(
        batch(T0 + minutes(5), *still),
        rules=rules,
        store=store,
        routing=store.routing,
        stack="vigil",
        correlation=ports,
    )

    subjects = [n.subject for n in over.notifications]
    assert subjects[0] == "[RESOLVED] AWS outage over: lambda in us-east-1"
    assert sorted(subjects[1:]) == [
        "[CRITICAL] Lambda errors still firing: fn-00000",
        "[CRITICAL] Lambda errors still firing: fn-00050",
    ]


def test_a_group_larger_than_an_item_continues_in_parts_and_every_alert_is_heard_once() -> None:
    store = MemoryAlertStore()
    rules = RulesConfig.model_validate(
        {
            "outage": {"enabled": False},
            "routing": {"route": {"receivers": ["default"], "group_by": ["kind"]}},
        }
    )

    fired = evaluate(
        batch(T0, *failing(2_500)), rules=rules, store=store, routing=store.routing, stack="v"
    )

    parts = list(store.groups.items.values())
    assert sorted(len(g.members) for g in parts) == [500, MAX_MEMBERS, MAX_MEMBERS]
    assert all(len(g.model_dump_json()) < ITEM_LIMIT for g in parts)
    members = [fp for g in parts for fp in g.members]
    assert len(members) == len(set(members)) == 2_500
    assert sorted(n.subject for n in fired.notifications) == [
        "[CRITICAL] Lambda errors: 1000 firing",
        "[CRITICAL] Lambda errors: 1000 firing",
        "[CRITICAL] Lambda errors: 500 firing",
    ]

    resolved = evaluate(
        batch(T0 + minutes(5)), rules=rules, store=store, routing=store.routing, stack="v"
    )

    assert sorted(n.subject for n in resolved.notifications) == [
        "[RESOLVED] Lambda errors: 1000 resolved",
        "[RESOLVED] Lambda errors: 1000 resolved",
        "[RESOLVED] Lambda errors: 500 resolved",
    ]
    assert all(not g.members for g in store.groups.items.values())


def test_a_storm_of_separate_groups_sends_thirty_messages_and_one_digest() -> None:
    store = MemoryAlertStore()
    rules = RulesConfig.model_validate({"outage": {"enabled": False}})

    result = evaluate(
        batch(T0, *failing(10_000)), rules=rules, store=store, routing=store.routing, stack="v"
    )

    digest = result.notifications[-1]
    assert len(result.notifications) == 31
    assert digest.subject == "[CRITICAL] 9970 more alert notifications from one evaluation"
    body = json.loads(digest.message)["email"]
    assert body.count("\n- [CRITICAL] Lambda errors firing: ") == 200
    assert "- ...and 9770 more" in body
    assert all(len(n.model_dump_json()) < STATE_LIMIT for n in result.notifications)
    assert len(store.outbox.pending()) == 31
