from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import T0, error_signal, minutes
from vigil.alerting.lifecycle import step
from vigil.core.model import Alert, AlertState, NotifyReason
from vigil.rules.base import Breach
from vigil.rules.document import RulesConfig
from vigil.rules.kinds import judge

RULES = RulesConfig()


def burst(at: datetime, errors: float = 500) -> Breach:
    """0.5 % of a busy function: significant, below the critical rate, so held for ``for``."""
    breach = judge(error_signal("orders-api", invocations=100_000, errors=errors, at=at), RULES)
    assert breach is not None
    return breach


def single_error(at: datetime) -> Breach:
    breach = judge(error_signal("nightly-report", invocations=1, errors=1, at=at), RULES)
    assert breach is not None
    return breach


def run(current: Alert | None, breach: Breach | None, at: datetime):  # type: ignore[no-untyped-def]
    return step(current, breach, now=at, batch_id=f"b-{at:%H%M}", rules=RULES)


def test_a_high_volume_breach_is_pending_until_it_lasts_for_its_duration() -> None:
    first = run(None, burst(T0), T0)
    second = run(first.after, burst(T0 + minutes(5)), T0 + minutes(5))

    assert first.after is not None
    assert first.after.state is AlertState.PENDING
    assert first.notify is None
    assert second.after is not None
    assert second.after.state is AlertState.FIRING
    assert second.notify is NotifyReason.FIRING
    assert second.after.fired_at == T0 + minutes(5)


def test_a_transient_high_volume_breach_clears_without_a_word() -> None:
    pending = run(None, burst(T0), T0).after
    cleared = run(pending, None, T0 + minutes(5))

    assert cleared.after is None
    assert cleared.notify is None


def test_a_low_volume_error_fires_at_once() -> None:
    transition = run(None, single_error(T0), T0)

    assert transition.after is not None
    assert transition.after.state is AlertState.FIRING
    assert transition.notify is NotifyReason.FIRING


def test_a_firing_alert_repeats_only_after_the_repeat_interval() -> None:
    alert = run(None, single_error(T0), T0).after
    notes = []
    at = T0
    for _ in range(60):  # five hours of five-minute cycles
        at += minutes(5)
        transition = run(alert, single_error(at), at)
        alert = transition.after
        notes.append((at, transition.notify))

    repeats = [at for at, note in notes if note is NotifyReason.REPEAT]
    assert repeats == [T0 + minutes(240)]


def test_an_escalation_notifies_before_the_repeat_interval() -> None:
    alert = run(run(None, burst(T0, 500), T0).after, burst(T0 + minutes(5), 500), T0 + minutes(5))
    escalated = run(alert.after, burst(T0 + minutes(10), 5_000), T0 + minutes(10))

    assert escalated.notify is NotifyReason.ESCALATED
    assert escalated.after is not None
    assert escalated.after.severity.value == "critical"


def test_a_firing_alert_that_clears_resolves_and_says_so() -> None:
    firing = run(None, single_error(T0), T0).after
    resolved = run(firing, None, T0 + minutes(5))

    assert resolved.after is not None
    assert resolved.after.state is AlertState.RESOLVED
    assert resolved.notify is NotifyReason.RESOLVED
    assert resolved.after.resolved_at == T0 + minutes(5)


def test_resolved_notifications_can_be_turned_off() -> None:
    rules = RulesConfig.from_json('{"send_resolved": false}')
    firing = step(None, single_error(T0), now=T0, batch_id="a", rules=rules).after
    resolved = step(firing, None, now=T0 + minutes(5), batch_id="b", rules=rules)

    assert resolved.after is not None
    assert resolved.after.state is AlertState.RESOLVED
    assert resolved.notify is None


def test_replaying_the_same_batch_changes_nothing_but_repeats_its_decision() -> None:
    first = step(None, single_error(T0), now=T0, batch_id="same", rules=RULES)
    again = step(first.after, single_error(T0), now=T0, batch_id="same", rules=RULES)

    assert not again.changed
    assert again.notify is NotifyReason.FIRING


def test_a_repeat_keeps_the_highest_severity_seen_while_firing() -> None:
    alert = run(None, burst(T0, 5_000), T0).after
    alert = run(alert, burst(T0 + minutes(5), 5_000), T0 + minutes(5)).after
    repeat = run(alert, burst(T0 + minutes(245), 500), T0 + minutes(245))

    assert repeat.notify is NotifyReason.REPEAT
    assert repeat.after is not None
    assert repeat.after.severity.value == "critical"


def test_a_batch_older_than_the_alert_is_ignored() -> None:
    firing = run(None, single_error(T0 + minutes(10)), T0 + minutes(10)).after
    late = run(firing, None, T0)

    assert not late.changed


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["ok", "warn", "crit"]), min_size=1, max_size=80))
def test_lifecycle_invariants_hold_for_any_sequence(pattern: list[str]) -> None:
    """Resolved follows firing only; no two firing-state notices inside the repeat
    interval unless severity rose; every firing alert is eventually notified."""
    alert: Alert | None = None
    last_notice: datetime | None = None
    was_firing = False
    for index, kind in enumerate(pattern):
        at = T0 + minutes(5 * index)
        breach = {"ok": None, "warn": burst(at, 500), "crit": burst(at, 5_000)}[kind]
        transition = run(alert, breach, at)
        if transition.notify is NotifyReason.RESOLVED:
            assert was_firing
        if transition.notify is NotifyReason.REPEAT:
            assert last_notice is not None
            assert at - last_notice >= minutes(RULES.repeat_interval_minutes)
        if transition.after is not None and transition.after.state is AlertState.FIRING:
            assert transition.after.last_notified is not None
        if transition.notify is not None:
            last_notice = at
        if transition.notify is NotifyReason.RESOLVED:
            last_notice = None
        alert = transition.after
        was_firing = alert is not None and alert.state is AlertState.FIRING
