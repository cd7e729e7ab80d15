"""Least privilege, checked by the scenarios: each function's role grants what it calls, no more.

``tests/e2e/conftest.py`` records, while the other e2e tests play their scenarios, the IAM
action of every AWS call each function's real handler makes. These tests run last (the
conftest orders them; in parallel workers they wait until every other e2e module's recording
is in, whichever worker played it) and compare the union with the actions template.yaml grants
each function:
inline statements, SAM policy templates (expanded from aws-sam-translator's own definitions)
and ``AWS::IAM::Policy`` resources attached to a function's role. Both branches of an
``Fn::If`` count as granted. Actions are compared, not resources.
"""

from __future__ import annotations

import fnmatch
import json
import threading
from pathlib import Path
from typing import Any

import pytest
import samtranslator

from emulator import PROJECT_ROOT
from emulator.template import load_template

from .conftest import RECORDER, Recording, recordings, wait_for_recordings

pytestmark = [pytest.mark.e2e]

# Granted, but not called by a handler in any scenario. Keep it short; each with its reason.
NOT_CALLED_BY_THE_HANDLER = {
    # SNS calls KMS on the publisher's behalf for an encrypted topic: the publisher's role
    # needs these, yet the handler never calls KMS itself.
    *(
        (function, action)
        for function in (
            "CollectHealthFunction",
            "EvaluateFunction",
            "NotifyChatFunction",
            "RunbookFunction",
            "SlackActionsFunction",
            "SentinelFunction",
        )
        for action in ("kms:GenerateDataKey*", "kms:Decrypt")
    ),
    # The organizational view of AWS Health depends on it (template.yaml's comment), while the
    # handler calls only the Health API.
    ("CollectHealthFunction", "organizations:ListAccounts"),
}
# Paths of the code that no scenario reaches.
UNREACHED_IN_SCENARIOS = {
    # A cost batch too large for a workflow input (batch by reference, ADR 28).
    ("CollectCostsFunction", "s3:PutObject"),
    # An invalid AWS Health event parked and announced on the alerts topic.
    ("CollectHealthFunction", "sns:Publish"),
    # An alert deleted (its transaction's Delete item, or a lone conditional delete).
    ("EvaluateFunction", "dynamodb:DeleteItem"),
    # The Slack approve button (the scenarios approve with the vigil command).
    ("SlackActionsFunction", "states:SendTaskSuccess"),
    # The alarm intake stores the last good rules config only when it is the first function to
    # start after a config change; in every scenario a collection cycle starts first.
    ("AlarmIntakeFunction", "dynamodb:PutItem"),
    # The details of an open AWS Health issue for the primary region (the sentinel's unit
    # tests; its e2e scenario has no Health event).
    ("SentinelFunction", "health:DescribeEventDetails"),
    ("SentinelFunction", "health:DescribeAffectedEntities"),
    # The standby region's outage runbook (the sentinel's unit tests; the e2e deploys none).
    ("SentinelFunction", "states:StartExecution"),
}
# Granted to every function by the AWSLambdaBasicExecutionRole that SAM attaches: Lambda's own
# log delivery, which the emulator's runtime plays while the function runs.
LAMBDA_BASIC_EXECUTION = {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}
ALLOWED_UNUSED = NOT_CALLED_BY_THE_HANDLER | UNREACHED_IN_SCENARIOS


def _policy_templates() -> dict[str, Any]:
    path = Path(samtranslator.__file__).parent / "policy_templates_data" / "policy_templates.json"
    return json.loads(path.read_text())["Templates"]


def _branches(value: Any) -> list[Any]:
    """Both branches of an ``Fn::If``, without ``AWS::NoValue``; otherwise the value."""
    if isinstance(value, dict) and "Fn::If" in value:
        return [
            branch
            for option in value["Fn::If"][1:]
            for branch in _branches(option)
            if branch != {"Ref": "AWS::NoValue"}
        ]
    return [value]


