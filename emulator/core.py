"""The :class:`Emulator`: everything wired together behind one context manager."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from unittest.mock import patch

from moto import mock_aws
from moto.core.config import default_user_config
from moto.sqs.models import sqs_backends
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (  # noqa: E501
    StateTaskServiceSfn,
)
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from emulator import (
    arc,
    backoff,
    cost_explorer,
    dynamodb_transactions,
    dynamodb_types,
    member_roles,
    metric_index,
    oam,
    oam_api,
    sfn_time,
    sns_delivery,
)
from emulator._aws import MOTO_CONFIG, REGION, client, hermetic_aws_environ, parse_arn
from emulator.alarms import AlarmDriver, AlarmScenario
from emulator.clock import Clock, Occurrence, Schedule, discover_schedules, iso_z
from emulator.cost_explorer import FakeCostExplorer, ScenarioAnomaly
from emulator.cost_series import generate
from emulator.data_dials import DataDriver, DataSpec
from emulator.deploy import Deployment, deploy
from emulator.edge import EdgeDriver, EdgeScenario
from emulator.errors import EmulatorError, FunctionError
from emulator.health import FakeHealth, HealthScenario, rule_targets
from emulator.lambda_account import FakeLambdaAccount, LambdaAccount
from emulator.lambda_runtime import AsyncFailure, FunctionLog, Invocation, LambdaRuntime
from emulator.logs import LogDelivery, LogSubscriptions, invoke_destination
from emulator.mailbox import Email, Mailbox
from emulator.metrics import MetricsWriter, floor_minute
from emulator.organization import OrganizationPlay, parse_organization
from emulator.queues import QueueDriver
from emulator.scenario import Scenario, load_scenario
from emulator.sfn_time import SimulatedWaits
from emulator.slack import SlackPost, SlackServer, summarize_payload
from emulator.stepfunctions import ExecutionRecord, Executions

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The repository root (where ``template.yaml`` is)."""


@dataclass(frozen=True)
class TimelineEntry:
    """Something that happened, at simulated time."""

    at: datetime
    kind: str
    """``schedule``, ``execution``, ``slack``, ``email``, ``lambda-error``, ``failure``,
    ``logs`` (a delivery of log lines to a subscription's destination)."""
    summary: str
    data: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return f"{iso_z(self.at)}  {self.kind:<12}  {self.summary}"


@dataclass(frozen=True)
class FireResult:
    occurrence: Occurrence
    delivered: bool
    executions: tuple[ExecutionRecord, ...]


def _check_moto_config() -> None:
    sfn = default_user_config.get("stepfunctions", {})
    lam = default_user_config.get("lambda", {})
    if not sfn.get("execute_state_machine") or lam.get("use_docker", True):
        raise EmulatorError(
            "the active mock_aws was not started with the emulator's config: use"
            " mock_aws(config=emulator.MOTO_CONFIG), or let Emulator.start() start it"
        )


@contextlib.contextmanager
def _named_executions() -> Iterator[None]:
    """StartExecution without ``name``: AWS names the execution with a UUID; moto 5.2 would use
    ``None`` (and treat every unnamed start as a retry of the first)."""
    original = StepFunctionsParserBackend.start_execution

    def start_execution(
        backend: StepFunctionsParserBackend,
        state_machine_arn: str,
        name: Any = None,
        execution_input: Any = None,
        trace_header: Any = None,
    ) -> Any:
        return original(
            backend, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header
        )

    with patch.object(StepFunctionsParserBackend, "start_execution", start_execution):
        yield


