"""The runbook's adapters on moto: failover runners, the runbook bucket, the incident
record, the alerts topic; ARC through the emulator's HTTP-level fake (moto has no ARC)."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.config import Config

from emulator.arc import FakeRoutingControls
from vigil.adapters.failover import ArcRoutingControls, Route53Weights, SsmParameters
from vigil.adapters.incident_store import IncidentStore
from vigil.adapters.runbook import AlertsTopic, RunbookBucket
from vigil.adapters.stats import CallStats
from vigil.core.errors import ConflictError
from vigil.core.model import Notification, Severity
from vigil.rules.status_page import StatusPageConfig
from vigil.runbook.failover import (
    ArcRoutingControl,
    ClusterEndpoint,
    FailoverActionError,
    Route53Weight,
    SsmParameter,
)
from vigil.runbook.incident import Incident, RunbookInput

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
CONTROL = "arn:aws:route53-recovery-control::123456789012:controlpanel/p/routingcontrol/west"
DOWN = "https://aaaa1111.route53-recovery-cluster.us-west-2.amazonaws.com/v1"
UP = "https://bbbb2222.route53-recovery-cluster.eu-west-1.amazonaws.com/v1"


def _arc_client(url: str, region: str) -> object:
    return boto3.client(
        "route53-recovery-cluster",
        region_name=region,
        endpoint_url=url,
        config=Config(retries={"total_max_attempts": 1}),
    )


@pytest.fixture
def arc(aws: None) -> Iterator[FakeRoutingControls]:
    fake = FakeRoutingControls(down={DOWN})
    fake.add(CONTROL, "Off")
    with fake.installed():
        yield fake


def _arc_action(arn: str = CONTROL) -> ArcRoutingControl:
    return ArcRoutingControl(
        type="arc_routing_control",
        routing_control_arn=arn,
        state="On",
        cluster_endpoints=[
            ClusterEndpoint(url=DOWN, region="us-west-2"),
            ClusterEndpoint(url=UP, region="eu-west-1"),
        ],
    )


def test_arc_skips_an_unavailable_endpoint_and_flips_the_control(
    arc: FakeRoutingControls,
) -> None:
    stats = CallStats()
    runner = ArcRoutingControls(_arc_client, stats)

    preview = runner.preview(_arc_action())
    applied = runner.apply(_arc_action())

    assert preview == f"set routing control {CONTROL} from Off to On"
    assert applied == preview
    assert arc.states[CONTROL] == "On"
    assert [(r.endpoint, r.status) for r in arc.requests][:2] == [(DOWN, 500), (UP, 200)]
    assert stats.by_api == {"get_routing_control_state": 4, "update_routing_control_state": 2}


def test_arc_reports_an_unknown_control_and_all_endpoints_down(arc: FakeRoutingControls) -> None:
    runner = ArcRoutingControls(_arc_client)
    gone = CONTROL.replace("west", "gone")

    with pytest.raises(FailoverActionError, match="ResourceNotFoundException"):
        runner.apply(_arc_action(gone))
    arc.down.add(UP)
    with pytest.raises(FailoverActionError, match="no cluster endpoint answered"):
        runner.preview(_arc_action())


def _zone() -> str:
    route53 = boto3.client("route53")
    zone = route53.create_hosted_zone(Name="example.com.", CallerReference="t")["HostedZone"]
    zone_id = str(zone["Id"]).rsplit("/", 1)[-1]
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": "api.example.com.",
                        "Type": "A",
                        "SetIdentifier": "west",
                        "Weight": 0,
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "192.0.2.20"}],
                    },
                }
            ]
        },
    )
    return zone_id


def _weight(zone_id: str, ident: str = "west") -> Route53Weight:
    return Route53Weight(
        type="route53_weight",
        hosted_zone_id=zone_id,
        record_name="api.example.com.",
        record_type="A",
        set_identifier=ident,
        weight=100,
    )


def test_route53_changes_only_the_weight_of_the_named_record(aws: None) -> None:
    zone_id = _zone()
    runner = Route53Weights(boto3.client("route53"))

    preview = runner.preview(_weight(zone_id))
    applied = runner.apply(_weight(zone_id))
    record = boto3.client("route53").list_resource_record_sets(HostedZoneId=zone_id)[
        "ResourceRecordSets"
    ][-1]

    assert preview.endswith("from 0 to 100")
    assert applied.startswith(preview)
    assert (record["Weight"], record["TTL"], record["ResourceRecords"]) == (
        100,
        60,
        [{"Value": "192.0.2.20"}],
    )
    assert runner.stats.by_api == {"ListResourceRecordSets": 2, "ChangeResourceRecordSets": 1}


def test_route53_reports_a_missing_record_and_a_missing_zone(aws: None) -> None:
    zone_id = _zone()
    runner = Route53Weights(boto3.client("route53"))

    with pytest.raises(FailoverActionError, match=r"\(east\) .* does not exist"):
        runner.preview(_weight(zone_id, "east"))
    with pytest.raises(FailoverActionError, match="NoSuchHostedZone"):
        runner.apply(_weight("ZNOSUCHZONE"))


def test_ssm_flip_says_what_it_was_and_writes_the_value(aws: None) -> None:
    runner = SsmParameters(boto3.client("ssm"))
    action = SsmParameter(type="ssm_parameter", name="/vigil/failover/region", value="us-west-2")

    first = runner.preview(action)
    applied = runner.apply(action)
    again = runner.preview(action)

    assert first == "set parameter /vigil/failover/region from (not set) to 'us-west-2'"
    assert applied == f"{first} (version 1)"
    assert again == "set parameter /vigil/failover/region from 'us-west-2' to 'us-west-2'"


def _incident(incident_id: str, opened: datetime) -> Incident:
    return Incident(
        incident_id=incident_id,
        status="open",
        opened_at=opened,
        request=RunbookInput(service="lambda", region="us-east-1", reason="errors"),
        timeline=[],
    )


def test_incident_records_update_in_place_and_list_newest_first(table: str) -> None:
    store = IncidentStore(boto3.client("dynamodb"), table)
    for index in range(3):
        item = _incident(f"inc-{index}", T0 + timedelta(minutes=index))
        store.open(item.incident_id, item.model_dump_json(), opened_at=item.opened_at)

    store.save("inc-1", _incident("inc-1", T0).model_copy(update={"checks": 7}).model_dump_json())

    assert [Incident.model_validate_json(b).incident_id for b in store.recent(2)] == [
        "inc-2",
        "inc-1",
    ]
    assert Incident.model_validate_json(store.get("inc-1") or "").checks == 7
    with pytest.raises(ConflictError):
        store.save("inc-9", "{}")


def test_the_bucket_holds_each_incidents_page_the_index_at_stable_keys_and_the_report(
    aws: None,
) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="runbook")
    bucket = RunbookBucket(s3, "runbook", region="us-east-1", title="Acme status")
    one, two = _live(_incident("inc-1", T0)), _live(_incident("inc-2", T0 + timedelta(minutes=1)))

    bucket.publish(one, [one], now=T0)
    bucket.publish(two, [two, one], now=T0 + timedelta(minutes=1))
    key, url = bucket.store("inc-1", "# report\n", "{}")
    page = s3.get_object(Bucket="runbook", Key="status/index.html")
    status = json.loads(s3.get_object(Bucket="runbook", Key="status/status.json")["Body"].read())
    own = s3.get_object(Bucket="runbook", Key="status/incidents/inc-1.html")
    own_json = json.loads(
        s3.get_object(Bucket="runbook", Key="status/incidents/inc-1.json")["Body"].read()
    )
    feed = s3.get_object(Bucket="runbook", Key="status/feed.atom")

    assert page["ContentType"] == own["ContentType"] == "text/html; charset=utf-8"
    assert page["CacheControl"] == own["CacheControl"] == "public, max-age=30"
    assert feed["ContentType"] == "application/atom+xml; charset=utf-8"
    assert [i["id"] for i in status["incidents"]] == ["inc-2", "inc-1"]
    assert (own_json["id"], own_json["phase"]) == ("inc-1", "Investigating")
    assert key == "s3://runbook/reports/inc-1/report.md"
    assert url.startswith("https://us-east-1.console.aws.amazon.com/s3/object/runbook?")
    assert bucket.stats.by_api == {"PutObject": 14}


def _live(incident: Incident) -> Incident:
    return incident.model_copy(
        update={"request": incident.request.model_copy(update={"dry_run": False})}
    )


def _latest() -> dict[str, str]:
    """The current version of every key in the runbook bucket."""
    listed = boto3.client("s3").list_object_versions(Bucket="runbook")["Versions"]
    return {str(v["Key"]): str(v["VersionId"]) for v in listed if v["IsLatest"]}


def test_a_dry_run_writes_a_private_preview_and_leaves_the_public_page_untouched(
    aws: None,
) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="runbook")
    s3.put_bucket_versioning(Bucket="runbook", VersioningConfiguration={"Status": "Enabled"})
    config = StatusPageConfig.model_validate(
        {"title": "Acme", "components": [{"name": "Checkout", "services": ["lambda"]}]}
    )
    bucket = RunbookBucket(s3, "runbook", region="us-east-1", title="Service status", page=config)
    live = _live(_incident("inc-1", T0))
    bucket.publish(live, [live], now=T0)
    public = _latest()
    rehearsal = _incident("dry-1", T0 + timedelta(minutes=1))

    bucket.publish(rehearsal, [rehearsal, live], now=T0 + timedelta(minutes=1))

    after = _latest()
    preview = s3.get_object(Bucket="runbook", Key="preview/status/incidents/dry-1.html")
    index = s3.get_object(Bucket="runbook", Key="preview/status/index.html")["Body"].read()
    assert {k: v for k, v in after.items() if k.startswith("status/")} == public
    assert sorted(k for k in after if not k.startswith("status/")) == [
        "preview/status/feed.atom",
        "preview/status/incidents/dry-1.atom",
        "preview/status/incidents/dry-1.html",
        "preview/status/incidents/dry-1.json",
        "preview/status/index.html",
        "preview/status/status.json",
    ]
    assert preview["CacheControl"] == "private, no-store"
    assert b"<h1>Checkout: outage</h1>" in preview["Body"].read()
    assert b"<title>Acme: 1 ongoing incident</title>" in index  # the config's title wins
    assert b"inc-1" not in index
    assert bucket.preview_link("dry-1").endswith("&prefix=preview/status/incidents/dry-1.html")


def test_the_topic_publishes_with_the_routing_attributes(aws: None) -> None:
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="q")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    notification = Notification(
        notification_id="incident-1-approval",
        subject="Approve?",
        message=json.dumps({"default": "text", "email": "text", "lambda": "{}"}),
        severity=Severity.CRITICAL,
        status="firing",
        category="outage",
    )

    AlertsTopic(sns, topic).publish(notification)
    body = json.loads(sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"])

    assert body["Subject"] == "Approve?"
    assert body["MessageAttributes"]["severity"]["Value"] == "critical"
    assert body["MessageAttributes"]["channels"]["Value"] == '["email", "slack"]'
