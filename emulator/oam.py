"""Which accounts share their metrics with a monitoring account's OAM sink in a region, and
``ListMetrics`` of a monitoring account that includes them.

moto has no CloudWatch cross-account observability: the sinks and links the emulator's
CloudFormation creates (:class:`~emulator.cfn_shims.OamSinkShim`,
:class:`~emulator.cfn_shims.OamLinkShim`) live in the stacks that created them. A link counts
while its stack and its sink's stack both exist: deleting the member stack (the link) or the
sink's stack breaks it, as deleting either resource does in AWS. Sinks and links are regional
(the OAM API Reference's introduction: cross-account observability spans "multiple accounts
within a Region"), so a link in one region shares nothing in another.
:mod:`emulator.metric_index` asks here before answering a ``GetMetricData`` query that names
another account.

moto's ``ListMetrics`` ignores ``IncludeLinkedAccounts`` and ``OwningAccount``. While
:func:`installed` runs, a call with ``IncludeLinkedAccounts`` lists the caller's metrics and
those of the accounts linked to it in that region, with ``OwningAccounts`` "a 1:1 mapping
between each metric that is returned and the ID of the owning account", and ``OwningAccount``
keeps one account's (CloudWatch API Reference, ListMetrics); 500 metrics a page, as moto's and
AWS's. ``RecentlyActive`` is ignored, as moto ignores it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from unittest.mock import patch

from moto.cloudformation.models import cloudformation_backends
from moto.cloudwatch.exceptions import InvalidParameterValue
from moto.cloudwatch.models import cloudwatch_backends
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult

from emulator.cfn_shims import OamLinkShim, OamSinkShim

METRICS = "AWS::CloudWatch::Metric"
"""The resource type a link must share for its account's metrics to be read through it."""
PAGE = 500
"""Metrics in one ``ListMetrics`` page."""


def resources() -> Iterator[OamSinkShim | OamLinkShim]:
    """Every OAM sink and link of a stack that exists, in any account and region."""
    for by_region in list(cloudformation_backends.values()):
        for backend in list(by_region.values()):
            for stack in list(backend.stacks.values()):
                if stack.status == "DELETE_COMPLETE":
                    continue
                for resource in list(stack.resource_map._parsed_resources.values()):
                    if isinstance(resource, OamSinkShim | OamLinkShim):
                        yield resource


def metric_sources(monitoring_account: str, region: str) -> frozenset[str]:
    """The accounts whose metrics ``monitoring_account`` reads in ``region``: those with a link
    in ``region`` that shares :data:`METRICS` with a sink of ``monitoring_account`` there."""
    sinks: set[str] = set()
    links: dict[str, set[str]] = {}
    for resource in resources():
        where = resource.properties
        if where["region"] != region:
            continue
        if isinstance(resource, OamSinkShim):
            if where["account"] == monitoring_account:
                sinks.add(resource.physical_resource_id)
        elif METRICS in (where.get("ResourceTypes") or []):
            links.setdefault(str(where.get("SinkIdentifier", "")), set()).add(where["account"])
    return frozenset(account for sink in sinks for account in links.get(sink, ()))


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """``ListMetrics`` with ``IncludeLinkedAccounts`` answered as a monitoring account's."""
    original = CloudWatchResponse.list_metrics

    def list_metrics(response: CloudWatchResponse) -> ActionResult:
        params = response._get_params()
        if not params.get("IncludeLinkedAccounts"):
            return original(response)
        own = response.cloudwatch_backend.account_id
        region = response.cloudwatch_backend.region_name
        accounts = [own, *sorted(metric_sources(own, region))]
        if owning := params.get("OwningAccount"):
            accounts = [account for account in accounts if account == owning]
        listed = [
            (account, metric)
            for account in accounts
            for metric in cloudwatch_backends[account][region].get_filtered_metrics(
                params.get("MetricName", ""),
                params.get("Namespace", ""),
                params.get("Dimensions", []),
            )
        ]
        token = str(params.get("NextToken") or "0")
        if not token.isdigit():
            raise InvalidParameterValue("Request parameter NextToken is invalid")
        start = int(token)
        page = listed[start : start + PAGE]
        result: dict[str, object] = {
            "Metrics": [metric for _, metric in page],
            "OwningAccounts": [account for account, _ in page],
        }
        if start + PAGE < len(listed):
            result["NextToken"] = str(start + PAGE)
        return ActionResult(result)

    with patch.object(CloudWatchResponse, "list_metrics", list_metrics):
        yield
