"""Lambda error lines read from CloudWatch Logs subscription payloads (vigil.tracking.logs).

Every sample says where it comes from. The sources:

- [subscriptions] CloudWatch Logs user guide, "Using CloudWatch Logs subscription filters"
  and "Example: subscription filters with AWS Lambda": the Lambda event is
  ``{"awslogs": {"data": base64(gzip(json))}}``, the JSON has messageType, owner, logGroup,
  logStream, subscriptionFilters and logEvents; a CONTROL_MESSAGE checks the destination.
- [services-cloudwatchlogs] Lambda developer guide, "Using Lambda with CloudWatch Logs": the
  decoded sample (a REPORT line of /aws/lambda/echo-nodejs).
- [sample-event] the CloudWatch Logs sample event of the Lambda console and of
  ``sam local generate-event cloudwatch logs``, also quoted by Powertools for AWS Lambda
  (TypeScript), parser schema ``CloudWatchLogsSchema``.
- [python-exceptions] Lambda developer guide, "Lambda function errors in Python" (the error
  document ``{"errorMessage", "errorType", "stackTrace"}``, ``Runtime.ImportModuleError``).
- [python-logging] Lambda developer guide, "Log and monitor Python Lambda functions": the
  START/END/REPORT/XRAY lines, the ``[INFO]\\t<time>\\t<request id>\\t<message>`` format, and
  the JSON log format of the advanced logging controls.
- [python-ric] aws/aws-lambda-python-runtime-interface-client, awslambdaric/bootstrap.py
  (``log_error``: ``[ERROR] Type: message``, ``Traceback (most recent call last):``, frames
  indented with U+00A0, lines joined by ``\\n`` in the framed log sink and ``\\r`` on stdout;
  the JSON error record with ``log_level``, renamed ``level`` in 4.0.4) and
  lambda_runtime_log_utils.py (``JsonFormatter``: timestamp, level, message, logger,
  stackTrace, errorType, errorMessage, requestId, location).
- [nodejs-exceptions] Lambda developer guide, "Lambda function errors in Node.js" (the error
  ``{"errorType": "ReferenceError", "errorMessage": "x is not defined", "trace": [...]}``).
- [node-ric] aws/aws-lambda-nodejs-runtime-interface-client, src/LogPatch.js and
  src/Errors.js: text lines ``<time>\\t<request id>\\t<LEVEL>\\t<message>``; a handler's error
  logged as ``Invoke Error \\t{"errorType", "errorMessage", "stack": [...]}``; the JSON format
  ``{"timestamp", "level", "requestId", "message"}`` with a logged Error's ``errorType``,
  ``errorMessage`` and ``stackTrace`` in ``message`` or at the top level.
- [powertools] Powertools for AWS Lambda (Python), Logger docs and their examples
  (examples/logger/src/*_output.json): ``level``, ``message``, ``exception``,
  ``exception_name``, ``stack_trace``, ``xray_trace_id``, ``function_request_id``.
- [loggroups] Lambda developer guide, "Configuring CloudWatch log groups": log streams of a
  custom log group are ``YYYY/MM/DD/<function_name>[<function_version>][<GUID>]``.
- [logformat] Lambda developer guide, "Configuring advanced logging controls for Lambda
  functions" and "Configuring JSON and plain text log formats" (system logs in JSON:
  ``{"time", "type": "platform.report", "record": {"requestId", "metrics", "status"}}``) and
  "Lambda Telemetry API Event schema reference" (``status`` success, failure, error, timeout;
  ``errorType``; ``tracing``).
- Real runtime output quoted in public GitHub issues, named where used.
"""

import base64
import gzip
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.factories import CONTROL_MESSAGE, awslogs_data
from vigil.core.errors import InvalidEventError
from vigil.tracking.logs import (
    FILTER_PATTERN,
    MAX_DECODED_BYTES,
    MAX_FRAMES,
    MAX_MESSAGE,
    ErrorLine,
    LogBatch,
    decode_subscription,
    error_lines,
    function_of,
)

DATA = Path(__file__).parent / "data" / "lambda_logs"
T = 1_700_000_000_000  # ms: 2023-11-14T22:13:20Z
RID = "8f507cfc-xmpl-4697-b07a-ac58fc914c95"
NBSP = "\u00a0"


def batch(*messages: str, group: str = "/aws/lambda/orders-api") -> LogBatch:
    return LogBatch.model_validate(
        {
            "messageType": "DATA_MESSAGE",
            "owner": "123456789012",
            "logGroup": group,
            "logStream": "2023/11/14/[$LATEST]94fa867e5374431291a7fc14e2f56ae7",
            "subscriptionFilters": ["vigil-errors"],
            "logEvents": [
                {"id": str(i), "timestamp": T + i, "message": message}
                for i, message in enumerate(messages)
            ],
        }
    )


def lines(*messages: str) -> list[ErrorLine]:
    return error_lines(batch(*messages))


def only(message: str) -> ErrorLine:
    found = lines(message)
    assert len(found) == 1, found
    return found[0]


def powertools(name: str) -> str:
    """A Powertools example record as the Logger writes it: one compact JSON line."""
    record = json.loads((DATA / f"powertools_{name}.json").read_text())
    return json.dumps(record, separators=(",", ":"))


# --- the payload ----------------------------------------------------------------------------

# [sample-event]
SAMPLE_EVENT_DATA = (
    "H4sIAAAAAAAAAHWPwQqCQBCGX0Xm7EFtK+smZBEUgXoLCdMhFtKV3akI8d0bLYmibvPPN3wz00CJxmQnTO41whwWQR"
    "IctmEcB6sQbFC3CjW3XW8kxpOpP+OC22d1Wml1qZkQGtoMsScxaczKN3plG8zlaHIta5KqWsozoTYw3/djzwhpLwiv"
    "WFGHGpAFe7DL68JlBUk+l7KSN7tCOEJ4M3/qOI49vMHj+zCKdlFqLaU2ZHV2a4Ct/an0/ivdX8oYc1UVX860fQDQ"
    "iMdxRQEAAA=="
)


