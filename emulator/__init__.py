"""Vigil's local emulator: the real ``template.yaml`` and handlers, in-process, on moto.

Everything runs inside one Python process under moto's ``mock_aws`` (no Docker, no network
except ``127.0.0.1``, fake credentials). The emulator deploys the SAM template into moto's
CloudFormation, runs the real handler code whenever a deployed Lambda function is invoked,
captures email, stands in for Slack, and drives the schedules on a simulated clock while it
writes the CloudWatch metrics of a scenario.

Quick start (tests)::

    from emulator import Emulator

    with Emulator.start(parameters={"AlertEmail": "ops@example.com"},
                        scenario="outage-demo") as emu:
        emu.deployment.topic_arn              # stack outputs / physical ids by logical id
        emu.play()                            # advance the clock to the scenario's end
        # or: emu.advance_to(t) / emu.advance(timedelta(minutes=5))
        emu.slack.posts                       # every POST the local Slack received
        emu.mailbox.emails                    # every email SNS would have sent
        emu.executions("EvaluateStateMachine")# Step Functions executions (records)
        emu.invoke("EvaluateFunction", event) # Lambda API invoke -> decoded result
        emu.logs["NotifyChatFunction"].text() # captured handler output
        emu.timeline                          # what happened, at simulated time
        print(emu.describe())                 # what runs where

Demo: ``python -m emulator.demo [--scenario NAME_OR_PATH] [--out DIR]``.

Public API
----------
:class:`Emulator` (``emulator.core``)
    ``Emulator.start(parameters=, scenario=, project_root=, code_dirs=, start=, mock=True,
    settle_timeout=30, slack_secret="SlackWebhookSecret", echo_logs=None)`` is a context
    manager that starts ``mock_aws`` (or uses the caller's with ``mock=False``; it must use
    :data:`MOTO_CONFIG`), fake credentials, the Slack server and the patches, deploys, and
    yields the emulator. Attributes: ``deployment`` (:class:`Deployment`), ``clock``
    (:class:`Clock`), ``slack`` (:class:`SlackServer`), ``mailbox`` (:class:`Mailbox`),
    ``runtime`` (:class:`LambdaRuntime`), ``metrics`` (:class:`MetricsWriter`), ``scenario``,
    ``backoff_waits`` (the chat clients' and AWS SDK's retry back-off, noted and not slept:
    :mod:`emulator.backoff`), ``log_subscriptions`` (:class:`LogSubscriptions`: the account's
    subscription filter policy, ``deliveries`` of error lines as :class:`LogDelivery` records).
    Methods: ``play(until=None)``, ``advance(delta)``, ``advance_to(t)``, ``settle(timeout=None)``,
    ``executions(state_machine=None)``, ``execution_history(arn)``,
    ``start_execution(logical_id, payload, name=None)``, ``invoke(logical_id, event,
    invocation_type="RequestResponse")``, ``queue_messages(logical_id)``,
    ``set_slack_webhook(url)``, ``set_chat_secret(keys)``, ``update_rules(document)`` (a
    stack update of ``RulesConfig``), ``set_secret(logical_id, value)``,
    ``post_function_url(logical_id, body, headers=, at=None)``, ``describe()``,
    ``write_output(dir)``; properties ``now``,
    ``logs``, ``invocations``, ``failures``, ``timeline``, ``schedules``, ``fires``.
:func:`deploy` (``emulator.deploy``)
    Deploy the template into an active mock; returns a :class:`Deployment` (outputs,
    ``physical_ids``, ``function_names``, ``state_machine_arns``, ``topic_arn``,
    ``table_name``, ``queue_urls``, ``secret_arns``, ``placements``, ``describe()``) and the
    function specs for a :class:`LambdaRuntime`.
:func:`load_scenario` / :class:`Scenario` (``emulator.scenario``)
    Scenario files; ``emulator/scenarios/*.yaml`` are the built-ins.

What moto does not do, and what the emulator fills in
-----------------------------------------------------
======================================  ==================================================
moto 5.2 alone                          the emulator
======================================  ==================================================
No SAM transform.                       aws-sam-translator, offline (managed-policy names
                                        from the data moto ships); code zipped to moto S3;
                                        ``DefinitionUri`` inlined.
No CloudFormation for SNS               Small CloudFormation handlers create them in moto
subscriptions, Secrets Manager          through the service APIs (``cfn_shims``), so
secrets, SQS queue policies,            ``Ref``/``GetAtt`` to them resolve; only while the
Scheduler schedules and groups,         emulator runs.
CloudWatch alarms, Lambda event
invoke configs (``Ref`` to them
resolves to nothing).
State machines from CloudFormation      Created in the executing backend, with
land in the non-executing backend;      ``DefinitionSubstitutions`` applied (``${Key}`` only;
``DefinitionSubstitutions`` ignored.    ``$$.`` paths untouched); unresolved placeholders
                                        fail the deployment.
Function ``Layers`` and                 Layers attached after creation; the layer folder is
``DeadLetterConfig`` ignored.           put on ``sys.path``; the DLQ is used by the runtime.
Lambda invoke returns a canned          The real handler runs in-process (cold start once per
payload (no Docker).                    function, function env, fake context, captured logs,
                                        Lambda error payloads, async retries + DLQ).
SNS does nothing for ``email``; its     Email captured in the :class:`Mailbox` after moto's
Lambda event has placeholder            filter policy and ``MessageStructure`` handling;
attributes, subject and timestamp.      Lambda subscribers get the real attributes, subject,
                                        topic and a simulated-time timestamp.
``StartExecution`` without ``name``     A UUID name, as AWS does.
uses ``None``.
Schedules are stored, never fired.      :class:`Clock` fires them on simulated time and waits
                                        for the workflows they start.
No Lambda metrics.                      Scenario workloads' and the stack's own
                                        ``AWS/Lambda`` metrics are written per minute.
No CloudFormation for Lambda function  The URL config is created in moto (``cfn_shims``);
URLs, and no HTTP behind them.          :meth:`Emulator.post_function_url` invokes the function
                                        with the event a function URL sends (payload 2.0,
                                        base64 body, ``timeEpoch`` the simulated time).
No Slack.                               :class:`SlackServer` on ``127.0.0.1``; its URL is put
                                        in the stack's Slack secret.
``Wait`` states sleep and task tokens   They follow the simulated clock: ``advance_to``
time out in real time; context times    releases them in deadline order (``emu.waits``);
are wall-clock times.                   ``$$.Execution.StartTime`` and
                                        ``$$.State.EnteredTime`` are simulated times.
No Route 53 ARC data plane.             ``emu.arc`` answers ``route53-recovery-cluster``
                                        Get/UpdateRoutingControlState at the HTTP level.
No Lambda log lines of workloads; no    A phase's ``exceptions`` are played as error lines
account-level log policies; filters     and delivered at the end of each minute (+5 s) to
store a subscription, never deliver     the account policy's and the log group's filters'
through its pattern.                    Lambda destinations, pattern applied, base64 gzip
                                        batches (:mod:`emulator.logs`).
======================================  ==================================================

Not emulated: IAM and resource policies are not enforced; KMS encryption, X-Ray and log
retention are not applied; CloudWatch alarms are stored but never evaluated; Lambda timeouts are
only checked after the run and memory is not limited; async retries happen immediately (AWS
waits minutes); Express workflows keep an execution history here; email subscriptions count as
confirmed; only scheduled times, SNS timestamps, emitted metrics and Step Functions waits,
task-token time-outs and context-object times (:mod:`emulator.sfn_time`) follow the simulated
clock (code calling ``datetime.now()`` sees the wall clock).
:meth:`Emulator.describe` prints, per resource of the deployed template, whether moto's
CloudFormation created it, an emulator handler created it in moto, or it was skipped.
"""

