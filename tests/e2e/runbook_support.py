"""Shared set-up of the outage runbook's end-to-end tests: an emulator with failover targets
(a hosted zone with weighted records, an ARC routing control) and AWS Health issues, the
approval answered the way the Slack endpoint and the CLI answer it, and the status page
rendered in headless Chromium."""

import contextlib
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from emulator import MOTO_CONFIG, Emulator
from emulator._aws import REGION, hermetic_aws_environ
from emulator.scenario import parse_scenario
from emulator.status_page import CHROMIUM, run_chromium
from vigil.adapters.incident_store import ApprovalStore, IncidentStore
from vigil.adapters.workflow import TaskCallback
from vigil.runbook.gate import Approval, decide
from vigil.runbook.incident import Incident

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
RUNBOOK = "OutageRunbookStateMachine"
ROUTING_CONTROL = (
    "arn:aws:route53-recovery-control::123456789012:controlpanel/abc/routingcontrol/west"
)
UNKNOWN_CONTROL = (
    "arn:aws:route53-recovery-control::123456789012:controlpanel/abc/routingcontrol/gone"
)
ENDPOINT_DOWN = "https://aaaa1111.route53-recovery-cluster.us-west-2.amazonaws.com/v1"
ENDPOINT_UP = "https://bbbb2222.route53-recovery-cluster.eu-west-1.amazonaws.com/v1"
ACTIVE_REGION = "/vigil/failover/active-region"
RECORD = "api.example.com."


def _plans(zone_id: str) -> dict[str, Any]:
    endpoints = [
        {"url": ENDPOINT_DOWN, "region": "us-west-2"},
        {"url": ENDPOINT_UP, "region": "eu-west-1"},
    ]
    return {
        "plans": {
            "to-west": {
                "description": "Serve the API from us-west-2",
                "failback": "Once us-east-1 is healthy, run the plan's actions back by hand.",
                "actions": [
                    {
                        "type": "arc_routing_control",
                        "routing_control_arn": ROUTING_CONTROL,
                        "state": "On",
                        "cluster_endpoints": endpoints,
                    },
                    {
                        "type": "route53_weight",
                        "hosted_zone_id": zone_id,
                        "record_name": RECORD,
                        "record_type": "A",
                        "set_identifier": "west",
                        "weight": 100,
                    },
                    {"type": "ssm_parameter", "name": ACTIVE_REGION, "value": "us-west-2"},
                ],
            },
            "broken": {
                "description": "A routing control that no longer exists, then the flag",
                "actions": [
                    {
                        "type": "arc_routing_control",
                        "routing_control_arn": UNKNOWN_CONTROL,
                        "state": "On",
                        "cluster_endpoints": endpoints,
                    },
                    {"type": "ssm_parameter", "name": ACTIVE_REGION, "value": "us-west-2"},
                ],
            },
        }
    }


def _weighted_zone() -> str:
    route53 = boto3.client("route53")
    zone = route53.create_hosted_zone(Name="example.com.", CallerReference="runbook-tests")
    zone_id = str(zone["HostedZone"]["Id"]).rsplit("/", 1)[-1]
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": RECORD,
                        "Type": "A",
                        "SetIdentifier": ident,
                        "Weight": weight,
                        "TTL": 60,
                        "ResourceRecords": [{"Value": address}],
                    },
                }
                for ident, weight, address in (
                    ("east", 100, "192.0.2.10"),
                    ("west", 0, "192.0.2.20"),
                )
            ]
        },
    )
    return zone_id


