"""Slack interactivity: trust a request only once Slack's signature proves it, then act.

Slack signs every interactive request (``X-Slack-Signature``: ``v0=`` HMAC-SHA256 of
``v0:<timestamp>:<raw body>`` with the app's signing secret) and stamps it
(``X-Slack-Request-Timestamp``). :func:`verify` checks both with slack_sdk's
``SignatureVerifier``; the time it compares against is the moment the request reached the
endpoint (an input, never the clock), and a timestamp more than five minutes away is refused,
so a captured request cannot be replayed later. Within those five minutes a replay is
harmless: a decision refuses a gate that is already decided, and a silence's id is derived
from the button press itself, so the same press cannot create two.

:func:`parse_action` reads the ``application/x-www-form-urlencoded`` body's ``payload`` (a
``block_actions`` interaction); :func:`handle` acts on the buttons Vigil puts in its messages:

- ``runbook_approve`` / ``runbook_decline`` (value: the incident id) through
  :func:`vigil.runbook.gate.decide`, the Slack user as the person deciding;
- ``silence_group`` (value: :func:`vigil.channels.buttons.silence_button_value`, compact JSON
  of label globs and a duration) through :func:`vigil.alerting.silences.new_silence`, like
  ``vigil silence add``;
- ``acknowledge_group`` (value: the notification group's id) through
  :func:`vigil.alerting.acknowledge.acknowledge_target`, like ``vigil alerts ack`` (ADR 44),
  allowed to whom a silence is.

Anything rejected raises :class:`RejectedRequest` with the HTTP status to answer; nothing
has been acted on by then. Link buttons also report their clicks; they are acknowledged and
ignored.

Slack shows an error unless the answer comes within 3 seconds, so a press is handled in two
invocations of the function (ADR 32): :func:`acknowledge` (the request) verifies, parses and
checks the press, queues it as a :class:`PressJob` (an asynchronous invocation of the
function itself) and answers 200; :func:`act` (the job) decides or silences, records and
announces a refusal, and posts the reply to the press's ``response_url``. The request path
makes at most :data:`SYNC_PATH` AWS calls, each bounded by :data:`AWS_CALLS`
(:func:`sync_worst_case_seconds`).
"""

import base64
import binascii
import hashlib
import json
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import LambdaFunctionUrlEvent
from botocore.config import Config
from pydantic import AwareDatetime, Field, ValidationError
from slack_sdk.signature import Clock, SignatureVerifier

from vigil.alerting.acknowledge import Acknowledged, NothingAcknowledged
from vigil.alerting.grouping import NothingToAcknowledge
from vigil.alerting.messages import warning_notice
from vigil.alerting.silences import Silence, SilenceWindowError, new_silence
from vigil.channels.buttons import ACKNOWLEDGE, APPROVE, DECLINE, SILENCE, SilenceButton
from vigil.channels.render import slack_text
from vigil.core.clock import iso
from vigil.core.errors import ConflictError, InvalidEventError, VigilError, describe_validation
from vigil.core.model import Contract, Notification
from vigil.core.observability import logger, metrics
from vigil.rules.document import ApproversConfig
from vigil.runbook.gate import (
    ApprovalClosedError,
    ApprovalState,
    ApprovalStorePort,
    MembershipUnknownError,
    NotAuthorizedError,
    TaskCallbackPort,
    UnknownApprovalError,
    decide,
    refusal_notice,
    require_listed,
)

MAX_CLOCK_SKEW = timedelta(minutes=5)
"""Slack's advice, and slack_sdk's window: older (or later) requests are refused."""

SLACK_HOOKS_URL = "https://hooks.slack.com/"
"""Where Slack's ``response_url`` points (``https://hooks.slack.com/actions/...``, Slack's
guide "Handling user interaction", docs.slack.dev/interactivity/handling-user-interaction)."""
SLACK_ANSWER_WINDOW = 3.0
"""Seconds Slack waits for the HTTP answer before it shows the person an error."""
JOB_KEY = "vigil_slack_press"
"""The key of a queued press in the function's own asynchronous event; a function URL event
never has it at the top level (its fields are Lambda's, the body is a string)."""