def test_the_documented_sample_event_decodes_into_its_batch_and_error_lines() -> None:
    decoded = decode_subscription(SAMPLE_EVENT_DATA)
    assert decoded is not None
    assert (decoded.owner, decoded.log_group, decoded.log_stream) == (
        "123456789123",
        "testLogGroup",
        "testLogStream",
    )
    assert decoded.subscription_filters == ("testFilter",)
    assert [event.message for event in decoded.log_events] == [
        "[ERROR] First test message",
        "[ERROR] Second test message",
    ]
    found = error_lines(decoded)
    assert [(line.error_type, line.message) for line in found] == [
        ("Error", "First test message"),
        ("Error", "Second test message"),
    ]
    assert found[0].timestamp == datetime(2015, 8, 24, 19, 3, 7, tzinfo=UTC)


DOCUMENTED_REPORT = (
    "REPORT RequestId: 6234bffe-149a-b642-81ff-2e8e376d8aff\tDuration: 46.84 ms"
    "\tBilled Duration: 47 ms \tMemory Size: 192 MB\tMax Memory Used: 72 MB\t\n"
)
# [services-cloudwatchlogs], verbatim.
DOCUMENTED_DECODED = {
    "messageType": "DATA_MESSAGE",
    "owner": "123456789012",
    "logGroup": "/aws/lambda/echo-nodejs",
    "logStream": "2019/03/13/[$LATEST]94fa867e5374431291a7fc14e2f56ae7",
    "subscriptionFilters": ["LambdaStream_cloudwatchlogs-node"],
    "logEvents": [
        {
            "id": "34622316099697884706540976068822859012661220141643892546",
            "timestamp": 1552518348220,
            "message": DOCUMENTED_REPORT,
        }
    ],
}


def test_the_documented_decoded_batch_reads_and_a_healthy_report_is_no_error() -> None:
    decoded = decode_subscription(awslogs_data(DOCUMENTED_DECODED))
    assert decoded is not None
    assert decoded.log_group == "/aws/lambda/echo-nodejs"
    assert function_of(decoded.log_group) == "echo-nodejs"
    assert decoded.log_events[0].timestamp == 1552518348220
    assert error_lines(decoded) == []


def test_a_control_message_is_ignored() -> None:
    # [subscriptions]: the message CloudWatch Logs sends to check a destination.
    assert decode_subscription(awslogs_data(CONTROL_MESSAGE)) is None


def test_fields_aws_adds_later_are_ignored() -> None:
    document: dict[str, Any] = {
        **DOCUMENTED_DECODED,
        "policyLevel": "ACCOUNT_LEVEL_POLICY",
        "logEvents": [{"id": "1", "timestamp": T, "message": "[ERROR] boom", "extra": {"a": 1}}],
    }
    decoded = decode_subscription(awslogs_data(document))
    assert decoded is not None
    assert [line.message for line in error_lines(decoded)] == ["boom"]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ("not base64!", "not base64"),
        (base64.b64encode(b"plain text").decode(), "not gzip"),
        (base64.b64encode(gzip.compress(b"{nope", mtime=0))[:-8].decode() + "AAAAAAA=", "gzip"),
        (base64.b64encode(gzip.compress(b"{nope", mtime=0)).decode(), "not JSON"),
        (awslogs_data([1, 2]), "expected a JSON object, got list"),
        (awslogs_data({"messageType": "HEARTBEAT"}), "messageType 'HEARTBEAT'"),
        (awslogs_data({**DOCUMENTED_DECODED, "logEvents": None}), "logEvents"),
        (awslogs_data({**DOCUMENTED_DECODED, "logGroup": ""}), "logGroup"),
        (
            awslogs_data({**DOCUMENTED_DECODED, "logEvents": [{"id": "1", "timestamp": "soon"}]}),
            "logEvents.0.timestamp",
        ),
    ],
)
def test_a_malformed_payload_is_a_domain_error_naming_what_is_wrong(data: str, says: str) -> None:
    with pytest.raises(InvalidEventError, match=re.escape(says)):
        decode_subscription(data)


def test_a_payload_that_inflates_beyond_the_cap_is_refused() -> None:
    bomb = base64.b64encode(gzip.compress(b" " * (MAX_DECODED_BYTES + 1))).decode()
    with pytest.raises(InvalidEventError, match="decompressed"):
        decode_subscription(bomb)


# --- which function ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "stream", "function"),
    [
        ("/aws/lambda/orders-api", None, "orders-api"),
        ("/aws/lambda/my_function-2", "2023/11/14/[$LATEST]94fa867e", "my_function-2"),
        # Lambda@Edge: the replica's group carries the function's home region.
        ("/aws/lambda/us-east-1.edge-rewrite", None, "edge-rewrite"),
        # [loggroups]: a custom log group names the function in each stream.
        ("/shared/app-logs", "2023/11/14/orders-api[$LATEST]1bbe51xmplb34a2788dbaa", "orders-api"),
        ("/shared/app-logs", "2023/11/14/orders-api[3]1bbe51xmplb34a2788dbaa", "orders-api"),
        ("/shared/app-logs", "2023/11/14/[$LATEST]1bbe51xmplb34a2788dbaa", None),
        ("/shared/app-logs", None, None),
        ("/aws/apigateway/welcome", None, None),
        ("/aws/lambda/", None, None),
        ("/aws/lambda/a/b", None, None),
    ],
)
def test_function_of(group: str, stream: str | None, function: str | None) -> None:
    assert function_of(group, stream) == function


# --- Python -----------------------------------------------------------------------------------

# [python-ric] log_error, TEXT format: one event, U+00A0 indentation, "\n" in the framed sink
# Lambda uses. The error is [python-exceptions]'s KeyError, for the key of the issue.
PY_UNHANDLED = (
    "[ERROR] KeyError: 'user_id'\n"
    "Traceback (most recent call last):\n"
    f'{NBSP * 2}File "/var/task/app.py", line 12, in handler\n'
    f"{NBSP * 4}return find(event['user_id'])\n"
)


