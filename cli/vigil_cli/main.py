"""``vigil``: manage a deployed Vigil stack from a terminal (README, "The vigil command").

    vigil [--stack NAME | --table NAME] [--region REGION] silence add --match LABEL=GLOB ...
        [--match-re LABEL=REGEX ...] --for DURATION [--starts WHEN] [--comment TEXT]
    vigil silence list [--all] [-o table|json]
    vigil silence expire ID
    vigil runbook start --service S --region R --reason TEXT [--severity critical|warning]
        [--live] [--plan NAME] [--failover-on-our-side] [--name EXECUTION_NAME] [--as WHO]
        [--state-machine-arn ARN]
    vigil runbook approve|decline INCIDENT [--comment TEXT] [--as WHO]
    vigil incidents list [--all] [-o table|json]
    vigil incidents show ID
    vigil alerts list [-o table|json]
    vigil notify test [--severity critical|warning|info] [--topic-arn ARN]
    vigil config check FILE [-o table|json]
    vigil rules backtest --rules FILE [--file SERIES] [--since T] [--until T | --days N]
        [--functions GLOB ...] [--period 60|300] [--max-metrics N] [--yes] [--events]
        [-o table|json]

The command reads the wall clock (the one place Vigil does) and hands ``now`` to the domain.
Bad input (an unknown incident or silence, a lost race) exits with 2 and a message on stderr;
a failing AWS call, an approval refused because it was decided or lapsed, or a start refused
because the service and region already have an open incident, exits with 1.
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

from vigil.adapters.incident_store import ApprovalStore, IncidentStore
from vigil.adapters.routing_store import SilenceStore
from vigil.adapters.runbook import RunbookExecutions
from vigil.adapters.topic import AlertsTopic
from vigil.adapters.views import TableViews
from vigil.adapters.workflow import TaskCallback
from vigil.alerting.silences import Silence, new_silence
from vigil.core.clock import iso
from vigil.core.errors import VigilError, describe_validation
from vigil.core.model import Notification, Severity
from vigil.rules.routing import parse_duration
from vigil.runbook.gate import ApprovalClosedError, NotAuthorizedError
from vigil.runbook.incident import IncidentAlreadyOpen
from vigil_cli import backtest, operations
from vigil_cli.approvers import approvers_in_use
from vigil_cli.output import FORMATS, Listing, render
from vigil_cli.stack import (
    RUNBOOK_OUTPUT,
    TABLE_OUTPUT,
    TOPIC_OUTPUT,
    output,
    stack_outputs,
)

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


def _output_option() -> argparse.ArgumentParser:
    """``-o/--output`` for the commands that list (a parent parser: after the command)."""
    option = argparse.ArgumentParser(add_help=False)
    option.add_argument(
        "-o",
        "--output",
        choices=FORMATS,
        default="table",
        help="table (default) or json: a list of objects keyed by the columns in snake case",
    )
    return option


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

    listing = actions.add_parser(
        "list", help="silences that have not ended", parents=[_output_option()]
    )
    listing.add_argument("--all", action="store_true", help="include ended silences")

    expire = actions.add_parser("expire", help="end a silence now")
    expire.add_argument("silence_id", metavar="ID")
    _runbook_parser(commands)
    _read_parsers(commands)
    backtest.add_parser(commands, output=_output_option(), moment=moment)
    return parser


def _runbook_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    runbook = commands.add_parser("runbook", help="start the outage runbook; decide its failover")
    actions = runbook.add_subparsers(dest="action", required=True, metavar="ACTION")
    start = actions.add_parser("start", help="start an OutageRunbook execution (dry run)")
    start.add_argument("--service", required=True, help="affected AWS service, e.g. lambda")
    start.add_argument("--region", dest="scope_region", required=True, help="e.g. us-east-1")
    start.add_argument("--reason", required=True, help="what you see (3 to 500 characters)")
    start.add_argument("--severity", choices=["critical", "warning"], default="critical")
    start.add_argument("--live", action="store_true", help="execute the failover (default: dry)")
    start.add_argument("--plan", help="failover plan name (docs/runbook.md)")
    start.add_argument(
        "--failover-on-our-side",
        action="store_true",
        help="offer the failover even when AWS Health shows no issue",
    )
    start.add_argument("--name", help="execution name = incident id (default: manual-...)")
    start.add_argument("--as", dest="actor", help="requested by (default: your AWS identity)")
    start.add_argument("--state-machine-arn", help="skip the stack lookup")
    for verb in ("approve", "decline"):
        decision = actions.add_parser(verb, help=f"{verb} the failover an incident waits on")
        decision.add_argument("incident_id", metavar="INCIDENT")
        decision.add_argument("--comment", help="why (kept with the decision)")
        decision.add_argument("--as", dest="actor", help="who (default: your AWS identity)")


def _read_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    incidents = commands.add_parser("incidents", help="runbook incidents")
    actions = incidents.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list", help="open incidents, newest first", parents=[_output_option()]
    )
    listing.add_argument("--all", action="store_true", help="include resolved incidents")
    show = actions.add_parser("show", help="an incident's status, approval and timeline")
    show.add_argument("incident_id", metavar="ID")

    alerts = commands.add_parser("alerts", help="open alerts")
    alert_actions = alerts.add_subparsers(dest="action", required=True, metavar="ACTION")
    alert_actions.add_parser(
        "list",
        help="pending and firing alerts, and what silences them",
        parents=[_output_option()],
    )

    notify = commands.add_parser("notify", help="notifications")
    notify_actions = notify.add_subparsers(dest="action", required=True, metavar="ACTION")
    test = notify_actions.add_parser("test", help="send a test notification the real way")
    test.add_argument("--severity", choices=[s.value for s in Severity], default="warning")
    test.add_argument("--topic-arn", help="skip the stack lookup")

    config = commands.add_parser("config", help="the rules config")
    config_actions = config.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = config_actions.add_parser(
        "check",
        help="validate a rules config file as the functions do (no AWS call)",
        parents=[_output_option()],
    )
    check.add_argument("file", help="the rules config, JSON (the RulesConfig parameter's value)")


def main(
    argv: Sequence[str] | None = None,
    *,
    clock: Callable[[], datetime] = _wall_clock,
) -> int:
    """Run the command; returns the exit code (0; 1 for AWS or a refusal; 2 for bad input)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed usage and the problem
        return exc.code if isinstance(exc.code, int) else USAGE_ERROR
    try:
        print(render(_run(args, _Stack(args), now=clock()), getattr(args, "output", "table")))
    except ValidationError as exc:
        print(f"vigil: error: {describe_validation(exc, show_input=True)}", file=sys.stderr)
        return USAGE_ERROR
    except (ApprovalClosedError, IncidentAlreadyOpen, NotAuthorizedError) as exc:
        # decided, lapsed, taken, or not an approver: nothing wrong with the input
        print(f"vigil: refused: {exc}", file=sys.stderr)
        return AWS_ERROR
    except VigilError as exc:  # UsageError, bad runbook input, an unknown id, a lost race
        print(f"vigil: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except (ClientError, BotoCoreError) as exc:
        print(f"vigil: AWS error: {exc}", file=sys.stderr)
        return AWS_ERROR
    return 0


class _Stack:
    """The stack's resources, its outputs looked up once and only when needed."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.name: str = args.stack
        self._table: str | None = args.table
        self.session = boto3.session.Session(region_name=args.region)
        self._outputs: dict[str, str] | None = None
        self._caller_arn: str | None = None

    def output(self, key: str, given: str | None = None) -> str:
        if given:
            return given
        if self._outputs is None:
            self._outputs = stack_outputs(self.session.client("cloudformation"), self.name)
        return output(self._outputs, key, stack=self.name)

    @property
    def table(self) -> str:
        return self.output(TABLE_OUTPUT, self._table)

    def caller(self, given: str | None) -> str:
        if given is not None:
            return given
        arn = self.session.client("sts").get_caller_identity()["Arn"]
        return operations.identity_name(arn)

    def caller_arn(self) -> str:
        """The caller's ARN (sts:GetCallerIdentity), asked once."""
        if self._caller_arn is None:
            self._caller_arn = self.session.client("sts").get_caller_identity()["Arn"]
        return self._caller_arn

    def decider(self, given: str | None) -> str:
        """Who decides a gate: always with the caller's ARN (sts:GetCallerIdentity), so
        ``--as`` names the person but cannot hide the AWS principal that acted (issue 12)."""
        arn = self.caller_arn()
        return operations.identity_name(arn) if given is None else f"{given} (AWS {arn})"

    def announce(self, notice: Notification) -> None:
        """Publish a refusal's channel notice; the refusal stands (and is recorded) if not."""
        try:
            AlertsTopic(self.session.client("sns"), self.output(TOPIC_OUTPUT)).publish(notice)
        except (VigilError, ClientError, BotoCoreError) as exc:
            print(f"vigil: the refusal was not announced: {exc}", file=sys.stderr)


def _ask(prompt: str) -> bool:
    """A yes at the terminal; no terminal, no yes."""
    if not sys.stdin.isatty():
        return False
    print(prompt, end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in {"y", "yes"}


def _run(args: argparse.Namespace, stack: _Stack, *, now: datetime) -> str | Listing:
    if args.command == "config":
        return operations.check_config(args.file)
    if args.command == "rules":
        return backtest.run(args, stack.session, now=now, ask=_ask)
    if args.command == "silence":
        return _silence(args, SilenceStore(stack.session.client("dynamodb"), stack.table), now=now)
    if args.command == "runbook" and args.action == "start":
        return _start(args, stack, now=now)
    if args.command == "runbook":
        dynamodb = stack.session.client("dynamodb")
        return operations.decide_approval(
            args.incident_id,
            approve=args.action == "approve",
            actor=stack.decider(args.actor),
            comment=args.comment,
            now=now,
            store=ApprovalStore(dynamodb, stack.table),
            callback=TaskCallback(stack.session.client("stepfunctions")),
            caller_arn=stack.caller_arn(),
            approvers=approvers_in_use(dynamodb, stack.table),
            announce=stack.announce,
            stack=stack.name,
        )
    if args.command == "notify":
        topic = AlertsTopic(stack.session.client("sns"), stack.output(TOPIC_OUTPUT, args.topic_arn))
        return operations.send_test(
            topic, severity=Severity(args.severity), stack=stack.name, now=now
        )
    dynamodb = stack.session.client("dynamodb")
    views = TableViews(dynamodb, stack.table)
    if args.command == "alerts":
        return operations.list_alerts(views, SilenceStore(dynamodb, stack.table), now=now)
    if args.action == "list":
        return operations.list_incidents(views, everything=args.all)
    return operations.show_incident(
        args.incident_id,
        incidents=IncidentStore(dynamodb, stack.table),
        approvals=ApprovalStore(dynamodb, stack.table),
    )


def _start(args: argparse.Namespace, stack: _Stack, *, now: datetime) -> str:
    def request(requested_by: str | None) -> operations.StartRequest:
        return operations.StartRequest(
            service=args.service,
            region=args.scope_region,
            reason=args.reason,
            severity=args.severity,
            live=args.live,
            plan=args.plan,
            requested_by=requested_by,
            failover_on_our_side=args.failover_on_our_side,
        )

    # Bad input is refused before any AWS call, with the workflow's own message.
    checked = operations.runbook_input(request(args.actor))
    name = operations.execution_name(args.name, checked, now=now)
    arn = stack.output(RUNBOOK_OUTPUT, args.state_machine_arn)
    sfn = stack.session.client("stepfunctions")
    # A convenience: the workflow's first step refuses a second incident all the same.
    operations.refuse_second_incident(
        checked,
        name=name,
        incidents=IncidentStore(stack.session.client("dynamodb"), stack.table),
        executions=RunbookExecutions(sfn),
    )
    full = operations.runbook_input(request(stack.caller(args.actor)))
    return operations.start_runbook(sfn, arn, full, name=name)


def _silence(args: argparse.Namespace, store: SilenceStore, *, now: datetime) -> str | Listing:
    if args.action == "add":
        silence = _new_silence(args, now=now)
        store.create(silence)
        return silence.silence_id
    if args.action == "list":
        silences = store.everything() if args.all else store.current(now)
        return _listing(silences, now=now)
    ended = store.expire(args.silence_id, now)
    return f"expired {ended.silence_id} at {iso(ended.ends_at)}"


def _new_silence(args: argparse.Namespace, *, now: datetime) -> Silence:
    return new_silence(
        secrets.token_hex(8),
        match=_pairs(args.match, "--match"),
        match_re=_pairs(args.match_re, "--match-re"),
        starts_at=args.starts or now,
        duration=args.duration,
        now=now,
        created_by=args.author if args.author is not None else _login(),
        comment=args.comment,
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


def _listing(silences: list[Silence], *, now: datetime) -> Listing:
    return Listing(
        ("ID", "STATE", "STARTS", "ENDS", "MATCHERS", "BY", "COMMENT"),
        [
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
        ],
        empty="No silences.",
    )
