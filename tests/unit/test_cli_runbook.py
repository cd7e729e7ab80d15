"""``vigil runbook``, ``incidents``, ``alerts`` and ``notify``: what is refused before AWS."""

from datetime import UTC, datetime

import pytest

from vigil.runbook.incident import RunbookInput
from vigil_cli.main import main, parse
from vigil_cli.operations import console_link, execution_name, identity_name

NOW = datetime(2026, 11, 26, 21, 5, 9, tzinfo=UTC)
START = ["runbook", "start", "--service", "lambda", "--affected-region", "us-east-1"]


def _run(argv: list[str]) -> int:
    # Unit tests have no sockets: a command that reached AWS would fail with exit 1.
    return main(["--stack", "vigil", "--region", "us-east-1", *argv], clock=lambda: NOW)


def test_start_parses_scope_mode_plan_and_who() -> None:
    args = parse(
        [*START, "--reason", "5xx", "--live", "--plan", "ssm-flip", "--as", "ana", "--name", "x"]
    )

    assert (args.service, args.scope_region, args.reason) == ("lambda", "us-east-1", "5xx")
    assert (args.severity, args.live, args.plan, args.actor, args.name) == (
        "critical",
        True,
        "ssm-flip",
        "ana",
        "x",
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([*START], "--reason"),
        ([*START, "--reason", "5xx", "--severity", "info"], "invalid choice"),
        (["runbook", "approve"], "INCIDENT"),
        (["incidents", "show"], "ID"),
        (["notify", "test", "--severity", "loud"], "invalid choice"),
        (["alerts"], "ACTION"),
    ],
)
def test_argument_errors_exit_2_with_usage(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            [*START[:4], "--affected-region", "mars-1", "--reason", "5xx"],
            "invalid runbook input: region: String should match pattern",
        ),
        (
            ["runbook", "start", "--service", "lambda", "--reason", "5xx"],
            "name the region in trouble with --affected-region",
        ),
        (
            # A script written when --region named the affected region fails, never guesses.
            ["runbook", "start", "--service", "lambda", "--region", "eu-west-1", "--reason", "5xx"],
            "--affected-region (--region is the stack's region",
        ),
        ([*START, "--reason", "no"], "reason: String should have at least 3 characters"),
        ([*START, "--reason", "5xx", "--plan", "Bad Plan"], "failover_plan"),
        ([*START, "--reason", "5xx", "--name", "has spaces"], "--name 'has spaces'"),
    ],
)
def test_bad_runbook_input_is_refused_with_the_workflows_message_before_any_aws_call(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(argv) == 2
    assert message in capsys.readouterr().err


def test_failover_on_our_side_is_off_unless_asked() -> None:
    plain = parse([*START, "--reason", "5xx"])
    asked = parse([*START, "--reason", "5xx", "--failover-on-our-side"])

    assert (plain.failover_on_our_side, asked.failover_on_our_side) == (False, True)


def test_the_default_execution_name_is_the_scope_and_the_minute_it_started() -> None:
    request = RunbookInput(service="lambda", region="us-east-1", reason="5xx")

    assert execution_name(None, request, now=NOW) == "manual-lambda-us-east-1-20261126T210509Z"
    assert execution_name("inc_42", request, now=NOW) == "inc_42"


def test_a_long_assumed_role_arn_is_kept_to_its_role_and_session() -> None:
    arn = f"arn:aws:sts::123456789012:assumed-role/{'R' * 60}/{'s' * 60}"

    assert identity_name(arn) == f"assumed-role/{'R' * 60}/{'s' * 60}"[:128]
    assert identity_name("arn:aws:iam::123456789012:user/ana") == (
        "arn:aws:iam::123456789012:user/ana"
    )


def test_the_console_link_opens_the_execution_in_its_region() -> None:
    arn = "arn:aws:states:eu-west-1:123456789012:execution:vigil-runbook:inc-1"

    assert console_link(arn) == (
        "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1"
        f"#/v2/executions/details/{arn}"
    )
