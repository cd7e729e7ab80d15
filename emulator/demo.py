"""Play a scenario against the real template and handlers, and show what Vigil did.

Usage::

    python -m emulator.demo [--scenario NAME_OR_PATH] [--out DIR] [--alert-email ADDRESS]
                            [-p KEY=VALUE ...] [--describe] [--echo-logs]
                            [--until OFFSET] [--serve [--port PORT]]

Deploys ``template.yaml`` into in-process moto, plays the scenario (default ``outage-demo``)
on simulated time and prints a timeline: each schedule fired, each workflow execution's result,
each Slack message (its title) and email (its subject), Lambda errors and events given up on.
Everything is written under ``--out`` (default ``demo-output/<scenario>-<UTC time>/``): Slack
payloads (JSON), emails (text), every execution's history (JSON), handler logs, the timeline.
``--until 40m`` plays only the scenario's first 40 minutes.

``--serve`` (``make demo-serve``) then keeps the stack running as an AWS endpoint on
``127.0.0.1:PORT`` (default 5000; 0 for any free port) for the ``vigil`` command, until Ctrl-C
(:mod:`emulator.serve`): it plays up to ``--until`` (default 40m, while outage-demo's
``orders-api`` fails) placed to end at the current wall-clock minute, parks a dry-run outage
runbook on its approval gate, writes the rules config to the output folder and prints the
commands to try from another shell.

Exit status: 0 if the run completed and no workflow execution failed and no asynchronous event
was given up on; 1 if the emulator could not run the scenario; 2 if it ran but something in the
stack failed (the timeline says what).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import threading
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from emulator import serve
from emulator.clock import parse_duration
from emulator.core import PROJECT_ROOT, Emulator, TimelineEntry
from emulator.errors import EmulatorError
from emulator.metrics import floor_minute
from emulator.scenario import load_scenario

SERVE_UNTIL = "40m"
"""How much of the scenario ``--serve`` plays by default: outage-demo's orders-api fails."""


def _process_age() -> float | None:
    """Seconds since this process started (Linux), to report start-up and imports too."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as uptime:
            up = float(uptime.read().split()[0])
        return up - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m emulator.demo",
        description="Play a scenario against Vigil in the local emulator.",
    )
    parser.add_argument("--scenario", default="outage-demo", help="built-in name or YAML path")
    parser.add_argument("--out", type=Path, default=None, help="output folder")
    parser.add_argument(
        "--alert-email",
        default="ops@example.com",
        help="AlertEmail parameter (captured, never sent); '' for none",
    )
    parser.add_argument(
        "--parameter",
        "-p",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="template parameter override (repeatable), e.g. -p LogLevel=DEBUG",
    )
    parser.add_argument("--describe", action="store_true", help="print what runs where")
    parser.add_argument("--echo-logs", action="store_true", help="print handler output live")
    parser.add_argument(
        "--until",
        metavar="OFFSET",
        help=f"play only this much of the scenario, e.g. 40m (--serve: {SERVE_UNTIL})",
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="then keep the stack running on 127.0.0.1 for the vigil command (Ctrl-C stops)",
    )
    parser.add_argument(
        "--port", type=int, default=serve.DEFAULT_PORT, help="--serve's port (0: any free one)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    started = time.perf_counter()
    out = sys.stdout
    lock = threading.Lock()

    def show(entry: TimelineEntry) -> None:
        with lock:
            out.write(entry.line() + "\n")
            out.flush()

    try:
        overrides: dict[str, object] = {"AlertEmail": args.alert_email}
        for item in args.parameter:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise EmulatorError(f"--parameter {item!r}: expected KEY=VALUE")
            overrides[key] = value
        scenario = load_scenario(args.scenario)
        until_text = args.until or (SERVE_UNTIL if args.serve else None)
        played = parse_duration(until_text, "--until") if until_text else scenario.duration
        played = min(played, scenario.duration)
        begin = scenario.start
        if args.serve:
            # End the played part at the wall-clock minute: the vigil command reads that clock.
            begin = floor_minute(datetime.now(UTC)) - played
            scenario = dataclasses.replace(scenario, start=begin, end=begin + scenario.duration)
            overrides.setdefault("FailoverPlans", serve.plans_parameter())
        out.write(f"Scenario {scenario.name}: {scenario.description}\n")
        out.write(
            f"Simulated {begin:%Y-%m-%d %H:%M} to {begin + played:%H:%M} UTC,"
            f" {len(scenario.workloads)} workload functions.\n\n"
        )
        with Emulator.start(
            scenario=scenario,
            parameters=overrides,
            start=begin,
            echo_logs=sys.stdout if args.echo_logs else None,
        ) as emu:
            deployed = time.perf_counter() - started
            out.write(
                f"Deployed stack {emu.deployment.stack_name} in {deployed:.1f}s"
                f" ({len(emu.deployment.placements)} resources,"
                f" {len(emu.runtime.specs)} functions running real handler code).\n"
            )
            if args.describe:
                out.write("\n" + emu.describe() + "\n")
            out.write("\nTimeline (simulated UTC):\n")
            emu.on_timeline(show)
            emu.play(until=begin + played)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            target = args.out or PROJECT_ROOT / "demo-output" / f"{scenario.name}-{stamp}"
            emu.write_output(target)
            executions = emu.executions()
            failed = [e for e in executions if e.finished and not e.succeeded]
            posts = emu.slack.posts
            summary = (
                f"\n{len(emu.clock.fired)} schedule fires, {len(executions)} workflow executions"
                f" ({len(failed)} failed), {len(emu.slack.delivered)}/{len(posts)} Slack posts"
                f" delivered, {len(emu.mailbox)} emails, {len(emu.failures)} events given up on.\n"
            )
            out.write(summary)
            out.write(f"Output: {target.resolve()}\n")
            gave_up = len(emu.failures)
            if args.serve and not (failed or gave_up):
                _serve(emu, target, port=args.port, rules=overrides.get("RulesConfig"), out=out)
    except EmulatorError as exc:
        sys.stderr.write(f"demo failed: {exc}\n")
        return 1
    except Exception as exc:
        traceback.print_exc()
        sys.stderr.write(f"demo failed unexpectedly: {type(exc).__name__}: {exc}\n")
        return 1
    finally:
        age = _process_age()
        total = f" ({age:.1f}s including Python start-up and imports)" if age else ""
        out.write(f"Wall time: {time.perf_counter() - started:.1f}s{total}\n")
    if failed or gave_up:
        sys.stderr.write(
            f"demo finished with problems: {len(failed)} failed workflow executions,"
            f" {gave_up} asynchronous events given up on (see the timeline)\n"
        )
        return 2
    return 0


def _serve(emu: Emulator, target: Path, *, port: int, rules: object, out: TextIO) -> None:
    """Park a runbook on its gate, serve the stack until Ctrl-C, say what to run."""
    incident = serve.park_runbook(emu)
    document = rules if isinstance(rules, str) else json.dumps(rules or {}, indent=2)
    (target / "rules.json").write_text(document + "\n", encoding="utf-8")
    with serve.serving(emu, port=port) as url:
        served = serve.Served(
            url=url,
            stack=emu.deployment.stack_name,
            incident=incident,
            rules=(target / "rules.json").resolve(),
        )
        out.write(f"\n{serve.instructions(served)}\n")
        out.flush()
        serve.wait_for_stop()
        out.write("\nStopped serving.\n")


if __name__ == "__main__":
    raise SystemExit(main())