def test_a_python_unhandled_exception_is_one_event_with_its_frames() -> None:
    line = only(PY_UNHANDLED)
    assert line.error_type == "KeyError"
    assert line.message == "'user_id'"
    assert line.frames == ("/var/task/app.py:12 in handler",)
    assert line.request_id is None  # the runtime's error line names no request
    assert line.timestamp == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def test_the_same_error_written_with_carriage_returns_reads_the_same() -> None:
    # [python-ric] StandardLogSink joins the lines with "\r" (a runtime without the framed sink).
    assert only(PY_UNHANDLED.replace("\n", "\r")) == only(PY_UNHANDLED)


def test_only_the_error_of_an_invocation_is_an_error_line() -> None:
    # [python-logging]: START, the function's INFO lines, END, REPORT and XRAY around it.
    invocation = [
        f"START RequestId: {RID} Version: $LATEST\n",
        f"[INFO]\t2020-01-31T22:12:58.534Z\t{RID}\t## EVENT\n",
        PY_UNHANDLED,
        f"END RequestId: {RID}\n",
        f"REPORT RequestId: {RID}  Duration: 2.75 ms   Billed Duration: 3 ms Memory Size: 128 MB"
        " Max Memory Used: 56 MB  Init Duration: 113.51 ms\n",
        "XRAY TraceId: 1-5e34a66a-474xmpl7c2534a87870b4370   SegmentId: 073cxmpl3e442861"
        " Sampled: true\n",
    ]
    assert [line.error_type for line in lines(*invocation)] == ["KeyError"]


def test_a_chained_exception_is_read_as_the_last_one_raised() -> None:
    # [python-ric] formats the last exception only (aws-lambda-python-runtime-interface-client
    # issue #25 shows "[ERROR] Exception: second!").
    line = only(
        "[ERROR] Exception: second!\nTraceback (most recent call last):\n"
        f'{NBSP * 2}File "/var/task/app.py", line 6, in handler\n'
        f'{NBSP * 4}raise Exception("second!") from e\n'
    )
    assert (line.error_type, line.message) == ("Exception", "second!")


def test_an_import_error_at_init_keeps_lambdas_error_type() -> None:
    # [python-exceptions] "Runtime exception – ImportError", as log_error writes it.
    line = only(
        "[ERROR] Runtime.ImportModuleError: Unable to import module 'lambda_function': Cannot"
        " import name '_imaging' from 'PIL' (/var/task/PIL/__init__.py)\n"
        "Traceback (most recent call last):\n"
    )
    assert line.error_type == "Runtime.ImportModuleError"
    assert line.message.startswith("Unable to import module 'lambda_function'")
    assert line.frames == ()


def test_an_exception_without_a_message_is_its_type_alone() -> None:
    # [python-ric] log_error writes "[ERROR] <type>" when the message is empty, and
    # "[ERROR] <message>" when there is no type.
    assert (only("[ERROR] StopIteration\nTraceback (most recent call last):\n").error_type) == (
        "StopIteration"
    )
    assert only("[ERROR] boom").error_type == "Error"


def test_logger_error_in_the_text_format_is_an_error_line_with_its_request() -> None:
    # [python-logging] the runtime's text format, at ERROR ([python-ric] _setup_logging).
    line = only(f"[ERROR]\t2020-01-31T22:12:58.534Z\t{RID}\tPayment refused for order 42\n")
    assert (line.error_type, line.message) == ("Error", "Payment refused for order 42")
    assert line.request_id == RID
    assert line.frames == ()


def test_logger_exception_in_the_text_format_reads_the_traceback_after_the_message() -> None:
    line = only(
        f"[ERROR]\t2020-01-31T22:12:58.534Z\t{RID}\tPayment failed\n"
        "Traceback (most recent call last):\n"
        '  File "/var/task/app.py", line 5, in handler\n'
        "    pay(event)\n"
        '  File "/var/task/payments.py", line 31, in pay\n'
        "    raise payments.errors.CardDeclined('card 4242 declined')\n"
        "payments.errors.CardDeclined: card 4242 declined\n"
    )
    assert (line.error_type, line.message) == ("CardDeclined", "card 4242 declined")
    assert line.frames == ("/var/task/app.py:5 in handler", "/var/task/payments.py:31 in pay")
    assert line.request_id == RID


def test_logger_critical_is_an_error_line_and_info_or_warning_is_not() -> None:
    assert only(f"[CRITICAL]\t2020-01-31T22:12:58.534Z\t{RID}\tdisk full\n").message == (
        "disk full"
    )
    assert (
        lines(
            f"[INFO]\t2020-01-31T22:12:58.534Z\t{RID}\tall good\n",
            f"[WARNING]\t2020-01-31T22:12:58.534Z\t{RID}\tretrying\n",
        )
        == []
    )


# [python-exceptions]'s error document, as [python-ric] log_error writes it in the JSON format.
PY_JSON_ERROR = {
    "timestamp": "2023-11-14T22:13:20Z",
    "log_level": "ERROR",
    "errorMessage": "name 'x' is not defined",
    "errorType": "NameError",
    "requestId": RID,
    "stackTrace": [
        '  File "/var/task/error_function.py", line 2, in lambda_handler\n    return x + 10\n'
    ],
}


@pytest.mark.parametrize("level_key", ["log_level", "level"])
def test_the_python_runtimes_json_error_record(level_key: str) -> None:
    record = {key: value for key, value in PY_JSON_ERROR.items() if key != "log_level"}
    record[level_key] = "ERROR"
    line = only(json.dumps(record))  # the runtime writes ", " and ": " separators
    assert (line.error_type, line.message) == ("NameError", "name 'x' is not defined")
    assert line.frames == ("/var/task/error_function.py:2 in lambda_handler",)
    assert line.request_id == RID


def test_the_older_python_stack_of_lists_reads_too() -> None:
    # [python-exceptions], the older page: "stackTrace": [[path, line, function, code]].
    line = only(
        json.dumps(
            {
                "errorMessage": "I failed!",
                "stackTrace": [
                    [
                        "/var/task/lambda_function.py",
                        3,
                        "my_always_fails_handler",
                        "raise Exception('I failed!')",
                    ]
                ],
                "errorType": "Exception",
            }
        )
    )
    assert (line.error_type, line.message) == ("Exception", "I failed!")
    assert line.frames == ("/var/task/lambda_function.py:3 in my_always_fails_handler",)


