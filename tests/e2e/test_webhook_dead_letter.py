"""A JSON webhook that keeps failing, in the real stack: the delivery is retried, then the event
lands in the chat dead-letter queue with the failure named; nothing else is held up.

The outage-demo scenario with one receiver: email and a JSON webhook. The webhook answers 503
to the first twelve POSTs: the first notification's three Lambda attempts (each one try and
three retries with backoff).
"""

import json
from collections.abc import Iterator

import pytest

from emulator import Emulator
from tests.e2e.scenario_runs import ALERT_EMAIL
from tests.schemas import problems

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]

RULES = {
    "repeat_interval_minutes": 30,
    "routing": {"receivers": [{"name": "default", "email": True, "webhook": "audit_url"}]},
}


@pytest.fixture(scope="module")
def played() -> Iterator[Emulator]:
    parameters = {"AlertEmail": ALERT_EMAIL, "RulesConfig": json.dumps(RULES)}
    with Emulator.start(scenario="outage-demo", parameters=parameters) as emu:
        emu.set_chat_secret({"webhook_url": "", "audit_url": emu.slack.base_url + "/audit"})
        emu.slack.fail_next(12, status=503)
        emu.play()
        yield emu


def test_the_failing_delivery_ends_in_the_dead_letter_queue_with_the_failure_named(
    played: Emulator,
) -> None:
    (failure,) = played.failures
    dead = played.queue_messages("ChatDeadLetterQueue")

    assert (failure.function, failure.attempts) == ("NotifyChatFunction", 3)
    assert failure.error_type == "ChatDeliveryError"
    assert failure.error_message.startswith("JSON webhook answered 503")
    assert len(dead) == 1
    assert "[CRITICAL] Lambda errors firing: orders-api" in dead[0]["body"]
    assert [p.status for p in played.slack.posts[:12]] == [503] * 12


def test_the_other_notifications_are_delivered_and_valid(played: Emulator) -> None:
    delivered = [p.payload for p in played.slack.posts if p.status == 200]
    subjects = [email.subject for email in played.mailbox.emails]

    assert [d["title"] for d in delivered] == subjects[1:]  # all but the dead-lettered one
    assert [problems("webhook", d) for d in delivered] == [[] for _ in delivered]
    assert subjects[0] == "[CRITICAL] Lambda errors firing: orders-api"  # email got it
