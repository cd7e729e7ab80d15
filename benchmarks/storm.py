"""A storm: thousands of functions failing at once, followed through every hop of the pipeline.

For 1,000, 10,000 and 20,000 failing functions (errors at 0.5 % of 10,000 invocations: far
above the normal 0.1 %, below the critical 1 %, so each alert is pending for the rule's
``for_minutes`` before it fires), three evaluations are timed:

- ``none->pending``: the first cycle that sees the storm;
- ``pending->firing``: five minutes later, the alerts fire;
- ``firing->resolved``: the storm is over (an empty batch covering the Lambda kinds).

Each evaluation runs the real domain code (parse the batch as the Evaluate function does,
evaluate, deliver the outbox) against the in-memory stores of ``tests/fakes.py``, in two
configurations: ``default`` (outage correlation on: the storm is one suspected outage and
the alerts it explains are muted) and ``no-correlation`` (every alert goes to routing, and
flood control folds all but the most severe messages into one digest).

For each it prints:

- bytes at every hop: the batch as JSON, what the collector hands the workflow (the batch
  inline, or a ``BatchRef`` with the batch in the bucket), the Evaluate task's output (the
  workflow state), the outbox items written, and the SNS messages published (largest one);
- Evaluate CPU seconds per transition (``time.process_time``, parse + evaluate + deliver);
- messages sent per channel (a message to a receiver goes to each of its channels).

    .venv/bin/python benchmarks/storm.py [--sizes 1000,10000,20000] [--json]

CPU seconds depend on the machine; the counts and bytes do not.
"""

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers" / "vigil"), str(ROOT)]
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

from tests.factories import T0, batch, error_signal, minutes  # noqa: E402
from tests.fakes import MemoryAlertStore, MemoryHealthStore, MemoryOutageStore  # noqa: E402
from vigil.adapters.outbox import outbox_item  # noqa: E402
from vigil.adapters.workflow import MAX_INLINE_BYTES  # noqa: E402
from vigil.alerting.outbox import deliver  # noqa: E402
from vigil.core.model import BatchRef, EvaluationSummary, Notification, SignalBatch  # noqa: E402
from vigil.evaluation.pipeline import OutagePorts, evaluate  # noqa: E402
from vigil.rules.document import RulesConfig  # noqa: E402

RUNBOOK = "arn:aws:states:us-east-1:123456789012:stateMachine:vigil-runbook"
TRANSITIONS = ("none->pending", "pending->firing", "firing->resolved")


class CountingSns:
    """Accepts everything; keeps what was published."""

    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def publish(self, notifications: Sequence[Notification]) -> list[str]:
        self.sent += notifications
        return [n.notification_id for n in notifications]


def _storm(size: int, at_minute: int) -> SignalBatch:
    at = T0 + minutes(at_minute)
    return batch(
        at,
        *[
            error_signal(f"orders-{i:05d}", invocations=10_000, errors=50, at=at)
            for i in range(size)
        ],
    )


def _hand_over(storm: SignalBatch) -> tuple[int, int]:
    """Bytes of the batch, and of what the workflow input carries for it."""
    body = storm.model_dump_json().encode()
    if len(body) <= MAX_INLINE_BYTES:
        return len(body), len(body)
    ref = BatchRef(
        batch_id=storm.batch_id,
        bucket="vigil-batchbucket-1a2b3c4d5e6f",
        key=f"batches/{storm.collected_at:%Y/%m/%d}/{storm.batch_id}.json",
        bytes=len(body),
        signals=len(storm.signals),
    )
    return len(body), len(ref.model_dump_json().encode())


def run(size: int, *, correlate: bool) -> dict[str, Any]:
    rules = RulesConfig.model_validate({"outage": {"enabled": correlate}})
    store = MemoryAlertStore()
    correlation = OutagePorts(
        outages=MemoryOutageStore(store.outbox),
        health=MemoryHealthStore(store.outbox),
        runbook_arn=RUNBOOK,
    )
    receivers = {r.name: r.channels for r in rules.routing.receivers}
    cases = []
    for name, storm in zip(
        TRANSITIONS, (_storm(size, 0), _storm(size, 5), batch(T0 + minutes(10))), strict=True
    ):
        batch_bytes, input_bytes = _hand_over(storm)
        body = storm.model_dump_json()
        sns = CountingSns()
        before = len(store.outbox.entries)
        started = time.process_time()
        parsed = SignalBatch.model_validate_json(body)
        result = evaluate(
            parsed,
            rules=rules,
            store=store,
            routing=store.routing,
            stack="vigil",
            correlation=correlation,
        )
        delivery = deliver(store.outbox, sns, batch_id=parsed.batch_id, now=parsed.collected_at)
        cpu = time.process_time() - started
        written = list(store.outbox.entries.values())[before:]
        channels: Counter[str] = Counter()
        for sent in sns.sent:
            for channel in receivers.get(sent.receiver, []):
                channels[channel] += 1
        output = {"summary": result.summary.model_dump(mode="json"), "runbooks": []}
        cases.append(
            {
                "transition": name,
                "observed": _observed(result.summary),
                "cpu_seconds": round(cpu, 3),
                "bytes": {
                    "batch": batch_bytes,
                    "workflow_input": input_bytes,
                    "by_reference": input_bytes < batch_bytes,
                    "evaluate_output": len(json.dumps(output)),
                    "outbox_items": sum(len(json.dumps(outbox_item(e))) for e in written),
                    "largest_sns_message": max(
                        (len(n.message) + len(n.subject) for n in sns.sent), default=0
                    ),
                },
                "alert_writes": store.writes,
                "messages": len(delivery.published),
                "subjects": [n.subject for n in sns.sent][:3],
                "messages_per_channel": dict(sorted(channels.items())),
            }
        )
        store.writes = 0
    return {
        "functions": size,
        "config": "default" if correlate else "no-correlation",
        "cases": cases,
    }


def _observed(summary: EvaluationSummary) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(summary.transitions.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,20000")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    results = [
        run(int(size), correlate=correlate)
        for size in args.sizes.split(",")
        for correlate in (True, False)
    ]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    header = (
        f"{'functions':>9} {'config':<14} {'transition':<17} {'cpu s':>6} {'batch B':>10}"
        f" {'input B':>8} {'output B':>8} {'outbox B':>9} {'max SNS B':>9} {'msgs':>4}  channels"
    )
    print(header)
    for result in results:
        for case in result["cases"]:
            b = case["bytes"]
            print(
                f"{result['functions']:>9,} {result['config']:<14} {case['transition']:<17}"
                f" {case['cpu_seconds']:>6.2f} {b['batch']:>10,} {b['workflow_input']:>8,}"
                f" {b['evaluate_output']:>8,} {b['outbox_items']:>9,}"
                f" {b['largest_sns_message']:>9,} {case['messages']:>4}"
                f"  {case['messages_per_channel']}"
            )


if __name__ == "__main__":
    main()