def test_the_lambda_json_log_format_at_error_without_an_exception() -> None:
    # [python-logging] advanced logging controls, JSON: logger.error("...") ([python-ric]
    # JsonFormatter drops the None fields).
    line = only(
        '{"timestamp": "2023-10-27T19:17:45Z", "level": "ERROR", "message": "Inventory service'
        f' unavailable", "logger": "root", "requestId": "{RID}"}}'
    )
    assert (line.error_type, line.message, line.frames) == (
        "Error",
        "Inventory service unavailable",
        (),
    )
    assert line.request_id == RID


def test_the_lambda_json_log_format_with_an_exception() -> None:
    # [python-logging] logger.exception in the JSON format: [python-ric] JsonFormatter's
    # stackTrace (traceback.format_tb), errorType, errorMessage and location.
    line = only(
        json.dumps(
            {
                "timestamp": "2023-10-27T19:17:45Z",
                "level": "ERROR",
                "message": "Charge failed",
                "logger": "root",
                "stackTrace": [
                    '  File "/var/task/lambda_function.py", line 15, in lambda_handler\n'
                    "    charge(order)\n"
                ],
                "errorType": "ZeroDivisionError",
                "errorMessage": "division by zero",
                "requestId": RID,
                "location": "/var/task/lambda_function.py:lambda_handler:17",
            }
        )
    )
    assert (line.error_type, line.message) == ("ZeroDivisionError", "division by zero")
    assert line.frames == ("/var/task/lambda_function.py:15 in lambda_handler",)


def test_the_lambda_json_log_format_below_error_is_no_error_line() -> None:
    # [python-logging] the INFO sample of the JSON format.
    assert (
        lines(
            '{"timestamp":"2023-10-27T19:17:45.586Z","level":"INFO","message":"Inside the handler'
            f' function","logger":"root","requestId":"{RID}"}}',
            '{"timestamp":"2023-10-27T19:17:45.586Z","level":"WARN","message":"slow",'
            '"errorType":"Slow"}',
        )
        == []
    )


# --- Node.js ----------------------------------------------------------------------------------

NODE_RID = "4ce9340a-b765-490f-ad8a-02ab3415e2bf"
# [nodejs-exceptions]'s ReferenceError as [node-ric] logs it: "Invoke Error", a tab, then
# Errors.toFormatted (errorType, errorMessage, stack).
NODE_INVOKE_ERROR = (
    f"2019-06-05T19:30:03.173Z\t{NODE_RID}\tERROR\tInvoke Error \t"
    + json.dumps(
        {
            "errorType": "ReferenceError",
            "errorMessage": "x is not defined",
            "stack": [
                "ReferenceError: x is not defined",
                "    at Runtime.exports.handler (/var/task/index.js:2:3)",
                "    at Runtime.handleOnce (/var/runtime/Runtime.js:63:25)",
                "    at process._tickCallback (internal/process/next_tick.js:68:7)",
            ],
        },
        separators=(",", ":"),
    )
    + "\n"
)


def test_a_nodejs_invoke_error_reads_its_json_record() -> None:
    line = only(NODE_INVOKE_ERROR)
    assert (line.error_type, line.message) == ("ReferenceError", "x is not defined")
    # Outermost first, as Python's; the runtime's and Node.js's frames are kept here and
    # left out by the fingerprint.
    assert line.frames == (
        "internal/process/next_tick.js:68 in process._tickCallback",
        "/var/runtime/Runtime.js:63 in Runtime.handleOnce",
        "/var/task/index.js:2 in Runtime.exports.handler",
    )
    assert line.request_id == NODE_RID


def test_an_es_module_stack_and_an_anonymous_frame() -> None:
    line = only(
        f"2024-03-01T10:00:00.000Z\t{NODE_RID}\tERROR\tUncaught Exception \t"
        + json.dumps(
            {
                "errorType": "TypeError",
                "errorMessage": "Cannot read properties of undefined (reading 'id')",
                "stack": [
                    "TypeError: Cannot read properties of undefined (reading 'id')",
                    "    at file:///var/task/lib/orders.mjs:8:20",
                    "    at async Runtime.handler (file:///var/task/index.mjs:5:3)",
                ],
            }
        )
    )
    assert line.error_type == "TypeError"
    assert line.frames == (
        "/var/task/index.mjs:5 in Runtime.handler",
        "/var/task/lib/orders.mjs:8 in <anonymous>",
    )


def test_nodejs_console_error_text_is_an_error_line() -> None:
    # [node-ric] logTextToFd: console.error("...") at level ERROR; console.log is INFO.
    line = only(f"2019-06-05T19:30:03.173Z\t{NODE_RID}\tERROR\tcould not reach stripe\n")
    assert (line.error_type, line.message) == ("Error", "could not reach stripe")
    assert line.request_id == NODE_RID
    assert lines(f'2019-06-05T19:30:03.173Z\t{NODE_RID}\tINFO\tEVENT\r{{\r  "key": 1\r}}\n') == []


def test_nodejs_console_error_of_an_error_object_reads_its_stack() -> None:
    # util.format of an Error is its stack; the stdout sink turns "\n" into "\r".
    line = only(
        f"2024-03-01T10:00:00.000Z\t{NODE_RID}\tERROR\tRangeError: Invalid array length\r"
        "    at build (/var/task/index.js:4:11)\r    at Runtime.handler (/var/task/index.js:9:5)\n"
    )
    assert (line.error_type, line.message) == ("RangeError", "Invalid array length")
    assert line.frames == (
        "/var/task/index.js:9 in Runtime.handler",
        "/var/task/index.js:4 in build",
    )


def test_nodejs_json_format_with_the_error_in_message() -> None:
    # [node-ric] formatJsonMessage with one parameter: the Error serialised into "message".
    line = only(
        json.dumps(
            {
                "timestamp": "2023-11-14T22:13:20.000Z",
                "level": "ERROR",
                "requestId": NODE_RID,
                "message": {
                    "errorType": "TypeError",
                    "errorMessage": "fetch failed",
                    "stackTrace": [
                        "TypeError: fetch failed",
                        "    at Runtime.handler (file:///var/task/index.mjs:12:9)",
                    ],
                },
            },
            separators=(",", ":"),
        )
    )
    assert (line.error_type, line.message) == ("TypeError", "fetch failed")
    assert line.frames == ("/var/task/index.mjs:12 in Runtime.handler",)
    assert line.request_id == NODE_RID


