"""The routing tree, grouping and timing, silences and inhibition (docs/rules.md, Routing)."""

import json
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import T0, batch, error_signal, minutes
from tests.fakes import MemoryAlertStore
from vigil.alerting.silences import Silence
from vigil.channels.delivery import chat_keys
from vigil.core.errors import ConfigError
from vigil.core.model import EvaluationResult, SignalBatch
from vigil.evaluation.pipeline import evaluate
from vigil.rules.document import RulesConfig
from vigil.rules.routing import destinations

ROUTED = RulesConfig.from_json(
    json.dumps(
        {
            "lambda_errors": {"for_minutes": 0},
            "routing": {
                "receivers": [
                    {"name": "pager", "email": True, "slack": "webhook_url"},
                    {"name": "chat", "slack": "webhook_url", "send_resolved": False},
                ],
                "route": {
                    "receivers": ["chat"],
                    "group_by": ["kind", "region"],
                    "group_wait": "0s",
                    "group_interval": "5m",
                    "repeat_interval": "4h",
                    "routes": [
                        {"match": {"severity": "critical"}, "receivers": ["pager"]},
                    ],
                },
            },
        }
    )
)


def _run(
    store: MemoryAlertStore, rules: RulesConfig, signal_batch: SignalBatch
) -> EvaluationResult:
    return evaluate(signal_batch, rules=rules, store=store, routing=store.routing, stack="vigil")


def test_the_default_config_sends_every_alert_to_email_and_slack_on_its_own() -> None:
    store = MemoryAlertStore()

    result = _run(store, RulesConfig(), batch(T0, error_signal("a", invocations=1, errors=1)))

    (notification,) = result.notifications
    assert notification.receiver == "default"
    assert json.loads(notification.channels) == ["email", "slack"]


def test_a_storm_across_50_resources_is_one_grouped_message() -> None:
    store = MemoryAlertStore()
    storm = [error_signal(f"fn-{i:02d}", invocations=1, errors=1) for i in range(50)]

    result = _run(store, ROUTED, batch(T0, *storm))

    (notification,) = result.notifications
    assert notification.subject == "[WARNING] Lambda errors: 50 firing"
    assert notification.receiver == "chat"
    text = json.loads(notification.message)["email"]
    assert all(f"fn-{i:02d}" in text for i in range(50))
    assert len(store.items) == 50


def test_critical_alerts_page_email_and_slack_and_warnings_go_to_slack_only() -> None:
    store = MemoryAlertStore()

    result = _run(
        store,
        ROUTED,
        batch(
            T0,
            error_signal("busy", invocations=100_000, errors=5_000),
            error_signal("quiet", invocations=1, errors=1),
        ),
    )

    routed = {n.receiver: json.loads(n.channels) for n in result.notifications}
    assert routed == {"pager": ["email", "slack"], "chat": ["slack"]}


def test_a_group_waits_its_interval_then_sends_what_joined_meanwhile() -> None:
    store = MemoryAlertStore()
    _run(store, ROUTED, batch(T0, error_signal("a", invocations=1, errors=1)))
    signals = [error_signal(r, invocations=1, errors=1) for r in ("a", "b")]

    early = _run(store, ROUTED, batch(T0 + minutes(2), *signals))
    due = _run(store, ROUTED, batch(T0 + minutes(5), *signals))

    assert early.notifications == []
    assert [n.subject for n in due.notifications] == ["[WARNING] Lambda errors: 2 firing"]


def test_without_send_resolved_a_receiver_hears_no_resolution() -> None:
    store = MemoryAlertStore()
    _run(store, ROUTED, batch(T0, error_signal("a", invocations=1, errors=1)))

    cleared = _run(store, ROUTED, batch(T0 + minutes(5)))

    assert cleared.notifications == []
    assert not store.groups.open_groups()


def test_a_silence_mutes_exactly_what_it_matches_and_the_alerts_are_still_recorded() -> None:
    store = MemoryAlertStore()
    store.silences.items.append(
        Silence(
            silence_id="0123456789abcdef",
            matchers={"match": {"resource": "orders-*"}},
            starts_at=T0,
            ends_at=T0 + timedelta(hours=2),
            comment="deploy",
        )
    )
    signals = [error_signal(r, invocations=1, errors=1) for r in ("orders-api", "search-api")]

    result = _run(store, RulesConfig(), batch(T0, *signals))

    assert [n.subject for n in result.notifications] == [
        "[WARNING] Lambda errors firing: search-api"
    ]
    assert result.summary.silenced == 1
    assert len(store.items) == 2


def test_an_inhibit_rule_mutes_warnings_while_a_critical_fires_in_the_same_region() -> None:
    rules = RulesConfig.from_json(
        json.dumps(
            {
                "routing": {
                    "inhibit_rules": [
                        {
                            "source": {"match": {"severity": "critical"}},
                            "target": {"match": {"severity": "warning"}},
                            "equal": ["region"],
                        }
                    ]
                },
                "lambda_errors": {"for_minutes": 0},
            }
        )
    )
    store = MemoryAlertStore()

    result = _run(
        store,
        rules,
        batch(
            T0,
            error_signal("busy", invocations=100_000, errors=5_000),
            error_signal("quiet", invocations=1, errors=1),
        ),
    )

    assert [n.subject for n in result.notifications] == ["[CRITICAL] Lambda errors firing: busy"]
    assert result.summary.inhibited == 1


