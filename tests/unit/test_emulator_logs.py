"""The emulator's error lines and their CloudWatch Logs delivery (``emulator.logs``), without AWS.

Sources of the cases: the filter pattern syntax of CloudWatch Logs ("Filter pattern syntax for
metric filters, subscription filters, filter log events, and Live Tail": terms match
case-sensitively, ``?term`` is OR, quotes for terms with spaces or punctuation); the
subscription event shape ("Real-time processing of log data with subscriptions": base64 of gzip
of ``{messageType, owner, logGroup, logStream, subscriptionFilters, logEvents}``); the Python
runtime's error text (``log_error`` in ``awslambdaric/bootstrap.py``); Lambda's time-out line;
Powertools Logger's exception keys (``exception``, ``exception_name``, ``xray_trace_id``).
"""

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from emulator.errors import EmulatorError, ScenarioError
from emulator.logs import (
    DELIVERY_DELAY,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_INVOKE_BYTES,
    FilterPattern,
    LogEvent,
    LogSubscriptions,
    batches,
    data_message,
    decode,
    encode,
    excluded_log_groups,
    minute_events,
    render_line,
)
from emulator.scenario import ExceptionSpec, Scenario, parse_scenario

START = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
AT = datetime(2025, 3, 14, 9, 31, 12, 345000, tzinfo=UTC)
REQUEST = "8f5c1f7e-2b0a-4c3e-9d5a-1b2c3d4e5f60"
TRACE = "1-67d3f6c0-0123456789abcdef01234567"
# The template's FilterPattern (ErrorStreamPolicy in template.yaml).
TEMPLATE_PATTERN = '?ERROR ?"Task timed out" ?"signal: killed"'


def _scenario(errors: int, exceptions: list[dict[str, Any]] | None, seed: int = 7) -> Scenario:
    phase: dict[str, Any] = {
        "from": 0,
        "invocations_per_minute": max(errors, 1),
        "errors_per_minute": errors,
    }
    if exceptions is not None:
        phase["exceptions"] = exceptions
    return parse_scenario(
        {
            "name": "lines",
            "start": "2025-03-14T09:00:00Z",
            "duration": "10m",
            "seed": seed,
            "workloads": [{"function": "batch-job", "phases": [phase]}],
        }
    )


KEY_ERROR = [{"type": "KeyError", "message": "'user_id'"}]


# ---------------------------------------------------------------- filter patterns
@pytest.mark.parametrize(
    ("pattern", "line", "matched"),
    [
        ("", "anything at all", True),
        ("ERROR", "[ERROR] KeyError: 'user_id'", True),
        ("ERROR", "[error] lower case", False),  # terms are case-sensitive
        ("ERROR ARGUMENTS", "ERROR: missing ARGUMENTS", True),  # AND
        ("ERROR ARGUMENTS", "ERROR: nothing else", False),
        ("?ERROR ?WARN", "WARN: low disk", True),  # OR
        ("?ERROR ?WARN", "INFO: all good", False),
        ('"Task timed out"', "... Task timed out after 3.00 seconds", True),
        ('"Task timed out"', "Task finished; timed out later", False),
        (r'"say \"hi\""', 'they say "hi" twice', True),
        (TEMPLATE_PATTERN, "RequestId: x Error: Runtime exited with error: signal: killed", True),
        (TEMPLATE_PATTERN, "START RequestId: x Version: $LATEST", False),
    ],
)
def test_filter_pattern_terms(pattern: str, line: str, matched: bool) -> None:
    assert FilterPattern.parse(pattern).matches(line) is matched


@pytest.mark.parametrize(
    "pattern",
    [
        '{ $.level = "ERROR" }',  # JSON
        "[ip, user, status=4*]",  # space-delimited
        "%ERROR|WARN%",  # regular expression
        "ERROR -DEBUG",  # exclusion
        "ERROR ?WARN",  # AND mixed with OR
        '"unterminated',
    ],
)
def test_filter_patterns_outside_the_subset_are_refused(pattern: str) -> None:
    with pytest.raises(EmulatorError, match="filter pattern"):
        FilterPattern.parse(pattern)