def test_nodejs_json_format_with_a_message_and_the_error_at_the_top_level() -> None:
    # [node-ric] formatJsonMessage with several parameters: errorType etc. beside "message".
    line = only(
        '{"timestamp":"2023-11-14T22:13:20.000Z","level":"FATAL","requestId":"'
        + NODE_RID
        + '","message":"boom TypeError: x","errorType":"TypeError","errorMessage":"x",'
        '"stackTrace":["TypeError: x","    at Runtime.handler (/var/task/index.js:3:9)"]}'
    )
    assert (line.error_type, line.message) == ("TypeError", "x")


# --- time-outs and crashes --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "request_id", "says"),
    [
        # apex/up issue #663 and DataBiosphere/azul issue #5622 (real CloudWatch events).
        (
            "2018-05-17T06:46:28.161Z fb63a8b6-599d-11e8-a437-911ac44bc0b4 Task timed out after"
            " 18.02 seconds",
            "fb63a8b6-599d-11e8-a437-911ac44bc0b4",
            "Task timed out after 18.02 seconds",
        ),
        (
            "2023-10-20T16:28:17.840Z 4299ee26-8d1d-4ea9-bd43-77b85ed96cfe Task timed out after"
            " 31.01 seconds\n\n",
            "4299ee26-8d1d-4ea9-bd43-77b85ed96cfe",
            "Task timed out after 31.01 seconds",
        ),
        # praetorian-inc/chariot-ui issue #166: no request id.
        ("2024-06-25T19:22:58.186Z  Task timed out after 30.27 seconds", None, None),
        ("Task timed out after 3.00 seconds", None, "Task timed out after 3.00 seconds"),
    ],
)
def test_a_time_out(message: str, request_id: str | None, says: str | None) -> None:
    line = only(message)
    assert line.error_type == "Task timed out"
    assert line.request_id == request_id
    assert line.message.startswith("Task timed out after")
    if says:
        assert line.message == says


@pytest.mark.parametrize(
    ("message", "request_id", "says"),
    [
        # aws/aws-lambda-dotnet issue #480 and the same line for an out-of-memory kill
        # (awslabs/amazon-s3-find-and-forget pull request #283 quotes its errorMessage).
        (
            "RequestId: d88fc138-1756-4e8f-b887-d44851c12b84 Error: Runtime exited with error:"
            " signal: killed\nRuntime.ExitError",
            "d88fc138-1756-4e8f-b887-d44851c12b84",
            "Runtime exited with error: signal: killed",
        ),
        (
            "RequestId: d88fc138-1756-4e8f-b887-d44851c12b84 Error: Runtime exited with error:"
            " exit status 137\nRuntime.ExitError",
            "d88fc138-1756-4e8f-b887-d44851c12b84",
            "Runtime exited with error: exit status 137",
        ),
        # aws-solutions-library-samples/cloud-intelligence-dashboards-data-collection #201.
        (
            "Error Runtime exited with error: signal: killed\nRuntime.ExitError",
            None,
            "Runtime exited with error: signal: killed",
        ),
        # praetorian-inc/chariot-ui issue #166: an empty request id.
        (
            "RequestId:  Error: Runtime exited with error: signal: killed\nRuntime.ExitError",
            None,
            "Runtime exited with error: signal: killed",
        ),
        # Older runtimes (gist a-h/5760e3f9, "Lambda Failure Log Entries").
        (
            "RequestId: 16f8d3a2-26fc-11e8-bca6-73dbc61c39e7 Process exited before completing"
            " request",
            "16f8d3a2-26fc-11e8-bca6-73dbc61c39e7",
            "Process exited before completing request",
        ),
    ],
)
def test_a_runtime_killed_or_crashed(message: str, request_id: str | None, says: str) -> None:
    line = only(message)
    assert (line.error_type, line.message, line.request_id) == (
        "Runtime.ExitError",
        says,
        request_id,
    )


OOM_REPORT = (
    "REPORT RequestId: fa4e6a1f-083b-573d-ace2-090d2b00a3ac\tDuration: 6954.19 ms\tBilled"
    " Duration: 6955 ms\tMemory Size: 1024 MB\tMax Memory Used: 1023 MB\tStatus: error\t"
    "Error Type: Runtime.OutOfMemory\n"
)
TIMEOUT_REPORT = (
    "REPORT RequestId: 4299ee26-8d1d-4ea9-bd43-77b85ed96cfe\tDuration: 31012.52 ms\tBilled"
    " Duration: 31000 ms\tMemory Size: 128 MB\tMax Memory Used: 109 MB\tStatus: timeout\n"
)


def test_the_report_line_of_an_out_of_memory_invocation() -> None:
    # The REPORT fields of [python-logging] with the Status and Error Type of the Telemetry
    # API's platform.report ([logformat]); the line as quoted in nasa-gcn/gcn.nasa.gov pull
    # request #3628 ("Error Type: Runtime.OutOfMemory").
    line = only(OOM_REPORT)
    assert (line.error_type, line.message) == (
        "Runtime.OutOfMemory",
        "Out of memory: 1023 MB used of 1024 MB",
    )
    assert line.request_id == "fa4e6a1f-083b-573d-ace2-090d2b00a3ac"


def test_the_report_line_of_a_timed_out_invocation() -> None:
    line = only(TIMEOUT_REPORT)
    assert (line.error_type, line.message) == (
        "Task timed out",
        "Task timed out after 31.01 seconds",
    )


def test_an_init_report_with_an_error_status() -> None:
    line = only(
        "INIT_REPORT Init Duration: 10003.85 ms\tPhase: init\tStatus: error\tError Type:"
        " Runtime.ExitError\n"
    )
    assert line.error_type == "Runtime.ExitError"


