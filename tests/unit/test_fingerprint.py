"""Which error lines are the same error (vigil.tracking.fingerprint).

The grouping follows Sentry's default ("Grouping by stack trace" then "Grouping by message"
in Sentry's docs, "Issue Grouping"): with a stack, the exception type and the in-app frames
(module or file and function, not line numbers) decide; without one, the type and the message
with its variable parts replaced. The error lines are built from the samples of
tests/unit/test_error_lines.py, whose sources are listed there.
"""

import json
import re
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigil.tracking.fingerprint import fingerprint, in_app_frames, normalise_message
from vigil.tracking.logs import ErrorLine, LogBatch, error_lines

T0 = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
NBSP = "\u00a0"


def error(
    error_type: str = "KeyError",
    message: str = "'user_id'",
    frames: tuple[str, ...] = (),
    request_id: str | None = None,
) -> ErrorLine:
    return ErrorLine(
        timestamp=T0,
        error_type=error_type,
        message=message,
        frames=frames,
        request_id=request_id,
        trace_id=None,
    )


def read(message: str) -> ErrorLine:
    batch = LogBatch.model_validate(
        {
            "messageType": "DATA_MESSAGE",
            "owner": "123456789012",
            "logGroup": "/aws/lambda/orders-api",
            "logStream": "2023/11/14/[$LATEST]94fa867e",
            "logEvents": [{"id": "1", "timestamp": 1_700_000_000_000, "message": message}],
        }
    )
    (line,) = error_lines(batch)
    return line


def python_error(message: str, *frames: tuple[str, int, str]) -> str:
    """The Python runtime's unhandled error (aws-lambda-python-runtime-interface-client,
    bootstrap.log_error)."""
    stack = "".join(
        f'{NBSP * 2}File "{path}", line {line}, in {function}\n{NBSP * 4}...\n'
        for path, line, function in frames
    )
    return f"[ERROR] {message}\nTraceback (most recent call last):\n{stack}"


HANDLER = ("/var/task/app.py", 12, "handler")
FIND = ("/var/task/users.py", 40, "find")
SAVE = ("/var/task/orders.py", 7, "save")


def test_a_fingerprint_is_sixteen_hex_characters() -> None:
    assert re.fullmatch(r"[0-9a-f]{16}", fingerprint(error()))


# --- with a stack: type and in-app frames ------------------------------------------------------


def test_the_same_exception_at_the_same_place_is_one_error_whatever_its_message() -> None:
    first = read(python_error("KeyError: 'user_id'", HANDLER, FIND))
    second = read(python_error("KeyError: 'order_id'", ("/var/task/app.py", 14, "handler"), FIND))
    assert fingerprint(first) == fingerprint(second)


def test_a_different_exception_type_is_another_error() -> None:
    key = read(python_error("KeyError: 'user_id'", HANDLER, FIND))
    value = read(python_error("ValueError: bad id", HANDLER, FIND))
    assert fingerprint(key) != fingerprint(value)


def test_a_different_in_app_call_path_is_another_error() -> None:
    via_find = read(python_error("KeyError: 'user_id'", HANDLER, FIND))
    via_save = read(python_error("KeyError: 'user_id'", HANDLER, SAVE))
    assert fingerprint(via_find) != fingerprint(via_save)


def test_runtime_library_and_frozen_frames_do_not_count() -> None:
    bare = read(python_error("KeyError: 'user_id'", HANDLER, FIND))
    wrapped = read(
        python_error(
            "KeyError: 'user_id'",
            ("/var/runtime/bootstrap.py", 60, "handle_event_request"),
            HANDLER,
            FIND,
            ("/opt/python/aws_lambda_powertools/logging/logger.py", 447, "decorate"),
            ("/var/lang/lib/python3.13/json/__init__.py", 346, "loads"),
            ("/var/task/vendor/site-packages/requests/models.py", 1021, "raise_for_status"),
            ("<frozen importlib._bootstrap>", 1387, "_gcd_import"),
        )
    )
    assert fingerprint(bare) == fingerprint(wrapped)


def test_nodejs_frames_of_node_modules_and_node_internals_do_not_count() -> None:
    app = "/var/task/index.js:2 in Runtime.exports.handler"
    bare = error("TypeError", "x", (app,))
    wrapped = error(
        "TypeError",
        "y",
        (
            "node:internal/process/task_queues:95 in process.processTicksAndRejections",
            "internal/process/next_tick.js:68 in process._tickCallback",
            "/var/runtime/Runtime.js:63 in Runtime.handleOnce",
            app,
            "/var/task/node_modules/axios/lib/core/settle.js:19 in settle",
            "<anonymous> in new Promise",
            "native in Array.map",
        ),
    )
    assert in_app_frames(wrapped.frames) == ["index.js in Runtime.exports.handler"]
    assert fingerprint(bare) == fingerprint(wrapped)


def test_the_task_root_and_line_numbers_are_dropped_from_frames() -> None:
    assert in_app_frames(
        ("/var/task/app.py:12 in handler", "file:///var/task/lib/orders.mjs:8 in <anonymous>")
    ) == ["app.py in handler", "lib/orders.mjs in <anonymous>"]


