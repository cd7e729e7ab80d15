"""``vigil``: manage a deployed Vigil stack from a terminal (README, "The vigil command").

    vigil [GLOBAL OPTIONS] COMMAND ACTION [OPTIONS] [GLOBAL OPTIONS]
    vigil silence add [--matcher MATCHER ...] [--match LABEL=GLOB ...] [--match-re LABEL=REGEX ...]
        --for DURATION [--starts WHEN] [--comment TEXT] [--author WHO]
    vigil silence list [--all] [--state active|pending|expired ...]
    vigil silence extend ID --for DURATION [--as WHO]
    vigil silence expire ID
    vigil silence export [--all]
    vigil silence import FILE
    vigil alerts list [--match MATCHER ...] [--state pending|firing] [--severity S ...]
    vigil alerts show FINGERPRINT_OR_PREFIX
    vigil alerts ack FINGERPRINT_OR_GROUP_ID [--comment TEXT] [--as WHO]
    vigil dashboard [--name NAME]
    vigil routes test --label LABEL=VALUE ... [--config FILE]
    vigil runbook start --service S --affected-region R --reason TEXT [--severity critical|warning]
        [--live] [--plan NAME] [--failover-on-our-side] [--name EXECUTION_NAME] [--as WHO]
        [--state-machine-arn ARN]
    vigil runbook approve|decline INCIDENT [--comment TEXT] [--as WHO]
    vigil incidents list [--all] [--severity S ...]
    vigil incidents show ID
    vigil notify test [--severity critical|warning|info] [--topic-arn ARN]
    vigil config check FILE
    vigil rules backtest --rules FILE [--file SERIES] [--since T] [--until T | --days N]
        [--functions GLOB ...] [--period 60|300] [--max-metrics N] [--yes] [--events]

Global options, accepted before the command or after its action: ``--stack NAME`` (default
``vigil``) or ``--table NAME``, ``--region``, ``--profile``, ``--endpoint-url URL`` (a local
emulator: ``python -m emulator.demo --serve``; without credentials it signs with fake ones, and
without a region it uses us-east-1) and ``-o/--output table|json`` (every command: a list is a
JSON array of objects, anything else one JSON object; README, "The vigil command").
``--region`` is always the stack's region: ``runbook start`` names the affected region with
``--affected-region``, and refuses ``--region`` without it rather than guess.

The command reads the wall clock (the one place Vigil does) and hands ``now`` to the domain.
Errors are one line on stderr. Exit codes (as amtool's: 0 success, 1 failure, 2 bad input):

- 0: done.
- 1: AWS refused or failed (a failing call, a stack that does not exist), or Vigil refused a
  valid request: an approval already decided or lapsed, a caller who is not an approver, a
  second runbook for a service and region with one open.
- 2: bad input: unknown options or values, an unknown id, a matcher or duration that does not
  parse, an invalid config file, a silence beyond its bounds, an import with refused lines
  (its valid lines are imported all the same), a lost race.

Each command is a leaf parser with a handler (:func:`command`); adding one is a parser and a
function ``(args, stack, now) -> Listing | Document``.
"""

import argparse
import getpass
import json
import re
import secrets
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from vigil.adapters.config_store import LastGoodConfig
from vigil.adapters.incident_store import ApprovalStore, IncidentStore
from vigil.adapters.routing_store import GroupStore, SilenceStore
from vigil.adapters.runbook import RunbookExecutions
from vigil.adapters.stats import CallStats
from vigil.adapters.topic import AlertsTopic
from vigil.adapters.views import TableViews
from vigil.adapters.workflow import TaskCallback
from vigil.alerting.silences import SilenceState, new_silence
from vigil.core.errors import VigilError, describe_validation
from vigil.core.model import AlertState, Notification, Severity
from vigil.rules.document import RulesConfig
from vigil.rules.routing import parse_duration
from vigil.runbook.gate import ApprovalClosedError, NotAuthorizedError
from vigil.runbook.incident import IncidentAlreadyOpen
from vigil_cli import acknowledge, alerts, backtest, dashboard, operations, silences
from vigil_cli.approvers import approvers_in_use
from vigil_cli.filters import parse_filter
from vigil_cli.output import FORMATS, Document, Listing, render
from vigil_cli.stack import (
    RUNBOOK_OUTPUT,
    TABLE_OUTPUT,
    TOPIC_OUTPUT,
    output,
    stack_outputs,
)

