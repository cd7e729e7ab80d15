"""Slack button presses: only a fresh request signed with the app's secret is acted on."""

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from tests.fakes import MemoryApprovalStore, RecordingCallback
from tests.unit.test_messages import _notification
from vigil.alerting.silences import Silence
from vigil.channels.buttons import SilenceButton, silence_button_value
from vigil.channels.slack import slack_message
from vigil.core.errors import ConflictError
from vigil.core.model import ChatPayload, NotifyReason
from vigil.rules.document import ApproversConfig
from vigil.runbook.gate import ApprovalState, request_approval
from vigil.runbook.slack_actions import (
    ButtonPress,
    RejectedRequest,
    SlackRequest,
    handle,
    parse_action,
    slack_hook,
    verify,
)

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


OPEN = ApproversConfig()
"""The default: nobody listed, so dry runs and silences are open, live failovers closed."""


def _payload(action_id: str, value: str | None, **extra: object) -> dict[str, object]:
    action: dict[str, object] = {"action_id": action_id, "action_ts": "1795694400.123456"}
    if value is not None:
        action["value"] = value
    return {
        "type": "block_actions",
        "user": {"id": "U024BE7LH", "username": "ana", "name": "ana", "team_id": "T1"},
        "actions": [action],
        "response_url": "https://hooks.slack.com/actions/T1/1/abc",
        "trigger_id": "1.2.3",
        **extra,
    }


def _body(payload: object) -> str:
    return urlencode({"payload": json.dumps(payload)})


def _signed(
    body: str, *, sent: datetime = NOW, secret: str = SECRET, arrived: datetime = NOW
) -> SlackRequest:
    timestamp = str(int(sent.timestamp()))
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256)
    return SlackRequest(
        body=body,
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": timestamp,
            "x-slack-signature": "v0=" + digest.hexdigest(),
        },
        received_at=arrived,
    )


class SilenceBook:
    def __init__(self) -> None:
        self.items: dict[str, Silence] = {}

    def create(self, silence: Silence) -> Silence:
        if silence.silence_id in self.items:
            raise ConflictError("taken")
        self.items[silence.silence_id] = silence
        return silence


def _gate(store: MemoryApprovalStore) -> None:
    request_approval(
        "inc-7",
        token="token-7",
        plan="ssm-active-region",
        dry_run=True,
        now=NOW - timedelta(minutes=5),
        timeout=timedelta(minutes=30),
        store=store,
    )


# ------------------------------------------------------------------ signature and timestamp


def test_a_request_signed_with_the_signing_secret_passes() -> None:
    verify(_signed(_body(_payload("runbook_approve", "inc-7"))), signing_secret=SECRET)


def test_a_forged_signature_is_refused_with_401() -> None:
    request = _signed(_body(_payload("runbook_approve", "inc-7")), secret="not-the-secret")

    with pytest.raises(RejectedRequest, match="does not match") as refused:
        verify(request, signing_secret=SECRET)
    assert refused.value.status == 401


def test_a_body_changed_after_signing_is_refused() -> None:
    signed = _signed(_body(_payload("runbook_approve", "inc-7")))
    tampered = SlackRequest(
        body=_body(_payload("runbook_approve", "inc-8")),
        headers=signed.headers,
        received_at=signed.received_at,
    )

    with pytest.raises(RejectedRequest, match="does not match"):
        verify(tampered, signing_secret=SECRET)


@pytest.mark.parametrize("skew", [timedelta(minutes=5, seconds=1), timedelta(minutes=-6)])
def test_a_stale_or_future_timestamp_is_refused_even_when_the_signature_is_right(
    skew: timedelta,
) -> None:
    request = _signed(_body(_payload("runbook_approve", "inc-7")), arrived=NOW + skew)

    with pytest.raises(RejectedRequest, match="stale or replayed") as refused:
        verify(request, signing_secret=SECRET)
    assert refused.value.status == 401


