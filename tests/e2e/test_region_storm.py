"""A region-wide failure through the real template: 5,000 functions fail at once.

Given an account of 5,000 functions (``emulator/scenarios/region-storm.yaml``) whose Lambda
service fails in every function from 09:10 to 09:25 (errors and throttles), the first cycle that
sees it (09:15) hands the Evaluate workflow a ~2.8 MB batch by reference, and people hear at once
the suspected-outage notice and the alerts grouped by kind, in parts of 1,000; when it ends,
the outage is lifted and each part announces its resolution. Nothing reaches a dead-letter
queue (docs/architecture.md, ADR 28 and 29).
"""

from collections import Counter
from collections.abc import Iterator

import pytest

from emulator import Emulator
from tests.e2e.scenario_runs import emails, play_scenario

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]

PARTS = 5  # 5,000 alerts of a kind, 1,000 to a group item


@pytest.fixture(scope="module")
def storm() -> Iterator[Emulator]:
    yield from play_scenario("region-storm")


def test_the_first_cycle_that_sees_it_sends_the_outage_notice_and_grouped_alerts(
    storm: Emulator,
) -> None:
    sent = Counter(emails(storm))

    assert sent == {
        ("09:15", "[CRITICAL] Suspected AWS outage: lambda in us-east-1"): 1,
        ("09:15", "[CRITICAL] Lambda errors: 1000 firing"): PARTS,
        ("09:15", "[CRITICAL] Lambda throttles: 1000 firing"): PARTS,
        ("09:35", "[RESOLVED] AWS outage over: lambda in us-east-1"): 1,
        ("09:35", "[RESOLVED] Lambda errors: 1000 resolved"): PARTS,
        ("09:35", "[RESOLVED] Lambda throttles: 1000 resolved"): PARTS,
    }
    assert len([p for p in storm.slack.posts if p.status == 200]) == sum(sent.values())


def test_the_storm_batch_travels_by_reference_and_nothing_is_dead_lettered(
    storm: Emulator,
) -> None:
    evaluations = {run.name: run for run in storm.executions() if run.name.startswith("metrics-")}
    storm_run = evaluations["metrics-123456789012-us-east-1-20250314T0915Z"]

    assert isinstance(storm_run.input, dict)
    assert storm_run.input["signals"] == 10_000
    assert storm_run.input["bytes"] > 2_000_000
    assert storm_run.input["key"].startswith("batches/2025/03/14/")
    assert all(run.status == "SUCCEEDED" for run in evaluations.values())
    assert storm.queue_messages("CollectorDeadLetterQueue") == []
    assert storm.queue_messages("ChatDeadLetterQueue") == []