OK = 0
AWS_ERROR = 1
USAGE_ERROR = 2

DEFAULT_STACK = "vigil"
ENDPOINT_REGION = "us-east-1"
"""The region with ``--endpoint-url`` when none is configured (the emulator's)."""
FAKE_KEY = "test"
"""The access key ``--endpoint-url`` signs with when no credentials are configured."""

READ_ONLY = timedelta(0)
"""The retention of a store the command only reads (retention applies to writes)."""

Result = Listing | Document
Handler = Callable[[argparse.Namespace, "Stack", datetime], Result]
type SubCommands = argparse._SubParsersAction[argparse.ArgumentParser]

GLOBAL_DEFAULTS: dict[str, Any] = {
    "stack": None,
    "table": None,
    "region": None,
    "profile": None,
    "endpoint_url": None,
    "output": "table",
}


class UsageError(VigilError):
    """Input the command cannot act on; exits with 2."""


def _wall_clock() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------ argument types


def matcher(text: str) -> tuple[str, str]:
    """``label=pattern`` as a pair; the label and pattern are checked by the model."""
    label, sep, pattern = text.partition("=")
    if not sep or not label or not pattern:
        raise argparse.ArgumentTypeError(f"{text!r} is not LABEL=PATTERN (e.g. kind=lambda.errors)")
    return label, pattern


def label(text: str) -> tuple[str, str]:
    """``label=value`` (``routes test``); the value may be empty."""
    name, sep, value = text.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise argparse.ArgumentTypeError(f"{text!r} is not LABEL=VALUE (e.g. kind=lambda.errors)")
    return name, value


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


# ------------------------------------------------------------------ the parser


def global_options() -> argparse.ArgumentParser:
    """The options every command takes before or after it (a parent parser; nothing is set
    unless given, so a value after the command wins over one before it)."""
    options = argparse.ArgumentParser(add_help=False)
    unset = argparse.SUPPRESS
    group = options.add_argument_group("global options (before or after the command)")
    group.add_argument("--stack", default=unset, help=f"stack name (default: {DEFAULT_STACK})")
    group.add_argument("--table", default=unset, help="state table name (skips the stack lookup)")
    group.add_argument("--region", default=unset, help="the stack's AWS region")
    group.add_argument("--profile", default=unset, help="AWS named profile")
    group.add_argument(
        "--endpoint-url",
        default=unset,
        metavar="URL",
        help="AWS endpoint, e.g. the local demo's http://127.0.0.1:5000",
    )
    group.add_argument(
        "-o",
        "--output",
        choices=FORMATS,
        default=unset,
        help="table (default) or json",
    )
    return options


def command(
    actions: SubCommands,
    name: str,
    handler: Handler,
    *,
    help: str,
) -> argparse.ArgumentParser:
    """A leaf command: its parser takes the global options, and ``handler`` runs it."""
    leaf = actions.add_parser(name, help=help, description=help, parents=[global_options()])
    leaf.set_defaults(handler=handler)
    return leaf


def group(commands: SubCommands, name: str, *, help: str) -> SubCommands:
    """A command with actions (``vigil silence ...``)."""
    parser = commands.add_parser(name, help=help, description=help)
    return parser.add_subparsers(dest="action", required=True, metavar="ACTION")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vigil",
        description="Manage a deployed Vigil stack.",
        epilog="Exit codes: 0 done, 1 AWS failed or refused, 2 bad input.",
        parents=[global_options()],
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _silence_parsers(commands)
    _alert_parsers(commands)
    _runbook_parsers(commands)
    _incident_parsers(commands)
    notify = group(commands, "notify", help="notifications")
    test = command(notify, "test", _notify_test, help="send a test notification the real way")
    test.add_argument("--severity", choices=[s.value for s in Severity], default="warning")
    test.add_argument("--topic-arn", help="skip the stack lookup")
    config = group(commands, "config", help="the rules config")
    check = command(
        config,
        "check",
        lambda args, stack, now: operations.check_config(args.file),
        help="validate a rules config file as the functions do (no AWS call)",
    )
    check.add_argument("file", help="the rules config, JSON (the RulesConfig parameter's value)")
    backtest.add_parser(
        commands,
        common=global_options(),
        moment=moment,
        handler=lambda args, stack, now: backtest.run(args, stack.client, now=now, ask=_ask),
    )
    return parser


