"""The demo's stack kept running as an AWS endpoint on 127.0.0.1, for the ``vigil`` command.

``python -m emulator.demo --serve`` (``make demo-serve``) plays the scenario up to a moment
when alerts are open, parks a dry-run outage runbook on its approval gate, then answers AWS
API calls at ``http://127.0.0.1:PORT`` with moto's :class:`ThreadedMotoServer` until Ctrl-C.
The server shares moto's in-process backends with the emulator's ``mock_aws``: the stack the
scenario deployed and played is the one the command reads and changes, and the emulator's
patches (its Lambda runtime, its Step Functions fixes) still run whatever the command starts.
moto accepts any signature, so ``vigil --endpoint-url`` with no credentials signs with fake
ones. The simulated clock stands still while serving; the scenario is placed so that it stops
at the wall-clock minute the server starts, so the command's clock (the wall clock) agrees
with the stack's records: silences start now, the approval lapses 30 minutes later.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shlex
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from moto.server import ThreadedMotoServer

from emulator._aws import REGION
from emulator.core import Emulator

MOTO_STATES_LOG = "moto.stepfunctions.parser.asl.component.eval_component"
LOCALHOST = "127.0.0.1"
DEFAULT_PORT = 5000
RUNBOOK = "OutageRunbookStateMachine"
DEMO_INCIDENT = "demo-lambda-us-east-1"
DEMO_PLAN = "demo-flag"
ACTIVE_REGION_PARAMETER = "/vigil/failover/demo-active-region"
"""Under the template's default ``FailoverParameterPrefix``."""

DEMO_PLANS = {
    "plans": {
        DEMO_PLAN: {
            "description": "Serve from us-west-2: flip the demo's active-region flag",
            "failback": "Set the flag back to us-east-1 once us-east-1 is healthy.",
            "actions": [
                {"type": "ssm_parameter", "name": ACTIVE_REGION_PARAMETER, "value": "us-west-2"}
            ],
        }
    }
}
"""The ``FailoverPlans`` the served demo deploys with: one plan, an SSM flag (a dry run
changes nothing)."""


@dataclass(frozen=True)
class Served:
    """Where the emulated stack answers, and what the demo left for the command to act on."""

    url: str
    stack: str
    incident: str | None
    rules: Path | None = None
    """The rules config the stack was deployed with, as a file for ``vigil config check``."""


@contextlib.contextmanager
def serving(emu: Emulator, *, port: int = DEFAULT_PORT) -> Iterator[str]:
    """Answer AWS calls for ``emu``'s moto backends at ``http://127.0.0.1:port`` (0: a free
    port); yields the endpoint URL."""
    server = ThreadedMotoServer(ip_address=LOCALHOST, port=port, verbose=False)
    server.start()
    try:
        host, bound = server.get_host_and_port()
        yield f"http://{host}:{bound}"
    finally:
        server.stop()
        # The emulator stops the runbook still waiting on its gate as it shuts down, which
        # moto's Step Functions interpreter logs as an error: expected here, not news.
        logging.getLogger(MOTO_STATES_LOG).setLevel(logging.CRITICAL)


def park_runbook(emu: Emulator, *, name: str = DEMO_INCIDENT) -> str:
    """Start a dry-run outage runbook for Lambda in the emulated region that offers
    :data:`DEMO_PLAN` and waits on its approval gate; returns the incident id."""
    emu.start_execution(
        RUNBOOK,
        {
            "service": "lambda",
            "region": REGION,
            "reason": "orders-api fails 2% of its requests (demo)",
            "severity": "critical",
            "dry_run": True,
            "failover_plan": DEMO_PLAN,
            "failover_on_our_side": True,
            "requested_by": "demo",
            "source": "manual",
        },
        name=name,
    )
    emu.settle()
    return name


def wait_for_stop() -> None:
    """Block until Ctrl-C (SIGINT) or SIGTERM, then return (the caller tears down)."""
    stop = threading.Event()
    previous = {
        number: signal.signal(number, lambda *_: stop.set())
        for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        while not stop.wait(1.0):
            pass
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def instructions(served: Served) -> str:
    """What to run from another shell."""
    env = (
        f"export AWS_ENDPOINT_URL={served.url} AWS_ACCESS_KEY_ID=test"
        f" AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION={REGION}"
    )
    vigil = f"vigil --stack {served.stack}"
    lines = [
        f"The demo stack answers at {served.url} (Ctrl-C stops it). From another shell,"
        " in the repository (the vigil command is .venv/bin/vigil):",
        "",
        f"  {env}",
        f"  {vigil} alerts list -o json",
        f"  {vigil} alerts show FINGERPRINT    # one from alerts list; a prefix will do",
        f"  {vigil} routes test --label kind=lambda.errors --label resource=orders-api",
        *([f"  vigil config check {shlex.quote(str(served.rules))}"] if served.rules else []),
        f"  {vigil} silence add --match resource=orders-api --for 1h --comment demo",
        f"  {vigil} silence list",
        f"  {vigil} incidents list",
    ]
    if served.incident is not None:
        lines += [
            f"  {vigil} incidents show {served.incident}",
            f"  {vigil} runbook approve {served.incident} --comment 'looks right'",
        ]
    lines += [
        "",
        f"or name the endpoint on each command: vigil --endpoint-url {served.url} --stack"
        f" {served.stack} alerts list (no credentials needed).",
    ]
    return "\n".join(lines)


def plans_parameter() -> str:
    return json.dumps(DEMO_PLANS)