@contextlib.contextmanager
def _start_execution_task_keys() -> Iterator[None]:
    """The ``arn:aws:states:::states:startExecution`` task: moto 5.2's parser hands the
    state's parameters (``StateMachineArn``, ``Name``, ``Input``) to boto3 as they are
    written in ASL, and botocore rejects them (its members are ``stateMachineArn``, ...).
    AWS maps them; here the keys are lower-camel-cased before the call, nothing else."""
    original = StateTaskServiceSfn._normalise_parameters

    def normalise(
        task: StateTaskServiceSfn,
        parameters: dict[str, Any],
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        original(task, parameters, boto_service_name, service_action_name)
        for key in [k for k in parameters if k[:1].isupper()]:
            parameters[key[0].lower() + key[1:]] = parameters.pop(key)

    with patch.object(StateTaskServiceSfn, "_normalise_parameters", normalise):
        yield


class Emulator:
    """Vigil deployed into in-process moto, with its handlers, a clock, Slack and a mailbox.

    Create it with :meth:`start` (a context manager); see the package docstring for the API.
    """

    def __init__(
        self,
        *,
        start: datetime,
        scenario: Scenario | None,
        settle_timeout: float,
        echo: TextIO | None,
        stack_metrics: bool = True,
    ) -> None:
        self._now = start
        self.scenario = scenario
        self.settle_timeout = settle_timeout
        self._timeline_lock = threading.Lock()
        self._timeline: list[TimelineEntry] = []
        self._timeline_listeners: list[Callable[[TimelineEntry], None]] = []
        self._reported_executions: set[str] = set()
        self.slack = SlackServer(sim_clock=self._sim_now)
        self.mailbox = Mailbox()
        self.runtime = LambdaRuntime(now=self._sim_now, echo=echo)
        self.fires: list[FireResult] = []
        self._stack_metrics = stack_metrics
        self.cost_explorer = _cost_explorer_for(scenario, now=self._sim_now)
        empty = HealthScenario(support_plan=True, active_region="us-east-1", events=())
        self.health = FakeHealth(
            (scenario.health if scenario else None) or empty, start=start, now=self._sim_now
        )
        self.lambda_account = FakeLambdaAccount(
            scenario.lambda_account if scenario else LambdaAccount()
        )
        self.edge = EdgeDriver(
            start=start, scenario=scenario.edge if scenario else EdgeScenario(), now=self._sim_now
        )
        self.alarms = AlarmDriver(scenario.alarms if scenario else AlarmScenario(), start=start)
        """The account's CloudWatch alarms and their state changes (:mod:`emulator.alarms`)."""
        self.waits = SimulatedWaits(self._sim_now)
        self.arc = arc.FakeRoutingControls()
        self.log_subscriptions = LogSubscriptions(
            scenario=scenario, start=start, now=self._sim_now, invoke=self._invoke_destination
        )
        """Error lines of the scenario and their deliveries (:mod:`emulator.logs`)."""
        self.backoff_waits: list[float] = []
        """Chat clients' and AWS SDK's retry back-off waits, requested and skipped
        (:mod:`emulator.backoff`)."""
        # Set by start():
        self.deployment: Deployment
        self.clock: Clock
        self.metrics: MetricsWriter
        self.queues: QueueDriver
        self.data: DataDriver
        self._executions: Executions
        self.organization: OrganizationPlay | None = None
        """The scenario's Organization, when it has one (:mod:`emulator.organization`)."""

    # ------------------------------------------------------------------ construction
    @classmethod
    @contextlib.contextmanager
    def start(
        cls,
        *,
        parameters: Mapping[str, object] | None = None,
        scenario: Scenario | str | Path | None = None,
        project_root: Path | None = None,
        template_path: Path | None = None,
        stack_name: str = "vigil",
        code_dirs: Mapping[str, Path] | None = None,
        start: datetime | None = None,
        mock: bool = True,
        settle_timeout: float | None = None,
        slack_secret: str | None = "SlackWebhookSecret",
        cycle_parameter: str = "CollectSchedule",
        stack_metrics: bool = True,
        echo_logs: TextIO | None = None,
    ) -> Iterator[Emulator]:
        """Deploy and yield a running emulator; tear everything down on exit.

        ``parameters`` override template parameters (after the scenario's ``parameters`` and
        ``cycle``). ``scenario`` is a :class:`Scenario`, a built-in name or a YAML path.
        ``code_dirs`` replaces the ``CodeUri``/``ContentUri`` folder of the named logical ids.
        ``mock=False`` uses the caller's active ``mock_aws`` (it must use
        :data:`emulator.MOTO_CONFIG`). ``slack_secret`` is the logical id of the secret that
        gets ``{"webhook_url": <local server>}`` (``None``: leave it alone).
        ``cycle_parameter`` is the template parameter a scenario's ``cycle`` sets.
        ``stack_metrics=False`` stops writing ``AWS/Lambda`` metrics for the stack's own
        functions. ``echo_logs`` echoes handler output to a stream as it happens.
        ``settle_timeout`` is how long (wall-clock seconds) a step may wait for the workflows it
        started: a guard against a hang, not a performance bound, so it is generous; by default
        60 s plus 400 ms per workload (moto takes its time over a storm, more so on a machine
        shared with parallel test workers and under coverage: the 5,000-function storm's first
        evaluation took over 1,060 s there).
        """
        loaded = load_scenario(scenario) if isinstance(scenario, str | Path) else scenario
        begin = start or (loaded.start if loaded else floor_minute(datetime.now(UTC)))
        if begin.tzinfo is None:
            raise ValueError("start must be timezone-aware (UTC)")
        begin = begin.astimezone(UTC)
        overrides: dict[str, object] = {}
        if loaded is not None:
            overrides.update(loaded.parameters)
            if loaded.cycle:
                overrides[cycle_parameter] = loaded.cycle
        overrides.update(parameters or {})
        emulator = cls(
            start=begin,
            scenario=loaded,
            settle_timeout=(
                settle_timeout
                if settle_timeout is not None
                else 60.0 + 0.4 * len(loaded.workloads if loaded else ())
            ),
            echo=echo_logs,
            stack_metrics=stack_metrics,
        )
        with contextlib.ExitStack() as stack:
            stack.enter_context(hermetic_aws_environ(REGION))
            if mock:
                stack.enter_context(mock_aws(config=MOTO_CONFIG))
            else:
                _check_moto_config()
            stack.enter_context(emulator.slack)
            stack.enter_context(emulator.runtime.installed())
            stack.enter_context(
                sns_delivery.installed(
                    mailbox=emulator.mailbox, runtime=emulator.runtime, now=emulator._sim_now
                )
            )
            stack.enter_context(_named_executions())
            stack.enter_context(_start_execution_task_keys())
            stack.enter_context(metric_index.installed())
            stack.enter_context(oam.installed())
            stack.enter_context(oam_api.installed())
            stack.enter_context(dynamodb_transactions.installed())
            stack.enter_context(dynamodb_types.installed())
            stack.enter_context(cost_explorer.installed(emulator.cost_explorer))
            stack.enter_context(emulator.health.installed())
            stack.enter_context(emulator.lambda_account.installed())
            stack.enter_context(emulator.edge.installed())
            stack.enter_context(sfn_time.installed(emulator.waits))
            stack.enter_context(emulator.arc.installed())
            stack.enter_context(emulator.log_subscriptions.installed())
            stack.enter_context(backoff.installed(emulator.backoff_waits))
            stack.enter_context(member_roles.installed())
            emulator._deploy(
                project_root=project_root or PROJECT_ROOT,
                template_path=template_path,
                parameters=overrides,
                stack_name=stack_name,
                code_dirs=code_dirs,
                slack_secret=slack_secret,
            )
            stack.callback(emulator._stop_running_executions)
            yield emulator

    def _stop_running_executions(self) -> None:
        """Stop executions still running (e.g. waiting for a task token) before the mock ends,
        so no worker thread outlives it and reaches for a real endpoint."""
        sfn = client("stepfunctions")
        for item in self._executions.summaries("RUNNING"):
            with contextlib.suppress(Exception):
                sfn.stop_execution(
                    executionArn=item["executionArn"],
                    error="Emulator.Stopped",
                    cause="the emulator shut down",
                )

    def _deploy(
        self,
        *,
        project_root: Path,
        template_path: Path | None,
        parameters: Mapping[str, object],
        stack_name: str,
        code_dirs: Mapping[str, Path] | None,
        slack_secret: str | None,
    ) -> None:
        deployment, specs = deploy(
            project_root=project_root,
            template_path=template_path,
            parameters=parameters,
            stack_name=stack_name,
            code_dirs=code_dirs,
        )
        self.deployment = deployment
        for spec in specs:
            self.runtime.register(spec)
        names = {arn: lid for lid, arn in deployment.state_machine_arns.items()}
        self._executions = Executions(names=names, blocked=self.waits.blocked)
        if slack_secret is not None:
            self.set_slack_webhook(self.slack.webhook_url, secret=slack_secret)
        self.runtime.on_invocation(self._on_invocation)
        self.runtime.on_failure(self._on_failure)
        self.slack.on_post(self._on_slack)
        self.mailbox.on_email(self._on_email)
        self.metrics = MetricsWriter(
            start=self._now,
            scenario=self.scenario,
            stack_usage=self.runtime.drain_usage if self._stack_metrics else None,
        )
        self.metrics.create_workloads()
        self.log_subscriptions.create_log_groups()
        self.log_subscriptions.on_delivery(self._on_log_delivery)
        self.queues = QueueDriver(start=self._now, scenario=self.scenario)
        self.queues.create_queues()
        self.edge.create_resources()
        self.alarms.create()
        if self.scenario is not None and self.scenario.organization is not None:
            self.organization = OrganizationPlay(
                parse_organization(
                    self.scenario.organization,
                    length=self.scenario.duration,
                    home=deployment.region,
                    organization_id=str(deployment.parameters.get("OrganizationId", "")),
                ),
                scenario=self.scenario,
                account=deployment.account_id,
                region=deployment.region,
                stack_name=deployment.stack_name,
                home_sink=deployment.outputs.get("OamSinkArn", ""),
                start=self._now,
            )
            self.organization.create()
        self.data = DataDriver(
            start=self._now,
            spec=self.scenario.data if self.scenario else DataSpec(),
            scenario_start=self.scenario.start if self.scenario else self._now,
            scenario_end=self.scenario.end if self.scenario else self._now,
        )
        self.data.create()
        self.clock = Clock(
            self._now,
            schedules=discover_schedules(),
            fire=self._fire,
            catch_up=self._catch_up,
        )

    # ------------------------------------------------------------------ time
    def _sim_now(self) -> datetime:
        clock = getattr(self, "clock", None)
        return clock.now if clock is not None else self._now

    @property
    def now(self) -> datetime:
        """The simulated time."""
        return self._sim_now()

    def _catch_up(self, until: datetime) -> None:
        self.metrics.write_until(until)
        self.queues.write_until(until)
        self.edge.write_until(until)
        self.data.write_until(until)
        if self.organization is not None:
            self.organization.write_until(until)
        for event in self.health.due_events(until):
            self.put_event(event)
        for event in self.alarms.due_events(until):
            self.put_event(event)

    def put_event(self, event: dict[str, Any]) -> list[str]:
        """Deliver an EventBridge event to the stack functions whose rules match it (moto
        stores rules but delivers to no Lambda target), as an asynchronous invoke; wait for
        the workflows it starts. Returns the function names it reached."""
        at = datetime.fromisoformat(str(event.get("time", "")).replace("Z", "+00:00"))
        names = [name for name in rule_targets(event) if self.runtime.manages(name)]
        self._add(
            at,
            "event",
            f"{event.get('source')} {event.get('detail-type')} -> {', '.join(names) or 'no rule'}",
            {"id": event.get("id")},
        )
        for name in names:
            self.runtime.invoke_async(name, event, source="eventbridge")
        self.settle()
        self._report_executions()
        return names

    def play(self, until: datetime | None = None) -> list[Occurrence]:
        """Advance the clock to ``until`` (default: the scenario's end)."""
        if until is None:
            if self.scenario is None:
                raise EmulatorError("play() without until needs a scenario")
            until = self.scenario.end
        return self.advance_to(until)

    def advance(self, delta: timedelta) -> list[Occurrence]:
        return self.advance_to(self.now + delta)

    def advance_to(self, until: datetime) -> list[Occurrence]:
        """Advance the clock to ``until``: fire the schedules due on the way, release the
        Step Functions waits (``Wait`` states, task-token time-outs) whose simulated
        deadline passes and deliver log lines to their subscriptions (:mod:`emulator.logs`),
        in time order, settling the workflows after each."""
        fired: list[Occurrence] = []
        while True:
            deadlines = [
                d
                for d in (
                    self.waits.next_deadline(until),
                    self.log_subscriptions.next_delivery(until),
                )
                if d is not None
            ]
            if not deadlines:
                break
            fired += self.clock.advance_to(max(min(deadlines), self.now))
            self.waits.release_due(self.now)
            self.log_subscriptions.deliver_due(self.now)
            self.settle()
            self._report_executions()
        fired += self.clock.advance_to(until)
        if self.waits.release_due(until):
            self.settle()
            self._report_executions()
            if self.waits.next_deadline(until) is not None:
                fired += self.advance_to(until)
        return fired

    # ------------------------------------------------------------------ schedules
    @property
    def schedules(self) -> list[Schedule]:
        return list(self.clock.schedules)

    def _fire(self, occurrence: Occurrence) -> None:
        schedule = occurrence.schedule
        payload = schedule.render_input(occurrence.at)
        self._add(
            occurrence.at,
            "schedule",
            f"{schedule.name} fired -> {schedule.target_arn.rsplit(':', 1)[-1]}",
            {"schedule": schedule.name, "input": payload},
        )
        delivered = self._deliver(schedule, payload)
        self.settle()
        finished = self._report_executions()
        self.fires.append(FireResult(occurrence, delivered, tuple(finished)))

    def _deliver(self, schedule: Schedule, payload: str) -> bool:
        """Hand the payload to the schedule's target like EventBridge Scheduler does."""
        _, service, region, _, resource = parse_arn(schedule.target_arn)
        attempts = min(schedule.max_retries, 2) + 1
        last_error: Exception | None = None
        for _ in range(attempts):
            try:
                if service == "lambda":
                    name = resource.split(":")[1]
                    if self.runtime.manages(name):
                        self.runtime.invoke_async(name, json.loads(payload), source="schedule")
                    else:
                        client("lambda", region).invoke(
                            FunctionName=schedule.target_arn,
                            InvocationType="Event",
                            Payload=payload,
                        )
                elif service == "states":
                    client("stepfunctions", region).start_execution(
                        stateMachineArn=schedule.target_arn, input=payload
                    )
                elif service == "sqs":
                    name = resource
                    sqs = client("sqs", region)
                    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
                    sqs.send_message(QueueUrl=url, MessageBody=payload)
                elif service == "sns":
                    client("sns", region).publish(TopicArn=schedule.target_arn, Message=payload)
                else:
                    raise EmulatorError(
                        f"schedule {schedule.name}: targets of service {service!r} are not"
                        " supported by the emulator"
                    )
                return True
            except EmulatorError:
                raise
            except Exception as exc:  # the target could not be reached (deleted, ...)
                last_error = exc
        self._add(
            self.now,
            "failure",
            f"{schedule.name} could not deliver to {schedule.target_arn}: {last_error}",
            {"schedule": schedule.name},
        )
        if schedule.dead_letter_arn:
            _, _, dregion, account, queue = parse_arn(schedule.dead_letter_arn)
            sqs = client("sqs", dregion)
            url = sqs.get_queue_url(QueueName=queue, QueueOwnerAWSAccountId=account)["QueueUrl"]
            sqs.send_message(
                QueueUrl=url,
                MessageBody=payload,
                MessageAttributes={
                    "ERROR_CODE": {"DataType": "String", "StringValue": type(last_error).__name__},
                    "ERROR_MESSAGE": {"DataType": "String", "StringValue": str(last_error)[:1000]},
                    "SCHEDULE_ARN": {"DataType": "String", "StringValue": schedule.arn},
                    "TARGET_ARN": {"DataType": "String", "StringValue": schedule.target_arn},
                },
            )
        return False

    # ------------------------------------------------------------------ Step Functions
    def settle(self, timeout: float | None = None) -> None:
        """Wait for running Step Functions executions (see :mod:`emulator.stepfunctions`)."""
        self._executions.settle(timeout=timeout if timeout is not None else self.settle_timeout)

    def executions(self, state_machine: str | None = None) -> list[ExecutionRecord]:
        """Every execution (optionally of one state machine, by logical id), oldest first."""
        records = self._executions.records()
        if state_machine is not None:
            records = [r for r in records if r.state_machine == state_machine]
        return records

    def execution_history(self, execution_arn: str) -> list[dict[str, Any]]:
        return self._executions.history(execution_arn)

    def start_execution(self, state_machine: str, payload: Any, *, name: str | None = None) -> str:
        """Start a stack state machine (by logical id) and return the execution ARN."""
        arn = self.deployment.state_machine_arn(state_machine)
        request: dict[str, Any] = {"stateMachineArn": arn, "input": json.dumps(payload)}
        if name:
            request["name"] = name
        return str(client("stepfunctions").start_execution(**request)["executionArn"])

    def _report_executions(self) -> list[ExecutionRecord]:
        finished: list[ExecutionRecord] = []
        for item in self._executions.summaries():
            arn = item["executionArn"]
            if item["status"] == "RUNNING" or arn in self._reported_executions:
                continue
            record = self._executions.describe(arn)
            self._reported_executions.add(arn)
            finished.append(record)
            if record.succeeded:
                text = f"{record.state_machine} {record.name}: SUCCEEDED"
                if isinstance(record.output, dict):
                    brief = ", ".join(
                        f"{k}={v}"
                        for k, v in record.output.items()
                        if isinstance(v, int | float | str) and len(str(v)) < 40
                    )
                    text += f" ({brief})" if brief else ""
                    changes = record.output.get("changes")
                    if isinstance(changes, list) and changes:
                        text += " - " + "; ".join(str(change) for change in changes)
            else:
                text = (
                    f"{record.state_machine} {record.name}: {record.status}"
                    f" {record.error or ''} {(record.cause or '')[:160]}"
                )
            self._add(self.now, "execution", text.strip(), {"execution_arn": record.arn})
        return finished

    # ------------------------------------------------------------------ Lambda
    def invoke(
        self, logical_id: str, event: Any, *, invocation_type: str = "RequestResponse"
    ) -> Any:
        """Invoke a stack function through the Lambda API (as Step Functions would).

        Returns the decoded result; raises :class:`~emulator.errors.FunctionError` if the
        handler raised. ``invocation_type="Event"`` returns ``None`` (asynchronous semantics).
        """
        response = client("lambda").invoke(
            FunctionName=self.deployment.function_name(logical_id),
            InvocationType=invocation_type,
            Payload=json.dumps(event).encode(),
        )
        raw = response["Payload"].read()
        if invocation_type != "RequestResponse":
            return None
        value = json.loads(raw) if raw else None
        if response.get("FunctionError"):
            raise FunctionError(logical_id, value if isinstance(value, dict) else {})
        return value

    def post_function_url(
        self,
        logical_id: str,
        body: str,
        *,
        headers: Mapping[str, str],
        at: datetime | None = None,
        path: str = "/",
    ) -> dict[str, Any]:
        """POST ``body`` to a stack function's URL (at ``path``): invoke it with the event a
        function URL sends (payload format 2.0, ``requestContext.timeEpoch`` the simulated
        time, or ``at``) and return its ``{"statusCode", "headers", "body"}`` answer.

        Like a real function URL, a form-encoded body arrives base64-encoded.
        """
        moment = at or self.now
        function_name = self.deployment.function_name(logical_id)
        url = client("lambda").get_function_url_config(FunctionName=function_name)
        host = url["FunctionUrl"].split("/")[2]
        event = {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": "",
            "headers": {"host": host, **{k.lower(): v for k, v in headers.items()}},
            "requestContext": {
                "accountId": "anonymous",
                "domainName": host,
                "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1"},
                "requestId": str(uuid.uuid4()),
                "routeKey": "$default",
                "stage": "$default",
                "time": moment.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "timeEpoch": int(moment.timestamp() * 1000),
            },
            "body": base64.b64encode(body.encode()).decode(),
            "isBase64Encoded": True,
        }
        answer = self.invoke(logical_id, event)
        if not isinstance(answer, dict):
            raise EmulatorError(f"{logical_id} answered a function URL with {answer!r}")
        return answer

    def set_secret(self, logical_id: str, value: Mapping[str, Any]) -> None:
        """Store ``value`` (as JSON) in one of the stack's secrets."""
        arn = self.deployment.secret_arns.get(logical_id)
        if arn is None:
            raise EmulatorError(
                f"no secret {logical_id!r} in the stack (secrets: "
                f"{', '.join(self.deployment.secret_arns) or 'none'})"
            )
        client("secretsmanager").put_secret_value(SecretId=arn, SecretString=json.dumps(value))

    @property
    def logs(self) -> dict[str, FunctionLog]:
        """Logical id -> captured handler output."""
        return self.runtime.logs

    @property
    def invocations(self) -> list[Invocation]:
        return self.runtime.invocations

    @property
    def failures(self) -> list[AsyncFailure]:
        """Asynchronous events that failed every attempt."""
        return self.runtime.failures

    def set_slack_webhook(self, url: str, *, secret: str = "SlackWebhookSecret") -> None:
        """Store ``{"webhook_url": url}`` in the stack's Slack secret."""
        arn = self.deployment.secret_arns.get(secret)
        if arn is None:
            raise EmulatorError(
                f"no secret {secret!r} in the stack (secrets: "
                f"{', '.join(self.deployment.secret_arns) or 'none'})"
            )
        client("secretsmanager").put_secret_value(
            SecretId=arn, SecretString=json.dumps({"webhook_url": url})
        )

    def set_chat_secret(
        self, keys: Mapping[str, str], *, secret: str = "SlackWebhookSecret"
    ) -> None:
        """Store ``keys`` (``webhook_url`` and any key a receiver names) in the chat secret."""
        arn = self.deployment.secret_arns[secret]
        client("secretsmanager").put_secret_value(SecretId=arn, SecretString=json.dumps(keys))

    def update_rules(self, document: str) -> list[str]:
        """What a stack update of the ``RulesConfig`` parameter does: every function whose
        environment has ``VIGIL_RULES`` gets the new value (its next call is a cold start).
        Returns the functions updated."""
        lambda_client = client("lambda")
        updated = []
        for name in self.runtime.specs:
            configuration = lambda_client.get_function_configuration(FunctionName=name)
            variables = {
                k: str(v)
                for k, v in configuration.get("Environment", {}).get("Variables", {}).items()
            }
            if "VIGIL_RULES" not in variables:
                continue
            variables["VIGIL_RULES"] = document
            lambda_client.update_function_configuration(
                FunctionName=name, Environment={"Variables": variables}
            )
            updated.append(name)
        return updated

    def queue_messages(self, logical_id: str) -> list[dict[str, Any]]:
        """Messages waiting in a stack queue (e.g. a dead-letter queue), without consuming
        them: ``[{"body": ..., "attributes": {...}}]``."""
        url = self.deployment.queue_urls[logical_id]
        queue = sqs_backends[self.deployment.account_id][self.deployment.region].get_queue(
            url.rsplit("/", 1)[-1]
        )
        return [
            {"body": m.body, "attributes": dict(m.message_attributes or {})}
            for m in list(queue._messages)
        ]

    # ------------------------------------------------------------------ timeline
    @property
    def timeline(self) -> list[TimelineEntry]:
        with self._timeline_lock:
            return list(self._timeline)

    def on_timeline(self, listener: Callable[[TimelineEntry], None]) -> None:
        self._timeline_listeners.append(listener)

    def _add(self, at: datetime, kind: str, summary: str, data: dict[str, Any]) -> None:
        entry = TimelineEntry(at, kind, summary, data)
        with self._timeline_lock:
            self._timeline.append(entry)
        for listener in list(self._timeline_listeners):
            listener(entry)

    def _on_invocation(self, invocation: Invocation) -> None:
        if invocation.ok:
            return
        message = ""
        if isinstance(invocation.result, dict):
            message = str(invocation.result.get("errorMessage", ""))[:200]
        self._add(
            invocation.sim_time,
            "lambda-error",
            f"{invocation.function} ({invocation.source}, attempt {invocation.attempt}):"
            f" {invocation.error_type}: {message}",
            {"request_id": invocation.request_id},
        )

    def _invoke_destination(self, arn: str, event: dict[str, Any]) -> tuple[bool, tuple[str, ...]]:
        """CloudWatch Logs' asynchronous invocation of a subscription's Lambda destination."""
        name = parse_arn(arn)[4].split(":")[1]
        if not self.runtime.manages(name):
            invoke_destination(arn, event)
            return True, ()
        before = len(self.runtime.invocations)
        ok = self.runtime.invoke_async(name, event, source="logs")
        runs = self.runtime.invocations[before:]
        return ok, tuple(r.request_id for r in runs if r.function_name == name)

    def _on_log_delivery(self, delivery: LogDelivery) -> None:
        target = self._destination_label(delivery.destination_arn)
        if delivery.message_type == "CONTROL_MESSAGE":
            text = f"{target}: control message ({delivery.subscription})"
        else:
            lines = "line" if delivery.event_count == 1 else "lines"
            text = f"{target}: {delivery.event_count} {lines} of {delivery.function}"
        if not delivery.ok:
            text += " [invocation failed]"
        self._add(
            delivery.at,
            "logs",
            text,
            {"log_group": delivery.log_group, "events": delivery.event_count},
        )

    def _destination_label(self, arn: str) -> str:
        """``error stream`` for ``ErrorStreamFunction``; the function name otherwise."""
        name = parse_arn(arn)[4].split(":")[1]
        logical = self.runtime.specs[name].logical_id if self.runtime.manages(name) else name
        words = re.findall(r"[A-Z][a-z0-9]*|[a-z0-9]+", logical.removesuffix("Function"))
        return " ".join(w.lower() for w in words) if logical != name else name

    def _on_failure(self, failure: AsyncFailure) -> None:
        where = ", ".join(a.rsplit(":", 1)[-1] for a in failure.sent_to) or "nowhere (lost)"
        self._add(
            failure.sim_time,
            "failure",
            f"{failure.function}: gave up after {failure.attempts} attempts"
            f" ({failure.error_type}); event sent to {where}",
            {"function": failure.function},
        )

    def _on_slack(self, post: SlackPost) -> None:
        status = "" if post.delivered else f" [answered {post.status}]"
        self._add(post.sim_time or self.now, "slack", f"{post.title}{status}", {"path": post.path})

    def _on_email(self, email: Email) -> None:
        severity = email.attribute("severity")
        tag = f" [{severity}]" if severity else ""
        self._add(email.sent_at, "email", f"to {email.to}{tag}: {email.subject}", {})

    # ------------------------------------------------------------------ reporting
    def describe(self) -> str:
        """What runs where, the schedules, and the local endpoints."""
        lines = [self.deployment.describe(), "", "Schedules (fired by the emulator Clock):"]
        for schedule in self.schedules:
            lines.append(f"  {schedule.name}: {schedule.expression} -> {schedule.target_arn}")
        lines += [
            "",
            f"Slack webhook (local): {self.slack.webhook_url}",
            f"Simulated time: {iso_z(self.now)}",
        ]
        return "\n".join(lines)

    def write_output(self, directory: Path) -> Path:
        """Write Slack payloads, emails, execution histories, handler logs, the timeline, the
        log deliveries and the deployment description under ``directory``; return it."""
        directory.mkdir(parents=True, exist_ok=True)

        def dump(path: Path, value: Any) -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(value, indent=2, default=str) + "\n", encoding="utf-8")

        for index, post in enumerate(self.slack.posts, 1):
            stamp = iso_z(post.sim_time).replace(":", "") if post.sim_time else "unknown"
            dump(
                directory / "slack" / f"{index:03d}-{stamp}.json",
                {
                    "path": post.path,
                    "status": post.status,
                    "sim_time": post.sim_time,
                    "received_at": post.received_at,
                    "title": summarize_payload(post.payload) if post.payload else None,
                    "payload": post.payload if post.payload is not None else post.body,
                },
            )
        for index, email in enumerate(self.mailbox.emails, 1):
            stamp = iso_z(email.sent_at).replace(":", "")
            path = directory / "email" / f"{index:03d}-{stamp}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(email.rendered(), encoding="utf-8")
        for index, record in enumerate(self.executions(), 1):
            dump(
                directory / "executions" / f"{index:03d}-{record.state_machine}-{record.name}.json",
                {"execution": record.__dict__, "history": self.execution_history(record.arn)},
            )
        for logical_id, function_log in self.logs.items():
            function_log.write(directory / "logs" / f"{logical_id}.log")
        timeline = self.timeline
        (directory / "timeline.txt").write_text(
            "\n".join(entry.line() for entry in timeline) + "\n", encoding="utf-8"
        )
        dump(directory / "timeline.json", [entry.__dict__ for entry in timeline])
        dump(directory / "failures.json", [f.__dict__ for f in self.failures])
        dump(
            directory / "log-deliveries.json",
            [
                {
                    "at": d.at,
                    "message_type": d.message_type,
                    "log_group": d.log_group,
                    "subscription": d.subscription,
                    "destination_arn": d.destination_arn,
                    "events": d.event_count,
                    "payload_bytes": d.payload_bytes,
                    "ok": d.ok,
                }
                for d in self.log_subscriptions.deliveries
            ],
        )
        (directory / "deployment.txt").write_text(self.describe() + "\n", encoding="utf-8")
        return directory


def _cost_explorer_for(
    scenario: Scenario | None, *, now: Callable[[], datetime]
) -> FakeCostExplorer:
    """The bill the scenario describes (an empty one without ``costs``)."""
    if scenario is None or scenario.costs is None:
        return FakeCostExplorer(bill={}, now=now)
    costs = scenario.costs
    services = [spec.series() for spec in costs.services]
    first = scenario.start.date() - timedelta(days=costs.history_days)
    bill = generate(services, first, scenario.end.date() + timedelta(days=1), seed=scenario.seed)
    anomalies = [ScenarioAnomaly(a.service, a.day, a.impact_usd) for a in costs.anomalies]
    return FakeCostExplorer(bill=bill, services=services, anomalies=anomalies, now=now)