@pytest.mark.parametrize(
    ("routing", "field"),
    [
        ({"route": {"routes": [{"receivers": ["nobody"]}]}}, "route.routes.0.receivers"),
        ({"route": {"group_wait": "soon"}}, "routing.route.group_wait"),
        ({"route": {"routes": [{"match": {"team-name": "red"}}]}}, "routing.route.routes.0.match"),
        ({"route": {"routes": [{"match_re": {"kind": "("}}]}}, "routing.route.routes.0.match_re"),
    ],
)
def test_a_routing_error_names_the_field(routing: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        RulesConfig.from_json(json.dumps({"routing": routing}))


def test_children_inherit_and_continue_reaches_later_siblings() -> None:
    rules = RulesConfig.from_json(
        json.dumps(
            {
                "routing": {
                    "receivers": [
                        {"name": "default", "email": True},
                        {"name": "audit", "webhook": "audit_url"},
                    ],
                    "route": {
                        "routes": [
                            {"match": {"kind": "lambda.*"}, "continue": True, "group_wait": "1m"},
                            {"match_re": {"resource": "orders-.*"}, "receivers": ["audit"]},
                        ]
                    },
                }
            }
        )
    )
    values = {
        "kind": "lambda.errors",
        "severity": "warning",
        "resource": "orders-api",
        "account": "123456789012",
        "region": "us-east-1",
        "service": "lambda",
    }

    found = destinations(rules.routing, values, repeat_interval=timedelta(hours=4))

    assert [(d.route, d.receivers, d.group_wait) for d in found] == [
        ("route.routes.0", ("default",), timedelta(minutes=1)),
        ("route.routes.1", ("audit",), timedelta(0)),
    ]


# The invariants, over random sequences of cycles in which each of three functions fails or not.
cycles = st.lists(st.lists(st.booleans(), min_size=3, max_size=3), min_size=1, max_size=14)


@settings(max_examples=40, deadline=None)
@given(cycles=cycles, replay=st.booleans())
def test_invariants_of_grouped_notification(cycles: list[list[bool]], replay: bool) -> None:
    store = MemoryAlertStore()
    heard: dict[str, str] = {}  # receiver's view per alert resource: firing or resolved
    sends: list[tuple[timedelta, str]] = []
    firing_before: set[str] = set()
    epoch = 0  # counts changes of what fires: an alert that resolved may fire and be sent again
    for index, failing in enumerate(cycles):
        at = T0 + minutes(5 * index)
        signals = [
            error_signal(name, invocations=1, errors=1, at=at)
            for name, bad in zip(("a", "b", "c"), failing, strict=True)
            if bad
        ]
        signal_batch = batch(at, *signals)
        result = _run(store, ROUTED, signal_batch)
        firing_now = {fp for fp, a in store.items.items() if a.state.value == "firing"}
        epoch += firing_now != firing_before
        firing_before = firing_now
        if replay:  # a retried evaluation hands back the same notifications, sends no new ones
            again = _run(store, ROUTED, signal_batch)
            assert [n.notification_id for n in again.notifications] == [
                n.notification_id for n in result.notifications
            ]
        for notification in result.notifications:
            payload = json.loads(json.loads(notification.message)["lambda"])
            state = f"{epoch}:" + ",".join(
                sorted(f"{a['labels']['resource']}={a['state']}" for a in payload["alerts"])
            )
            # no receiver hears the same group state twice within the repeat interval
            last = [t for t, s in sends if s == f"{notification.receiver}|{state}"]
            assert not last or at - T0 - last[-1] >= timedelta(hours=4)
            sends.append((at - T0, f"{notification.receiver}|{state}"))
            for alert in payload["alerts"]:
                resource = alert["labels"]["resource"]
                if alert["state"] == "resolved":
                    # a resolution only follows a firing the receiver heard
                    assert heard.get(resource) == "firing"
                heard[resource] = alert["state"]
        # a firing alert is never lost: each one is in the table and an open group
        members = {fp for g in store.groups.open_groups() for fp in g.members}
        for fingerprint, alert in store.items.items():
            if alert.state.value == "firing":
                assert fingerprint in members


def test_chat_posts_only_to_the_slack_webhooks_of_the_receiver() -> None:
    routing = ROUTED.routing.model_copy(
        update={"receivers": [*ROUTED.routing.receivers, *RulesConfig().routing.receivers]}
    )
    mail_only = RulesConfig.from_json(
        '{"routing": {"receivers": [{"name": "default", "email": true}]}}'
    ).routing

    assert chat_keys(routing, "pager", "slack") == ["webhook_url"]
    assert chat_keys(mail_only, "default", "slack") == []
    assert chat_keys(mail_only, None, "slack") == []  # a self-watch alarm follows the root route
