"""The ``vigil`` command's arguments, and the silence window it hands to the domain."""

from datetime import UTC, datetime, timedelta

import pytest

from vigil.alerting.silences import Silence, SilenceEndedError, SilenceState
from vigil_cli.main import main, parse

T0 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)


def _silence(starts: datetime, ends: datetime) -> Silence:
    return Silence(
        silence_id="0123456789abcdef",
        matchers={"match": {"kind": "lambda.errors"}},
        starts_at=starts,
        ends_at=ends,
    )


def test_add_parses_matchers_duration_start_and_the_global_options() -> None:
    args = parse(
        [
            "--stack",
            "vigil-prod",
            "--region",
            "eu-west-1",
            "silence",
            "add",
            "--match",
            "kind=lambda.errors",
            "--match",
            "resource=orders-*",
            "--match-re",
            "region=eu-.*",
            "--for",
            "2h",
            "--starts",
            "2025-03-14T10:00",
            "--comment",
            "deploy",
        ]
    )

    assert (args.stack, args.table, args.region) == ("vigil-prod", None, "eu-west-1")
    assert (args.command, args.action) == ("silence", "add")
    assert args.match == [("kind", "lambda.errors"), ("resource", "orders-*")]
    assert args.match_re == [("region", "eu-.*")]
    assert args.duration == timedelta(hours=2)
    assert args.starts == datetime(2025, 3, 14, 10, 0, tzinfo=UTC)
    assert args.comment == "deploy"


def test_defaults_are_the_vigil_stack_and_no_start() -> None:
    args = parse(["silence", "add", "--match", "kind=x.y", "--for", "30m"])

    assert (args.stack, args.table, args.starts, args.comment) == ("vigil", None, None, "")


def test_a_start_with_an_offset_is_converted_to_utc() -> None:
    args = parse(
        [
            "silence",
            "add",
            "--match",
            "kind=x.y",
            "--for",
            "1h",
            "--starts",
            "2025-03-14T11:00+02:00",
        ]
    )

    assert args.starts == T0


def test_list_and_expire_arguments() -> None:
    assert parse(["silence", "list"]).all is False
    assert parse(["--table", "t", "silence", "list", "--all"]).all is True
    assert parse(["silence", "expire", "abc12345"]).silence_id == "abc12345"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["silence", "add", "--match", "kind", "--for", "2h"], "'kind' is not LABEL=PATTERN"),
        (["silence", "add", "--match", "=x", "--for", "2h"], "is not LABEL=PATTERN"),
        (["silence", "add", "--match", "kind=x.y", "--for", "2 hours"], "is not a duration"),
        (["silence", "add", "--match", "kind=x.y", "--for", "0m"], "longer than 0s"),
        (["silence", "add", "--match", "kind=x.y"], "--for"),
        (["silence", "add", "--match", "kind=x.y", "--for", "1h", "--starts", "soon"], "ISO 8601"),
        (["--stack", "a", "--table", "b", "silence", "list"], "are exclusive"),
        (["silence", "list", "--stack", "a", "--table", "b"], "are exclusive"),
        (["silence", "expire"], "ID"),
        (["silence"], "ACTION"),
    ],
)
def test_bad_arguments_exit_with_2_and_say_what_is_wrong(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_help_exits_with_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["silence", "add", "--help"]) == 0
    assert "--match LABEL=GLOB" in capsys.readouterr().out


def test_a_silence_is_pending_then_active_then_expired() -> None:
    silence = _silence(T0, T0 + timedelta(hours=1))

    assert silence.state(T0 - timedelta(seconds=1)) is SilenceState.PENDING
    assert silence.state(T0) is SilenceState.ACTIVE
    assert silence.state(T0 + timedelta(hours=1)) is SilenceState.EXPIRED


def test_expiring_ends_a_silence_now_and_a_pending_one_before_it_mutes_anything() -> None:
    now = T0 + timedelta(minutes=10)
    active = _silence(T0, T0 + timedelta(hours=1)).expire(now)
    pending = _silence(T0 + timedelta(hours=1), T0 + timedelta(hours=2)).expire(now)

    assert (active.starts_at, active.ends_at) == (T0, now)
    assert (pending.starts_at, pending.ends_at) == (now, now)
    assert not pending.active(now)
    assert active.state(now) is pending.state(now) is SilenceState.EXPIRED


def test_an_ended_silence_cannot_be_expired_again() -> None:
    with pytest.raises(SilenceEndedError, match="already ended"):
        _silence(T0, T0 + timedelta(hours=1)).expire(T0 + timedelta(hours=1))