@dataclass(frozen=True)
class CallLimits:
    """How long one AWS call of the endpoint may take: connect and read timeouts (seconds),
    and attempts in all (botocore's standard retry mode, ``total_max_attempts``)."""

    connect: float
    read: float
    attempts: int

    @property
    def worst_seconds(self) -> float:
        return self.attempts * (self.connect + self.read)

    def botocore(self) -> Config:
        return Config(
            connect_timeout=self.connect,
            read_timeout=self.read,
            retries={"mode": "standard", "total_max_attempts": self.attempts},
        )


AWS_CALLS = CallLimits(connect=0.25, read=0.4, attempts=2)
"""Every AWS client of the endpoint (Secrets Manager, Lambda, DynamoDB, Step Functions, SNS).
In-region calls answer in tens of milliseconds; these bound the rare slow one."""
SYNC_PATH = ("secretsmanager:GetSecretValue", "lambda:InvokeFunction")
"""The AWS calls a request may make before it is answered, at most once each: the signing
secret (cached for 5 minutes, so only on a miss) and queuing the press (an asynchronous
invocation answers once queued). Everything else happens in :func:`act`."""


def sync_worst_case_seconds() -> float:
    """The longest a request can wait on AWS before its answer (not counting a cold start)."""
    return len(SYNC_PATH) * AWS_CALLS.worst_seconds


class RejectedRequest(VigilError):
    """A request that is not acted on; ``status`` is the HTTP answer (401 or 400)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class SlackRequest:
    """An HTTP request as it reached the endpoint: the raw body, the headers, and when."""

    body: str
    headers: Mapping[str, str]
    received_at: datetime

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


def request_of(event: LambdaFunctionUrlEvent) -> SlackRequest:
    """The raw body, headers and arrival time of a function URL (payload 2.0) event.

    Raises :class:`RejectedRequest` (400) for a body or headers that cannot be read, before
    anything else looks at them (the body's base64 is checked strictly, unlike Powertools'
    ``decoded_body``); a missing arrival time is the platform's fault, not the caller's
    (:class:`InvalidEventError`).
    """
    context = event.get("requestContext")
    epoch_ms = context.get("timeEpoch") if isinstance(context, dict) else None
    if not isinstance(epoch_ms, int) or isinstance(epoch_ms, bool):
        raise InvalidEventError("function URL event: requestContext.timeEpoch is missing")
    body = event.body or ""
    headers = event.get("headers") or {}
    if not isinstance(body, str) or not isinstance(headers, dict):
        raise RejectedRequest(400, "the request's body or headers are not readable")
    if event.is_base64_encoded:
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise RejectedRequest(400, f"the body is not base64-encoded UTF-8 ({exc})") from exc
    return SlackRequest(
        body=body,
        headers={str(k): str(v) for k, v in headers.items()},
        received_at=datetime.fromtimestamp(epoch_ms / 1000, UTC),
    )


class _At(Clock):
    """slack_sdk's clock, stopped at the moment the request arrived."""

    def __init__(self, moment: datetime) -> None:
        self._seconds = moment.timestamp()

    def now(self) -> float:
        return self._seconds


def verify(request: SlackRequest, *, signing_secret: str) -> None:
    """Raise :class:`RejectedRequest` (401) unless Slack signed this body recently."""
    if not signing_secret.strip():
        raise RejectedRequest(401, "the Slack signing secret is not set; every request is refused")
    timestamp = request.header("X-Slack-Request-Timestamp")
    signature = request.header("X-Slack-Signature")
    if timestamp is None or signature is None:
        raise RejectedRequest(
            401, "missing X-Slack-Request-Timestamp or X-Slack-Signature (not from Slack)"
        )
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise RejectedRequest(401, f"X-Slack-Request-Timestamp {timestamp[:20]!r} is not a number")
    skew = abs(request.received_at.timestamp() - int(timestamp))
    if skew > MAX_CLOCK_SKEW.total_seconds():
        raise RejectedRequest(
            401,
            f"X-Slack-Request-Timestamp is {int(skew)} s from the time the request arrived"
            f" (more than {int(MAX_CLOCK_SKEW.total_seconds())} s: stale or replayed)",
        )
    verifier = SignatureVerifier(signing_secret, clock=_At(request.received_at))
    if not verifier.is_valid(body=request.body, timestamp=timestamp, signature=signature):
        raise RejectedRequest(
            401, "X-Slack-Signature does not match the body (forged, or another signing secret)"
        )


