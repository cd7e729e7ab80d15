"""The failover action runners (:class:`vigil.runbook.failover.ActionRunner`) over their AWS APIs.

- Route 53 ARC routing controls: ``route53-recovery-cluster`` Get/UpdateRoutingControlState
  on the cluster's own regional endpoints, tried in order (AWS's advice: any endpoint of the
  cluster will do, so retry the next one when one cannot be reached). moto has no such API:
  tests and the emulator answer it at the HTTP level (``emulator.arc``).
- Route 53 weighted records: ListResourceRecordSets to read the record, then
  ChangeResourceRecordSets UPSERT with only the weight changed.
- SSM Parameter Store: GetParameter, then PutParameter (String, overwrite).

Every call is counted in ``stats``; botocore errors become :class:`FailoverActionError`.
"""

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from vigil.adapters.stats import CallStats
from vigil.runbook.failover import (
    ArcRoutingControl,
    FailoverAction,
    FailoverActionError,
    Route53Weight,
    SsmParameter,
)

AnyClient = Any  # no type stubs are installed for route53, ssm or route53-recovery-cluster

# ARC data-plane answers worth trying the next cluster endpoint for.
_NEXT_ENDPOINT = {
    "InternalServerException",
    "ThrottlingException",
    "EndpointTemporarilyUnavailableException",
}


def _reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"


class ArcRoutingControls:
    """Runner for ``arc_routing_control``; ``client_for(url, region)`` builds a data-plane
    client bound to one cluster endpoint."""

    def __init__(
        self, client_for: Callable[[str, str], AnyClient], stats: CallStats | None = None
    ) -> None:
        self._client_for = client_for
        self.stats = stats or CallStats()

    def _call(self, action: ArcRoutingControl, operation: str, **kwargs: Any) -> Any:
        failures: list[str] = []
        for endpoint in action.cluster_endpoints:
            self.stats.count(operation)
            client = self._client_for(endpoint.url, endpoint.region)
            try:
                return getattr(client, operation)(
                    RoutingControlArn=action.routing_control_arn, **kwargs
                )
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code not in _NEXT_ENDPOINT:
                    raise FailoverActionError(f"{action.target()}: {_reason(exc)}") from exc
                failures.append(f"{endpoint.url}: {_reason(exc)}")
            except BotoCoreError as exc:
                failures.append(f"{endpoint.url}: {_reason(exc)}")
        raise FailoverActionError(
            f"{action.target()}: no cluster endpoint answered ({'; '.join(failures)})"
        )

    def _current(self, action: ArcRoutingControl) -> str:
        answer = self._call(action, "get_routing_control_state")
        return str(answer.get("RoutingControlState", "unknown"))

    def preview(self, action: FailoverAction) -> str:
        assert isinstance(action, ArcRoutingControl)
        return f"set {action.target()} from {self._current(action)} to {action.state}"

    def apply(self, action: FailoverAction) -> str:
        assert isinstance(action, ArcRoutingControl)
        before = self._current(action)
        self._call(action, "update_routing_control_state", RoutingControlState=action.state)
        return f"set {action.target()} from {before} to {action.state}"


def _same_name(a: str, b: str) -> bool:
    return a.rstrip(".").lower() == b.rstrip(".").lower()


class Route53Weights:
    """Runner for ``route53_weight``."""

    def __init__(self, client: AnyClient, stats: CallStats | None = None) -> None:
        self._client = client
        self.stats = stats or CallStats()

    def _record(self, action: Route53Weight) -> dict[str, Any]:
        self.stats.count("ListResourceRecordSets")
        try:
            page = self._client.list_resource_record_sets(
                HostedZoneId=action.hosted_zone_id,
                StartRecordName=action.record_name,
                StartRecordType=action.record_type,
                StartRecordIdentifier=action.set_identifier,
                MaxItems="10",
            )
        except (ClientError, BotoCoreError) as exc:
            raise FailoverActionError(f"{action.target()}: {_reason(exc)}") from exc
        for record in page.get("ResourceRecordSets", []):
            if (
                _same_name(record.get("Name", ""), action.record_name)
                and record.get("Type") == action.record_type
                and record.get("SetIdentifier") == action.set_identifier
            ):
                if "Weight" not in record:
                    raise FailoverActionError(f"{action.target()} is not a weighted record")
                return dict(record)
        raise FailoverActionError(f"{action.target()} does not exist")

    def preview(self, action: FailoverAction) -> str:
        assert isinstance(action, Route53Weight)
        record = self._record(action)
        return f"set the weight of {action.target()} from {record['Weight']} to {action.weight}"

    def apply(self, action: FailoverAction) -> str:
        assert isinstance(action, Route53Weight)
        record = self._record(action)
        self.stats.count("ChangeResourceRecordSets")
        try:
            answer = self._client.change_resource_record_sets(
                HostedZoneId=action.hosted_zone_id,
                ChangeBatch={
                    "Comment": "Vigil outage runbook failover",
                    "Changes": [
                        {
                            "Action": "UPSERT",
                            "ResourceRecordSet": {**record, "Weight": action.weight},
                        }
                    ],
                },
            )
        except (ClientError, BotoCoreError) as exc:
            raise FailoverActionError(f"{action.target()}: {_reason(exc)}") from exc
        change = answer.get("ChangeInfo", {}).get("Id", "?")
        return (
            f"set the weight of {action.target()} from {record['Weight']} to {action.weight}"
            f" (change {change})"
        )


class SsmParameters:
    """Runner for ``ssm_parameter``."""

    def __init__(self, client: AnyClient, stats: CallStats | None = None) -> None:
        self._client = client
        self.stats = stats or CallStats()

    def _current(self, action: SsmParameter) -> str | None:
        self.stats.count("GetParameter")
        try:
            return str(self._client.get_parameter(Name=action.name)["Parameter"]["Value"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
                return None
            raise FailoverActionError(f"{action.target()}: {_reason(exc)}") from exc
        except BotoCoreError as exc:
            raise FailoverActionError(f"{action.target()}: {_reason(exc)}") from exc

    def _describe(self, action: SsmParameter, before: str | None) -> str:
        shown = "(not set)" if before is None else repr(before)
        return f"set {action.target()} from {shown} to {action.value!r}"

    def preview(self, action: FailoverAction) -> str:
        assert isinstance(action, SsmParameter)
        return self._describe(action, self._current(action))

    def apply(self, action: FailoverAction) -> str:
        assert isinstance(action, SsmParameter)
        before = self._current(action)
        self.stats.count("PutParameter")
        try:
            answer = self._client.put_parameter(
                Name=action.name, Value=action.value, Type="String", Overwrite=True
            )
        except (ClientError, BotoCoreError) as exc:
            raise FailoverActionError(f"{action.target()}: {_reason(exc)}") from exc
        return f"{self._describe(action, before)} (version {answer.get('Version', '?')})"
