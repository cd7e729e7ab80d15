"""Which accounts share their metrics with a monitoring account's OAM sink in a region.

moto has no CloudWatch cross-account observability: the sinks and links the emulator's
CloudFormation creates (:class:`~emulator.cfn_shims.OamSinkShim`,
:class:`~emulator.cfn_shims.OamLinkShim`) live in the stacks that created them. A link counts
while its stack and its sink's stack both exist: deleting the member stack (the link) or the
sink's stack breaks it, as deleting either resource does in AWS. Sinks and links are regional
(the OAM API Reference's introduction: cross-account observability spans "multiple accounts
within a Region"), so a link in one region shares nothing in another.
:mod:`emulator.metric_index` asks here before answering a ``GetMetricData`` query that names
another account.
"""

from __future__ import annotations

from collections.abc import Iterator

from moto.cloudformation.models import cloudformation_backends

from emulator.cfn_shims import OamLinkShim, OamSinkShim

METRICS = "AWS::CloudWatch::Metric"
"""The resource type a link must share for its account's metrics to be read through it."""


def _resources() -> Iterator[OamSinkShim | OamLinkShim]:
    """Every OAM sink and link of a stack that exists, in any account and region."""
    for by_region in cloudformation_backends.values():
        for backend in by_region.values():
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
    for resource in _resources():
        where = resource.properties
        if where["region"] != region:
            continue
        if isinstance(resource, OamSinkShim):
            if where["account"] == monitoring_account:
                sinks.add(resource.physical_resource_id)
        elif METRICS in (where.get("ResourceTypes") or []):
            links.setdefault(str(where.get("SinkIdentifier", "")), set()).add(where["account"])
    return frozenset(account for sink in sinks for account in links.get(sink, ()))
