"""Labelled series for the detection benchmark, modelled on how AWS metrics and bills behave.

Every generator is seeded (``random.Random`` keyed by the seed and the series' name), so a seed
gives the same series on every machine. Each series carries its incidents: ``[start, end)``
step indices (5-minute windows for metrics, days for cost) where something is wrong and an
on-call engineer wants to hear about it. Everything else in a series is normal behaviour that
must not page, and the generators put the awkward kinds of normal in on purpose:

**Traffic** (:func:`traffic_shape`, shared by the Lambda and S3 series). Request volume on AWS
follows the users: a daily cycle with a trough at 04:00 UTC at 30 % of the 16:00 peak
(business hours of Europe and the Americas), weekends at 60 % of a weekday, a multiplicative
log-normal noise per window (10 %), and about one traffic burst a day (a batch job, a client's
retry loop, a marketing push): the volume is 1.5x to 4x for 5 to 30 minutes. Counts are drawn
around that mean (Poisson), so a quiet function sees whole invocations, and zeros at night.

**Lambda errors** (:func:`lambda_series`). A function with a given volume per 5 minutes at the
weekday peak (10: a back-office function; 1,000; 100,000: a busy API), each invocation failing
independently at a background rate (binomial errors, at most 0.1 %: the timeouts, throttled
downstream calls and bad inputs every production function has). Two families:

- ``bursts``: error bursts of various sizes and lengths (a dependency's outage, a poisoned
  message being retried, a bad config push): the failing fraction is raised for 5 minutes to
  3 hours. Sizes scale with volume: 20 % to 100 % for a quiet function (one failure in a few
  calls), 1 % to 20 % for a busy one.
- ``deploys``: a deploy every 4 to 12 hours, each shifting the volume persistently by 0.7x
  to 1.5x (a client released, traffic moved between aliases; kept within half and twice the
  original) and adding a blip of init errors in its window (0.2 %, as the new execution
  environments start); these are normal.
  One deploy in three is bad: its error rate steps up (0.5 % to 3 %, 30 % to 100 % for a quiet
  function) until it is rolled back 30 minutes to 2 hours later: an incident.

**Lambda time-outs** (:func:`lambda_durations`): a function's slowest invocation per window
(``Duration`` Maximum) against its time-out. Durations are log-normal around the function's
median (sigma 0.5), so the slowest of a window grows with its invocations; three windows in ten
have a cold start (0.8 to 2.5 s of init) and one in 200 a call retried with backoff (3x to 8x
the median); time-outs are set with headroom, as they should be. Incidents, 15 minutes to 2
hours: a dependency hangs and invocations run into the time-out (Lambda cuts them there), or it
slows down and they finish at 80 % to 99 % of it.

**Cost** (:func:`cost_account`): one account's bill, day by day, as Cost Explorer reports it by
SERVICE. Every account has a steady background: EC2 (autoscaled: weekends at 85 %, noise 4 %,
0.5 % growth a week), Lambda (weekends at 60 %, noise 8 %), Route 53 (hosted zones charged on
the 1st, queries daily) and Business support (charged on the 1st at 10 % of the previous
month's usage): Cost Explorer's month-start charges, which look like a spike every month to a
naive detector. On top, one service under test, per scenario:

- ``spikes``: DynamoDB (weekends at 70 %) multiplied by 2x to 5x for 1 to 3 days (a runaway
  scan, a retry storm): incidents.
- ``drops``: Kinesis down to 10 % to 30 % for 2 to 5 days (its producer stopped): incidents.
- ``drift``: CloudWatch growing 5 % to 8 % a day for 2 to 3 weeks (a log level left at debug)
  and then fixed: incidents.
- ``new service``: a NAT gateway (VPC) or a SageMaker endpoint appearing and ramping over a week
  to its level: the first week is the incident.
- ``sparse``: Athena spending a few dollars on one day in seven (ad-hoc queries) and a domain
  renewal once: normal, nothing to find.

**S3 latency** (:func:`s3_bucket`): per-minute ``AllRequests`` and ``FirstByteLatency``
(Average) of a bucket with a request metrics filter, as CloudWatch publishes them. Latency sits
around a level (about 45 ms for small objects near their readers, 300 ms for large objects or
cross-region readers), 10 % higher at the daily peak, with a per-minute log-normal noise that
is larger when fewer requests make the average (5 % plus 1/sqrt(requests a minute)), and a
heavy tail: one minute in a hundred is 1.5x to 3x slower (a prefix being repartitioned, a
client's retries). Incidents: the latency is 1.6x to 6x for 15 minutes to 2 hours (S3 under a
regional event, a hot prefix throttled, a network path degraded). Slow spells of a few
minutes are the tail, not incidents.

Incidents are placed at random after a warm-up (the history every detector needs, and the
training prefix of the static baseline), apart from each other, at any hour and weekday.
"""

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from statistics import NormalDist