def test_the_report_line_repeats_the_runtimes_error_and_is_kept_once() -> None:
    # DataBiosphere/azul issue #5622: the time-out line comes with the REPORT of its request.
    found = lines(
        "2023-10-20T16:28:17.840Z 4299ee26-8d1d-4ea9-bd43-77b85ed96cfe Task timed out after"
        " 31.01 seconds\n\n",
        "END RequestId: 4299ee26-8d1d-4ea9-bd43-77b85ed96cfe\n",
        TIMEOUT_REPORT,
    )
    assert [(line.error_type, line.message) for line in found] == [
        ("Task timed out", "Task timed out after 31.01 seconds")
    ]
    # The REPORT before the crash line it repeats ([services-cloudwatchlogs]'s order).
    found = lines(
        OOM_REPORT,
        "RequestId: fa4e6a1f-083b-573d-ace2-090d2b00a3ac Error: Runtime exited with error:"
        " signal: killed\nRuntime.ExitError",
    )
    assert [line.error_type for line in found] == ["Runtime.ExitError"]


# [logformat]: system logs in the JSON format, as a function on LogFormat JSON writes them
# (the two records quoted in a public post-mortem of a Lambda timeout).
RUNTIME_DONE_TIMEOUT = (
    '{"time":"2026-07-09T06:05:50.562Z","type":"platform.runtimeDone","record":{"requestId":'
    '"aec7a529-47f9-4090-be01-c9ed91bf83cf","status":"timeout","metrics":{"durationMs":5001.182,'
    '"producedBytes":0}}}'
)
REPORT_TIMEOUT = (
    '{"time":"2026-07-09T06:05:50.581Z","type":"platform.report","record":{"requestId":'
    '"aec7a529-47f9-4090-be01-c9ed91bf83cf","metrics":{"durationMs":5000.0,"billedDurationMs":'
    '5000,"memorySizeMB":128,"maxMemoryUsedMB":94},"status":"timeout"}}'
)


def test_json_system_logs_of_a_time_out_give_one_line() -> None:
    found = lines(RUNTIME_DONE_TIMEOUT, REPORT_TIMEOUT)
    assert [(line.error_type, line.message, line.request_id) for line in found] == [
        (
            "Task timed out",
            "Task timed out after 5.00 seconds",
            "aec7a529-47f9-4090-be01-c9ed91bf83cf",
        )
    ]


def test_json_system_logs_of_an_out_of_memory_invocation_and_a_healthy_one() -> None:
    report = {
        "time": "2024-06-17T17:23:55.826Z",
        "type": "platform.report",
        "record": {
            "requestId": "40f6c622-67a3-4159-97f2-ce364a0cb7a8",
            "metrics": {
                "durationMs": 18.593,
                "billedDurationMs": 19,
                "memorySizeMB": 2048,
                "maxMemoryUsedMB": 2048,
            },
            "status": "error",
            "errorType": "Runtime.OutOfMemory",
            "tracing": {
                "spanId": "0a2b1c3d4e5f6a7b",
                "type": "X-Amzn-Trace-Id",
                "value": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;"
                "Sampled=1",
            },
        },
    }
    line = only(json.dumps(report, separators=(",", ":")))
    assert (line.error_type, line.message) == (
        "Runtime.OutOfMemory",
        "Out of memory: 2048 MB used of 2048 MB",
    )
    assert line.trace_id == "1-5759e988-bd862e3fe1be46a994272793"
    healthy = {**report, "record": {**report["record"], "status": "success"}}
    del healthy["record"]["errorType"]
    assert lines(json.dumps(healthy)) == []
    # A function error ("failure") is the runtime's to report, not the platform's.
    failure = {
        **report,
        "record": {**report["record"], "status": "failure", "errorType": "KeyError"},
    }
    assert lines(json.dumps(failure)) == []


# --- Powertools -------------------------------------------------------------------------------


def test_powertools_logger_exception() -> None:
    # [powertools] examples/logger/src/logging_exceptions_output.json
    line = only(powertools("logging_exceptions_output"))
    assert line.error_type == "RuntimeError"
    assert line.frames == ("<input>:2 in <module>",)


def test_powertools_uncaught_exception_hook() -> None:
    # [powertools] examples/logger/src/logging_uncaught_exceptions_output.json
    line = only(powertools("logging_uncaught_exceptions_output"))
    assert line.error_type == "HTTPError"
    assert line.message.startswith("500 Server Error: INTERNAL SERVER ERROR")
    assert (
        line.frames[-1]
        == "<input>/lib/python3.9/site-packages/requests/models.py:1021 in raise_for_status"
    )


def test_powertools_serialised_stack_trace() -> None:
    # [powertools] examples/logger/src/logging_stacktrace_output.json
    line = only(powertools("logging_stacktrace_output"))
    assert line.error_type == "HTTPError"
    assert line.frames == (
        "/var/task/app.py:14 in lambda_handler",
        "/var/task/requests/models.py:1021 in raise_for_status",
    )


def test_powertools_error_with_its_request_and_trace() -> None:
    # [powertools] "Standard structured keys" and "Capturing Lambda context info": an
    # ERROR record of a traced function.
    line = only(
        '{"level":"ERROR","location":"collect.handler:12","message":"Payment declined for'
        ' order 8812","timestamp":"2021-05-03 11:47:12,494+0000","service":"payment",'
        '"cold_start":true,"function_name":"test","function_memory_size":128,"function_arn":'
        '"arn:aws:lambda:eu-west-1:12345678910:function:test","function_request_id":'
        '"52fdfc07-2182-154f-163f-5f0f9a621d72","xray_trace_id":'
        '"1-5759e988-bd862e3fe1be46a994272793"}'
    )
    assert (line.error_type, line.message) == ("Error", "Payment declined for order 8812")
    assert line.request_id == "52fdfc07-2182-154f-163f-5f0f9a621d72"
    assert line.trace_id == "1-5759e988-bd862e3fe1be46a994272793"


def test_powertools_critical_with_a_structured_message_and_info_is_not() -> None:
    line = only('{"level":"CRITICAL","message":{"operation":"collect_payment","charge_id":"ch_1"}}')
    assert line.message == '{"operation":"collect_payment","charge_id":"ch_1"}'
    # [powertools] examples/logger/src/inject_lambda_context_output.json, an INFO record.
    assert (
        lines(
            '{"level":"INFO","location":"collect.handler:9","message":"Collecting payment",'
            '"timestamp":"2021-05-03 11:47:12,494+0000","service":"payment","cold_start":true,'
            '"function_request_id":"52fdfc07-2182-154f-163f-5f0f9a621d72"}'
        )
        == []
    )