@pytest.mark.parametrize("form", ["python", "logging", "json", "powertools", "timeout"])
def test_the_template_pattern_catches_every_error_format(form: str) -> None:
    spec = ExceptionSpec("KeyError", "'user_id'", 1.0, form)
    line = render_line(spec, at=AT, request=REQUEST, trace=TRACE, function="batch-job")

    assert FilterPattern.parse(TEMPLATE_PATTERN).matches(line)


def test_selection_criteria_not_in_only() -> None:
    criteria = 'LogGroupName NOT IN ["/aws/lambda/a", "/aws/lambda/b"]'

    assert excluded_log_groups(criteria) == {"/aws/lambda/a", "/aws/lambda/b"}
    assert excluded_log_groups("") == frozenset()
    with pytest.raises(EmulatorError, match="NOT IN"):
        excluded_log_groups('LogGroupName IN ["/aws/lambda/a"]')


# ---------------------------------------------------------------- the lines
def test_the_python_runtime_text_is_one_event_with_its_traceback() -> None:
    spec = ExceptionSpec("KeyError", "'user_id'")
    line = render_line(spec, at=AT, request=REQUEST, trace=TRACE, function="batch-job")

    first, second, frame, code = line.split("\n")
    assert first == "[ERROR] KeyError: 'user_id'"
    assert second == "Traceback (most recent call last):"
    # awslambdaric replaces each traceback line's indentation with no-break spaces.
    assert re.fullmatch('\u00a0\u00a0File "/var/task/app.py", line \\d+, in lambda_handler', frame)
    assert code == "\u00a0\u00a0\u00a0\u00a0handle(event)"


def test_the_logging_text_format_carries_time_and_request_id() -> None:
    spec = ExceptionSpec("KeyError", "'user_id'", format="logging")
    line = render_line(spec, at=AT, request=REQUEST, trace=TRACE, function="batch-job")

    assert line.startswith(f"[ERROR]\t2025-03-14T09:31:12.345Z\t{REQUEST}\t")
    assert line.endswith("\nKeyError: 'user_id'")


def test_the_json_and_powertools_records() -> None:
    lambda_json = json.loads(
        render_line(
            ExceptionSpec("KeyError", "'user_id'", format="json"),
            at=AT,
            request=REQUEST,
            trace=TRACE,
            function="batch-job",
        )
    )
    powertools = json.loads(
        render_line(
            ExceptionSpec("KeyError", "'user_id'", format="powertools"),
            at=AT,
            request=REQUEST,
            trace=TRACE,
            function="batch-job",
        )
    )

    assert lambda_json["level"] == "ERROR"
    assert (lambda_json["errorType"], lambda_json["errorMessage"]) == ("KeyError", "'user_id'")
    assert lambda_json["requestId"] == REQUEST
    assert lambda_json["stackTrace"][0].startswith('  File "/var/task/app.py"')
    assert powertools["level"] == "ERROR"
    assert powertools["exception_name"] == "KeyError"
    assert powertools["exception"].endswith("KeyError: 'user_id'")
    assert powertools["xray_trace_id"] == TRACE
    assert powertools["function_request_id"] == REQUEST
    assert powertools["timestamp"] == "2025-03-14 09:31:12,345+0000"


def test_the_timeout_line_uses_the_functions_timeout() -> None:
    line = render_line(
        ExceptionSpec("", "", format="timeout"),
        at=AT,
        request=REQUEST,
        trace=TRACE,
        function="batch-job",
        timeout=30,
    )

    assert line == f"2025-03-14T09:31:12.345Z {REQUEST} Task timed out after 30.00 seconds"