@contextlib.contextmanager
def runbook_emulator(**parameters: object) -> Iterator[Emulator]:
    """The template deployed with the plans above and a Lambda issue in us-east-1 that AWS
    Health reports open from the start and closes after 90 minutes (API only: Vigil's own
    detection stays out of these runs)."""
    scenario = parse_scenario(
        {
            "name": "runbook",
            "start": START.isoformat(),
            "duration": "6h",
            "health": {
                "events": [
                    {
                        "service": "LAMBDA",
                        "event_type_code": "AWS_LAMBDA_OPERATIONAL_ISSUE",
                        "category": "issue",
                        "region": "us-east-1",
                        "eventbridge": False,
                        "updates": [
                            {
                                "at": "0m",
                                "status": "open",
                                "description": "Increased invocation errors in US-EAST-1.",
                                "entities": ["orders-api"],
                            },
                            {
                                "at": "45m",
                                "status": "open",
                                "description": "We are applying mitigations.",
                                "entities": ["orders-api"],
                            },
                            {"at": "90m", "status": "closed", "description": "Resolved."},
                        ],
                    }
                ]
            },
        }
    )
    with mock_aws(config=MOTO_CONFIG), hermetic_aws_environ(REGION):
        zone_id = _weighted_zone()
        settings = {
            "AlertEmail": "ops@example.com",
            "HealthPollSchedule": "rate(24 hours)",
            # No workload runs here: collect rarely, the runbook is what is under test.
            "CollectSchedule": "rate(1 hour)",
            "FailoverPlans": json.dumps(_plans(zone_id)),
            "FailoverHostedZoneIds": zone_id,
            **parameters,
        }
        with Emulator.start(scenario=scenario, parameters=settings, mock=False) as emu:
            emu.arc.add(ROUTING_CONTROL, "Off")
            yield emu


def start(emu: Emulator, name: str, **request: object) -> str:
    payload = {"reason": "Elevated errors seen by customers", "requested_by": "alice", **request}
    arn = emu.start_execution(RUNBOOK, payload, name=name)
    emu.settle()
    return arn


def describe(arn: str) -> dict[str, Any]:
    return dict(boto3.client("stepfunctions").describe_execution(executionArn=arn))


def incident(emu: Emulator, name: str) -> Incident:
    body = IncidentStore(boto3.client("dynamodb"), emu.deployment.table_name).get(name)
    assert body is not None, f"no incident record {name}"
    return Incident.model_validate_json(body)


def approval(emu: Emulator, name: str) -> Approval | None:
    return ApprovalStore(boto3.client("dynamodb"), emu.deployment.table_name).get(name)


def answer(emu: Emulator, name: str, *, approve: bool, actor: str, comment: str) -> Approval:
    """Decide the gate exactly as the Slack endpoint and the CLI do, then let it run."""
    decided = decide(
        name,
        approve=approve,
        actor=actor,
        now=emu.now,
        store=ApprovalStore(boto3.client("dynamodb"), emu.deployment.table_name),
        callback=TaskCallback(boto3.client("stepfunctions")),
        comment=comment,
    )
    emu.settle()
    return decided


def subjects(emu: Emulator) -> list[str]:
    return [email.subject for email in emu.mailbox.emails]


def weights() -> dict[str, int]:
    route53 = boto3.client("route53")
    zone_id = str(route53.list_hosted_zones()["HostedZones"][0]["Id"]).rsplit("/", 1)[-1]
    records = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return {str(r["SetIdentifier"]): int(r["Weight"]) for r in records if "SetIdentifier" in r}


def active_region() -> str | None:
    ssm = boto3.client("ssm")
    try:
        return str(ssm.get_parameter(Name=ACTIVE_REGION)["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        return None


def bucket(emu: Emulator) -> str:
    return str(emu.deployment.outputs["RunbookBucketName"])


def status_page(emu: Emulator, key: str) -> str:
    """The current object ``key`` of the runbook bucket (``status/index.html``, ...)."""
    body = boto3.client("s3").get_object(Bucket=bucket(emu), Key=key)["Body"]
    return str(body.read().decode())


def status_page_versions(emu: Emulator, key: str = "status/index.html") -> list[str]:
    """Every version the workflow wrote of ``key`` (the index, or an incident's own page,
    ``status/incidents/<id>.html``), oldest first."""
    s3 = boto3.client("s3")
    name = bucket(emu)
    versions = s3.list_object_versions(Bucket=name, Prefix=key)["Versions"]
    # S3 lists the versions of a key newest first.
    ordered = list(reversed([v for v in versions if v["Key"] == key]))
    return [
        s3.get_object(Bucket=name, Key=key, VersionId=v["VersionId"])["Body"].read().decode()
        for v in ordered
    ]


def render(html: str) -> str:
    """The DOM headless Chromium builds from the page (no JavaScript is involved)."""
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} is missing: run `make chromium` (as root) to install it"
        if os.environ.get("CI"):
            pytest.fail(missing)  # CI installs it (`make test`): a skip there would hide a gap
        pytest.skip(missing)
    return run_chromium(["--dump-dom"], html)