@pytest.mark.parametrize(
    ("trace", "expected"),
    [
        # [python-logging]: the _X_AMZN_TRACE_ID of the environment, "Root=" stripped.
        (
            "Root=1-5d02e5ca-f5792818b6fe8368e5b51d50;Parent=191db58857df8395;Sampled=0",
            "1-5d02e5ca-f5792818b6fe8368e5b51d50",
        ),
        ("1-5d02e5ca-f5792818b6fe8368e5b51d50", "1-5d02e5ca-f5792818b6fe8368e5b51d50"),
        ("1-5e34a614-10bdxmplf1fb44f07bc535a1", None),  # a documentation placeholder
        ("<script>", None),
    ],
)
def test_the_trace_id_is_read_only_in_its_documented_form(trace: str, expected: str | None) -> None:
    for key in ("xray_trace_id", "traceId", "_X_AMZN_TRACE_ID"):
        line = only(json.dumps({"level": "ERROR", "message": "x", key: trace}))
        assert line.trace_id == expected


# --- anything else ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "first_line"),
    [
        ("[ERROR] \r\r", ""),
        ("[ERROR] something broke: see above\nmore detail", "something broke: see above"),
        ('{"level":"ERROR","message":"cut short', '{"level":"ERROR","message":"cut short'),
        (
            '{"errorType": "Boom", "errorMessage": "trunc',
            '{"errorType": "Boom", "errorMessage": "trunc',
        ),
        (
            f"2019-06-05T19:30:03.173Z\t{NODE_RID}\tERROR\tInvoke Error \t{{not json\n",
            "Invoke Error",
        ),
    ],
)
def test_an_error_that_cannot_be_parsed_is_kept_with_its_first_line(
    message: str, first_line: str
) -> None:
    line = only(message)
    assert line.error_type == "Error"
    assert line.message == first_line


@pytest.mark.parametrize(
    "message",
    [
        "",
        "\n",
        f"START RequestId: {RID} Version: $LATEST\n",
        f"END RequestId: {RID}\n",
        DOCUMENTED_REPORT,
        "INIT_START Runtime Version: python:3.13.v16\tRuntime Version ARN: arn:aws:lambda:"
        "us-east-1::runtime:5a2ba2ab\n",
        "XRAY TraceId: 1-5e34a614-10bdxmplf1fb44f07bc535a1\tSegmentId: 07f5xmpl2d1f6f85\t"
        "Sampled: true",
        "## EVENT\n{'key': 'value'}",
        '{"level":"INFO","message":"no errorType here"}',
        '{"message": "an INFO record that mentions an errorType in passing"}',
        "[1, 2, 3]",
        '{"time":"2024-06-17T17:23:55.902Z","type":"platform.start","record":{"requestId":"r"}}',
    ],
)
def test_lines_that_are_not_errors_give_nothing(message: str) -> None:
    assert lines(message) == []


def test_messages_frames_and_types_are_capped() -> None:
    frames = "".join(
        f'  File "/var/task/app.py", line {n}, in step_{n}\n    step_{n + 1}()\n' for n in range(30)
    )
    line = only(
        f"[ERROR] {'Deep' * 80}Error: {'x' * 2_000}\nTraceback (most recent call last):\n{frames}"
    )
    assert len(line.message) == MAX_MESSAGE
    assert len(line.frames) == MAX_FRAMES
    assert line.frames[-1] == "/var/task/app.py:29 in step_29"  # the innermost are kept
    assert len(line.error_type) == 200


def test_a_request_id_that_is_not_an_id_is_dropped() -> None:
    line = only('{"level":"ERROR","message":"x","requestId":"<a href=x>"}')
    assert line.request_id is None


# --- the subscription filter pattern ----------------------------------------------------------
#
# A tiny evaluator of the subset of the CloudWatch Logs filter pattern syntax Vigil uses
# (CloudWatch Logs user guide, "Filter pattern syntax for metric filters, subscription
# filters, filter log events and Live Tail", "Matching terms in unstructured log events"):
# `?"term"` terms ORed together; terms are case-sensitive; a quoted term is an exact phrase.
# The service matches terms on word boundaries, so this evaluator asks the same: where a term
# begins or ends with a letter or digit, the character beside it must not be one. A message
# this evaluator matches is therefore matched by the service, on words or on substrings.

_TERM = re.compile(r'\?"(?P<term>[^"]+)"')


def pattern_terms(pattern: str) -> list[str]:
    assert re.fullmatch(r'\?"[^"]+"(?: \?"[^"]+")*', pattern), pattern
    return [match["term"] for match in _TERM.finditer(pattern)]


def term_matches(term: str, message: str) -> bool:
    start = message.find(term)
    while start != -1:
        end = start + len(term)
        before_ok = not term[0].isalnum() or start == 0 or not message[start - 1].isalnum()
        after_ok = not term[-1].isalnum() or end == len(message) or not message[end].isalnum()
        if before_ok and after_ok:
            return True
        start = message.find(term, start + 1)
    return False


def pattern_matches(pattern: str, message: str) -> bool:
    return any(term_matches(term, message) for term in pattern_terms(pattern))


def test_the_evaluator_reads_words_and_phrases() -> None:
    assert term_matches("ERROR", "[ERROR] boom")
    assert term_matches("ERROR", '"level":"ERROR"')
    assert not term_matches("ERROR", "NOERRORS")
    assert term_matches("Task timed out", "x Task timed out after 3.00 seconds")
    assert not term_matches("timeout", "timeouts")