class SlackUser(Contract, extra="ignore"):
    id: Annotated[str, Field(min_length=1)]
    username: str | None = None
    name: str | None = None

    @property
    def actor(self) -> str:
        """How the user is named in approvals and silences: ``name (Slack U123)``."""
        return f"{self.username or self.name or 'unknown'} (Slack {self.id})"


class SlackAction(Contract, extra="ignore"):
    action_id: Annotated[str, Field(min_length=1)]
    value: str | None = None
    action_ts: str | None = None


class ButtonPress(Contract, extra="ignore"):
    """The parts of a ``block_actions`` payload Vigil reads."""

    type: str
    user: SlackUser
    actions: Annotated[list[SlackAction], Field(min_length=1)]
    response_url: str | None = None

    @property
    def action(self) -> SlackAction:
        return self.actions[0]


def parse_action(body: str) -> ButtonPress:
    """The button press in a form-encoded body; :class:`RejectedRequest` (400) if malformed."""
    try:
        form = urllib.parse.parse_qs(body, keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:
        raise RejectedRequest(400, f"body is not form-encoded: {exc}") from exc
    payloads = form.get("payload", [])
    if len(payloads) != 1:
        raise RejectedRequest(400, f"body needs exactly one payload field, got {len(payloads)}")
    try:
        raw = json.loads(payloads[0])
    except json.JSONDecodeError as exc:
        raise RejectedRequest(400, f"payload is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise RejectedRequest(400, f"payload must be a JSON object, got {type(raw).__name__}")
    if raw.get("type") != "block_actions":
        raise RejectedRequest(
            400, f"payload type {raw.get('type')!r} is not handled (only block_actions)"
        )
    try:
        return ButtonPress.model_validate(raw)
    except ValidationError as exc:
        raise RejectedRequest(400, f"payload: {describe_validation(exc)}") from exc


def slack_hook(url: str, *, hooks_url: str = SLACK_HOOKS_URL) -> bool:
    """Whether ``url`` is on Slack's own hooks host (scheme, host and port of ``hooks_url``,
    https://hooks.slack.com/ unless a test's emulator says otherwise), the only ``response_url``
    followed: a signed payload must not make the function call anything else (ADR 32)."""
    try:
        parts, allowed = urllib.parse.urlsplit(url), urllib.parse.urlsplit(hooks_url)
        same_port = parts.port == allowed.port
    except ValueError:
        return False
    return (
        parts.scheme == allowed.scheme
        and parts.hostname == allowed.hostname
        and same_port
        and parts.username is None
        and parts.password is None
    )


class AcknowledgePort(Protocol):
    def acknowledge(self, group_id: str, *, by: str, now: datetime) -> list[Acknowledged]:
        """Acknowledge the group, as :func:`vigil.alerting.acknowledge.acknowledge_target`."""
        ...


class SilenceCreatorPort(Protocol):
    def create(self, silence: Silence) -> Silence:
        """Store a new silence; ConflictError if its id is taken."""
        ...


@dataclass(frozen=True)
class Reply:
    """What the person who pressed sees: the original message replaced, or a note to them."""

    text: str
    replace_original: bool = False
    refused: bool = False
    """The person may not do what the button asks (logged and counted as a refusal)."""
    notice: Notification | None = field(default=None, repr=False)
    """The channel notice of a refused decision (:func:`vigil.runbook.gate.refusal_notice`)."""

    def message(self) -> dict[str, Any]:
        if self.replace_original:
            return {"replace_original": True, "text": self.text}
        return {"response_type": "ephemeral", "replace_original": False, "text": self.text}


class GroupMembersPort(Protocol):
    def members(self, group_id: str, *, now: datetime) -> frozenset[str]:
        """The Slack user ids in a user group; a VigilError when they cannot be read."""
        ...


def slack_listed(
    approvers: ApproversConfig, groups: GroupMembersPort | None, *, now: datetime
) -> Callable[[str], bool]:
    """Whether a Slack user is an approver: named in ``slack_users``, or a member of a group
    in ``slack_groups``. Groups are read only when the user is not named; when a group
    cannot be read (no bot token, Slack refuses or does not answer) and no other group
    lists the user, :class:`MembershipUnknownError`: refused, never assumed (fail closed)."""

    def listed(user_id: str) -> bool:
        if user_id in approvers.slack_users:
            return True
        if not approvers.slack_groups:
            return False
        if groups is None:
            raise MembershipUnknownError(
                "membership of the Slack user groups (approvers.slack_groups) could not be"
                f" checked: the chat secret has no bot token under {approvers.slack_bot!r};"
                " refused until it can be"
            )
        problems: list[str] = []
        for group_id in approvers.slack_groups:
            try:
                if user_id in groups.members(group_id, now=now):
                    return True
            except VigilError as exc:
                problems.append(str(exc))
        if problems:
            raise MembershipUnknownError(
                "membership of the Slack user groups (approvers.slack_groups) could not be"
                f" checked ({'; '.join(problems)[:300]}); refused until it can be"
            )
        return False

    return listed


def handle(
    press: ButtonPress,
    *,
    now: datetime,
    approvals: ApprovalStorePort,
    callback: TaskCallbackPort,
    silences: SilenceCreatorPort,
    approvers: ApproversConfig,
    groups: GroupMembersPort | None = None,
    stack: str = "vigil",
    acknowledgements: AcknowledgePort | None = None,
) -> Reply | None:
    """Act on the press; ``None`` for buttons Vigil does not act on (links).

    ``approvers`` says who may decide a live failover and who may silence or acknowledge
    (ADR 32), Slack
    user groups read through ``groups``; anyone else is told so in a note only they see,
    nothing is acted on, and a refused decision is recorded on the approval and carries its
    channel notice (``Reply.notice``).
    """
    action = press.action
    listed = slack_listed(approvers, groups, now=now)
    if action.action_id in (APPROVE, DECLINE):
        return _decide(
            press,
            approve=action.action_id == APPROVE,
            now=now,
            approvals=approvals,
            callback=callback,
            approvers=approvers,
            listed=listed,
            stack=stack,
        )
    if action.action_id == SILENCE:
        return _silence(
            press, now=now, silences=silences, approvers=approvers, listed=listed, stack=stack
        )
    if action.action_id == ACKNOWLEDGE and acknowledgements is not None:
        return _acknowledge_group(
            press,
            now=now,
            acknowledgements=acknowledgements,
            approvers=approvers,
            listed=listed,
            stack=stack,
        )
    return None


def _decide(
    press: ButtonPress,
    *,
    approve: bool,
    now: datetime,
    approvals: ApprovalStorePort,
    callback: TaskCallbackPort,
    approvers: ApproversConfig,
    listed: Callable[[str], bool],
    stack: str,
) -> Reply:
    incident_id = _incident_of(press)
    try:
        decided = decide(
            incident_id,
            approve=approve,
            actor=press.user.actor,
            now=now,
            store=approvals,
            callback=callback,
            comment="from Slack",
            authorize=require_listed(press.user.id, listed, configured=approvers.slack_listed),
            principal=press.user.id,
            live_approvals=approvers.live_approvals,
            via="slack",
        )
    except NotAuthorizedError as exc:
        notice = None
        if exc.refusal is not None:
            gate = approvals.get(incident_id)
            notice = refusal_notice(
                incident_id,
                exc.refusal,
                stack=stack,
                plan=gate.plan if gate else None,
                dry_run=gate.dry_run if gate else None,
            )
        return Reply(
            f":no_entry_sign: {slack_text(press.user.actor)}: {slack_text(str(exc))}.",
            refused=True,
            notice=notice,
        )
    except (UnknownApprovalError, ApprovalClosedError) as exc:
        return Reply(f":warning: {slack_text(str(exc))}")
    mode = "*DRY RUN*" if decided.dry_run else "*LIVE*"
    if decided.state is ApprovalState.PENDING:
        return Reply(
            f":hourglass: {mode} First approval of failover `{decided.plan}` for incident"
            f" `{incident_id}` recorded ({slack_text(press.user.actor)}); a live failover needs"
            " a second, different approver."
        )
    verb = "approved" if approve else "declined"
    return Reply(
        f":{'white_check_mark' if approve else 'no_entry'}: {mode} Failover `{decided.plan}`"
        f" for incident `{incident_id}` {verb} by {slack_text(decided.decided_by or '')}"
        f" at {iso(now)}.",
        replace_original=True,
    )


def _incident_of(press: ButtonPress) -> str:
    incident_id = (press.action.value or "").strip()
    if not incident_id:
        raise RejectedRequest(400, f"{press.action.action_id}: the button carries no incident id")
    return incident_id


def _silence_button(press: ButtonPress) -> SilenceButton:
    value = press.action.value or ""
    try:
        return SilenceButton.model_validate_json(value)
    except ValidationError as exc:
        raise RejectedRequest(
            400, f"{SILENCE}: value {value[:80]!r}: {describe_validation(exc)}"
        ) from exc


def silence_refusal_notice(
    press: ButtonPress,
    *,
    now: datetime,
    reason: str,
    stack: str,
    tried: Literal["silence", "acknowledge"] = "silence",
) -> Notification:
    """The channel notice of a refused silence (or acknowledge) press (a warning, to chat
    only): like a refused decision's, with no incident to record it on. Plain text, escaped per
    channel when rendered (ADR 33); the id is derived from the press, so a retried notice posts
    once."""
    title = f"[WARNING] Refused: {tried} from Slack by {press.user.actor}"
    done = "silenced" if tried == "silence" else "acknowledged"
    lines = [
        f"Who:       {press.user.actor}",
        f"Identity:  {press.user.id}",
        f"Tried:     {tried} {(press.action.value or '')[:300]}",
        f"When:      {iso(now)}",
        f"Why:       {reason}",
        f"Nothing was {done} (docs/runbook.md, Who may decide).",
    ]
    return warning_notice(
        title,
        lines,
        key=f"{tried}-refusal|{press.user.id}|{press.action.action_ts}|{press.action.value}",
        stack=stack,
        category="outage",
        footer=f"Vigil ({stack}) - docs/runbook.md",
        chat_only=True,
    )


def _not_listed(
    press: ButtonPress,
    *,
    now: datetime,
    approvers: ApproversConfig,
    listed: Callable[[str], bool],
    stack: str,
    tried: Literal["silence", "acknowledge"],
) -> Reply | None:
    """The refusal of a press by someone the approvers do not list (anyone may press while
    none are named); ``None`` when the press may go on."""
    if not approvers.slack_listed:
        return None
    verb = "silencing" if tried == "silence" else "acknowledging"
    try:
        allowed = listed(press.user.id)
        reason = (
            f"{verb} from Slack is limited to the approvers named in the rules config"
            " (approvers.slack_users, approvers.slack_groups)"
        )
    except MembershipUnknownError as exc:
        allowed, reason = False, str(exc)
    if allowed:
        return None
    return Reply(
        f":no_entry_sign: {slack_text(press.user.actor)}: {slack_text(reason)}.",
        refused=True,
        notice=silence_refusal_notice(press, now=now, reason=reason, stack=stack, tried=tried),
    )


def _acknowledge_group(
    press: ButtonPress,
    *,
    now: datetime,
    acknowledgements: AcknowledgePort,
    approvers: ApproversConfig,
    listed: Callable[[str], bool],
    stack: str,
) -> Reply:
    refused = _not_listed(
        press, now=now, approvers=approvers, listed=listed, stack=stack, tried="acknowledge"
    )
    if refused is not None:
        return refused
    group_id = _group_of(press)
    try:
        (done, *_) = acknowledgements.acknowledge(group_id, by=press.user.actor, now=now)
    except (NothingAcknowledged, NothingToAcknowledge) as exc:
        return Reply(f":warning: {slack_text(str(exc))}")
    if done.outcome == "already":
        return Reply(
            f":eyes: `{slack_text(done.key)}` was already acknowledged by"
            f" {slack_text(done.by)} at {iso(done.at)}."
        )
    return Reply(
        f":eyes: Acknowledged `{slack_text(done.key)}` ({done.firing} firing) by"
        f" {slack_text(done.by)} at {iso(done.at)}: no repeats until it resolves, a new alert"
        " fires in it or its severity rises."
    )


def _group_of(press: ButtonPress) -> str:
    group_id = (press.action.value or "").strip()
    if not group_id:
        raise RejectedRequest(400, f"{ACKNOWLEDGE}: the button carries no group id")
    return group_id


def _silence(
    press: ButtonPress,
    *,
    now: datetime,
    silences: SilenceCreatorPort,
    approvers: ApproversConfig,
    listed: Callable[[str], bool],
    stack: str,
) -> Reply:
    refused = _not_listed(
        press, now=now, approvers=approvers, listed=listed, stack=stack, tried="silence"
    )
    if refused is not None:
        return refused
    value = press.action.value or ""
    button = _silence_button(press)
    # The same press (a retry, or a replay inside the signature window) names the same silence.
    press_key = f"{press.user.id}|{press.action.action_ts}|{value}"
    silence_id = hashlib.sha256(press_key.encode()).hexdigest()[:16]
    try:
        silence = new_silence(
            silence_id,
            match={str(label): pattern for label, pattern in button.match.items()},
            starts_at=now,
            duration=button.duration,
            now=now,
            created_by=press.user.actor,
            comment="from a Slack alert",
            max_duration=timedelta(hours=approvers.silence_max_hours),
        )
        silences.create(silence)
    except SilenceWindowError as exc:
        return Reply(f":warning: {slack_text(str(exc))}")
    except ConflictError:
        return Reply(f":zzz: Silence `{silence_id}` was already created by this button press.")
    matchers = " ".join(f"{label}={pattern}" for label, pattern in button.match.items())
    return Reply(
        f":zzz: Silenced `{matchers}` until {iso(silence.ends_at)} (silence `{silence_id}`,"
        f" by {slack_text(press.user.actor)}). End it early with"
        f" `vigil silence expire {silence_id}`."
    )


# ---------------------------------------------------------------------------- the two paths
class PressJob(Contract):
    """A verified press queued for :func:`act` (the function's own asynchronous event)."""

    kind: Literal["vigil.slack_press"] = "vigil.slack_press"
    version: Literal[1] = 1
    press: ButtonPress
    received_at: AwareDatetime
    """When the request reached the URL: the decision's or silence's ``now``."""
    reply_to: str | None = None
    """The press's ``response_url``, only when it is on Slack's hooks host."""


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: dict[str, Any]

    def event(self) -> dict[str, Any]:
        """The function URL's answer."""
        return {
            "statusCode": self.status,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(self.body),
        }


def acknowledge(
    event: LambdaFunctionUrlEvent,
    *,
    secrets: Callable[[], tuple[str, str]],
    enqueue: Callable[[PressJob], None],
) -> HttpAnswer:
    """The request path: verify and check the press, queue it for :func:`act`, answer.

    ``secrets`` gives the signing secret and the hooks URL (cached); ``enqueue`` invokes
    the function asynchronously. A rejected request is answered 4xx with one warning log
    line and acts on nothing; a press that cannot be queued is answered 503 (Slack shows the
    person an error, so they can press again).
    """
    try:
        request = request_of(event)
        signing_secret, hooks_url = secrets()
        verify(request, signing_secret=signing_secret)
        press = parse_action(request.body)
        if press.action.action_id in (APPROVE, DECLINE):
            _incident_of(press)
        elif press.action.action_id == SILENCE:
            _silence_button(press)
        elif press.action.action_id == ACKNOWLEDGE:
            _group_of(press)
        else:
            return HttpAnswer(200, {})  # link buttons: acknowledged, ignored
    except RejectedRequest as exc:
        logger.warning("Slack request rejected", extra={"status": exc.status, "reason": str(exc)})
        metrics.add_metric("SlackRequestRejected", MetricUnit.Count, 1)
        return HttpAnswer(exc.status, {"error": str(exc)})
    reply_to = press.response_url
    if reply_to and not slack_hook(reply_to, hooks_url=hooks_url):
        logger.warning("Slack response_url ignored: not a Slack hook", extra={"url": reply_to[:80]})
        reply_to = None
    try:
        enqueue(PressJob(press=press, received_at=request.received_at, reply_to=reply_to))
    except Exception as exc:  # the press is lost unless answered as a failure
        logger.error("Slack press could not be queued", extra={"reason": str(exc)[:300]})
        return HttpAnswer(503, {"error": "the press could not be queued; press again"})
    return HttpAnswer(200, {})


class NoticePort(Protocol):
    def publish(self, notification: Notification) -> str: ...


class ReplyPort(Protocol):
    def post(self, url: str, message: dict[str, Any]) -> None:
        """One attempt; a VigilError when it fails."""
        ...


@dataclass(frozen=True)
class ActPorts:
    approvals: ApprovalStorePort
    callback: TaskCallbackPort
    silences: SilenceCreatorPort
    approvers: ApproversConfig
    notices: NoticePort
    replies: ReplyPort
    stack: str
    groups: Callable[[], GroupMembersPort | None] = lambda: None
    """Built on demand: it reads the chat secret's bot token."""
    acknowledgements: AcknowledgePort | None = None
    """The notification groups an ``Acknowledge`` press acknowledges."""


class _OnDemand:
    """The group reader, built when a group is first asked about (it reads the chat secret);
    a secret that cannot be read, or holds no token, makes every group unreadable."""

    def __init__(self, make: Callable[[], GroupMembersPort | None], *, key: str) -> None:
        self._make = make
        self._key = key
        self._reader: GroupMembersPort | None = None

    def members(self, group_id: str, *, now: datetime) -> frozenset[str]:
        if self._reader is None:
            try:
                self._reader = self._make()
            except Exception as exc:  # AccessDenied, throttling, a timeout: not checked
                raise VigilError(f"the chat secret could not be read ({exc})") from exc
            if self._reader is None:
                raise VigilError(f"the chat secret has no bot token under {self._key!r}")
        return self._reader.members(group_id, now=now)


def act(job: PressJob, *, ports: ActPorts) -> Reply | None:
    """The queued press: decide or silence as of ``received_at``, announce a refused
    decision in the channel (SNS, published before the reply so that a failed publish is
    retried by Lambda without posting the reply twice), then post the reply once."""
    press = job.press
    groups = _OnDemand(ports.groups, key=ports.approvers.slack_bot)
    reply = handle(
        press,
        now=job.received_at,
        approvals=ports.approvals,
        callback=ports.callback,
        silences=ports.silences,
        approvers=ports.approvers,
        groups=groups,
        stack=ports.stack,
        acknowledgements=ports.acknowledgements,
    )
    if reply is None:
        return None
    metrics.add_metric(
        "SlackButtonRefused" if reply.refused else "SlackButtonHandled", MetricUnit.Count, 1
    )
    (logger.warning if reply.refused else logger.info)(
        "Slack button refused" if reply.refused else "Slack button handled",
        extra={"action_id": press.action.action_id, "user": press.user.actor, "reply": reply.text},
    )
    if reply.notice is not None:
        ports.notices.publish(reply.notice)
    if job.reply_to:
        try:
            ports.replies.post(job.reply_to, reply.message())
        except VigilError as exc:  # only the note in Slack is lost
            logger.warning("Slack response_url failed", extra={"reason": str(exc)})
    return reply