WINDOW_MINUTES = 5
WINDOWS_A_DAY = 24 * 60 // WINDOW_MINUTES
# A Monday at midnight UTC: step 0 of every metric series, day 0 of every bill.
START = datetime(2026, 1, 5, tzinfo=UTC)
START_DAY = START.date()


@dataclass(frozen=True)
class Incident:
    """Steps ``[start, end)`` where something is wrong; ``what`` says what, for the report."""

    start: int
    end: int
    what: str


@dataclass(frozen=True)
class LambdaSeries:
    """Invocations and errors per 5-minute window of one function."""

    name: str
    invocations: tuple[int, ...]
    errors: tuple[int, ...]
    incidents: tuple[Incident, ...]
    warmup: int


@dataclass(frozen=True)
class CostAccount:
    """One account's daily spend by service (day ``i`` is ``START_DAY + i``); zeros left out.
    The incidents are the ``target`` service's."""

    name: str
    target: str
    days: tuple[dict[str, float], ...]
    incidents: tuple[Incident, ...]
    warmup: int

    def services(self) -> list[str]:
        return sorted({service for costs in self.days for service in costs})


@dataclass(frozen=True)
class S3Bucket:
    """Requests and average latency per minute of one bucket; incidents in 5-minute windows."""

    name: str
    requests: tuple[float, ...]
    latency_ms: tuple[float, ...]
    incidents: tuple[Incident, ...]
    warmup: int


def _rng(seed: int, name: str) -> random.Random:
    return random.Random(f"{seed}:{name}")