ACCEPTED = [
    PY_UNHANDLED,
    PY_UNHANDLED.replace("\n", "\r"),
    f"[ERROR]\t2020-01-31T22:12:58.534Z\t{RID}\tPayment refused\n",
    f"[CRITICAL]\t2020-01-31T22:12:58.534Z\t{RID}\tdisk full\n",
    "[ERROR] Runtime.ImportModuleError: Unable to import module 'lambda_function'\n",
    json.dumps(PY_JSON_ERROR),
    json.dumps({**{k: v for k, v in PY_JSON_ERROR.items() if k != "log_level"}, "level": "ERROR"}),
    json.dumps({"errorMessage": "I failed!", "errorType": "Exception", "stackTrace": []}),
    '{"timestamp": "2023-10-27T19:17:45Z", "level": "ERROR", "message": "x", "logger": "root"}',
    NODE_INVOKE_ERROR,
    f"2019-06-05T19:30:03.173Z\t{NODE_RID}\tERROR\tcould not reach stripe\n",
    f"2019-06-05T19:30:03.173Z\t{NODE_RID}\tFATAL\tcould not start\n",
    '{"timestamp":"2023-11-14T22:13:20.000Z","level":"ERROR","requestId":"r","message":'
    '{"errorType":"TypeError","errorMessage":"fetch failed","stackTrace":[]}}',
    '{"timestamp":"2023-11-14T22:13:20.000Z","level":"FATAL","requestId":"r","message":"x"}',
    "2023-10-20T16:28:17.840Z 4299ee26-8d1d-4ea9-bd43-77b85ed96cfe Task timed out after"
    " 31.01 seconds",
    "RequestId: d88fc138-1756-4e8f-b887-d44851c12b84 Error: Runtime exited with error:"
    " signal: killed\nRuntime.ExitError",
    "Error Runtime exited with error: signal: killed\nRuntime.ExitError",
    "RequestId: 16f8d3a2-26fc-11e8-bca6-73dbc61c39e7 Process exited before completing request",
    OOM_REPORT,
    TIMEOUT_REPORT,
    "INIT_REPORT Init Duration: 10003.85 ms\tPhase: init\tStatus: error\tError Type:"
    " Runtime.ExitError\n",
    RUNTIME_DONE_TIMEOUT,
    REPORT_TIMEOUT,
    '{"time":"t","type":"platform.report","record":{"requestId":"r","status":"error","errorType":"Runtime.OutOfMemory"}}',
    powertools("logging_exceptions_output"),
    powertools("logging_uncaught_exceptions_output"),
    powertools("logging_stacktrace_output"),
    '{"level":"CRITICAL","message":"x","service":"payment"}',
    '{"level":"ERROR","message":"cut short',
    "[ERROR] \r\r",
]

HEALTHY_INVOCATION = [
    # [python-logging] and [services-cloudwatchlogs]: a healthy invocation, text and JSON.
    "INIT_START Runtime Version: python:3.13.v16\tRuntime Version ARN:"
    " arn:aws:lambda:us-east-1::runtime:5a2b\n",
    f"START RequestId: {RID} Version: $LATEST\n",
    "## ENVIRONMENT VARIABLES\n",
    "environ({'AWS_LAMBDA_LOG_GROUP_NAME': '/aws/lambda/my-function', ...})\n",
    f"[INFO]\t2020-01-31T22:12:58.534Z\t{RID}\t## EVENT\n",
    f"[WARNING]\t2020-01-31T22:12:58.534Z\t{RID}\tslow downstream\n",
    f"[DEBUG]\t2020-01-31T22:12:58.534Z\t{RID}\tcache hit\n",
    f'2019-06-05T19:30:03.173Z\t{NODE_RID}\tINFO\tEVENT\r{{\r  "key": "value"\r}}\n',
    f"2019-06-05T19:30:03.173Z\t{NODE_RID}\tWARN\tretrying\n",
    f"END RequestId: {RID}\n",
    f"REPORT RequestId: {RID}  Duration: 2.75 ms   Billed Duration: 3 ms Memory Size: 128 MB"
    " Max Memory Used: 56 MB  Init Duration: 113.51 ms\n",
    DOCUMENTED_REPORT,
    "XRAY TraceId: 1-5e34a66a-474xmpl7c2534a87870b4370   SegmentId: 073cxmpl3e442861"
    " Sampled: true\n",
    '{"timestamp":"2023-10-27T19:17:45.586Z","level":"INFO","message":"Inside the handler'
    f' function","logger":"root","requestId":"{RID}"}}',
    '{"level":"INFO","location":"collect.handler:9","message":"Collecting payment","timestamp":'
    '"2021-05-03 11:47:12,494+0000","service":"payment","cold_start":true}',
    '{"time":"2024-06-17T17:23:55.902Z","type":"platform.start","record":{"requestId":'
    '"ca52c236-a38d-40fc-aa6b-7e3be2b7aa55","version":"$LATEST"}}',
    '{"time":"2024-06-17T17:23:55.826Z","type":"platform.report","record":{"requestId":'
    '"40f6c622-67a3-4159-97f2-ce364a0cb7a8","metrics":{"durationMs":18.593,"billedDurationMs":19,'
    '"memorySizeMB":2048,"maxMemoryUsedMB":246},"status":"success"}}',
]


@pytest.mark.parametrize("message", ACCEPTED)
def test_every_line_the_parser_accepts_matches_the_filter_pattern(message: str) -> None:
    assert lines(message), "a sample the parser should accept"
    assert pattern_matches(FILTER_PATTERN, message)


@pytest.mark.parametrize("message", HEALTHY_INVOCATION)
def test_no_line_of_a_healthy_invocation_matches_the_filter_pattern(message: str) -> None:
    assert not pattern_matches(FILTER_PATTERN, message)
    assert lines(message) == []


def test_the_filter_pattern_fits_a_subscription_filter() -> None:
    # CloudWatch Logs API reference, PutSubscriptionFilter / SubscriptionFilter: filterPattern
    # is at most 1,024 characters.
    assert len(FILTER_PATTERN) <= 1024
    assert pattern_terms(FILTER_PATTERN)


def test_docs_show_the_filter_pattern_vigil_uses() -> None:
    rules = (Path(__file__).parents[2] / "docs" / "rules.md").read_text()
    section = rules[rules.index("### What counts as an error line") :]
    assert f"\n{FILTER_PATTERN}\n" in section
    assert f"{len(FILTER_PATTERN)} of the 1,024 characters" in section