def test_the_window_is_measured_from_the_arrival_time_not_the_clock() -> None:
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    request = _signed(
        _body(_payload("runbook_approve", "inc-7")),
        sent=long_ago,
        arrived=long_ago + timedelta(minutes=4, seconds=59),
    )

    verify(request, signing_secret=SECRET)


def test_a_replayed_request_is_refused_once_the_window_has_passed() -> None:
    body = _body(_payload("runbook_approve", "inc-7"))
    original = _signed(body)
    replay = SlackRequest(
        body=body, headers=original.headers, received_at=NOW + timedelta(minutes=10)
    )
    verify(original, signing_secret=SECRET)

    with pytest.raises(RejectedRequest, match="stale or replayed"):
        verify(replay, signing_secret=SECRET)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing"),
        ({"X-Slack-Signature": "v0=00"}, "missing"),
        ({"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00"}, "not a number"),
        # issue 12: "²" passed str.isdigit() and crashed int(); digits of other scripts too
        ({"X-Slack-Request-Timestamp": "²", "X-Slack-Signature": "v0=00"}, "not a number"),
        ({"X-Slack-Request-Timestamp": "١٧٩٥", "X-Slack-Signature": "v0=00"}, "not a number"),
    ],
)
def test_requests_without_usable_slack_headers_are_refused(
    headers: dict[str, str], reason: str
) -> None:
    request = SlackRequest(body="payload=%7B%7D", headers=headers, received_at=NOW)

    with pytest.raises(RejectedRequest, match=reason) as refused:
        verify(request, signing_secret=SECRET)
    assert refused.value.status == 401


def test_without_a_signing_secret_everything_is_refused() -> None:
    with pytest.raises(RejectedRequest, match="not set"):
        verify(_signed(_body(_payload("runbook_approve", "inc-7"))), signing_secret=" ")


# ------------------------------------------------------------------ payload


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("payload", "not form-encoded"),
        ("token=abc", "exactly one payload"),
        ("payload=%7Bnot-json", "not JSON"),
        ("payload=%5B1%5D", "JSON object"),
        (_body({"type": "view_submission"}), "only block_actions"),
        (_body({"type": "block_actions", "user": {"id": "U1"}, "actions": []}), "actions"),
        (_body({"type": "block_actions", "actions": [{"action_id": "x"}]}), "user"),
    ],
)
def test_a_malformed_payload_is_refused_with_400(body: str, reason: str) -> None:
    with pytest.raises(RejectedRequest, match=reason) as refused:
        parse_action(body)
    assert refused.value.status == 400


def test_the_press_names_the_button_its_value_and_the_person() -> None:
    press = parse_action(_body(_payload("runbook_decline", "inc-7")))

    assert (press.action.action_id, press.action.value) == ("runbook_decline", "inc-7")
    assert press.user.actor == "ana (Slack U024BE7LH)"
    assert press.response_url == "https://hooks.slack.com/actions/T1/1/abc"


# ------------------------------------------------------------------ approve and decline


def _press(action_id: str, value: str | None) -> ButtonPress:
    return parse_action(_body(_payload(action_id, value)))


def test_approve_decides_the_gate_as_the_slack_user_and_replaces_the_message() -> None:
    store, callback = MemoryApprovalStore(), RecordingCallback()
    _gate(store)

    reply = handle(
        _press("runbook_approve", "inc-7"),
        now=NOW,
        approvals=store,
        callback=callback,
        silences=SilenceBook(),
        approvers=OPEN,
    )

    approval = store.get("inc-7")
    assert approval is not None
    assert approval.state is ApprovalState.APPROVED
    assert approval.decided_by == "ana (Slack U024BE7LH)"
    assert callback.answers == [
        (
            "token-7",
            {
                "decision": "approved",
                "by": "ana (Slack U024BE7LH)",
                "at": "2026-11-26T12:00:00Z",
                "comment": "from Slack",
            },
        )
    ]
    assert reply is not None
    assert reply.message()["replace_original"] is True
    assert "approved by ana (Slack U024BE7LH)" in reply.text
    assert reply.text.startswith(":white_check_mark: *DRY RUN* Failover `ssm-active-region`")


