"""The sentinel stack (``sentinel/template.yaml``) deployed beside an :class:`Emulator` in a
second region, its checks run on the simulated clock, and the primary region's failures.

moto keeps regions apart, so the primary (us-east-1, the emulator's region) and the sentinel
(us-west-2 by default) share one mock as two regions of one account: the sentinel's function
reads the primary's ``AWS/Lambda`` metrics with a cross-region ``GetMetricData``, as it would
in AWS, and its Slack webhook is the emulator's local Slack server.

    with Emulator.start(parameters=...) as emu:
        sentinel = Sentinel.deploy(emu)
        sentinel.play_until(emu.now + timedelta(minutes=30))      # checks every CheckSchedule
        set_schedule(emu, "CollectMetricsFunction", enabled=False)  # the primary stops
        sentinel.announcements                                     # what its topic carried

The scheduler of the sentinel region is not fired by the emulator's :class:`~emulator.clock.Clock`
(which discovers the primary region's schedules): :meth:`Sentinel.play_until` advances the
emulator to each occurrence of the sentinel's schedules and delivers it to the function like
EventBridge Scheduler (asynchronously: Lambda's retries, then the on-failure destination).
:func:`primary_api_failing` makes a regional endpoint answer a throttle, a 5xx, an access
denied or time out at the HTTP level, in the error shape of the protocol the request speaks
(AWS JSON 1.0 or RPC v2 CBOR).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from unittest import mock

from botocore.exceptions import ReadTimeoutError
from moto.core.botocore_stubber import BotocoreStubber
from moto.sns.models import sns_backends

from emulator._aws import ACCOUNT_ID, client
from emulator.clock import Schedule, discover_schedules, require_utc
from emulator.core import PROJECT_ROOT, Emulator
from emulator.deploy import Deployment, deploy
from emulator.lambda_runtime import LambdaRuntime

SENTINEL_REGION = "us-west-2"
SENTINEL_TEMPLATE = PROJECT_ROOT / "sentinel" / "template.yaml"

Fault = Literal["throttle", "server_error", "access_denied", "timeout"]


def _cbor_text(text: str) -> bytes:
    raw = text.encode()
    if len(raw) < 24:
        return bytes([0x60 + len(raw)]) + raw
    if len(raw) < 256:
        return bytes([0x78, len(raw)]) + raw
    raise ValueError("text too long for this encoder")


def cbor_error(code: str, message: str) -> bytes:
    """An RPC v2 CBOR error body ``{"__type": code, "message": message}`` (smithy.io, "RPC v2
    CBOR protocol", error responses): CloudWatch's default protocol in botocore."""
    return (
        bytes([0xA2])
        + _cbor_text("__type")
        + _cbor_text(code)
        + _cbor_text("message")
        + (_cbor_text(message))
    )


_FAULTS: dict[str, tuple[int, str, str]] = {
    "throttle": (400, "Throttling", "Rate exceeded"),
    "server_error": (503, "ServiceUnavailable", "Service Unavailable"),
    "access_denied": (403, "AccessDenied", "User is not authorized to perform GetMetricData"),
}


@contextlib.contextmanager
def primary_api_failing(
    region: str, fault: Fault, *, service_host: str = "monitoring"
) -> Iterator[list[str]]:
    """Make ``https://<service_host>.<region>.amazonaws.com`` fail with ``fault`` while
    active; yields the URLs of the requests it failed (every attempt of botocore's retries)."""
    host = f"{service_host}.{region}.amazonaws.com"
    failed: list[str] = []
    original = BotocoreStubber.process_request

    def process_request(stubber: BotocoreStubber, request: Any) -> Any:
        url = str(request.url)
        if host not in url:
            return original(stubber, request)
        failed.append(url)
        if fault == "timeout":
            raise ReadTimeoutError(endpoint_url=url)
        status, code, message = _FAULTS[fault]
        if request.headers.get("Smithy-Protocol"):
            headers = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"}
            return status, headers, cbor_error(code, message)
        # The AWS JSON 1.0 protocol (what moto has botocore speak to CloudWatch).
        body = json.dumps({"__type": code, "message": message})
        return status, {"Content-Type": "application/x-amz-json-1.0"}, body

    with mock.patch.object(BotocoreStubber, "process_request", process_request):
        yield failed


def set_schedule(emulator: Emulator, logical_id: str, *, enabled: bool) -> list[str]:
    """Disable (or enable again) the emulator's schedules that target a stack function, as
    a deleted schedule, a broken deployment or a failing region would stop them; returns
    their names."""
    name = emulator.deployment.function_name(logical_id)
    changed: list[str] = []
    for index, schedule in enumerate(emulator.clock.schedules):
        if schedule.target_arn.split(":")[-1] == name or schedule.target_arn.endswith(
            f":function:{name}"
        ):
            state = "ENABLED" if enabled else "DISABLED"
            emulator.clock.schedules[index] = dataclasses.replace(schedule, state=state)
            changed.append(schedule.name)
    return changed


@dataclass(frozen=True)
class SentinelCheck:
    at: datetime
    delivered: bool
    """Whether an attempt succeeded (Lambda's asynchronous retries included)."""


class Sentinel:
    """The sentinel stack of one emulated primary; see the module docstring."""

    def __init__(
        self,
        emulator: Emulator,
        deployment: Deployment,
        runtime: LambdaRuntime,
        schedules: list[Schedule],
    ) -> None:
        self.emulator = emulator
        self.deployment = deployment
        self.runtime = runtime
        self.schedules = schedules
        self.checks: list[SentinelCheck] = []
        self._played_until = emulator.now

    @classmethod
    def deploy(
        cls,
        emulator: Emulator,
        *,
        parameters: Mapping[str, object] | None = None,
        region: str = SENTINEL_REGION,
        stack_name: str = "vigil-sentinel",
    ) -> Sentinel:
        """Deploy ``sentinel/template.yaml`` in ``region`` watching the emulator's stack, with
        its Slack secret pointed at the emulator's Slack server."""
        primary = emulator.deployment
        values: dict[str, object] = {
            "PrimaryRegion": primary.region,
            "PrimaryStackName": primary.stack_name,
            "PrimaryCollectorFunctionName": primary.function_name("CollectMetricsFunction"),
            **(parameters or {}),
        }
        deployment, specs = deploy(
            project_root=PROJECT_ROOT,
            template_path=SENTINEL_TEMPLATE,
            parameters=values,
            stack_name=stack_name,
            region=region,
        )
        runtime = LambdaRuntime(now=lambda: emulator.now, region=region)
        for spec in specs:
            runtime.register(spec)
        client("secretsmanager", region).put_secret_value(
            SecretId=deployment.secret_arns["SentinelSecret"],
            SecretString=json.dumps({"webhook_url": emulator.slack.webhook_url}),
        )
        return cls(emulator, deployment, runtime, discover_schedules(region))

    def due(self, until: datetime) -> list[tuple[datetime, Schedule]]:
        found = [
            (at, schedule)
            for schedule in self.schedules
            for at in schedule.parsed().occurrences(
                self._played_until, until, schedule.start_date or self.emulator.clock.start
            )
        ]
        return sorted(found, key=lambda pair: pair[0])

    def play_until(self, until: datetime) -> list[SentinelCheck]:
        """Advance the emulator to each sentinel check up to ``until`` and run it there."""
        until = require_utc(until, "until")
        ran: list[SentinelCheck] = []
        for at, schedule in self.due(until):
            self.emulator.advance_to(at)
            target = schedule.target_arn.split(":")[6]
            delivered = self.runtime.invoke_async(
                target, json.loads(schedule.render_input(at)), source="schedule"
            )
            ran.append(SentinelCheck(at, delivered))
        self.emulator.advance_to(until)
        self._played_until = until
        self.checks += ran
        return ran

    @property
    def decisions(self) -> list[tuple[datetime, str]]:
        """``(simulated time, kind)`` of each check that announced (down, still_down,
        recovered), from the function's own summaries."""
        return [
            (run.sim_time, str(run.result["announced"]))
            for run in self.runtime.invocations
            if run.ok and isinstance(run.result, dict) and run.result.get("announced")
        ]

    @property
    def announcements(self) -> list[dict[str, str]]:
        """What the sentinel's topic carried: ``{"subject", "message"}``, in order."""
        topic_arn = self.deployment.physical_ids["SentinelTopic"]
        topic = sns_backends[ACCOUNT_ID][self.deployment.region].topics[topic_arn]
        return [
            {"subject": str(sent[2]), "message": str(sent[1])} for sent in topic.sent_notifications
        ]

    @property
    def slack_posts(self) -> list[dict[str, Any]]:
        """The sentinel's posts to the Slack server (their payloads), in order."""
        return [
            post.payload
            for post in self.emulator.slack.delivered
            if isinstance(post.payload, dict) and "Vigil sentinel" in json.dumps(post.payload)
        ]