from emulator._aws import ACCOUNT_ID, MOTO_CONFIG, REGION
from emulator.clock import Clock, Occurrence, Schedule
from emulator.core import PROJECT_ROOT, Emulator, FireResult, TimelineEntry
from emulator.deploy import Deployment, ResourcePlacement, deploy
from emulator.errors import (
    DeployError,
    EmulatorError,
    FunctionError,
    ScenarioError,
    SettleTimeout,
)
from emulator.lambda_runtime import (
    AsyncFailure,
    FakeLambdaContext,
    FunctionLog,
    Invocation,
    LambdaRuntime,
)
from emulator.logs import LogDelivery, LogSubscriptions
from emulator.mailbox import Email, Mailbox
from emulator.metrics import MetricsWriter
from emulator.scenario import Scenario, load_scenario
from emulator.slack import SlackPost, SlackServer
from emulator.stepfunctions import ExecutionRecord

__all__ = [
    "ACCOUNT_ID",
    "MOTO_CONFIG",
    "PROJECT_ROOT",
    "REGION",
    "AsyncFailure",
    "Clock",
    "DeployError",
    "Deployment",
    "Email",
    "Emulator",
    "EmulatorError",
    "ExecutionRecord",
    "FakeLambdaContext",
    "FireResult",
    "FunctionError",
    "FunctionLog",
    "Invocation",
    "LambdaRuntime",
    "LogDelivery",
    "LogSubscriptions",
    "Mailbox",
    "MetricsWriter",
    "Occurrence",
    "ResourcePlacement",
    "Scenario",
    "ScenarioError",
    "Schedule",
    "SettleTimeout",
    "SlackPost",
    "SlackServer",
    "TimelineEntry",
    "deploy",
    "load_scenario",
]