def test_a_second_press_or_a_replay_is_told_who_decided_and_changes_nothing() -> None:
    store, callback = MemoryApprovalStore(), RecordingCallback()
    _gate(store)
    press = _press("runbook_decline", "inc-7")
    handle(
        press, now=NOW, approvals=store, callback=callback, silences=SilenceBook(), approvers=OPEN
    )

    again = handle(
        _press("runbook_approve", "inc-7"),
        now=NOW + timedelta(seconds=30),
        approvals=store,
        callback=callback,
        silences=SilenceBook(),
        approvers=OPEN,
    )

    assert again is not None
    assert again.message() == {
        "response_type": "ephemeral",
        "replace_original": False,
        "text": ":warning: incident inc-7 was already declined by ana (Slack U024BE7LH)"
        " at 2026-11-26T12:00:00Z",
    }
    assert len(callback.answers) == 1


def test_an_incident_without_a_gate_gets_a_note_not_an_error() -> None:
    reply = handle(
        _press("runbook_approve", "inc-404"),
        now=NOW,
        approvals=MemoryApprovalStore(),
        callback=RecordingCallback(),
        silences=SilenceBook(),
        approvers=OPEN,
    )

    assert reply is not None
    assert "no approval to decide" in reply.text


def test_a_decision_button_without_an_incident_is_malformed() -> None:
    with pytest.raises(RejectedRequest, match="no incident id"):
        handle(
            _press("runbook_approve", None),
            now=NOW,
            approvals=MemoryApprovalStore(),
            callback=RecordingCallback(),
            silences=SilenceBook(),
            approvers=OPEN,
        )


# ------------------------------------------------------------------ silence


def test_the_silence_button_creates_a_two_hour_silence_like_the_command() -> None:
    book = SilenceBook()
    value = silence_button_value(
        {"kind": "lambda.errors", "resource": "orders-api"}, timedelta(hours=2)
    )

    reply = handle(
        _press("silence_group", value),
        now=NOW,
        approvals=MemoryApprovalStore(),
        callback=RecordingCallback(),
        silences=book,
        approvers=OPEN,
    )

    [silence] = book.items.values()
    assert silence.matchers.match == {"kind": "lambda.errors", "resource": "orders-api"}
    assert (silence.starts_at, silence.ends_at) == (NOW, NOW + timedelta(hours=2))
    assert silence.created_by == "ana (Slack U024BE7LH)"
    assert reply is not None
    assert "until 2026-11-26T14:00:00Z" in reply.text
    assert reply.message()["response_type"] == "ephemeral"


def test_the_same_press_delivered_twice_creates_one_silence() -> None:
    book = SilenceBook()
    press = _press("silence_group", '{"match":{"kind":"lambda.errors"},"for":"2h"}')
    handle(
        press,
        now=NOW,
        approvals=MemoryApprovalStore(),
        callback=RecordingCallback(),
        silences=book,
        approvers=OPEN,
    )

    again = handle(
        press,
        now=NOW + timedelta(seconds=5),
        approvals=MemoryApprovalStore(),
        callback=RecordingCallback(),
        silences=book,
        approvers=OPEN,
    )

    assert len(book.items) == 1
    assert again is not None
    assert "already created" in again.text


@pytest.mark.parametrize(
    "value",
    [
        "not json",
        '{"match":{},"for":"2h"}',
        '{"match":{"colour":"red"},"for":"2h"}',
        '{"match":{"kind":"x.y"},"for":"soon"}',
        '{"match":{"kind":"x.y"}}',
    ],
)
def test_a_malformed_silence_value_is_refused_and_creates_nothing(value: str) -> None:
    book = SilenceBook()

    with pytest.raises(RejectedRequest, match="silence_group") as refused:
        handle(
            _press("silence_group", value),
            now=NOW,
            approvals=MemoryApprovalStore(),
            callback=RecordingCallback(),
            silences=book,
            approvers=OPEN,
        )
    assert refused.value.status == 400
    assert book.items == {}


