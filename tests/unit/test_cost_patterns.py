"""Cost patterns replayed day by day through the real collector, judge and alert lifecycle.

Each case is one of the issue's measured blind spots of the daily cost judgement (issue #14,
item 3), stated as what an on-call engineer wants: an alert by a given day, no alert, or
exactly one episode. A replay runs the cost collection of each morning on the bill known by
then, judges its signals and steps each alert, as the Evaluate workflow does, and records
every notification.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest

from emulator.cost_series import ServiceSeries, generate
from vigil.alerting.lifecycle import step
from vigil.core.model import Alert, NotifyReason
from vigil.cost.collect import Anomaly, CostCollector
from vigil.rules.document import RulesConfig
from vigil.rules.kinds import judge

RULES = RulesConfig()
START = date(2026, 5, 1)
D0 = date(2026, 9, 7)  # a Monday, 129 days into the bill: where each pattern begins

Bill = dict[date, dict[str, float]]
Key = tuple[str, str]


def background(end: date) -> Bill:
    """An ordinary account: a weekday-heavy Lambda bill, DynamoDB, flat S3, month-start charges."""
    services = [
        ServiceSeries("AWS Lambda", base=100, weekend_factor=0.6, noise=0.05),
        ServiceSeries("Amazon DynamoDB", base=50, noise=0.08),
        ServiceSeries("Amazon Simple Storage Service", base=20),
        ServiceSeries("Savings Plans for AWS Compute usage", base=0, month_start_charge=500),
    ]
    return generate(services, START, end)


def with_series(bill: Bill, service: str, spend: Mapping[date, float]) -> Bill:
    """The bill with ``service`` spending ``spend`` (a day absent from it: nothing)."""
    return {
        day: {**{k: v for k, v in costs.items() if k != service}, service: spend[day]}
        if spend.get(day, 0.0) > 0
        else {k: v for k, v in costs.items() if k != service}
        for day, costs in bill.items()
    }


class BillExplorer:
    """Cost Explorer answering from a bill; nothing else is asked of it here."""

    def __init__(self, bill: Bill) -> None:
        self.bill = bill

    def daily_costs(self, start: date, end: date, dimension: str) -> dict[date, dict[str, float]]:
        return {
            start + timedelta(days=n): dict(self.bill.get(start + timedelta(days=n), {}))
            for n in range((end - start).days)
        }

    def usage_types(self, service: str, day: date) -> dict[str, float]:
        return {}

    def month_forecast(self, today: date) -> float | None:
        return None

    def anomalies(self, start: date, end: date) -> list[Anomaly]:
        return []


class NoHistory:
    def load(self, dimension: str, since: date) -> dict[date, dict[str, float]]:
        return {}

    def save(
        self, dimension: str, days: dict[date, dict[str, float]], *, fetched_at: datetime
    ) -> None:
        return None

    def fact(self, name: str, day: date) -> str | None:
        return None

    def remember(self, name: str, day: date, value: str) -> None:
        return None


@dataclass(frozen=True)
class Notice:
    day: date  # the judged day
    key: Key
    reason: NotifyReason
    summary: str


def replay(
    bill: Bill,
    first: date,
    last: date,
    rules: RulesConfig = RULES,
    *,
    hours: tuple[int, ...] = (6,),
    partial: Mapping[int, float] | None = None,
) -> list[Notice]:
    """Judge every day from ``first`` to ``last`` at ``hours`` the day after; the notices.

    ``partial`` (hour: share) is how much of yesterday Cost Explorer has at that hour.
    """
    alerts: dict[Key, Alert] = {}
    notices = []
    for run in [(d, hour) for d in days(first, (last - first).days + 1) for hour in hours]:
        day, hour = run
        known = {d: costs for d, costs in bill.items() if d <= day}
        share = (partial or {}).get(hour, 1.0)
        known[day] = {service: round(cost * share, 2) for service, cost in known[day].items()}
        collector = CostCollector(
            explorer=BillExplorer(known),
            history=NoHistory(),
            rule=rules.cost,
            account="123456789012",
            region="us-east-1",
            monthly_budget_usd=0,
        )
        now = datetime.combine(day + timedelta(days=1), time(hour), tzinfo=UTC)
        batch = collector.run(now).batch
        found = {
            (s.labels.kind, s.labels.resource): b
            for s in batch.signals
            if (b := judge(s, rules)) is not None
        }
        watched = {key for key in alerts if key[0] in batch.covered_kinds}
        for key in sorted(found.keys() | watched):
            move = step(
                alerts.get(key), found.get(key), now=now, batch_id=batch.batch_id, rules=rules
            )
            if move.after is None:
                alerts.pop(key, None)
            else:
                alerts[key] = move.after
            if move.notify is not None and move.after is not None:
                notices.append(Notice(day, key, move.notify, move.after.evidence.summary))
    return notices


def firing(notices: list[Notice]) -> list[tuple[date, Key]]:
    return [(n.day, n.key) for n in notices if n.reason is NotifyReason.FIRING]


def days(first: date, count: int) -> list[date]:
    return [first + timedelta(days=n) for n in range(count)]


def test_a_fall_of_the_total_by_60_percent_alerts_on_its_first_day() -> None:
    # The measured blind spot: drops are never reported, though a 50-70 % fall in
    # spend says something broke (here every service runs at 40 % for three days).
    end = D0 + timedelta(days=14)
    bill = background(end)
    for day in days(D0, 3):
        bill[day] = {service: round(cost * 0.4, 2) for service, cost in bill[day].items()}

    # Three runs a day, as the default CostSchedule (rate(8 hours)): a drop must still be
    # there 12 hours later (drop_for_minutes), so it fires at the third run of the day after.
    notices = replay(bill, D0 - timedelta(days=2), D0 + timedelta(days=5), hours=(1, 9, 17))

    assert [(n.day, n.key, n.reason) for n in notices] == [
        (D0, ("cost.daily_drop", "Total"), NotifyReason.FIRING),
        (D0 + timedelta(days=3), ("cost.daily_drop", "Total"), NotifyReason.RESOLVED),
    ]
    off = RulesConfig.from_json('{"cost": {"drops": "off"}}')
    assert replay(bill, D0, D0 + timedelta(days=1), off, hours=(1, 9, 17)) == []


def test_a_day_cost_explorer_has_not_finished_is_no_drop() -> None:
    # The risk drop detection adds (docs/rules.md, "Yesterday may be incomplete"): the first
    # run after midnight UTC sees less than half of yesterday; Cost Explorer has all of it by
    # the next run, before the 12 hours a drop must last.
    bill = background(D0 + timedelta(days=15))

    notices = replay(bill, D0, D0 + timedelta(days=13), hours=(1, 9, 17), partial={1: 0.45})

    assert notices == []


def test_drops_of_single_services_alert_only_when_asked_for() -> None:
    # The measured blind spot (drops), for one service: DynamoDB stops, the total
    # falls by only 30 %. With the default (the total only) that is quiet; with "all" the
    # service alerts.
    bill = background(D0 + timedelta(days=3))
    for day in days(D0, 3):
        bill[day].pop("Amazon DynamoDB")
    every = RulesConfig.from_json('{"cost": {"drops": "all"}}')

    twice = (6, 18)
    assert firing(replay(bill, D0, D0, hours=twice)) == []
    assert firing(replay(bill, D0, D0, every, hours=twice)) == [
        (D0, ("cost.daily_drop", "Amazon DynamoDB"))
    ]


def test_a_creep_of_3_percent_a_day_alerts_within_two_weeks_as_one_episode() -> None:
    # The measured blind spot: +3 %/day, which doubles spend in a month, was silent
    # for 31 days (the rolling median lags and the 30 % floor hides each day's step).
    bill = background(D0 + timedelta(days=40))
    creep = {day: round(60 * 1.03**n, 2) for n, day in enumerate(days(D0, 40))}
    flat = {day: 60.0 for day in bill if day < D0}
    bill = with_series(bill, "Amazon ECS", flat | creep)

    notices = replay(bill, D0, D0 + timedelta(days=34))

    fired = firing(notices)
    assert [key for _, key in fired] == [("cost.daily_spike", "Amazon ECS")]
    assert fired[0][0] <= D0 + timedelta(days=14)


def test_a_new_service_ramp_alerts_on_its_own_series_by_its_30_dollar_day() -> None:
    # The measured blind spot: a new service ramping $4, $8, $30, $60, $90, $120
    # never alerted on its own series (its ramp widens its own spread); only the total did,
    # late. It alerts once, on the $30 day, and the total, which it explains, stays quiet.
    ramp = dict(zip(days(D0, 6), [4.0, 8.0, 30.0, 60.0, 90.0, 120.0], strict=True))
    ramp |= dict.fromkeys(days(D0 + timedelta(days=6), 14), 120.0)
    bill = with_series(background(D0 + timedelta(days=20)), "Amazon Bedrock", ramp)

    notices = replay(bill, D0, D0 + timedelta(days=19))

    assert firing(notices) == [(D0 + timedelta(days=2), ("cost.new_service", "Amazon Bedrock"))]


def test_a_ramp_from_40_to_200_dollars_is_one_episode() -> None:
    # The measured blind spot: a service ramping $40 to $200 over 20 days fired on
    # day 2 and again and again (5 episodes, 13 notifications). One episode.
    ramp = {day: 40.0 + 8 * n for n, day in enumerate(days(D0, 21))}
    ramp |= dict.fromkeys(days(D0 + timedelta(days=21), 40), 200.0)
    ramp |= dict.fromkeys((day for day in background(D0) if day < D0), 40.0)
    bill = with_series(background(D0 + timedelta(days=60)), "Amazon OpenSearch Service", ramp)

    notices = replay(bill, D0 - timedelta(days=7), D0 + timedelta(days=59))

    key = ("cost.daily_spike", "Amazon OpenSearch Service")
    assert {n.key for n in notices} == {key}  # the total never speaks for it
    # Fired on the ramp's 3rd day, reminded once a week, escalated once the rise reached
    # $100 a day, resolved ten days into the plateau at $200, once it is the new normal.
    assert [(n.reason, (n.day - D0).days) for n in notices] == [
        (NotifyReason.FIRING, 2),
        (NotifyReason.REPEAT, 9),
        (NotifyReason.ESCALATED, 16),
        (NotifyReason.REPEAT, 23),
        (NotifyReason.RESOLVED, 30),
    ]


def test_a_sparse_service_at_its_usual_15_dollars_stays_quiet() -> None:
    # The measured blind spot: a service spending $0 most days and $15 on about one
    # day in nine alerted every time (a median of 0). Its usual $15 is quiet; $60 alerts.
    sparse = {day: 15.0 for n, day in enumerate(days(START, 200)) if n % 9 == 4}
    unusual = max(day for day in sparse if day < D0 + timedelta(days=40))
    bill = with_series(background(D0 + timedelta(days=45)), "AWS Glue", sparse | {unusual: 60.0})

    notices = replay(bill, D0, D0 + timedelta(days=44))

    assert firing(notices) == [(unusual, ("cost.daily_spike", "AWS Glue"))]


def test_a_weekly_sunday_job_on_the_1st_is_quiet() -> None:
    # The measured blind spot: a weekly job on Sundays alerted when a Sunday was
    # also the 1st (compared with earlier 1sts only). November 1, 2026 is a Sunday: it must
    # be unusual against the month starts and against the earlier Sundays, and is not.
    first = date(2026, 11, 1)
    sundays = {day: 50.0 for day in days(START, 200) if day.weekday() == 6}
    bill = with_series(background(first + timedelta(days=1)), "AWS Batch", sundays)

    assert firing(replay(bill, first - timedelta(days=1), first)) == []
    # A Sunday-1st at three times the job's usual cost is unusual against both: it alerts.
    tripled = with_series(bill, "AWS Batch", sundays | {first: 150.0})
    assert firing(replay(tripled, first, first)) == [(first, ("cost.daily_spike", "AWS Batch"))]


def test_the_total_is_quiet_when_a_service_explains_its_rise() -> None:
    # The stated rule: the Total never re-alerts a rise that a service alert already
    # explains. Lambda triples for a day ($200 more, +125 % of the total): one alert.
    bill = background(D0 + timedelta(days=3))
    bill[D0 + timedelta(days=1)]["AWS Lambda"] *= 3

    notices = replay(bill, D0, D0 + timedelta(days=2))

    assert firing(notices) == [(D0 + timedelta(days=1), ("cost.daily_spike", "AWS Lambda"))]


def test_an_ordinary_account_is_quiet_for_six_weeks() -> None:
    # The other side of every change above: drops, drift, episodes and sparse baselines add
    # no alert to a bill with noise, a weekly shape, a flat series and month-start charges.
    assert replay(background(D0 + timedelta(days=42)), D0, D0 + timedelta(days=41)) == []


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_drift_stays_quiet_on_a_noisy_weekly_bill_with_organic_growth(seed: int) -> None:
    # The risk of a drift check: a noisy weekday-heavy bill (15 to 25 % a day, weekends at
    # half, +2 %/week) has chance weeks 20 % above the three before. Measured over 60 days
    # of three seeds: the same single-day spikes as before drift existed (2, 3 and 3
    # episodes; 2, 3 and 4 before), none of them a drift.
    services = [
        ServiceSeries("AWS Lambda", base=300, weekend_factor=0.5, noise=0.15, growth_per_week=0.02),
        ServiceSeries("Amazon DynamoDB", base=80, noise=0.2),
        ServiceSeries("Amazon EC2", base=150, noise=0.1, weekend_factor=0.8),
        ServiceSeries("Amazon CloudWatch", base=25, noise=0.25),
        ServiceSeries("Tax", base=0, month_start_charge=120),
    ]
    bill = generate(services, START, D0 + timedelta(days=61), seed=seed)

    notices = replay(bill, D0, D0 + timedelta(days=59))

    assert not [n for n in notices if "drifting" in n.summary]
    assert len(firing(notices)) <= 3