def traffic_shape(at: datetime) -> float:
    """The share of the weekday peak at ``at``: the daily cycle times the weekend dip."""
    hour = at.hour + at.minute / 60
    daily = 0.3 + 0.7 * (1 - math.cos(2 * math.pi * (hour - 4) / 24)) / 2
    return daily * (0.6 if at.weekday() >= 5 else 1.0)


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson count (Knuth's method; the normal approximation above 50)."""
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def binomial(rng: random.Random, trials: int, p: float) -> int:
    if trials <= 0 or p <= 0:
        return 0
    return trials if p >= 1 else rng.binomialvariate(trials, p)


def place(
    rng: random.Random, lengths: Sequence[int], *, lo: int, hi: int, gap: int
) -> list[tuple[int, int]]:
    """Non-overlapping ``[start, end)`` spans of the given lengths in ``[lo, hi)``, at least
    ``gap`` steps apart, in time order (by rejection; a span that does not fit is dropped)."""
    spans: list[tuple[int, int]] = []
    for length in lengths:
        for _ in range(200):
            start = rng.randrange(lo, max(lo + 1, hi - length))
            if all(start + length + gap <= s or e + gap <= start for s, e in spans):
                spans.append((start, start + length))
                break
    return sorted(spans)


def traffic(rng: random.Random, mean: float, windows: int, minutes: int = 1) -> list[float]:
    """Expected volume per step (``minutes`` long) at peak mean ``mean``: shape, noise, bursts."""
    volume = []
    burst_left, burst = 0, 1.0
    bursts_a_step = minutes / (24 * 60)  # about one a day
    for index in range(windows):
        if burst_left == 0 and rng.random() < bursts_a_step:
            burst_left = rng.randint(5, 30) // minutes or 1
            burst = rng.uniform(1.5, 4.0)
        factor = burst if burst_left else 1.0
        burst_left = max(0, burst_left - 1)
        at = START + timedelta(minutes=index * minutes)
        volume.append(mean * traffic_shape(at) * factor * rng.lognormvariate(0, 0.1))
    return volume


def lambda_series(
    family: str, mean: int, *, days: int, warmup_days: int, seed: int, background: float
) -> LambdaSeries:
    """One function's 5-minute invocations and errors; ``family`` is ``bursts`` or ``deploys``."""
    name = f"{family} at {mean:,}/5 min"
    rng = _rng(seed, name)
    windows, warmup = days * WINDOWS_A_DAY, warmup_days * WINDOWS_A_DAY
    expected = traffic(rng, mean, windows, WINDOW_MINUTES)
    quiet = mean < 100
    rate = [background] * windows
    incidents: list[Incident] = []
    if family == "bursts":
        count = max(1, (days - warmup_days) * 2 // 3)
        lengths = [rng.choice((1, 3, 6, 12, 36)) for _ in range(count)]
        sizes = (0.2, 0.5, 1.0) if quiet else (0.01, 0.02, 0.05, 0.2)
        for start, end in place(rng, lengths, lo=warmup, hi=windows, gap=WINDOWS_A_DAY // 4):
            size = rng.choice(sizes)
            rate[start:end] = [size] * (end - start)
            incidents.append(Incident(start, end, f"{size:.0%} errors for {(end - start) * 5} min"))
    elif family == "deploys":
        shift, index = 1.0, warmup // 2
        while (index := index + rng.randint(4, 12) * 12) < windows:
            moved = min(2.0, max(0.5, shift * rng.uniform(0.7, 1.5)))
            expected[index:] = [v * moved / shift for v in expected[index:]]
            shift = moved
            rate[index] = max(rate[index], 0.002)
            if index >= warmup and rng.random() < 1 / 3:
                end = min(windows, index + rng.randint(6, 24))
                size = rng.uniform(0.3, 1.0) if quiet else rng.uniform(0.005, 0.03)
                rate[index:end] = [size] * (end - index)
                incidents.append(Incident(index, end, f"bad deploy: {size:.1%} errors"))
    else:
        raise ValueError(f"unknown Lambda family {family!r}")
    invocations = [poisson(rng, v) for v in expected]
    errors = [binomial(rng, n, p) for n, p in zip(invocations, rate, strict=True)]
    return LambdaSeries(name, tuple(invocations), tuple(errors), tuple(incidents), warmup)


@dataclass(frozen=True)
class DurationSeries:
    """A function's slowest invocation per 5-minute window (``Duration`` Maximum; 0 when it was
    not invoked) and its configured time-out."""

    name: str
    timeout_ms: float
    max_ms: tuple[float, ...]
    incidents: tuple[Incident, ...]
    warmup: int


def lambda_durations(
    name: str,
    mean: int,
    *,
    median_ms: float,
    timeout_ms: float,
    days: int,
    warmup_days: int,
    seed: int,
) -> DurationSeries:
    """One function's ``Duration`` Maximum per window (see the module docstring)."""
    rng = _rng(seed, f"duration {name}")
    windows, warmup = days * WINDOWS_A_DAY, warmup_days * WINDOWS_A_DAY
    invocations = [poisson(rng, v) for v in traffic(rng, mean, windows, WINDOW_MINUTES)]
    slow: dict[int, float] = {}
    incidents: list[Incident] = []
    lengths = [rng.choice((3, 6, 12, 24)) for _ in range((days - warmup_days) * 2 // 3)]
    for start, end in place(rng, lengths, lo=warmup, hi=windows, gap=WINDOWS_A_DAY // 4):
        if rng.random() < 0.5:
            incidents.append(Incident(start, end, f"time-outs for {(end - start) * 5} min"))
            slow.update(dict.fromkeys(range(start, end), timeout_ms))
        else:
            incidents.append(Incident(start, end, f"near the time-out for {(end - start) * 5} min"))
            slow.update({i: rng.uniform(0.8, 0.99) * timeout_ms for i in range(start, end)})
    normal = NormalDist()
    peaks = []
    for index, count in enumerate(invocations):
        if not count:
            peaks.append(0.0)
            continue
        # The largest of ``count`` log-normal durations, drawn through its own distribution.
        top = max(rng.random(), 1e-12) ** (1 / count)
        peak = median_ms * math.exp(0.5 * normal.inv_cdf(min(top, 1 - 1e-12)))
        if rng.random() < 0.3:
            peak = max(peak, rng.uniform(800, 2_500))  # a cold start's init
        if rng.random() < 1 / 200:
            peak = max(peak, median_ms * rng.uniform(3, 8))  # retries with backoff
        peaks.append(round(min(timeout_ms, max(peak, slow.get(index, 0.0))), 1))
    return DurationSeries(name, timeout_ms, tuple(peaks), tuple(incidents), warmup)


# ------------------------------------------------------------------------------------ cost


def _daily(rng: random.Random, base: float, day: date, *, weekend: float, noise: float) -> float:
    value = base * (weekend if day.weekday() >= 5 else 1.0)
    return value * max(0.0, rng.gauss(1.0, noise))


def _level(
    rng: random.Random, base: float, days: int, *, weekend: float, noise: float
) -> list[float]:
    return [
        _daily(rng, base, START_DAY + timedelta(days=d), weekend=weekend, noise=noise)
        for d in range(days)
    ]


Target = tuple[str, list[float], list[Incident]]


def _spikes(rng: random.Random, days: int, first: int) -> Target:
    spend = _level(rng, 40, days, weekend=0.7, noise=0.08)
    incidents = []
    lengths = [rng.randint(1, 3) for _ in range((days - first) // 12)]
    for start, end in place(rng, lengths, lo=first, hi=days, gap=7):
        factor = rng.uniform(2, 5)
        spend[start:end] = [v * factor for v in spend[start:end]]
        incidents.append(Incident(start, end, f"spend x{factor:.1f}"))
    return "Amazon DynamoDB", spend, incidents


def _drops(rng: random.Random, days: int, first: int) -> Target:
    spend = _level(rng, 60, days, weekend=1.0, noise=0.05)
    incidents = []
    lengths = [rng.randint(2, 5) for _ in range((days - first) // 20)]
    for start, end in place(rng, lengths, lo=first, hi=days, gap=10):
        factor = rng.uniform(0.1, 0.3)
        spend[start:end] = [v * factor for v in spend[start:end]]
        incidents.append(Incident(start, end, f"spend down to {factor:.0%}"))
    return "Amazon Kinesis", spend, incidents


def _drift(rng: random.Random, days: int, first: int) -> Target:
    spend = _level(rng, 15, days, weekend=0.9, noise=0.06)
    incidents = []
    lengths = [rng.randint(14, 21) for _ in range(max(1, (days - first) // 40))]
    for start, end in place(rng, lengths, lo=first, hi=days, gap=7):
        growth = rng.uniform(0.05, 0.08)
        spend[start:end] = [v * (1 + growth) ** (d + 1) for d, v in enumerate(spend[start:end])]
        incidents.append(Incident(start, end, f"+{growth:.0%} a day"))
    return "AmazonCloudWatch", spend, incidents


def _new_service(service: str, level: float) -> Callable[[random.Random, int, int], Target]:
    def target(rng: random.Random, days: int, first: int) -> Target:
        start = rng.randrange(first, days - 14)
        ramp = [0.0] * start + [min(1.0, (d + 1) / 7) for d in range(days - start)]
        spend = [
            r * v
            for r, v in zip(ramp, _level(rng, level, days, weekend=1.0, noise=0.05), strict=True)
        ]
        return service, spend, [Incident(start, start + 7, f"new, ramping to ${level:.0f} a day")]

    return target


def _sparse(rng: random.Random, days: int, first: int) -> Target:
    spend = [rng.uniform(1, 12) if rng.random() < 1 / 7 else 0.0 for _ in range(days)]
    spend[rng.randrange(first, days)] += 12.0  # a domain renewal, billed once a year
    return "Amazon Athena", spend, []


COST_TARGETS: dict[str, Callable[[random.Random, int, int], Target]] = {
    "spikes": _spikes,
    "drops": _drops,
    "drift": _drift,
    "new service small": _new_service("Amazon SageMaker", 15.0),
    "new service large": _new_service("Amazon Virtual Private Cloud", 45.0),
    "sparse": _sparse,
}


def cost_account(
    scenario: str, *, days: int, warmup_days: int, seed: int, copy: int = 1
) -> CostAccount:
    """One account's bill (see the module docstring); ``scenario`` names the service under
    test (a key of :data:`COST_TARGETS`)."""
    name = f"{scenario} #{copy}"
    rng = _rng(seed, f"cost {name}")
    service, target, incidents = COST_TARGETS[scenario](rng, days, warmup_days)
    bill: list[dict[str, float]] = []
    usage_by_month: dict[tuple[int, int], float] = {}
    for d in range(days):
        day = START_DAY + timedelta(days=d)
        costs = {
            "Amazon Elastic Compute Cloud - Compute": _daily(
                rng, 120 * 1.005 ** (d / 7), day, weekend=0.85, noise=0.04
            ),
            "AWS Lambda": _daily(rng, 25, day, weekend=0.6, noise=0.08),
            "Amazon Route 53": 0.4 * rng.uniform(0.9, 1.1) + (25.0 if day.day == 1 else 0.0),
            service: target[d],
        }
        month = (day.year, day.month)
        usage_by_month[month] = usage_by_month.get(month, 0.0) + sum(costs.values())
        if day.day == 1:
            previous = (day.year - 1, 12) if day.month == 1 else (day.year, day.month - 1)
            # Business support: 10 % of last month's usage (before the bill starts, a month
            # of the first day's).
            costs["AWS Support (Business)"] = 0.1 * usage_by_month.get(
                previous, 30 * sum(costs.values())
            )
        bill.append({key: round(value, 2) for key, value in costs.items() if value >= 0.005})
    return CostAccount(name, service, tuple(bill), tuple(incidents), warmup_days)


# ------------------------------------------------------------------------------------- S3


def s3_bucket(
    name: str, level_ms: float, *, requests_a_minute: float, days: int, warmup_days: int, seed: int
) -> S3Bucket:
    """One bucket's per-minute requests and first-byte latency (see the module docstring)."""
    rng = _rng(seed, f"s3 {name}")
    minutes = days * 24 * 60
    expected = traffic(rng, requests_a_minute, minutes)
    requests = [float(poisson(rng, v)) for v in expected]
    factor = [1.0] * minutes
    windows, warmup = days * WINDOWS_A_DAY, warmup_days * WINDOWS_A_DAY
    lengths = [rng.choice((3, 6, 12, 24)) for _ in range((days - warmup_days) * 2)]
    incidents: list[Incident] = []
    for start, end in place(rng, lengths, lo=warmup, hi=windows, gap=WINDOWS_A_DAY // 6):
        slower = rng.choice((1.6, 2.0, 3.0, 6.0))
        span = range(start * WINDOW_MINUTES, end * WINDOW_MINUTES)
        for minute in span:
            factor[minute] = slower
        incidents.append(Incident(start, end, f"latency x{slower} for {(end - start) * 5} min"))
    latency = []
    for minute, count in enumerate(requests):
        at = START + timedelta(minutes=minute)
        load = 1 + 0.1 * traffic_shape(at)
        noise = rng.lognormvariate(0, 0.05 + 1 / math.sqrt(max(count, 1)))
        tail = rng.uniform(1.5, 3.0) if rng.random() < 0.01 else 1.0
        latency.append(round(level_ms * load * noise * tail * factor[minute], 1))
    return S3Bucket(name, tuple(requests), tuple(latency), tuple(incidents), warmup)


# ------------------------------------------------------------------------------ scenarios

LAMBDA_VOLUMES = (10, 1_000, 100_000)


def lambda_scenarios(*, days: int, warmup_days: int, seed: int) -> list[LambdaSeries]:
    """Bursts and deploys at each volume; background 0.1 % for a quiet function, 0.05 % else."""
    return [
        lambda_series(
            family,
            mean,
            days=days,
            warmup_days=warmup_days,
            seed=seed,
            background=0.001 if mean < 100 else 0.0005,
        )
        for mean in LAMBDA_VOLUMES
        for family in ("bursts", "deploys")
    ]


def duration_scenarios(*, days: int, warmup_days: int, seed: int) -> list[DurationSeries]:
    """An API function (120 ms, 6-second time-out, 1,000 a window at peak) and a worker (4 s,
    a minute's time-out, 30 a window)."""
    return [
        lambda_durations(
            "api",
            1_000,
            median_ms=120,
            timeout_ms=6_000,
            days=days,
            warmup_days=warmup_days,
            seed=seed,
        ),
        lambda_durations(
            "worker",
            30,
            median_ms=4_000,
            timeout_ms=60_000,
            days=days,
            warmup_days=warmup_days,
            seed=seed,
        ),
    ]


def cost_scenarios(*, days: int, warmup_days: int, seed: int, copies: int = 2) -> list[CostAccount]:
    """``copies`` accounts per scenario, each drawn with its own random stream."""
    return [
        cost_account(scenario, days=days, warmup_days=warmup_days, seed=seed, copy=copy)
        for scenario in COST_TARGETS
        for copy in range(1, copies + 1)
    ]


def s3_scenarios(*, days: int, warmup_days: int, seed: int) -> list[S3Bucket]:
    """A fast bucket (about 45 ms, 2,000 requests a minute at peak) and a slow one (about 300
    ms, 60 a minute at peak: the nightly trough is near the 100-request floor per window)."""
    return [
        s3_bucket(
            "fast", 45.0, requests_a_minute=2_000, days=days, warmup_days=warmup_days, seed=seed
        ),
        s3_bucket(
            "slow", 300.0, requests_a_minute=60, days=days, warmup_days=warmup_days, seed=seed
        ),
    ]
