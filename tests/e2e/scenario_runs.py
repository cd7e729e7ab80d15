"""Shared helpers of the scenario tests: play a built-in scenario, read what it produced, and
check that every alert it notified says where to look (docs/rules.md, "What a receiver gets")."""

import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from emulator import Emulator
from emulator.mailbox import Email

ALERT_EMAIL = "ops@example.com"
# Every cycle also reads the stack's own two state machines (Evaluate, OutageRunbook): three
# Step Functions execution metrics each (docs/architecture.md, ADR 24). The collect workflow
# (ADR 51) is not watched by the dials: it has its own alarm, and runs only with members or
# several regions.
STACK_STATE_MACHINES = 2
STACK_WORKFLOW_METRICS = 3 * STACK_STATE_MACHINES
# and the two stack functions with reserved concurrency (SlackActionsFunction and
# ErrorStreamFunction, 5 each by default): their ConcurrentExecutions Maximum against the
# reservation (docs/architecture.md, ADR 21).
STACK_RESERVED_METRICS = 2
# The stack's own functions (Collect x3, Evaluate, NotifyChat, Runbook, SlackActions,
# ErrorStream, AlarmIntake): discovery lists them with the scenario's.
STACK_FUNCTIONS = 9
# What every cycle reads of the stack itself, whatever the scenario.
STACK_METRICS = STACK_WORKFLOW_METRICS + STACK_RESERVED_METRICS
# The Lambda fast path, whatever the number of functions: the Lambda family's 8 account
# aggregates (docs/architecture.md, ADR 20 and 21) and the account's Duration peak the duration
# dial reads (docs/rules.md, lambda_timeouts).
LAMBDA_FAST_PATH = 8 + 1


def play_scenario(scenario: str) -> Iterator[Emulator]:
    """Deploy with an email subscriber, play ``scenario`` to its end, yield the emulator
    (a module-scoped fixture body: ``yield from play_scenario("name")``)."""
    with Emulator.start(scenario=scenario, parameters={"AlertEmail": ALERT_EMAIL}) as emu:
        emu.play()
        outputs = alert_outputs(emu)
        assert not outputs.problems, "\n".join(outputs.problems)
        yield emu


# A console page of a region (https://<region>.console.aws.amazon.com/...); Cost Explorer is
# global and lives under us-east-1 (docs.aws.amazon.com/cost-management, "Cost Explorer").
CONSOLE_URL = re.compile(
    r"https://(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)\.console\.aws\.amazon\.com/[^\s<>|\"]+"
)
GLOBAL_COST_CONSOLE = "https://us-east-1.console.aws.amazon.com/costmanagement/"
DIGEST_SUBJECT = "more alert notifications from one evaluation"


@dataclass
class AlertOutputs:
    """What a scenario's alert notifications carried: how many alerts each channel showed,
    how many with a console link of their region, and what was wrong."""

    slack_alerts: int = 0
    slack_linked: int = 0
    emails: int = 0
    emails_linked: int = 0
    problems: list[str] = field(default_factory=list)


def alert_outputs(emu: Emulator) -> AlertOutputs:
    """Every Slack payload validates with slack_sdk's Block Kit models (the limits of
    api.slack.com/reference/block-kit/blocks); every alert a Slack message shows and every
    alert email carries a console link of the alert's region (Cost Explorer for cost), and
    no email text refers to buttons."""
    found = AlertOutputs()
    for post in emu.slack.posts:
        payload = post.payload
        if isinstance(payload, dict) and isinstance(payload.get("blocks"), list):
            found.problems += _invalid_blocks(payload["blocks"], post.title)
            for region, kind_is_cost, urls in _slack_alerts(payload["blocks"]):
                found.slack_alerts += 1
                if _linked(region, kind_is_cost, urls):
                    found.slack_linked += 1
                else:
                    found.problems.append(f"Slack alert without a {region} link: {post.title}")
    for email in emu.mailbox.emails:
        if email.attribute("category") != "alert" or DIGEST_SUBJECT in email.subject:
            continue
        found.emails += 1
        if "button" in email.body.lower():
            found.problems.append(f"email refers to buttons: {email.subject}")
        if _email_linked(email):
            found.emails_linked += 1
        else:
            found.problems.append(f"alert email without a console link: {email.subject}")
    return found


