"""Scenario files: the ``queues`` section is validated and becomes ages of the oldest message."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from emulator.errors import ScenarioError
from emulator.queues import age_datums, received_datums
from emulator.scenario import parse_scenario

START = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)


def _document(*queues: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "queues",
        "start": "2025-03-14T09:00:00Z",
        "duration": "60m",
        "queues": list(queues),
    }


def test_a_queue_section_is_read_with_sqs_defaults() -> None:
    scenario = parse_scenario(
        _document(
            {"name": "orders-dlq", "dlq_for": "orders", "put": {"12m": 3, "5m": 1}, "purge": [30]},
            {"name": "events"},
        )
    )

    dlq, events = scenario.queues
    assert (dlq.name, dlq.dlq_for, dlq.retention) == ("orders-dlq", "orders", timedelta(days=4))
    assert dlq.puts == ((timedelta(minutes=5), 1), (timedelta(minutes=12), 3))
    assert dlq.purges == (timedelta(minutes=30),)
    assert (events.dlq_for, events.puts) == (None, ())
    assert (dlq.received, received_datums(dlq, START)) == (0, [])


def test_a_source_queues_receives_are_published_every_minute() -> None:
    # The volume of sqs_failures: NumberOfMessagesReceived of the source queue (AWS/SQS).
    [dlq] = parse_scenario(
        _document({"name": "orders-dlq", "dlq_for": "orders", "received": 100})
    ).queues

    [datum] = received_datums(dlq, START)

    assert (datum["MetricName"], datum["Value"], datum["Timestamp"]) == (
        "NumberOfMessagesReceived",
        100.0,
        START,
    )
    assert datum["Dimensions"] == [{"Name": "QueueName", "Value": "orders"}]


def test_the_oldest_message_counts_from_its_put_until_a_purge() -> None:
    spec = parse_scenario(
        _document({"name": "dlq", "put": {"5m": 1, "12m": 3, "30m": 2}, "purge": ["30m"]})
    ).queues[0]

    assert spec.oldest(timedelta(minutes=4)) is None
    assert spec.oldest(timedelta(minutes=20)) == timedelta(minutes=5)
    # A purge acts before the put of the same minute.
    assert spec.oldest(timedelta(minutes=30)) == timedelta(minutes=30)
    [datum] = age_datums(spec, START + timedelta(minutes=20), timedelta(minutes=20))
    assert (datum["MetricName"], datum["Value"]) == ("ApproximateAgeOfOldestMessage", 960.0)
    assert datum["Dimensions"] == [{"Name": "QueueName", "Value": "dlq"}]
    assert age_datums(spec, START, timedelta(0)) == []


@pytest.mark.parametrize(
    ("queue", "complaint"),
    [
        ({"name": "bad name"}, r"queues\[0\]\.name"),
        ({"name": "dlq", "dlq_for": 7}, r"queues\[0\]\.dlq_for"),
        ({"name": "dlq", "retention": "0m"}, r"queues\[0\]\.retention"),
        ({"name": "dlq", "put": {"90m": 1}}, r"queues\[0\]\.put: 90m is not before"),
        ({"name": "dlq", "put": {"5m": 0}}, r"queues\[0\]\.put\.5m"),
        ({"name": "dlq", "purge": "5m"}, r"queues\[0\]\.purge"),
        ({"name": "dlq", "colour": "red"}, r"queues\[0\]"),
        ({"name": "dlq", "received": 100}, r"queues\[0\]\.received: the receives of a dlq_for"),
        ({"name": "dlq", "dlq_for": "orders", "received": -1}, r"queues\[0\]\.received"),
    ],
)
def test_invalid_queues_are_refused_naming_the_field(queue: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ScenarioError, match=complaint):
        parse_scenario(_document(queue))


def test_a_queue_created_twice_is_refused() -> None:
    with pytest.raises(ScenarioError, match="orders is created twice"):
        parse_scenario(_document({"name": "dlq", "dlq_for": "orders"}, {"name": "orders"}))