def test_link_buttons_are_acknowledged_and_ignored() -> None:
    assert (
        handle(
            _press("link-0", None),
            now=NOW,
            approvals=MemoryApprovalStore(),
            callback=RecordingCallback(),
            silences=SilenceBook(),
            approvers=OPEN,
        )
        is None
    )


# ------------------------------------------------------------------ the button in alerts


def _alert_message(reason: NotifyReason, resources: list[str]) -> dict[str, object]:
    base = ChatPayload.model_validate_json(
        json.loads(_notification(100_000, 2_000).message)["lambda"]
    )
    views = [
        base.alerts[0].model_copy(
            update={"labels": base.alerts[0].labels.model_copy(update={"resource": r})}
        )
        for r in resources
    ]
    return slack_message(base.model_copy(update={"reason": reason, "alerts": views}))


def _silence_buttons(message: dict[str, object]) -> list[dict[str, object]]:
    blocks = message["blocks"]
    assert isinstance(blocks, list)
    return [
        element
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == "silence_group"
    ]


def test_a_firing_alert_offers_silence_2h_for_exactly_its_labels() -> None:
    [button] = _silence_buttons(_alert_message(NotifyReason.FIRING, ["orders-api"]))

    value = SilenceButton.model_validate_json(str(button["value"]))
    assert button["text"] == {"type": "plain_text", "text": "Silence 2h"}
    assert value.duration == timedelta(hours=2)
    assert value.match["resource"] == "orders-api"
    assert set(value.match) == {"kind", "resource", "account", "region"}


def test_a_group_silences_what_its_alerts_share_and_a_resolution_offers_nothing() -> None:
    [button] = _silence_buttons(_alert_message(NotifyReason.FIRING, ["orders-api", "billing"]))

    assert "resource" not in SilenceButton.model_validate_json(str(button["value"])).match
    assert _silence_buttons(_alert_message(NotifyReason.RESOLVED, ["orders-api"])) == []


# ------------------------------------------------------------------ who may press (issue 12)


def _live_gate(store: MemoryApprovalStore) -> None:
    request_approval(
        "inc-9",
        token="token-9",
        plan="ssm-active-region",
        dry_run=False,
        now=NOW - timedelta(minutes=5),
        timeout=timedelta(minutes=30),
        store=store,
    )


def _guest_press(action_id: str, value: str) -> ButtonPress:
    """The press issue 12 measured: a guest nobody listed, signed by Slack like anyone else."""
    payload = _payload(action_id, value)
    payload["user"] = {"id": "W0GUEST", "username": "guest"}
    return parse_action(_body(payload))


@pytest.mark.parametrize(
    ("approvers", "action_id"),
    [
        (OPEN, "runbook_approve"),  # nobody configured: a live failover is refused to all
        (ApproversConfig(slack_users=["U024BE7LH"]), "runbook_approve"),
        (ApproversConfig(slack_users=["U024BE7LH"]), "runbook_decline"),
    ],
)
def test_an_unlisted_person_cannot_decide_a_live_failover(
    approvers: ApproversConfig, action_id: str
) -> None:
    store, callback = MemoryApprovalStore(), RecordingCallback()
    _live_gate(store)

    reply = handle(
        _guest_press(action_id, "inc-9"),
        now=NOW,
        approvals=store,
        callback=callback,
        silences=SilenceBook(),
        approvers=approvers,
    )

    pending = store.get("inc-9")
    assert reply is not None
    assert reply.refused is True
    assert reply.message()["response_type"] == "ephemeral"
    assert "needs an approver named in the rules config" in reply.text
    assert pending is not None
    assert (pending.state, pending.decided_by) == (ApprovalState.PENDING, None)
    assert callback.answers == []