def _invalid_blocks(blocks: list[Any], title: str) -> list[str]:
    problems = [] if len(blocks) <= 50 else [f"{len(blocks)} blocks (Slack allows 50): {title}"]
    for block in blocks:
        try:
            parsed = Block.parse(block)
            if parsed is None:
                raise SlackObjectFormationError(f"not a block: {block}")
            parsed.validate_json()
        except SlackObjectFormationError as exc:
            problems.append(f"invalid Block Kit in {title!r}: {exc}")
    return problems


def _slack_alerts(blocks: list[Any]) -> Iterator[tuple[str, bool, list[str]]]:
    """Each alert a message shows (a section of fields, after a divider): its region, whether
    it is a cost alert (a value in dollars), and the URLs of the blocks up to the next
    divider."""
    alert: tuple[str, bool, list[str]] | None = None
    for block in blocks:
        if block.get("type") == "divider":
            if alert is not None:
                yield alert
            alert = None
        fields = {f["text"].split("\n", 1)[0]: f["text"] for f in block.get("fields", [])}
        if "*Account / region*" in fields:
            region = fields["*Account / region*"].rsplit(" / ", 1)[-1]
            alert = (region, "$" in fields.get("*Value*", ""), [])
        elif alert is not None:
            alert[2].extend(CONSOLE_URL_IN_BLOCK.findall(str(block)))
    if alert is not None:
        yield alert


CONSOLE_URL_IN_BLOCK = re.compile(r"https://[^\s<>|'\"]+")


def _linked(region: str, cost: bool, urls: list[str]) -> bool:
    return any(
        (match := CONSOLE_URL.fullmatch(url)) is not None
        and (match["region"] == region or (cost and url.startswith(GLOBAL_COST_CONSOLE)))
        for url in urls
    )


def _email_linked(email: Email) -> bool:
    """A console link of the alert's region (``Region:`` of a lone alert's email; a group's
    email names no region line, any console link counts)."""
    urls = CONSOLE_URL_IN_BLOCK.findall(email.body)
    region = re.search(r"^Region: +(\S+)$", email.body, flags=re.M)
    cost = re.search(r"^Value: +\$", email.body, flags=re.M) is not None
    if region is None:
        return any(CONSOLE_URL.fullmatch(url) for url in urls)
    return _linked(region[1], cost, urls)


def emails(emu: Emulator) -> list[tuple[str, str]]:
    """Every email as (simulated HH:MM, subject)."""
    return [(f"{email.sent_at:%H:%M}", email.subject) for email in emu.mailbox.emails]


def collector_cycles(emu: Emulator) -> list[dict[str, Any]]:
    """The metrics collector's per-cycle summaries, from its captured logs."""
    records = emu.logs["CollectMetricsFunction"].records()
    return [record for record in records if record.get("message") == "collected"]


def press_slack_button(
    emu: Emulator,
    action_id: str,
    value: str,
    *,
    secret: str,
    user: tuple[str, str] = ("U07ONCALL", "oncall"),
    action_ts: str = "1.1",
    response_path: str = "/actions/T000/1/response",
) -> dict[str, Any]:
    """A button press as Slack sends it (``block_actions``, form-encoded, signed with
    ``secret`` as of the emulator's clock) to SlackActionsFunction's URL; its answer. Slack's
    reply to the press goes to the emulated Slack at ``response_path``."""
    payload = {
        "type": "block_actions",
        "user": {"id": user[0], "username": user[1]},
        "actions": [{"action_id": action_id, "value": value, "action_ts": action_ts}],
        "response_url": emu.slack.base_url + response_path,
    }
    body = urlencode({"payload": json.dumps(payload)})
    timestamp = str(int(emu.now.timestamp()))
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256)
    return emu.post_function_url(
        "SlackActionsFunction",
        body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": "v0=" + digest.hexdigest(),
        },
    )
