"""Noise by volume: how many alert episodes a day a function with only normal errors causes.

A function invoked ``volume`` times per 5-minute window fails at a steady background rate
(each invocation independently, so a window's errors are binomial). Every window is judged by
the real rule (``vigil.rules.kinds.judge``, the default ``lambda_errors``) and stepped through
the real alert lifecycle (``vigil.alerting.lifecycle.step``), as the Evaluate function does for
that function's signal. An episode is one ``none/resolved -> firing`` notification; repeats and
escalations of an open episode are not counted. The figure is the mean over ``--days``
simulated days (288 windows each), seeded, so every run gives the same table.

Two background rates: half the rate the seed calls normal (0.05 %) and the normal 0.1 %,
which docs/rules.md's default ``warning_rate`` is. Neither should wake anyone: the aim is at
most one episode a day at every volume.

The last column is a burst: at that volume, one window with 5 % of its invocations failing (and
at least three errors: one error is not a burst, and at 0.1 % a function of 10 invocations a
window has three single errors a day); "yes" when it fires in that very window. A rate of 5 %
is above the critical 1 %, which never waits for ``for_minutes``.

    .venv/bin/python benchmarks/noise.py [--volumes 10,100,999,1000,100000] [--days 30] [--json]
"""

import argparse
import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers" / "vigil"), str(ROOT)]

from tests.factories import error_signal  # noqa: E402
from vigil.alerting.lifecycle import step  # noqa: E402
from vigil.core.model import Alert, AlertState, NotifyReason  # noqa: E402
from vigil.rules.document import RulesConfig  # noqa: E402
from vigil.rules.kinds import judge  # noqa: E402

VOLUMES = (10, 30, 100, 300, 999, 1000, 3000, 10_000, 30_000, 100_000)
RATES = (0.0005, 0.001)
WINDOW = timedelta(minutes=5)
WINDOWS_A_DAY = 288
START = datetime(2026, 11, 2, tzinfo=UTC)


def _advance(
    alert: Alert | None, invocations: int, errors: int, at: datetime, rules: RulesConfig
) -> tuple[Alert | None, bool]:
    """One window through judge and lifecycle: the stored alert after it, and whether an
    episode opened (a firing notification)."""
    breach = None
    if errors:
        signal = error_signal("orders-api", invocations=invocations, errors=errors, at=at)
        breach = judge(signal, rules)
    transition = step(alert, breach, now=at, batch_id=at.isoformat(), rules=rules)
    return transition.after, transition.notify is NotifyReason.FIRING


def episodes_a_day(volume: int, rate: float, days: int, seed: int, rules: RulesConfig) -> float:
    rng = random.Random(f"{seed}-{volume}-{rate}")
    alert: Alert | None = None
    episodes = 0
    for index in range(days * WINDOWS_A_DAY):
        errors = rng.binomialvariate(volume, rate)
        alert, opened = _advance(alert, volume, errors, START + index * WINDOW, rules)
        episodes += opened
    return episodes / days


def burst_fires_at_once(volume: int, rules: RulesConfig) -> bool:
    """A quiet day, then one window with 5 % (at least three) of the invocations failing."""
    at = START + WINDOWS_A_DAY * WINDOW
    alert, opened = _advance(None, volume, max(3, volume // 20), at, rules)
    return opened and alert is not None and alert.state is AlertState.FIRING


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--volumes", default=",".join(str(v) for v in VOLUMES))
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="one JSON document")
    args = parser.parse_args()
    rules = RulesConfig()
    rows = [
        {
            "invocations_per_5_min": volume,
            **{
                f"episodes_a_day_at_{rate:.2%}": episodes_a_day(
                    volume, rate, args.days, args.seed, rules
                )
                for rate in RATES
            },
            "burst_fires_at_once": burst_fires_at_once(volume, rules),
        }
        for volume in (int(v) for v in args.volumes.split(","))
    ]
    if args.json:
        print(json.dumps({"days": args.days, "seed": args.seed, "rows": rows}, indent=2))
        return 0
    print(f"alert episodes a day from background errors alone (mean of {args.days} days)")
    print(f"{'invocations/5 min':>18} {'at 0.05 %':>10} {'at 0.10 %':>10} {'burst fires':>12}")
    for row in rows:
        values = list(row.values())
        burst = "yes" if values[3] else "no"
        print(f"{values[0]:>18,} {values[1]:>10.2f} {values[2]:>10.2f} {burst:>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