def test_one_error_reads_the_same_in_the_text_and_the_json_formats() -> None:
    # The Python runtime writes the same unhandled error as "[ERROR] ..." (text) or as its
    # JSON error record (the JSON log format).
    text = read(python_error("NameError: name 'x' is not defined", HANDLER))
    record = read(
        json.dumps(
            {
                "timestamp": "2023-11-14T22:13:20Z",
                "level": "ERROR",
                "errorMessage": "name 'x' is not defined",
                "errorType": "NameError",
                "requestId": "8f507cfc-xmpl-4697-b07a-ac58fc914c95",
                "stackTrace": ['  File "/var/task/app.py", line 12, in handler\n    x\n'],
            }
        )
    )
    assert fingerprint(text) == fingerprint(record)


def test_a_stack_of_library_frames_only_falls_back_to_the_message() -> None:
    library = ("/var/runtime/bootstrap.py:60 in handle_event_request",)
    assert fingerprint(error("Runtime.ImportModuleError", "No module named 'x'", library)) == (
        fingerprint(error("Runtime.ImportModuleError", "No module named 'y'"))
    )


# --- without a stack: type and normalised message ----------------------------------------------


def test_key_errors_on_different_keys_without_a_stack_are_one_error() -> None:
    # The choice documented in vigil.tracking.fingerprint: a quoted value is a value, as the
    # request ids and numbers are; the stack, where there is one, tells places apart.
    assert fingerprint(error(message="'user_id'")) == fingerprint(error(message="'order_id'"))
    assert fingerprint(error("KeyError")) != fingerprint(error("IndexError"))


@given(
    request_ids=st.tuples(st.uuids(), st.uuids()),
    numbers=st.tuples(st.integers(0, 10**12), st.integers(0, 10**12)),
    seconds=st.tuples(st.floats(0, 900, allow_nan=False), st.floats(0, 900, allow_nan=False)),
)
def test_the_same_error_on_different_requests_and_numbers_is_one_error(
    request_ids: tuple[uuid.UUID, uuid.UUID],
    numbers: tuple[int, int],
    seconds: tuple[float, float],
) -> None:
    def logged(request_id: uuid.UUID, number: int, took: float) -> ErrorLine:
        return error(
            "Error",
            f"Order {number} of request {request_id} failed after {took:.2f} s"
            f" (trace 1-5759e988-bd862e3fe1be46a994272793, at 2024-03-01T10:00:{number % 60:02d}Z)",
            request_id=str(request_id),
        )

    assert fingerprint(logged(request_ids[0], numbers[0], seconds[0])) == fingerprint(
        logged(request_ids[1], numbers[1], seconds[1])
    )


def test_time_outs_from_every_format_are_one_error() -> None:
    timed_out = [
        read(
            "2023-10-20T16:28:17.840Z 4299ee26-8d1d-4ea9-bd43-77b85ed96cfe Task timed out"
            " after 31.01 seconds"
        ),
        read(
            "REPORT RequestId: 2e35fc11-8244-444a-bade-11afb4aedf2f\tDuration: 3003.12 ms\tBilled"
            " Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 41 MB\tStatus: timeout\n"
        ),
        read(
            '{"time":"2026-07-09T06:05:50.581Z","type":"platform.report","record":{"requestId":'
            '"aec7a529-47f9-4090-be01-c9ed91bf83cf","metrics":{"durationMs":5000.0},"status":"timeout"}}'
        ),
    ]
    assert len({fingerprint(line) for line in timed_out}) == 1


def test_errors_that_say_different_things_are_different_errors() -> None:
    assert fingerprint(error("Error", "could not reach stripe")) != fingerprint(
        error("Error", "could not reach paypal")
    )


@pytest.mark.parametrize(
    ("message", "normalised"),
    [
        ("Task timed out after 3.00 seconds", "Task timed out after <n> seconds"),
        (
            "RequestId: 4299ee26-8d1d-4ea9-bd43-77b85ed96cfe Error: Runtime exited",
            "RequestId: <uuid> Error: Runtime exited",
        ),
        ("at 2021-05-03 11:47:12,494+0000 and 2024-03-01T10:00:00Z", "at <time> and <time>"),
        ("trace 1-5759e988-bd862e3fe1be46a994272793", "trace <trace>"),
        ("KeyError: 'user_id'", "KeyError: '<value>'"),
        ('table "orders" not found', 'table "<value>" not found'),
        ("can't find the user's order", "can't find the user's order"),
        ("object at 0x7f3a2c1b9d60 and id 4442587FB7D0A2F9", "object at <hex> and id <hex>"),
        ("HTTP 503 from s3 and ec2, v2 api", "HTTP <n> from s3 and ec2, v2 api"),
        ("  many\t\tspaces\n\nand lines ", "many spaces and lines"),
        ("deadbeefcafe is a word, 12345678 a number", "deadbeefcafe is a word, <n> a number"),
    ],
)
def test_normalise_message(message: str, normalised: str) -> None:
    assert normalise_message(message) == normalised


@given(st.text(max_size=200))
def test_normalising_twice_changes_nothing(message: str) -> None:
    once = normalise_message(message)
    assert normalise_message(once) == once
