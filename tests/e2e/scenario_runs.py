"""Shared helpers of the scenario tests: play a built-in scenario, read what it produced."""

from collections.abc import Iterator
from typing import Any

from emulator import Emulator

ALERT_EMAIL = "ops@example.com"
# Every cycle also reads the stack's own two state machines (Evaluate, OutageRunbook): three
# Step Functions execution metrics each (docs/architecture.md, ADR 24).
STACK_WORKFLOW_METRICS = 6
# and the two stack functions with reserved concurrency (SlackActionsFunction and
# ErrorStreamFunction, 5 each by default): their ConcurrentExecutions Maximum against the
# reservation (docs/architecture.md, ADR 21).
STACK_RESERVED_METRICS = 2
# What every cycle reads of the stack itself, whatever the scenario.
STACK_METRICS = STACK_WORKFLOW_METRICS + STACK_RESERVED_METRICS
# The Lambda fast path, whatever the number of functions: the Lambda family's 8 account
# aggregates (docs/architecture.md, ADR 20 and 21) and the account's Duration peak the duration
# dial reads (docs/rules.md, lambda_timeouts).
LAMBDA_FAST_PATH = 8 + 1


def play_scenario(scenario: str) -> Iterator[Emulator]:
    """Deploy with an email subscriber, play ``scenario`` to its end, yield the emulator
    (a module-scoped fixture body: ``yield from play_scenario("name")``)."""
    with Emulator.start(scenario=scenario, parameters={"AlertEmail": ALERT_EMAIL}) as emu:
        emu.play()
        yield emu


def emails(emu: Emulator) -> list[tuple[str, str]]:
    """Every email as (simulated HH:MM, subject)."""
    return [(f"{email.sent_at:%H:%M}", email.subject) for email in emu.mailbox.emails]


def collector_cycles(emu: Emulator) -> list[dict[str, Any]]:
    """The metrics collector's per-cycle summaries, from its captured logs."""
    records = emu.logs["CollectMetricsFunction"].records()
    return [record for record in records if record.get("message") == "collected"]
