"""``vigil``: manage a deployed Vigil stack from a terminal (docs/rules.md, "Silences").

    vigil [--stack NAME | --table NAME] [--region REGION] silence add --match LABEL=GLOB ...
        [--match-re LABEL=REGEX ...] --for DURATION [--starts WHEN] [--comment TEXT]
    vigil silence list [--all]
    vigil silence expire ID

The command reads the wall clock (the one place Vigil does) and hands ``now`` to the domain.
Bad input exits with 2 and a message on stderr; a failing AWS call exits with 1.
"""

import argparse
import getpass
import secrets
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from vigil.adapters.table import SilenceStore
from vigil.clock import iso
from vigil.errors import VigilError, describe_validation
from vigil.routing import parse_duration
from vigil.silences import Silence
from vigil_cli.stack import state_table

USAGE_ERROR = 2
AWS_ERROR = 1


class UsageError(VigilError):
    """Input the command cannot act on; exits with 2."""


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def matcher(text: str) -> tuple[str, str]:
    """``label=pattern`` as a pair; the label and pattern are checked by the model."""
    label, sep, pattern = text.partition("=")
    if not sep or not label or not pattern:
        raise argparse.ArgumentTypeError(f"{text!r} is not LABEL=PATTERN (e.g. kind=lambda.errors)")
    return label, pattern


def duration(text: str) -> timedelta:
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    if value <= timedelta(0):
        raise argparse.ArgumentTypeError("a silence must last longer than 0s")
    return value


def moment(text: str) -> datetime:
    """ISO 8601 (``2025-03-14T09:00Z``); without an offset it is UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time like 2025-03-14T09:00Z"
        ) from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vigil", description="Manage a deployed Vigil stack.")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--stack", default="vigil", help="stack name (default: vigil)")
    where.add_argument("--table", help="state table name (skips the stack lookup)")
    parser.add_argument("--region", help="AWS region (default: the AWS CLI's)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    silence = commands.add_parser("silence", help="mute alerts that match, for a time")
    actions = silence.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="create a silence; prints its id")
    add.add_argument(
        "--match",
        type=matcher,
        action="append",
        default=[],
        metavar="LABEL=GLOB",
        help="label kind, severity, resource, account, region or service; a glob (orders-*)",
    )
    add.add_argument(
        "--match-re",
        type=matcher,
        action="append",
        default=[],
        metavar="LABEL=REGEX",
        help="a regular expression matched against the whole label value",
    )
    add.add_argument("--for", dest="duration", type=duration, required=True, help="30m, 2h, 1d ...")
    add.add_argument("--starts", type=moment, help="ISO 8601 start (default: now; UTC if bare)")
    add.add_argument("--comment", default="", help="why (shown in the list)")
    add.add_argument("--author", help="who (default: the login name)")

    listing = actions.add_parser("list", help="silences that have not ended")
    listing.add_argument("--all", action="store_true", help="include ended silences")

    expire = actions.add_parser("expire", help="end a silence now")
    expire.add_argument("silence_id", metavar="ID")
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    clock: Callable[[], datetime] = _wall_clock,
) -> int:
    """Run the command; returns the exit code (0, 1 for AWS, 2 for bad input)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed usage and the problem
        return exc.code if isinstance(exc.code, int) else USAGE_ERROR
    try:
        store = _silence_store(args)
        _run(args, store, now=clock())
    except ValidationError as exc:
        print(f"vigil: error: {describe_validation(exc, show_input=True)}", file=sys.stderr)
        return USAGE_ERROR
    except VigilError as exc:  # UsageError, an unknown stack or silence, a lost race
        print(f"vigil: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except (ClientError, BotoCoreError) as exc:
        print(f"vigil: AWS error: {exc}", file=sys.stderr)
        return AWS_ERROR
    return 0


def _silence_store(args: argparse.Namespace) -> SilenceStore:
    session = boto3.session.Session(region_name=args.region)
    table = args.table or state_table(session.client("cloudformation"), args.stack)
    return SilenceStore(session.client("dynamodb"), table)


def _run(args: argparse.Namespace, store: SilenceStore, *, now: datetime) -> None:
    if args.action == "add":
        silence = _new_silence(args, now=now)
        store.create(silence)
        print(silence.silence_id)
    elif args.action == "list":
        silences = store.everything() if args.all else store.current(now)
        print(_table(silences, now=now))
    else:
        ended = store.expire(args.silence_id, now)
        print(f"expired {ended.silence_id} at {iso(ended.ends_at)}")


def _new_silence(args: argparse.Namespace, *, now: datetime) -> Silence:
    starts = args.starts or now
    ends = starts + args.duration
    if ends <= now:
        raise UsageError(f"the silence would already have ended at {iso(ends)}")
    return Silence.model_validate(
        {
            "silence_id": secrets.token_hex(8),
            "matchers": {
                "match": _pairs(args.match, "--match"),
                "match_re": _pairs(args.match_re, "--match-re"),
            },
            "starts_at": starts,
            "ends_at": ends,
            "created_by": args.author if args.author is not None else _login(),
            "comment": args.comment,
        }
    )


def _pairs(pairs: list[tuple[str, str]], option: str) -> dict[str, str]:
    labels = [label for label, _ in pairs]
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        raise UsageError(f"{option} names {', '.join(twice)} more than once")
    return dict(pairs)


def _login() -> str:
    try:
        return getpass.getuser()
    except OSError:
        return ""


def _matchers(silence: Silence) -> str:
    globs = [f"{label}={pattern}" for label, pattern in silence.matchers.match.items()]
    regexes = [f"{label}=~{pattern}" for label, pattern in silence.matchers.match_re.items()]
    return " ".join(globs + regexes)


def _table(silences: list[Silence], *, now: datetime) -> str:
    if not silences:
        return "No silences."
    header = ("ID", "STATE", "STARTS", "ENDS", "MATCHERS", "BY", "COMMENT")
    rows = [header] + [
        (
            s.silence_id,
            s.state(now).value,
            iso(s.starts_at),
            iso(s.ends_at),
            _matchers(s),
            s.created_by or "-",
            s.comment,
        )
        for s in silences
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