def test_a_listed_approver_decides_a_live_failover() -> None:
    store, callback = MemoryApprovalStore(), RecordingCallback()
    _live_gate(store)

    reply = handle(
        _press("runbook_approve", "inc-9"),
        now=NOW,
        approvals=store,
        callback=callback,
        silences=SilenceBook(),
        approvers=ApproversConfig(slack_users=["U024BE7LH"]),
    )

    decided = store.get("inc-9")
    assert reply is not None
    assert reply.refused is False
    assert decided is not None
    assert (decided.state, decided.decided_by) == (
        ApprovalState.APPROVED,
        "ana (Slack U024BE7LH)",
    )
    assert [token for token, _ in callback.answers] == ["token-9"]


def test_a_dry_run_stays_open_to_anyone_slack_signed_for() -> None:
    store, callback = MemoryApprovalStore(), RecordingCallback()
    _gate(store)

    reply = handle(
        _guest_press("runbook_approve", "inc-7"),
        now=NOW,
        approvals=store,
        callback=callback,
        silences=SilenceBook(),
        approvers=ApproversConfig(slack_users=["U024BE7LH"]),
    )

    decided = store.get("inc-7")
    assert reply is not None
    assert reply.refused is False
    assert decided is not None
    assert decided.decided_by == "guest (Slack W0GUEST)"


def test_once_approvers_are_listed_only_they_silence_from_a_button() -> None:
    book = SilenceBook()
    value = silence_button_value({"resource": "orders-api"}, timedelta(hours=2))
    approvers = ApproversConfig(slack_users=["U024BE7LH"])

    refused = handle(
        _guest_press("silence_group", value),
        now=NOW,
        approvals=MemoryApprovalStore(),
        callback=RecordingCallback(),
        silences=book,
        approvers=approvers,
    )
    accepted = handle(
        _press("silence_group", value),
        now=NOW,
        approvals=MemoryApprovalStore(),
        callback=RecordingCallback(),
        silences=book,
        approvers=approvers,
    )

    assert refused is not None
    assert refused.refused is True
    assert accepted is not None
    assert accepted.refused is False
    assert accepted.notice is None
    assert [s.created_by for s in book.items.values()] == ["ana (Slack U024BE7LH)"]
    # issue 12: a refused press is announced in the channel, to chat only
    assert refused.notice is not None
    assert refused.notice.channels == '["slack"]'
    assert refused.notice.subject.startswith("[WARNING] Refused: silence from Slack by")
    assert "limited to the approvers" in refused.notice.message


@pytest.mark.parametrize(
    ("value", "approvers", "reason"),
    [
        # issue 12: a button made a ten-year kind=* silence
        ('{"match":{"kind":"lambda.errors"},"for":"3650d"}', OPEN, "at most 168h"),
        (
            '{"match":{"kind":"lambda.errors"},"for":"5h"}',
            ApproversConfig(silence_max_hours=4),
            "at most 4h",
        ),
        ('{"match":{"kind":"*"},"for":"2h"}', OPEN, "mute everything"),
        ('{"match":{"resource":"*","kind":"*"},"for":"2h"}', OPEN, "mute everything"),
    ],
)
def test_a_silence_too_long_or_matching_everything_is_refused_from_a_button(
    value: str, approvers: ApproversConfig, reason: str
) -> None:
    book = SilenceBook()

    reply = handle(
        _press("silence_group", value),
        now=NOW,
        approvals=MemoryApprovalStore(),
        callback=RecordingCallback(),
        silences=book,
        approvers=approvers,
    )

    assert reply is not None
    assert reason in reply.text
    assert book.items == {}


# ------------------------------------------------------------------ response_url (issue 12)


@pytest.mark.parametrize(
    ("url", "followed"),
    [
        # Slack's own form, from its guide "Handling user interaction" (docs.slack.dev)
        ("https://hooks.slack.com/actions/T1ABCD/1234/abcdef", True),
        ("https://hooks.slack.com:443/actions/T1/1/a", False),  # not the form Slack sends
        ("http://169.254.169.254/latest/meta-data/", False),  # issue 12: instance metadata
        ("http://hooks.slack.com/actions/T1/1/a", False),
        ("https://hooks.slack.com.example.net/actions/T1/1/a", False),
        ("https://example.net@hooks.slack.com/actions/T1/1/a", False),
        ("https://hooks.slack.com@example.net/actions/T1/1/a", False),
        ("https://hooks.slack.com:99999/", False),  # an impossible port
        ("https://[::1/", False),  # not a URL at all
        ("file:///etc/passwd", False),
    ],
)
def test_only_slacks_own_https_hooks_are_followed(url: str, followed: bool) -> None:
    assert slack_hook(url) is followed