def test_lines_are_deterministic_spread_within_the_minute_and_weighted() -> None:
    exceptions = [
        {"type": "KeyError", "message": "'user_id'", "weight": 3},
        {"type": "ValueError", "message": "bad amount", "format": "powertools"},
    ]
    scenario = _scenario(400, exceptions)
    workload = scenario.workloads[0]
    minute = START + timedelta(minutes=4)

    events = minute_events(workload, scenario, minute)
    again = minute_events(workload, _scenario(400, exceptions), minute)
    other_seed = minute_events(workload, _scenario(400, exceptions, seed=8), minute)

    assert events == again
    assert events != other_seed
    assert len(events) == 400
    stamps = [e.timestamp for e in events]
    low = int(minute.timestamp() * 1000)
    assert stamps == sorted(stamps)
    assert low <= stamps[0]
    assert stamps[-1] < low + 60_000
    assert len({e.id for e in events}) == 400
    key_errors = sum(e.message.startswith("[ERROR] KeyError") for e in events)
    assert 250 < key_errors < 350  # weight 3 : 1
    traces = [json.loads(e.message)["xray_trace_id"] for e in events if e.message[0] == "{"]
    assert all(re.fullmatch(r"1-[0-9a-f]{8}-[0-9a-f]{24}", t) for t in traces)


def test_errors_without_exceptions_log_nothing() -> None:
    scenario = _scenario(5, None)

    assert minute_events(scenario.workloads[0], scenario, START) == []
    assert not scenario.workloads[0].logs_errors


# ---------------------------------------------------------------- payloads and batches
def test_the_payload_decodes_back_to_the_message() -> None:
    message = data_message(
        group="/aws/lambda/batch-job",
        stream="2025/03/14/[$LATEST]0123456789abcdef0123456789abcdef",
        subscription="vigil-error-stream",
        events=[LogEvent("1" * 56, 1741944672345, "[ERROR] KeyError: 'user_id'")],
    )

    event = encode(message)

    assert set(event) == {"awslogs"}
    assert set(event["awslogs"]) == {"data"}
    assert decode(event) == message
    assert decode(event)["messageType"] == "DATA_MESSAGE"


def test_a_storm_of_10000_lines_makes_a_bounded_number_of_payloads_within_the_limits() -> None:
    scenario = _scenario(10_000, KEY_ERROR)
    events = minute_events(scenario.workloads[0], scenario, START)

    def envelope(part: list[LogEvent]) -> dict[str, Any]:
        return data_message(
            group="/aws/lambda/batch-job", stream="s", subscription="f", events=part
        )

    parts = batches(events, envelope)

    assert 1 <= len(parts) <= 10
    assert [e for part in parts for e in part] == events
    for part in parts:
        assert len(part) <= MAX_BATCH_EVENTS
        assert len(json.dumps(envelope(part), separators=(",", ":")).encode()) <= MAX_BATCH_BYTES
        assert len(json.dumps(encode(envelope(part)))) <= MAX_INVOKE_BYTES


def test_batches_are_cut_at_10000_events() -> None:
    events = [LogEvent(str(i), i, "ERROR") for i in range(25_000)]

    parts = batches(events, lambda part: {"logEvents": [e.to_json() for e in part]})

    assert [len(part) for part in parts] == [10_000, 10_000, 5_000]


# ---------------------------------------------------------------- the account policy API
def _subscriptions(scenario: Scenario | None = None) -> tuple[LogSubscriptions, list[Any]]:
    sent: list[Any] = []

    def invoke(arn: str, event: dict[str, Any]) -> tuple[bool, tuple[str, ...]]:
        sent.append((arn, decode(event)))
        return True, ("request-1",)

    subscriptions = LogSubscriptions(
        scenario=scenario, start=START, now=lambda: START, invoke=invoke
    )
    return subscriptions, sent


DESTINATION = "arn:aws:lambda:us-east-1:123456789012:function:vigil-ErrorStream"


def _put(subscriptions: LogSubscriptions, name: str, **document: str) -> tuple[int, dict[str, Any]]:
    status, _, body = subscriptions.answer(
        "Logs_20140328.PutAccountPolicy",
        {
            "policyName": name,
            "policyType": "SUBSCRIPTION_FILTER_POLICY",
            "policyDocument": json.dumps(
                {"DestinationArn": DESTINATION, "FilterPattern": TEMPLATE_PATTERN} | document
            ),
            "selectionCriteria": 'LogGroupName NOT IN ["/aws/lambda/vigil-ErrorStream"]',
        },
    )
    return status, json.loads(body)


