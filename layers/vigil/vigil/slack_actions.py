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
  :func:`vigil.approval.decide`, the Slack user as the person deciding;
- ``silence_group`` (value: :func:`silence_button_value`, compact JSON of label globs and a
  duration) through :func:`vigil.silences.new_silence`, like ``vigil silence add``.

Anything rejected raises :class:`RejectedRequest` with the HTTP status to answer; nothing
has been acted on by then. Link buttons also report their clicks; they are acknowledged and
ignored.
"""

import hashlib
import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Protocol

from pydantic import Field, ValidationError
from slack_sdk.signature import Clock, SignatureVerifier

from vigil.approval import (
    ApprovalClosedError,
    ApprovalState,
    ApprovalStorePort,
    NotAuthorizedError,
    TaskCallbackPort,
    UnknownApprovalError,
    decide,
    require_approver,
)
from vigil.clock import iso
from vigil.errors import ConflictError, VigilError, describe_validation
from vigil.model import Contract
from vigil.routing import Duration, LabelName, format_duration
from vigil.rules import ApproversConfig
from vigil.silences import Silence, SilenceWindowError, new_silence

MAX_CLOCK_SKEW = timedelta(minutes=5)
"""Slack's advice, and slack_sdk's window: older (or later) requests are refused."""

APPROVE = "runbook_approve"
DECLINE = "runbook_decline"
SILENCE = "silence_group"
SILENCE_BUTTON_DURATION = timedelta(hours=2)
SLACK_HOOKS_URL = "https://hooks.slack.com/"
"""Where Slack's ``response_url`` points (``https://hooks.slack.com/actions/...``, Slack's
guide "Handling user interaction", docs.slack.dev/interactivity/handling-user-interaction)."""


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


class SilenceButton(Contract):
    """The ``silence_group`` button's value: label globs and how long."""

    match: Annotated[dict[LabelName, Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    duration: Duration = Field(alias="for")


def silence_button_value(match: Mapping[str, str], duration: timedelta) -> str:
    """Compact JSON for the button (Slack allows 2,000 characters in a value)."""
    return json.dumps(
        {"match": dict(match), "for": format_duration(duration)}, separators=(",", ":")
    )


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

    def message(self) -> dict[str, Any]:
        if self.replace_original:
            return {"replace_original": True, "text": self.text}
        return {"response_type": "ephemeral", "replace_original": False, "text": self.text}


def handle(
    press: ButtonPress,
    *,
    now: datetime,
    approvals: ApprovalStorePort,
    callback: TaskCallbackPort,
    silences: SilenceCreatorPort,
    approvers: ApproversConfig,
) -> Reply | None:
    """Act on the press; ``None`` for buttons Vigil does not act on (links).

    ``approvers`` says who may decide a live failover and who may silence (ADR 32); anyone
    else is told so in a note only they see, and nothing is acted on.
    """
    action = press.action
    if action.action_id in (APPROVE, DECLINE):
        return _decide(
            press,
            approve=action.action_id == APPROVE,
            now=now,
            approvals=approvals,
            callback=callback,
            approvers=approvers,
        )
    if action.action_id == SILENCE:
        return _silence(press, now=now, silences=silences, approvers=approvers)
    return None


def _decide(
    press: ButtonPress,
    *,
    approve: bool,
    now: datetime,
    approvals: ApprovalStorePort,
    callback: TaskCallbackPort,
    approvers: ApproversConfig,
) -> Reply:
    incident_id = (press.action.value or "").strip()
    if not incident_id:
        raise RejectedRequest(400, f"{press.action.action_id}: the button carries no incident id")
    try:
        decided = decide(
            incident_id,
            approve=approve,
            actor=press.user.actor,
            now=now,
            store=approvals,
            callback=callback,
            comment="from Slack",
            authorize=require_approver(press.user.id, approvers.slack_users),
            principal=press.user.id,
            live_approvals=approvers.live_approvals,
        )
    except NotAuthorizedError as exc:
        return Reply(f":no_entry_sign: {press.user.actor}: {exc}.", refused=True)
    except (UnknownApprovalError, ApprovalClosedError) as exc:
        return Reply(f":warning: {exc}")
    if decided.state is ApprovalState.PENDING:
        return Reply(
            f":hourglass: First approval of failover `{decided.plan}` for incident"
            f" `{incident_id}` recorded ({press.user.actor}); a live failover needs a second,"
            " different approver."
        )
    verb = "approved" if approve else "declined"
    mode = " (dry run)" if decided.dry_run else ""
    return Reply(
        f":{'white_check_mark' if approve else 'no_entry'}: Failover `{decided.plan}`{mode}"
        f" for incident `{incident_id}` {verb} by {decided.decided_by} at {iso(now)}.",
        replace_original=True,
    )


def _silence(
    press: ButtonPress,
    *,
    now: datetime,
    silences: SilenceCreatorPort,
    approvers: ApproversConfig,
) -> Reply:
    if approvers.slack_users and press.user.id not in approvers.slack_users:
        return Reply(
            f":no_entry_sign: {press.user.actor}: silencing from Slack is limited to the"
            " approvers named in the rules config (approvers.slack_users).",
            refused=True,
        )
    value = press.action.value or ""
    try:
        button = SilenceButton.model_validate_json(value)
    except ValidationError as exc:
        raise RejectedRequest(
            400, f"{SILENCE}: value {value[:80]!r}: {describe_validation(exc)}"
        ) from exc
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
        return Reply(f":warning: {exc}")
    except ConflictError:
        return Reply(f":zzz: Silence `{silence_id}` was already created by this button press.")
    matchers = " ".join(f"{label}={pattern}" for label, pattern in button.match.items())
    return Reply(
        f":zzz: Silenced `{matchers}` until {iso(silence.ends_at)} (silence `{silence_id}`,"
        f" by {press.user.actor}). End it early with `vigil silence expire {silence_id}`."
    )