def _statement_actions(statements: list[Any]) -> set[str]:
    actions: set[str] = set()
    for entry in statements:
        for statement in _branches(entry):
            if statement.get("Effect") != "Allow":
                continue
            action = statement["Action"]
            actions.update([action] if isinstance(action, str) else action)
    return actions


def granted_actions() -> dict[str, set[str]]:
    # The sentinel's stack (ADR 48) is checked with the primary's: its function's logical id
    # is its own.
    resources = {
        **load_template(PROJECT_ROOT / "template.yaml")["Resources"],
        **load_template(PROJECT_ROOT / "sentinel" / "template.yaml")["Resources"],
    }
    policy_templates = _policy_templates()
    grants: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        actions: set[str] = set()
        for policy in resource["Properties"].get("Policies", []):
            if isinstance(policy, str):
                raise AssertionError(f"{logical_id}: managed policy {policy}, not least privilege")
            if "Statement" in policy:
                actions |= _statement_actions(policy["Statement"])
                continue
            (name,) = policy
            definition = policy_templates[name]["Definition"]
            actions |= _statement_actions(definition["Statement"])
        grants[logical_id] = actions
    for resource in resources.values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        for role in resource["Properties"]["Roles"]:
            function = role["Ref"].removesuffix("Role")
            statements = resource["Properties"]["PolicyDocument"]["Statement"]
            grants[function] |= _statement_actions(statements)
    return grants


def _is_granted(action: str, granted: set[str]) -> bool:
    return any(fnmatch.fnmatchcase(action, pattern) for pattern in granted)


# A module must stay whole in one worker for its recording to be complete when it ends.
_WHOLE_MODULE_DIST = {"no", "loadscope", "loadfile"}


@pytest.fixture(scope="module")
def recorded(request: pytest.FixtureRequest) -> Recording:
    """The calls recorded by every e2e module of this session, in whichever worker."""
    if not RECORDER.modules - {Path(__file__).name}:
        return Recording()
    dist = request.config.getoption("dist", "no")
    if dist not in _WHOLE_MODULE_DIST:
        pytest.fail(f"--dist {dist} splits modules between workers: use --dist loadscope")
    union = recordings(request.config)
    cache = getattr(request.config, "cache", None)
    if cache is not None:
        calls = {name: sorted(actions) for name, actions in sorted(union.calls.items())}
        cache.set("vigil/iam-calls", calls)
    return union


def ungranted(calls: dict[str, set[str]], grants: dict[str, set[str]]) -> list[str]:
    """``function: action`` for each call the function's role does not grant."""
    return sorted(
        f"{function}: {action}"
        for function, actions in calls.items()
        for action in actions
        if not _is_granted(action, grants.get(function, set()) | LAMBDA_BASIC_EXECUTION)
    )


def unused(calls: dict[str, set[str]], grants: dict[str, set[str]]) -> list[str]:
    """``function: pattern`` for each grant no call matched, beyond the allowlist."""
    return sorted(
        f"{function}: {pattern}"
        for function, patterns in grants.items()
        for pattern in patterns
        if (function, pattern) not in ALLOWED_UNUSED
        and not any(fnmatch.fnmatchcase(a, pattern) for a in calls.get(function, ()))
    )


def test_every_call_a_function_makes_is_granted_to_it(recorded: Recording) -> None:
    # Given the calls recorded while the e2e scenarios of this session ran
    if not recorded.calls:
        pytest.skip("no scenario ran in this session: run tests/e2e as a whole")
    grants = granted_actions()
    # When each is looked up in the function's grants
    missing = ungranted(recorded.calls, grants)
    # Then none is missing
    assert not missing, "called but not granted by template.yaml:\n" + "\n".join(missing)


def test_every_granted_action_is_called_by_some_scenario(recorded: Recording) -> None:
    # Given every e2e test of the directory ran in this session (a partial run proves nothing)
    expected = {path.name for path in Path(__file__).parent.glob("test_*.py")}
    absent = expected - RECORDER.modules
    if absent:
        pytest.skip(f"the whole e2e suite did not run (missing {len(absent)} files)")
    grants = granted_actions()
    # When each grant is matched against the calls the function made
    never = unused(recorded.calls, grants)
    # Then none is unused, beyond the commented allowlist
    assert not never, "granted but never called in the scenarios:\n" + "\n".join(never)


