"""What the outage runbook's steps reach: the runbook bucket (status pages, reports), the
alerts topic (the approval request), Vigil's own signals, AWS Health and Step Functions
(whether the runbook holding a scope still runs)."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError

from vigil.adapters.alert_store import AlertStore
from vigil.adapters.health_api import HealthApi
from vigil.adapters.health_store import OutageStore
from vigil.adapters.stats import CallStats
from vigil.core.model import Alert, HealthEvent, Notification
from vigil.health.outages import Outage, service_of
from vigil.rules.status_page import StatusPageConfig
from vigil.runbook.incident import Incident
from vigil.runbook.status_page import StatusPage, documents, incident_keys

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_stepfunctions import SFNClient

REPORT_PREFIX = "reports/"
# Open issues are usually updated every 30-60 minutes; an issue not updated for a month is
# not the one this runbook is about.
HEALTH_LOOKBACK = timedelta(days=30)


class RunbookBucket:
    """The runbook bucket: the status pages under ``status/``, dry runs' previews under
    ``preview/status/`` (never served), reports under ``reports/``."""

    def __init__(
        self,
        client: "S3Client",
        bucket: str,
        *,
        region: str,
        title: str,
        page: StatusPageConfig | None = None,
        stats: CallStats | None = None,
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._region = region
        self._config = page or StatusPageConfig()
        self._title = self._config.title or title
        self.stats = stats or CallStats()

    def _put(self, key: str, body: str, content_type: str, cache: str) -> None:
        self.stats.count("PutObject")
        self._client.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=body.encode(),
            ContentType=content_type,
            CacheControl=cache,
        )

    def publish(self, incident: Incident, index: list[Incident], *, now: datetime) -> None:
        """The incident's page (HTML, JSON and Atom, from its record alone), then the index;
        short caching so a CDN serves fresh updates. A dry run writes only its preview."""
        page = StatusPage(self._title, self._config, preview=incident.request.dry_run)
        cache = "private, no-store" if page.preview else "public, max-age=30"
        for document in documents(incident, index, now=now, page=page):
            self._put(document.key, document.body, document.content_type, cache)

    def preview_link(self, incident_id: str) -> str:
        """A console link to a dry run's preview page (people with access to the bucket)."""
        return self._console(incident_keys(incident_id, preview=True)[0])

    def _console(self, key: str) -> str:
        return (
            f"https://{self._region}.console.aws.amazon.com/s3/object/{self._bucket}"
            f"?region={self._region}&prefix={quote(key)}"
        )

    def store(self, incident_id: str, markdown: str, document: str) -> tuple[str, str]:
        """The incident report (Markdown) and the full record (JSON); the key and a console
        link to the report."""
        key = f"{REPORT_PREFIX}{incident_id}/report.md"
        self._put(key, markdown, "text/markdown; charset=utf-8", "no-store")
        self._put(
            f"{REPORT_PREFIX}{incident_id}/incident.json", document, "application/json", "no-store"
        )
        return f"s3://{self._bucket}/{key}", self._console(key)


class RunbookExecutions:
    """Whether a runbook execution still runs (DescribeExecution), to tell a scope lock left
    by a stopped or failed execution from a live one."""

    def __init__(self, client: "SFNClient", stats: CallStats | None = None) -> None:
        self._client = client
        self.stats = stats or CallStats()

    def running(self, execution_arn: str) -> bool | None:
        self.stats.count("DescribeExecution")
        try:
            status = self._client.describe_execution(executionArn=execution_arn)["status"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
                return False
            return None  # not allowed or unavailable: the holder is kept, to be safe
        except BotoCoreError:
            return None
        return status == "RUNNING"


class AlertsTopic:
    """Publishes a notification exactly like the workflows' SNS tasks do."""

    def __init__(self, client: "SNSClient", topic_arn: str, stats: CallStats | None = None) -> None:
        self._client = client
        self._topic = topic_arn
        self.stats = stats or CallStats()

    def publish(self, notification: Notification) -> None:
        self.stats.count("Publish")
        self._client.publish(
            TopicArn=self._topic,
            Subject=notification.subject,
            Message=notification.message,
            MessageStructure="json",
            MessageAttributes={
                "severity": {"DataType": "String", "StringValue": notification.severity.value},
                "status": {"DataType": "String", "StringValue": notification.status},
                "category": {"DataType": "String", "StringValue": notification.category},
                "notification_id": {
                    "DataType": "String",
                    "StringValue": notification.notification_id,
                },
                "channels": {"DataType": "String.Array", "StringValue": '["email", "slack"]'},
            },
        )


class RunbookSignals:
    """Vigil's own view of a service and region: its active alerts and outage record."""

    def __init__(self, alerts: AlertStore, outages: OutageStore, kinds: list[str]) -> None:
        self._alerts = alerts
        self._outages = outages
        self._kinds = kinds

    def open_alerts(self, service: str, region: str) -> list[Alert]:
        found: list[Alert] = []
        for kind in self._kinds:
            if service_of(kind) == service:
                found += [a for a in self._alerts.active_alerts(kind) if a.labels.region == region]
        return found

    def outage(self, service: str, region: str) -> Outage | None:
        return self._outages.get(service, region)


class RunbookHealth:
    """Open AWS Health issues for one service and region (or global), from the Health API."""

    def __init__(self, api: HealthApi, account: Callable[[], str]) -> None:
        self._api = api
        self._account = account

    def open_issues(self, service: str, region: str, *, now: datetime) -> list[HealthEvent]:
        def keep(event: HealthEvent) -> bool:
            return (
                event.category == "issue"
                and event.status == "open"
                and event.service_key == service
                and event.region in (region, "global")
            )

        return self._api.events(since=now - HEALTH_LOOKBACK, account=self._account(), keep=keep)