def _silence_parsers(commands: SubCommands) -> None:
    actions = group(commands, "silence", help="mute alerts that match, for a time")
    add = command(actions, "add", _silence_add, help="create a silence; prints its id")
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
    add.add_argument(
        "--matcher",
        type=parse_filter,
        action="append",
        default=[],
        metavar="MATCHER",
        help='an Alertmanager matcher on any label: team="payments", env!~"dev|test"',
    )
    add.add_argument("--for", dest="duration", type=duration, required=True, help="30m, 2h, 1d ...")
    add.add_argument("--starts", type=moment, help="ISO 8601 start (default: now; UTC if bare)")
    add.add_argument("--comment", default="", help="why (shown in the list)")
    add.add_argument("--author", help="who (default: the login name)")

    listing = command(actions, "list", _silence_list, help="silences that have not ended")
    listing.add_argument("--all", action="store_true", help="include ended silences")
    listing.add_argument(
        "--state",
        action="append",
        default=[],
        choices=[s.value for s in SilenceState],
        help="only silences in this state (repeatable)",
    )
    extend = command(actions, "extend", _silence_extend, help="end a silence later")
    extend.add_argument("silence_id", metavar="ID")
    extend.add_argument(
        "--for", dest="duration", type=duration, required=True, help="how much longer: 1h, 1d ..."
    )
    extend.add_argument("--as", dest="actor", help="who (default: the login name)")
    expire = command(actions, "expire", _silence_expire, help="end a silence now")
    expire.add_argument("silence_id", metavar="ID")
    export = command(
        actions, "export", _silence_export, help="silences as JSON (amtool's field names)"
    )
    export.add_argument("--all", action="store_true", help="include ended silences")
    export.add_argument(
        "--lines", action="store_true", help="JSON lines (one silence a line) instead of an array"
    )
    imported = command(
        actions, "import", _silence_import, help="create the silences of a JSON file"
    )
    imported.add_argument("file", help="a JSON array or JSON lines (silence export, amtool)")


def _alert_parsers(commands: SubCommands) -> None:
    actions = group(commands, "alerts", help="open alerts")
    listing = command(
        actions, "list", _alerts_list, help="pending and firing alerts, and what silences them"
    )
    listing.add_argument(
        "--match",
        type=parse_filter,
        action="append",
        default=[],
        metavar="MATCHER",
        help='an Alertmanager matcher: kind=lambda.errors, team!="ops", resource=~"orders-.*"',
    )
    listing.add_argument(
        "--state",
        action="append",
        default=[],
        choices=[AlertState.PENDING.value, AlertState.FIRING.value],
        help="only alerts in this state (repeatable)",
    )
    listing.add_argument(
        "--severity",
        action="append",
        default=[],
        choices=[s.value for s in Severity],
        help="only alerts of this severity (repeatable)",
    )
    show = command(actions, "show", _alerts_show, help="one open alert, in full")
    show.add_argument("alert", metavar="FINGERPRINT", help="its fingerprint or a unique prefix")
    ack = command(
        actions, "ack", _alerts_ack, help="acknowledge: its groups stop repeating (ADR 44)"
    )
    ack.add_argument("target", metavar="ID", help="an alert fingerprint or a group id")
    ack.add_argument("--comment", help="why, or what is being done (recorded)")
    ack.add_argument("--as", dest="actor", help="who (default: your AWS identity)")

    board = command(
        commands,
        "dashboard",
        _dashboard,
        help="create or update a CloudWatch dashboard of the watched resources (ADR 47)",
    )
    board.add_argument("--name", help="the dashboard's name (default: STACK-watched)")

    routes = group(commands, "routes", help="the routing tree")
    test = command(
        routes, "test", _routes_test, help="the receivers and group key of an alert's labels"
    )
    test.add_argument(
        "--label",
        type=label,
        action="append",
        default=[],
        required=True,
        metavar="LABEL=VALUE",
        help="a label of the alert (repeatable); service follows from kind",
    )
    test.add_argument(
        "--config", metavar="FILE", help="a rules config file (no AWS call; default: the stack's)"
    )


def _runbook_parsers(commands: SubCommands) -> None:
    actions = group(commands, "runbook", help="start the outage runbook; decide its failover")
    start = command(actions, "start", _runbook_start, help="start an OutageRunbook execution")
    start.add_argument("--service", required=True, help="affected AWS service, e.g. lambda")
    start.add_argument(
        "--affected-region", dest="scope_region", help="the region in trouble, e.g. us-east-1"
    )
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
        decision = command(
            actions, verb, _runbook_decide, help=f"{verb} the failover an incident waits on"
        )
        decision.add_argument("incident_id", metavar="INCIDENT")
        decision.add_argument("--comment", help="why (kept with the decision)")
        decision.add_argument("--as", dest="actor", help="who (default: your AWS identity)")


