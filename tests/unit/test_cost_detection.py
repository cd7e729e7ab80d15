"""Spike detection on realistic 90-day series: the spike alerts, the rest stays quiet."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from emulator.cost_series import ServiceSeries, generate
from tests.fakes import MemoryCostHistory
from vigil.adapters.cost_explorer import series_name
from vigil.core.errors import ConfigError
from vigil.core.model import Severity
from vigil.cost.collect import Anomaly, CostCollector, RequestCapReached
from vigil.cost.detection import (
    BaselineKind,
    assess_day,
    baseline_for,
    detection_settings,
    series_of,
)
from vigil.rules.base import Breach
from vigil.rules.cost import TOTAL, CostRule
from vigil.rules.document import RulesConfig
from vigil.rules.kinds import judge

DAY = date(2026, 11, 25)  # a Wednesday
START = DAY - timedelta(days=89)
RULES = RulesConfig()


def account(
    *, lambda_spike: float = 1.0, extra: tuple[ServiceSeries, ...] = ()
) -> list[ServiceSeries]:
    return [
        ServiceSeries(
            "AWS Lambda",
            base=100,
            weekend_factor=0.6,
            noise=0.05,
            growth_per_week=0.01,
            spikes={DAY: lambda_spike},
            usage_types={"USE1-Lambda-GB-Second-ARM": 0.8, "USE1-Request-ARM": 0.2},
        ),
        ServiceSeries("Amazon DynamoDB", base=50, noise=0.08),
        ServiceSeries("Amazon Simple Storage Service", base=20),  # flat: zero MAD
        ServiceSeries("Savings Plans for AWS Compute usage", base=0, month_start_charge=500),
        ServiceSeries("Tax", base=0, month_start_charge=80),
        ServiceSeries("AWS Step Functions", base=12, noise=0.1, first_day=DAY - timedelta(days=30)),
        *extra,
    ]


class ScriptedExplorer:
    """Answers from a generated bill; counts what it was asked."""

    def __init__(
        self, services: list[ServiceSeries], anomalies: list[Anomaly] | None = None, cap: int = 100
    ) -> None:
        self.services = services
        self.cap = cap
        self.bill = generate(services, START, DAY + timedelta(days=1))
        self.asked: list[str] = []
        self._anomalies = anomalies or []

    def _ask(self, what: str) -> None:
        if len(self.asked) >= self.cap:
            raise RequestCapReached("cap")
        self.asked.append(what)

    def daily_costs(self, start: date, end: date, dimension: str) -> dict[date, dict[str, float]]:
        self._ask(f"daily {start}..{end}" + ("" if dimension == "SERVICE" else f" {dimension}"))
        series = {s.label: s for s in self.services}
        days: dict[date, dict[str, float]] = {}
        # Like Cost Explorer, answer every day asked for, empty before the bill starts.
        for offset in range((end - start).days):
            day = start + timedelta(days=offset)
            cut = days.setdefault(day, {})
            for label, amount in self.bill.get(day, {}).items():
                key = series_name(dimension, series[label].group_key(dimension))
                cut[key] = cut.get(key, 0.0) + amount
        return days

    def usage_types(self, service: str, day: date) -> dict[str, float]:
        self._ask(f"usage {service}")
        series = next(s for s in self.services if s.name == service)
        return series.usage(self.bill[day].get(series.label, 0.0))

    def month_forecast(self, today: date) -> float | None:
        self._ask("forecast")
        return 900.0

    def anomalies(self, start: date, end: date) -> list[Anomaly]:
        self._ask("anomalies")
        return self._anomalies


def breaches(
    explorer: ScriptedExplorer,
    *,
    history: MemoryCostHistory | None = None,
    budget: float = 0.0,
    rules: RulesConfig = RULES,
) -> dict[tuple[str, str], Breach]:
    collector = CostCollector(
        explorer=explorer,
        history=history or MemoryCostHistory(),
        rule=rules.cost,
        account="123456789012",
        region="us-east-1",
        monthly_budget_usd=budget,
    )
    now = datetime.combine(DAY + timedelta(days=1), time(6), tzinfo=UTC)
    batch = collector.run(now).batch
    found = {}
    for signal in batch.signals:
        breach = judge(signal, rules)
        if breach is not None:
            found[(signal.labels.kind, signal.labels.resource)] = breach
    return found


def test_a_tripled_lambda_bill_alerts_with_its_top_usage_types() -> None:
    found = breaches(ScriptedExplorer(account(lambda_spike=3.0)))

    spike = found[("cost.daily_spike", "AWS Lambda")]
    assert spike.severity is Severity.CRITICAL
    assert "AWS Lambda spent $" in spike.evidence.summary
    assert "(the same weekday of the last 6 weeks)" in spike.evidence.summary
    assert "top usage types: USE1-Lambda-GB-Second-ARM $" in spike.evidence.summary
    # The total rose too, but Lambda explains it: one spike, one alert.
    assert set(found) == {("cost.daily_spike", "AWS Lambda")}


def test_a_rise_spread_over_many_services_shows_in_the_total() -> None:
    many = tuple(
        # each rises by $9, under the $10 floor; together by $90, 39% of the total
        ServiceSeries(f"Service {index}", base=5, noise=0.02, spikes={DAY: 2.8})
        for index in range(10)
    )

    found = breaches(ScriptedExplorer(account(extra=many)))

    assert set(found) == {("cost.daily_spike", TOTAL)}


def test_an_ordinary_day_is_quiet_despite_noise_growth_and_a_flat_series() -> None:
    assert breaches(ScriptedExplorer(account())) == {}


def test_no_day_of_the_last_two_months_alerts_without_a_spike() -> None:
    bill = generate(account(), START, DAY + timedelta(days=1))
    settings = detection_settings(RULES.cost)
    loud = []
    for offset in range(60):
        day = DAY - timedelta(days=offset)
        for assessment in assess_day({d: c for d, c in bill.items() if d <= day}, day, settings):
            base = assessment.baseline
            if base and assessment.spend >= RULES.cost.alert_threshold(base.median, base.scale):
                loud.append((day, assessment.service))
            if assessment.first_spend and assessment.spend >= RULES.cost.new_service_min_usd:
                loud.append((day, assessment.service))

    # Step Functions' first day (30 days back) is the one legitimate "new service".
    assert loud == [(DAY - timedelta(days=30), "AWS Step Functions")]


def test_a_service_spending_for_the_first_time_alerts_once_material() -> None:
    bedrock = ServiceSeries("Amazon Bedrock", base=45, first_day=DAY)
    trivial = ServiceSeries("AWS Key Management Service", base=0.5, first_day=DAY)

    found = breaches(ScriptedExplorer(account(extra=(bedrock, trivial))))

    assert ("cost.new_service", "Amazon Bedrock") in found
    assert ("cost.new_service", "AWS Key Management Service") not in found


def test_month_start_charges_are_compared_with_earlier_month_starts() -> None:
    bill = generate(account(), START, date(2026, 12, 2))
    first = date(2026, 12, 1)
    series = series_of(bill, "Savings Plans for AWS Compute usage")

    baseline = baseline_for(series, first, detection_settings(RULES.cost))

    assert baseline is not None
    assert baseline.kind is BaselineKind.MONTH_START
    assert baseline.median == 500
    assert series[first] < RULES.cost.alert_threshold(baseline.median, baseline.scale)
    assert RULES.cost.alert_threshold(baseline.median, baseline.scale) <= 1_500


def test_a_spike_already_in_the_baseline_does_not_hide_the_next_one() -> None:
    earlier = {DAY - timedelta(days=7): 3.0, DAY: 3.0}
    spiky = ServiceSeries("AWS Lambda", base=100, weekend_factor=0.6, noise=0.05, spikes=earlier)
    bill = generate([spiky], START, DAY + timedelta(days=1))

    baseline = baseline_for(series_of(bill, "AWS Lambda"), DAY, detection_settings(RULES.cost))

    assert baseline is not None
    assert baseline.median == pytest.approx(100, rel=0.1)
    assert bill[DAY]["AWS Lambda"] >= RULES.cost.alert_threshold(baseline.median, baseline.scale)


def test_a_flat_series_is_judged_on_the_material_floors_not_on_a_zero_spread() -> None:
    flat = {START + timedelta(days=n): {"S3": 20.0} for n in range(30)}
    day = START + timedelta(days=30)
    rule = CostRule()
    baseline = baseline_for(series_of(flat, "S3"), day, detection_settings(rule))

    assert baseline is not None
    assert baseline.scale == pytest.approx(1.0)  # 5% of the median, not zero
    assert rule.alert_threshold(baseline.median, baseline.scale) == pytest.approx(30.0)


def test_short_history_gives_no_verdict() -> None:
    bill = generate(account(lambda_spike=3.0), DAY - timedelta(days=3), DAY + timedelta(days=1))

    verdicts = assess_day(bill, DAY, detection_settings(RULES.cost))

    assert all(a.baseline is None and not a.first_spend for a in verdicts)


def test_aws_anomaly_detection_merges_into_the_same_alert() -> None:
    agree = Anomaly("a-1", "AWS Lambda", DAY.isoformat(), 180.0)
    alone = Anomaly("a-2", "Amazon CloudFront", DAY.isoformat(), 60.0)
    found = breaches(ScriptedExplorer(account(lambda_spike=3.0), [agree, alone]))

    assert "AWS Cost Anomaly Detection agrees (impact $180.00)" in (
        found[("cost.daily_spike", "AWS Lambda")].evidence.summary
    )
    assert "flagged by AWS Cost Anomaly Detection" in (
        found[("cost.daily_spike", "Amazon CloudFront")].evidence.summary
    )


def test_forecast_warns_and_actual_spend_pages_against_the_budget() -> None:
    # November 1 to 25: about $5,100 spent; the forecast adds $900 for the rest.
    found = breaches(ScriptedExplorer(account()), budget=5_500)

    forecast = found[("cost.budget_forecast", "monthly-budget")]
    assert forecast.severity is Severity.WARNING
    assert ("cost.budget_actual", "monthly-budget") not in found
    assert (
        breaches(ScriptedExplorer(account()), budget=5_000)[
            ("cost.budget_actual", "monthly-budget")
        ].severity
        is Severity.CRITICAL
    )


def test_a_run_asks_only_for_missing_days_and_caches_daily_answers() -> None:
    explorer = ScriptedExplorer(account(lambda_spike=3.0))
    history = MemoryCostHistory()

    breaches(explorer, history=history, budget=5_000)
    first = list(explorer.asked)
    explorer.asked.clear()
    breaches(explorer, history=history, budget=5_000)

    assert first == [
        f"daily {DAY - timedelta(days=92)}..{DAY + timedelta(days=1)}",
        "anomalies",
        "usage AWS Lambda",
        "forecast",
    ]
    assert explorer.asked == [f"daily {DAY - timedelta(days=2)}..{DAY + timedelta(days=1)}"]


def test_the_request_cap_stops_asking_and_says_so() -> None:
    explorer = ScriptedExplorer(account(lambda_spike=3.0), cap=0)

    found = breaches(explorer)

    assert explorer.asked == []
    assert found == {}


def test_a_team_tag_and_an_account_are_watched_as_series_of_their_own() -> None:
    rules = RulesConfig.from_json(
        '{"cost": {"dimensions": ["SERVICE", "LINKED_ACCOUNT", "TAG:team"]}}'
    )
    teams = (
        ServiceSeries(
            "Amazon SQS", base=30, noise=0.03, tags={"team": "payments"}, spikes={DAY: 2.0}
        ),
        ServiceSeries("Amazon SQS", base=30, noise=0.03, tags={"team": "search"}),
    )
    explorer = ScriptedExplorer(account(extra=teams))

    found = breaches(explorer, rules=rules)

    assert ("cost.daily_spike", "tag team=payments") in found
    assert ("cost.daily_spike", "tag team=search") not in found
    assert ("cost.daily_spike", "Amazon SQS") in found  # the service rose as well
    # The one account is the whole bill: +12%, under the 30% floor.
    assert ("cost.daily_spike", "account 123456789012") not in found
    assert [a for a in explorer.asked if a.startswith("daily")] == [
        f"daily {DAY - timedelta(days=92)}..{DAY + timedelta(days=1)}{suffix}"
        for suffix in ("", " LINKED_ACCOUNT", " TAG:team")
    ]


def test_dimensions_must_start_with_service_and_name_a_tag_key() -> None:
    for document in ('["LINKED_ACCOUNT"]', '["SERVICE", "REGION"]', '["SERVICE", "TAG:"]'):
        with pytest.raises(ConfigError) as caught:
            RulesConfig.from_json(f'{{"cost": {{"dimensions": {document}}}}}')
        assert "cost.dimensions" in str(caught.value)


def test_a_weekly_job_is_judged_against_its_own_weekday() -> None:
    bill = generate(account(), START, DAY + timedelta(days=1))
    for day in bill:
        if day.weekday() == 0:
            bill[day]["AWS Batch"] = 50.0  # spends on Mondays only
    monday = max(day for day in bill if day.weekday() == 0)
    history = {d: c for d, c in bill.items() if d <= monday}

    (batch,) = [
        a
        for a in assess_day(history, monday, detection_settings(RULES.cost))
        if a.service == "AWS Batch"
    ]

    assert batch.baseline is not None
    assert batch.baseline.kind is BaselineKind.WEEKDAY
    assert batch.spend < RULES.cost.alert_threshold(batch.baseline.median, batch.baseline.scale)


def test_a_run_without_yesterdays_figures_leaves_spike_alerts_alone() -> None:
    explorer = ScriptedExplorer(account(lambda_spike=3.0), cap=0)
    collector = CostCollector(
        explorer=explorer,
        history=MemoryCostHistory(),
        rule=RULES.cost,
        account="123456789012",
        region="us-east-1",
        monthly_budget_usd=0,
    )

    run = collector.run(datetime.combine(DAY + timedelta(days=1), time(6), tzinfo=UTC))

    assert run.capped
    assert "cost.daily_spike" not in run.batch.covered_kinds
    assert run.batch.signals == []


def test_a_disabled_cost_rule_asks_cost_explorer_nothing() -> None:
    rules = RulesConfig.from_json('{"cost": {"enabled": false}}')
    explorer = ScriptedExplorer(account(lambda_spike=3.0))

    found = breaches(explorer, rules=rules)

    assert explorer.asked == []
    assert found == {}


def test_unreachable_minimums_are_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        RulesConfig.from_json('{"cost": {"month_starts": 1, "min_month_starts": 2}}')

    assert "min_month_starts must not exceed month_starts" in str(caught.value)


def test_drops_name_the_total_every_series_or_none() -> None:
    # docs/rules.md, cost.drops: "total", "all" or "off"; anything else is refused by name.
    assert RulesConfig.from_json('{"cost": {"drops": "all"}}').cost.drops == "all"
    with pytest.raises(ConfigError) as caught:
        RulesConfig.from_json('{"cost": {"drops": "services"}}')

    assert "cost.drops" in str(caught.value)