def test_the_allowlist_names_only_grants_the_template_makes() -> None:
    # Given the allowlist of grants the scenarios cannot reach
    grants = granted_actions()
    # Then each entry is still granted (a stale entry would hide nothing, and mislead)
    stale = sorted(f"{f}: {a}" for f, a in ALLOWED_UNUSED if a not in grants.get(f, set()))
    assert not stale, "allowlisted but not granted:\n" + "\n".join(stale)


# ------------------------------------------------------------------ the checks themselves
# What the two checks above see is the union of the recordings the workers leave in the
# session's shared folder; these plant recordings there and show the checks catch a bad one.


def _worker_files(directory: Path, *recordings_: Recording) -> Recording:
    for index, recording in enumerate(recordings_):
        recording.write(directory / f"gw{index}.json")
    return Recording.read_all(directory)


def test_a_planted_call_the_template_does_not_grant_is_reported(tmp_path: Path) -> None:
    # Given two workers' recordings, one with a call EvaluateFunction's role does not grant
    grants = granted_actions()
    union = _worker_files(
        tmp_path,
        Recording({"test_a.py"}, {"EvaluateFunction": {"dynamodb:GetItem"}}),
        Recording({"test_b.py"}, {"EvaluateFunction": {"s3:DeleteBucket"}}),
    )
    # When the union is checked, Then that call, and only it, is reported
    assert union.modules == {"test_a.py", "test_b.py"}
    assert ungranted(union.calls, grants) == ["EvaluateFunction: s3:DeleteBucket"]


def test_a_grant_no_worker_recorded_a_call_for_is_reported(tmp_path: Path) -> None:
    # Given recordings that call every grant (each pattern as an action) but one of
    # EvaluateFunction's, the functions split between two workers
    grants = granted_actions()
    evaluate = sorted(
        p for p in grants["EvaluateFunction"] if ("EvaluateFunction", p) not in ALLOWED_UNUSED
    )
    dropped = evaluate[0]
    calls = {function: set(patterns) for function, patterns in grants.items()}
    calls["EvaluateFunction"].discard(dropped)
    names = sorted(calls)
    half = len(names) // 2
    workers = [
        Recording({"test_a.py"}, {name: calls[name] for name in names[:half]}),
        Recording({"test_b.py"}, {name: calls[name] for name in names[half:]}),
    ]
    # When the union is checked, Then exactly the grant nothing called is reported
    union = _worker_files(tmp_path, *workers)
    assert unused(union.calls, grants) == [f"EvaluateFunction: {dropped}"]
    # and once a third worker recorded that call, nothing is
    third = Recording({"test_c.py"}, {"EvaluateFunction": {dropped}})
    assert unused(_worker_files(tmp_path, *workers, third).calls, grants) == []


def test_the_checks_wait_for_every_module_then_name_those_never_recorded(tmp_path: Path) -> None:
    # Given one worker's recording in, the other's written a moment later
    Recording({"test_a.py"}, {"EvaluateFunction": {"states:StartExecution"}}).write(
        tmp_path / "gw0.json"
    )
    later = threading.Timer(
        0.1,
        Recording({"test_b.py"}, {"CollectMetricsFunction": {"cloudwatch:GetMetricData"}}).write,
        [tmp_path / "gw1.json"],
    )
    later.start()
    # When the checks wait for both modules, Then they see both workers' calls
    union = wait_for_recordings(tmp_path, {"test_a.py", "test_b.py"}, timeout=10, poll=0.01)
    later.join()
    assert union.calls == {
        "EvaluateFunction": {"states:StartExecution"},
        "CollectMetricsFunction": {"cloudwatch:GetMetricData"},
    }
    # and a module whose recording never arrives is named, not silently left out
    with pytest.raises(TimeoutError, match=r"test_c\.py"):
        wait_for_recordings(tmp_path, {"test_a.py", "test_c.py"}, timeout=0.05, poll=0.01)
