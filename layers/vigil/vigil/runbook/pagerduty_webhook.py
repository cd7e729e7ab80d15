"""PagerDuty's webhook (v3): an incident acknowledged in PagerDuty acknowledges its Vigil group.

It reaches the Slack endpoint's function URL on its own path (``/pagerduty``; Slack's
requests keep theirs). PagerDuty signs each delivery (``X-PagerDuty-Signature``, see
:func:`vigil.channels.pagerduty.signature_valid`) with the subscription's secret, which the
chat secret holds under :data:`SIGNING_FIELD`: a request without a valid signature (or
while no secret is set) is answered 401 and nothing is read or changed.

Only ``incident.acknowledged`` acts: the incident's ``incident_key`` (the ``dedup_key`` Vigil
triggered it with) is the group's id, and the group is acknowledged as by ``vigil alerts ack``,
recorded as the PagerDuty user who did it. ``incident.resolved`` and the other event types are
answered 200 and ignored: a Vigil alert resolves when Vigil measures its condition gone, and
a group resolved in PagerDuty while its alerts still fire is triggered again by its next
notification (ADR 44). The request is handled at once (a few DynamoDB calls, well within
PagerDuty's delivery time-out), so PagerDuty's own retries cover a failure (5xx).
"""

from collections.abc import Callable
from dataclasses import dataclass

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import LambdaFunctionUrlEvent

from vigil.alerting.acknowledge import NothingAcknowledged
from vigil.alerting.grouping import NothingToAcknowledge
from vigil.channels.pagerduty import (
    SIGNATURE_HEADER,
    NotAnIncidentEvent,
    incident_event,
    signature_valid,
)
from vigil.core.observability import logger, metrics
from vigil.runbook.slack_actions import (
    AcknowledgePort,
    HttpAnswer,
    RejectedRequest,
    request_of,
)

PATH = "/pagerduty"
SIGNING_FIELD = "pagerduty_webhook_secret"
"""The chat secret key holding the webhook subscription's signing secret."""
ACKNOWLEDGED = "incident.acknowledged"


@dataclass(frozen=True)
class WebhookPorts:
    secret: Callable[[], str]
    """The signing secret (cached); empty when none is set."""
    acknowledgements: AcknowledgePort


def handle_webhook(event: LambdaFunctionUrlEvent, *, ports: WebhookPorts) -> HttpAnswer:
    """Verify, then act on an ``incident.acknowledged``; anything else signed is ignored."""
    try:
        request = request_of(event)
        body = request.body.encode()
        if not signature_valid(body, request.header(SIGNATURE_HEADER), ports.secret()):
            raise RejectedRequest(
                401, f"{SIGNATURE_HEADER} missing or not a signature of the body with the secret"
            )
        incident = incident_event(body)
    except NotAnIncidentEvent as exc:
        return _rejected(RejectedRequest(400, str(exc)))
    except RejectedRequest as exc:
        return _rejected(exc)
    if incident.event_type != ACKNOWLEDGED:
        logger.info("PagerDuty event ignored", extra={"event_type": incident.event_type})
        return HttpAnswer(200, {"ignored": incident.event_type})
    try:
        done = ports.acknowledgements.acknowledge(
            incident.dedup_key, by=incident.by, now=request.received_at
        )
    except (NothingAcknowledged, NothingToAcknowledge) as exc:
        # resolved in Vigil meanwhile, or an incident of another tool: nothing to do
        logger.info("PagerDuty acknowledgement of no open group", extra={"reason": str(exc)})
        return HttpAnswer(200, {"ignored": str(exc)})
    metrics.add_metric("PagerDutyAcknowledged", MetricUnit.Count, 1)
    logger.info(
        "acknowledged from PagerDuty",
        extra={"incident": incident.incident, "by": incident.by, "groups": len(done)},
    )
    return HttpAnswer(200, {"acknowledged": [a.group_id for a in done]})


def _rejected(exc: RejectedRequest) -> HttpAnswer:
    logger.warning("PagerDuty request rejected", extra={"status": exc.status, "reason": str(exc)})
    metrics.add_metric("PagerDutyRequestRejected", MetricUnit.Count, 1)
    return HttpAnswer(exc.status, {"error": str(exc)})