def test_one_subscription_filter_policy_per_account() -> None:
    subscriptions, _ = _subscriptions()

    assert _put(subscriptions, "vigil-error-stream")[0] == 200
    assert _put(subscriptions, "vigil-error-stream")[0] == 200  # an update
    status, body = _put(subscriptions, "someone-else")
    assert (status, body["__type"]) == (400, "LimitExceededException")
    status, _, text = subscriptions.answer(
        "Logs_20140328.DescribeAccountPolicies", {"policyType": "SUBSCRIPTION_FILTER_POLICY"}
    )
    [policy] = json.loads(text)["accountPolicies"]
    assert policy["policyName"] == "vigil-error-stream"
    assert policy["selectionCriteria"].startswith("LogGroupName NOT IN")


def test_a_policy_the_emulator_cannot_play_is_refused() -> None:
    subscriptions, _ = _subscriptions()

    status, body = _put(subscriptions, "p", FilterPattern='{ $.level = "ERROR" }')

    assert (status, body["__type"]) == (400, "InvalidParameterException")
    assert "filter pattern" in body["message"]


# ---------------------------------------------------------------- timing
def test_a_minutes_lines_are_delivered_at_the_next_minute_plus_the_delay() -> None:
    scenario = parse_scenario(
        {
            "name": "timing",
            "start": "2025-03-14T09:00:00Z",
            "duration": "10m",
            "workloads": [
                {
                    "function": "batch-job",
                    "phases": [
                        {"from": 0, "to": 3, "invocations_per_minute": 5},
                        {
                            "from": 3,
                            "to": 4,
                            "invocations_per_minute": 5,
                            "errors_per_minute": 2,
                            "exceptions": KEY_ERROR,
                        },
                        {"from": 4, "invocations_per_minute": 5},
                    ],
                },
            ],
        }
    )
    subscriptions, sent = _subscriptions(scenario)
    _put(subscriptions, "vigil-error-stream")
    due = START + timedelta(minutes=4) + DELIVERY_DELAY

    assert subscriptions.next_delivery(due - timedelta(seconds=1)) is None
    assert subscriptions.next_delivery(START + timedelta(minutes=10)) == due
    assert subscriptions.deliver_due(due - timedelta(seconds=1)) == []
    control, data = subscriptions.deliver_due(due)

    assert (control.message_type, data.message_type) == ("CONTROL_MESSAGE", "DATA_MESSAGE")
    assert (data.at, data.log_group, data.event_count) == (due, "/aws/lambda/batch-job", 2)
    assert data.request_ids == ("request-1",)
    assert [message["messageType"] for _, message in sent] == ["CONTROL_MESSAGE", "DATA_MESSAGE"]
    assert subscriptions.next_delivery(START + timedelta(minutes=10)) is None


@pytest.mark.parametrize(
    ("exception", "complaint"),
    [
        ({"type": "KeyError", "format": "xml"}, r"exceptions\[0\]\.format"),
        ({"type": "Key Error"}, r"exceptions\[0\]\.type"),
        ({"message": "no type"}, r"exceptions\[0\]\.type"),
        ({"type": "KeyError", "weight": 0}, r"exceptions\[0\]\.weight"),
        ({"type": "KeyError", "message": 3}, r"exceptions\[0\]\.message"),
        ({"type": "KeyError", "stack": []}, r"exceptions\[0\]: unknown field\(s\) stack"),
        ({"format": "timeout", "type": "KeyError"}, r"exceptions\[0\]\.type: a timeout"),
    ],
)
def test_the_exceptions_field_is_validated(exception: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ScenarioError, match=r"workloads\[0\]\.phases\[0\]\." + complaint):
        _scenario(1, [exception])


def test_an_empty_exceptions_list_is_refused() -> None:
    with pytest.raises(ScenarioError, match=r"phases\[0\]\.exceptions: expected a non-empty"):
        _scenario(1, [])
