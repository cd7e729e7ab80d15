"""Per-resource overrides through the real template (issue 14, item 5): a config entry that opts
out the resources tagged team=batch, a vigil: tag that tightens one state machine's rule, and a
bad vigil: tag that is reported while its resource keeps the config's rule.

Given the resource-tags scenario, three state machines fail five of their 500 executions a
window from 09:10 to 09:20; each is judged by its own rule, and the bad tag raises its own warning.
"""

from collections.abc import Iterator

import pytest

from emulator import Emulator
from tests.e2e.scenario_runs import collector_cycles, emails, play_scenario

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]

REFUND_FLOW = "states:refund-flow"


@pytest.fixture(scope="module")
def tagged() -> Iterator[Emulator]:
    yield from play_scenario("resource-tags")


def test_each_state_machine_is_judged_by_its_own_rule(tagged: Emulator) -> None:
    assert sorted(s for s in emails(tagged) if "Step Functions" in s[1]) == [
        # vigil:step_functions.critical_rate=0.001: five failures in 500 page.
        # The first full window of failures ends 09:18 (the cycle's window lags 2 minutes);
        # the one after holds two failures in 200, not improbable at 0.1 %: resolved.
        ("09:20", "[CRITICAL] Step Functions executions failed firing: order-flow"),
        # The bad tag is not applied: the config's rule warns.
        ("09:20", "[WARNING] Step Functions executions failed firing: refund-flow"),
        ("09:25", "[RESOLVED] Step Functions executions failed resolved: order-flow"),
        ("09:25", "[RESOLVED] Step Functions executions failed resolved: refund-flow"),
    ]  # batch-flow (team=batch) is opted out by the config's overrides.


def test_a_bad_tag_is_a_warning_naming_the_resource_the_tag_and_the_error(
    tagged: Emulator,
) -> None:
    subject = f"[WARNING] Vigil resource tags invalid firing: {REFUND_FLOW}"
    assert [s for s in emails(tagged) if "tags invalid" in s[1]] == [("09:05", subject)]
    body = next(email.body for email in tagged.mailbox.emails if email.subject == subject)
    assert "tag vigil:step_functions.critical_rate=many: Input should be a valid number" in body


def test_tags_are_read_at_discovery_only(tagged: Emulator) -> None:
    calls = [cycle["api_calls"].get("GetResources", 0) for cycle in collector_cycles(tagged)]

    # The first cycle finds no stored tags and discovers; the next discovery is at 10:00.
    assert calls[0] == 1
    assert sum(calls) == 1
