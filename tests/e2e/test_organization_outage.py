"""An Organization of five member accounts in two regions, watched from one stack (issue 17's
"done when"; ADRs 50 to 53): the built-in scenario ``organization-outage``.

The monitoring account runs the real template in us-east-1 with ``OrganizationId`` (its OAM
sink); ``sink/template.yaml`` gives it a sink in eu-west-1; the member template is deployed into
``payments-prod``, ``search-prod`` and ``checkout-prod`` in both regions (the role, and a link
per region), and not into ``sandbox`` (``emulator/organization.py``). The members' workloads
write their metrics into their own accounts' CloudWatch; Vigil reads them through the sinks
(``GetMetricData`` with ``AccountId``), each (account, region) one iteration of the collect
workflow, every minute's batches merged and evaluated once.

- payments-prod's ``payments-api`` fails 10 % in us-east-1 from 10 to 25 minutes: one alert,
  naming the account by name and routed by it (``account_name="payments-prod"``);
- sandbox has no member role: one "member not connected" alert naming it; analytics-dev has
  the member template in us-east-1 only: one alert naming it, its region and the fix;
- Lambda fails in eu-west-1 in three members at once from 30 to 45 minutes: one outage notice
  naming the three accounts, not one per account or stack.
"""

from collections.abc import Iterator

import pytest

from emulator import Emulator
from tests.e2e.scenario_runs import ALERT_EMAIL, collector_cycles

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.allow_hosts(["127.0.0.1"]),
    # STS's model has no AccessDenied shape (AWS sends it as a generic error): moto says so.
    pytest.mark.filterwarnings("ignore:Exception\\(_AccessDenied\\):UserWarning"),
]


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator.start(
        scenario="organization-outage", parameters={"AlertEmail": ALERT_EMAIL}
    ) as emulator:
        emulator.set_chat_secret(
            {
                "webhook_url": emulator.slack.webhook_url,
                "payments_url": emulator.slack.base_url + "/payments",
            }
        )
        emulator.play()
        yield emulator


def _texts(emu: Emulator, *, payments: bool) -> list[str]:
    return [
        str(post.payload.get("text", ""))
        for post in emu.slack.posts
        if (post.path == "/payments") == payments
    ]


def _ids(emu: Emulator) -> dict[str, str]:
    assert emu.organization is not None
    return emu.organization.ids


def test_a_members_failing_function_is_named_by_account_and_routed_by_it(emu: Emulator) -> None:
    payments = _ids(emu)["payments-prod"]
    posts = [post.payload for post in emu.slack.posts if post.path == "/payments"]

    # payments-api's alert went to the payments owners, and only there
    texts = _texts(emu, payments=True)
    assert any("payments-api" in text and "firing" in text for text in texts), texts
    assert any("payments-api" in text and "resolved" in text.lower() for text in texts), texts
    assert not any("payments-api" in text for text in _texts(emu, payments=False))
    body = str(posts[0])
    assert "payments-prod" in body
    assert payments in body


def test_the_member_without_the_role_raises_one_alert_naming_it(emu: Emulator) -> None:
    sandbox = _ids(emu)["sandbox"]

    alerts = [t for t in _texts(emu, payments=False) if "Member account not connected" in t]

    assert f"[WARNING] Member account not connected firing: {sandbox}" in alerts
    assert len([a for a in alerts if sandbox in a]) == 1


def test_a_member_without_its_link_in_a_region_raises_one_alert_there(emu: Emulator) -> None:
    analytics = _ids(emu)["analytics-dev"]
    posts = [
        post.payload
        for post in emu.slack.posts
        if analytics in str(post.payload.get("text", ""))
        and "Member account not connected" in str(post.payload.get("text", ""))
    ]

    assert len(posts) == 1
    body = str(posts[0])
    assert "analytics-dev" in body
    assert "shares no metrics with Vigil in eu-west-1" in body
    assert "Deploy the member template in eu-west-1" in body


def test_a_regional_outage_across_three_accounts_is_one_notice_naming_them(emu: Emulator) -> None:
    ids = _ids(emu)
    notices = [
        post.payload
        for post in emu.slack.posts
        if post.path != "/payments"
        and "eu-west-1" in str(post.payload.get("text", ""))
        and "outage" in str(post.payload.get("text", "")).lower()
    ]
    opened = [n for n in notices if "resolved" not in str(n.get("text", "")).lower()]

    assert len(opened) == 1, [n.get("text") for n in notices]
    body = str(opened[0])
    for name in ("payments-prod", "search-prod", "checkout-prod"):
        assert name in body
        assert ids[name] in body
    assert "3 accounts" in body


def test_every_target_was_collected_apart_and_evaluated_together(emu: Emulator) -> None:
    cycles = collector_cycles(emu)
    targets = [
        record
        for record in emu.logs["CollectMetricsFunction"].records()
        if record.get("message") == "collected target"
    ]
    merges = [
        record
        for record in emu.logs["CollectMetricsFunction"].records()
        if record.get("message") == "merged"
    ]

    # The monitoring account in eu-west-1, and four members whose role works, in two regions.
    assert {cycle["targets"] for cycle in cycles} == {9}
    assert len(targets) == 9 * len(cycles)
    assert {(t["account"], t["region"]) for t in targets} == {
        (account, region)
        for account in [
            emu.deployment.account_id,
            *[
                _ids(emu)[name]
                for name in ("payments-prod", "search-prod", "checkout-prod", "analytics-dev")
            ],
        ]
        for region in ("us-east-1", "eu-west-1")
    } - {(emu.deployment.account_id, "us-east-1")}
    # One merge, one evaluation a cycle, none failed.
    assert len(merges) == len(cycles)
    assert all(merge["failed"] == [] for merge in merges)
    assert emu.failures == []