# ------------------------------------------------------------------ two approvers (issue 12)

TWO = ApproversConfig(slack_users=["U024BE7LH", "U0BOB"], live_approvals=2)


def _press_as(action_id: str, value: str, user_id: str, name: str) -> ButtonPress:
    payload = _payload(action_id, value)
    payload["user"] = {"id": user_id, "username": name}
    return parse_action(_body(payload))


def test_a_name_in_a_reply_is_text_not_mrkdwn() -> None:
    """A Slack user name is the user's to choose: the reply shows it, never a mention or a
    link it spells (docs/architecture.md, ADR 33)."""
    store = MemoryApprovalStore()
    _live_gate(store)

    reply = handle(
        _press_as("runbook_approve", "inc-9", "U0EVE", "<!channel> <https://evil.example|ok>"),
        now=NOW,
        approvals=store,
        callback=RecordingCallback(),
        silences=SilenceBook(),
        approvers=TWO,
    )

    assert reply is not None
    assert reply.refused
    assert "<!channel>" not in reply.text
    assert "<https://evil.example" not in reply.text
    assert "&lt;!channel&gt;" in reply.text


def test_a_live_failover_needing_two_approvers_waits_for_a_second_different_one() -> None:
    store, callback = MemoryApprovalStore(), RecordingCallback()
    _live_gate(store)

    def press(user_id: str, name: str) -> str:
        reply = handle(
            _press_as("runbook_approve", "inc-9", user_id, name),
            now=NOW,
            approvals=store,
            callback=callback,
            silences=SilenceBook(),
            approvers=TWO,
        )
        assert reply is not None
        return reply.text

    first = press("U024BE7LH", "ana")
    after_first = store.get("inc-9")
    again = press("U024BE7LH", "ana")
    second = press("U0BOB", "bob")

    decided = store.get("inc-9")
    assert "needs a second, different approver" in first
    assert first.startswith(":hourglass: *LIVE* First approval")
    assert second.startswith(":white_check_mark: *LIVE* Failover")
    assert after_first is not None
    assert (after_first.state, after_first.first_approver) == (ApprovalState.PENDING, "U024BE7LH")
    assert "already approved" in again
    assert "approved by ana (Slack U024BE7LH) and bob (Slack U0BOB)" in second
    assert decided is not None
    assert decided.state is ApprovalState.APPROVED
    assert [output["by"] for _, output in callback.answers] == [
        "ana (Slack U024BE7LH) and bob (Slack U0BOB)"
    ]


@pytest.mark.parametrize(
    ("action_id", "dry_run", "state"),
    [
        ("runbook_decline", False, ApprovalState.DECLINED),  # stopping needs one person
        ("runbook_approve", True, ApprovalState.APPROVED),  # a dry run needs one person
    ],
)
def test_one_person_suffices_to_decline_or_to_approve_a_dry_run(
    action_id: str, dry_run: bool, state: ApprovalState
) -> None:
    store, callback = MemoryApprovalStore(), RecordingCallback()
    request_approval(
        "inc-9",
        token="token-9",
        plan="ssm-active-region",
        dry_run=dry_run,
        now=NOW - timedelta(minutes=5),
        timeout=timedelta(minutes=30),
        store=store,
    )

    handle(
        _press_as(action_id, "inc-9", "U0BOB", "bob"),
        now=NOW,
        approvals=store,
        callback=callback,
        silences=SilenceBook(),
        approvers=TWO,
    )

    decided = store.get("inc-9")
    assert decided is not None
    assert decided.state is state
    assert len(callback.answers) == 1