def _incident_parsers(commands: SubCommands) -> None:
    actions = group(commands, "incidents", help="runbook incidents")
    listing = command(actions, "list", _incidents_list, help="open incidents, newest first")
    listing.add_argument("--all", action="store_true", help="include resolved incidents")
    listing.add_argument(
        "--severity",
        action="append",
        default=[],
        choices=["critical", "warning"],
        help="only incidents of this severity (repeatable)",
    )
    show = command(actions, "show", _incidents_show, help="an incident's status and timeline")
    show.add_argument("incident_id", metavar="ID")


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse, then apply the global options' defaults and checks."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for key, value in GLOBAL_DEFAULTS.items():
        if not hasattr(args, key):
            setattr(args, key, value)
    if args.stack is not None and args.table is not None:
        parser.error("--stack and --table are exclusive: the table is the stack's")
    args.stack = args.stack or DEFAULT_STACK
    return args


# ------------------------------------------------------------------ running


def main(
    argv: Sequence[str] | None = None,
    *,
    clock: Callable[[], datetime] = _wall_clock,
) -> int:
    """Run the command; returns the exit code (module docstring)."""
    try:
        args = parse(argv)
    except SystemExit as exc:  # argparse has printed usage and the problem
        return exc.code if isinstance(exc.code, int) else USAGE_ERROR
    try:
        print(render(args.handler(args, Stack(args), clock()), args.output))
    except ValidationError as exc:
        print(f"vigil: error: {one_line(exc)}", file=sys.stderr)
        return USAGE_ERROR
    except (ApprovalClosedError, IncidentAlreadyOpen, NotAuthorizedError) as exc:
        # decided, lapsed, taken, or not an approver: nothing wrong with the input
        print(f"vigil: refused: {exc}", file=sys.stderr)
        return AWS_ERROR
    except PartialImport as exc:
        print(render(exc.report, args.output))
        for line, problem in exc.lines:
            print(f"vigil: error: {exc.source}:{line}: {problem}", file=sys.stderr)
        return USAGE_ERROR
    except VigilError as exc:  # UsageError, bad runbook input, an unknown id, a lost race
        print(f"vigil: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except (ClientError, BotoCoreError) as exc:
        print(f"vigil: AWS error: {exc}", file=sys.stderr)
        return AWS_ERROR
    return OK


def one_line(exc: ValidationError) -> str:
    """A validation error as one line naming the field, without pydantic's wording."""
    text = describe_validation(exc, show_input=False).replace("Value error, ", "")
    return text.removeprefix("(root): ")


class PartialImport(VigilError):
    """``silence import`` refused some lines; the valid ones were imported."""

    def __init__(self, report: Document, source: str, lines: list[tuple[int, str]]) -> None:
        super().__init__(f"{len(lines)} line(s) of {source} refused")
        self.report, self.source, self.lines = report, source, lines


class Stack:
    """The stack's resources, its outputs looked up once and only when needed."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.name: str = args.stack
        self._table: str | None = args.table
        self._endpoint: str | None = args.endpoint_url
        session = boto3.session.Session(region_name=args.region, profile_name=args.profile)
        if self._endpoint is not None and (
            session.region_name is None or session.get_credentials() is None
        ):
            # A local emulator (moto) takes any signature; never a real account's keys here.
            has_keys = session.get_credentials() is not None
            session = boto3.session.Session(
                region_name=session.region_name or ENDPOINT_REGION,
                profile_name=args.profile,
                aws_access_key_id=None if has_keys else FAKE_KEY,
                aws_secret_access_key=None if has_keys else FAKE_KEY,
            )
        self.session = session
        self._outputs: dict[str, str] | None = None
        self._caller_arn: str | None = None

    def client(self, service: str) -> Any:
        """A boto3 client of the session, at ``--endpoint-url`` if given."""
        if self._endpoint is not None:
            return self.session.client(service, endpoint_url=self._endpoint)  # type: ignore[call-overload]
        return self.session.client(service)  # type: ignore[call-overload]

    def output(self, key: str, given: str | None = None) -> str:
        if given:
            return given
        if self._outputs is None:
            self._outputs = stack_outputs(self.client("cloudformation"), self.name)
        return output(self._outputs, key, stack=self.name)

    @property
    def table(self) -> str:
        return self.output(TABLE_OUTPUT, self._table)

    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    def caller(self, given: str | None) -> str:
        if given is not None:
            return given
        return operations.identity_name(self.caller_arn())

    def caller_arn(self) -> str:
        """The caller's ARN (sts:GetCallerIdentity), asked once."""
        if self._caller_arn is None:
            self._caller_arn = str(self.client("sts").get_caller_identity()["Arn"])
        return self._caller_arn

    def decider(self, given: str | None) -> str:
        """Who decides a gate: always with the caller's ARN (sts:GetCallerIdentity), so
        ``--as`` names the person but cannot hide the AWS principal that acted (issue 12)."""
        arn = self.caller_arn()
        return operations.identity_name(arn) if given is None else f"{given} (AWS {arn})"

    def announce(self, notice: Notification) -> None:
        """Publish a refusal's channel notice; the refusal stands (and is recorded) if not."""
        try:
            AlertsTopic(self.client("sns"), self.output(TOPIC_OUTPUT)).publish(notice)
        except (VigilError, ClientError, BotoCoreError) as exc:
            print(f"vigil: the refusal was not announced: {exc}", file=sys.stderr)

    def rules(self) -> RulesConfig:
        """The rules config the stack runs with (its last good document; the defaults if none
        is stored yet)."""
        stored = LastGoodConfig(self.dynamodb(), self.table, stats=CallStats()).get()
        if stored is None:
            return RulesConfig()
        return RulesConfig.from_json(stored[0], source="the stack's last good rules config")


def _ask(prompt: str) -> bool:
    """A yes at the terminal; no terminal, no yes."""
    if not sys.stdin.isatty():
        return False
    print(prompt, end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in {"y", "yes"}


def _login() -> str:
    try:
        return getpass.getuser()
    except OSError:
        return ""


# ------------------------------------------------------------------ handlers


def _silences(stack: Stack) -> SilenceStore:
    return SilenceStore(stack.dynamodb(), stack.table)


def _silence_add(args: argparse.Namespace, stack: Stack, now: datetime) -> Result:
    if not args.match and not args.match_re and not args.matcher:
        raise UsageError(
            "silence add needs at least one --matcher, --match LABEL=GLOB or --match-re"
            " LABEL=REGEX (a silence without matchers would mute everything)"
        )
    silence = new_silence(
        secrets.token_hex(8),
        match=_pairs(args.match, "--match"),
        match_re=_pairs(args.match_re, "--match-re"),
        matchers=[str(m) for m in args.matcher],
        starts_at=args.starts or now,
        duration=args.duration,
        now=now,
        created_by=args.author if args.author is not None else _login(),
        comment=args.comment,
    )
    _silences(stack).create(silence)
    return silences.added(silence, now)


def _pairs(pairs: list[tuple[str, str]], option: str) -> dict[str, str]:
    labels = [name for name, _ in pairs]
    twice = sorted({name for name in labels if labels.count(name) > 1})
    if twice:
        raise UsageError(f"{option} names {', '.join(twice)} more than once")
    return dict(pairs)


def _silence_list(args: argparse.Namespace, stack: Stack, now: datetime) -> Result:
    store = _silences(stack)
    everything = args.all or SilenceState.EXPIRED.value in args.state
    found = store.everything() if everything else store.current(now)
    return silences.listing(found, now=now, states=set(args.state))


def _silence_extend(args: argparse.Namespace, stack: Stack, now: datetime) -> Result:
    actor = args.actor if args.actor is not None else _login()
    return silences.extend(_silences(stack), args.silence_id, args.duration, now=now, actor=actor)


def _silence_expire(args: argparse.Namespace, stack: Stack, now: datetime) -> Result:
    return silences.expired(_silences(stack).expire(args.silence_id, now), now)


def _silence_export(args: argparse.Namespace, stack: Stack, now: datetime) -> Result:
    store = _silences(stack)
    chosen = store.everything() if args.all else store.current(now)
    found = [silences.describe(s, now) for s in chosen]
    if args.lines:
        text = "\n".join(json.dumps(item, ensure_ascii=False) for item in found)
    else:
        text = render(Document("", found), "json")
    return Document(text, found)


def _silence_import(args: argparse.Namespace, stack: Stack, now: datetime) -> Result:
    try:
        with open(args.file, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise UsageError(f"{args.file}: cannot be read ({exc.strerror or exc})") from exc
    report = silences.import_silences(
        text, _silences(stack), now=now, importer=_login(), describe_error=one_line
    )
    document = report.document(args.file)
    if report.errors:
        raise PartialImport(document, args.file, report.errors)
    return document


def _alerts_list(args: argparse.Namespace, stack: Stack, now: datetime) -> Result:
    dynamodb = stack.dynamodb()
    return alerts.list_alerts(
        TableViews(dynamodb, stack.table),
        SilenceStore(dynamodb, stack.table),
        now=now,
        filters=args.match,
        states=args.state,
        severities=args.severity,
    )


def _alerts_show(args: argparse.Namespace, stack: Stack, now: datetime) -> Result:
    dynamodb = stack.dynamodb()
    return alerts.show_alert(
        args.alert,
        views=TableViews(dynamodb, stack.table),
        silences=SilenceStore(dynamodb, stack.table),
        groups=GroupStore(dynamodb, stack.table, retention=READ_ONLY),
        now=now,
    )


def _alerts_ack(args: argparse.Namespace, stack: Stack, now: datetime) -> Result:
    rules = stack.rules()
    retention = timedelta(days=rules.resolved_retention_days)
    return acknowledge.acknowledge_alerts(
        GroupStore(stack.dynamodb(), stack.table, retention=retention),
        args.target,
        by=stack.caller(args.actor),
        now=now,
        routing=rules.routing,
        stack=stack.name,
        comment=args.comment,
    )


def _dashboard(args: argparse.Namespace, stack: Stack, now: datetime) -> Result:
    return dashboard.generate(
        dynamodb=stack.dynamodb(),
        cloudwatch=stack.client("cloudwatch"),
        table=stack.table,
        stack=stack.name,
        region=stack.session.region_name or ENDPOINT_REGION,
        name=args.name,
    ).document()


def _routes_test(args: argparse.Namespace, stack: Stack, now: datetime) -> Result:
    labels = dict(args.label)
    if len(labels) != len(args.label):
        raise UsageError("--label names a label more than once")
    if args.config is not None:
        return alerts.test_routes(operations.read_config(args.config), labels, source=args.config)
    return alerts.test_routes(stack.rules(), labels, source=f"stack {stack.name}")


def _runbook_start(args: argparse.Namespace, stack: Stack, now: datetime) -> Result:
    if args.scope_region is None:
        raise UsageError(
            "runbook start: name the region in trouble with --affected-region"
            " (--region is the stack's region, for every command)"
        )

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
    sfn = stack.client("stepfunctions")
    # A convenience: the workflow's first step refuses a second incident all the same.
    operations.refuse_second_incident(
        checked,
        name=name,
        incidents=IncidentStore(stack.dynamodb(), stack.table),
        executions=RunbookExecutions(sfn),
    )
    full = operations.runbook_input(request(stack.caller(args.actor)))
    return operations.start_runbook(sfn, arn, full, name=name)


def _runbook_decide(args: argparse.Namespace, stack: Stack, now: datetime) -> Result:
    dynamodb = stack.dynamodb()
    return operations.decide_approval(
        args.incident_id,
        approve=args.action == "approve",
        actor=stack.decider(args.actor),
        comment=args.comment,
        now=now,
        store=ApprovalStore(dynamodb, stack.table),
        callback=TaskCallback(stack.client("stepfunctions")),
        caller_arn=stack.caller_arn(),
        approvers=approvers_in_use(dynamodb, stack.table),
        announce=stack.announce,
        stack=stack.name,
    )


def _incidents_list(args: argparse.Namespace, stack: Stack, now: datetime) -> Result:
    return operations.list_incidents(
        TableViews(stack.dynamodb(), stack.table), everything=args.all, severities=args.severity
    )


def _incidents_show(args: argparse.Namespace, stack: Stack, now: datetime) -> Result:
    dynamodb = stack.dynamodb()
    return operations.show_incident(
        args.incident_id,
        incidents=IncidentStore(dynamodb, stack.table),
        approvals=ApprovalStore(dynamodb, stack.table),
    )


def _notify_test(args: argparse.Namespace, stack: Stack, now: datetime) -> Result:
    topic = AlertsTopic(stack.client("sns"), stack.output(TOPIC_OUTPUT, args.topic_arn))
    return operations.send_test(topic, severity=Severity(args.severity), stack=stack.name, now=now)
