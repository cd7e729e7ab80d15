"""The outage runbook started in the standby region when the sentinel announces the primary
down (optional, a dry run unless told otherwise; docs/runbook.md, "When the sentinel says Vigil
stopped").

The input is the runbook's own (``vigil.runbook.incident.RunbookInput``, validated by the
runbook's first step): the scope is a service in the primary's region, the service of AWS
Health's open issue there when there is one, else the configured default. The execution name
is derived from the episode (the region and the minute the primary went silent), so a retried
start of the same episode gets ``ExecutionAlreadyExists`` and starts nothing twice.
"""

import json
import re
from typing import NamedTuple

from vigil.sentinel.watch import Announcement

_SERVICE = re.compile(r"^[a-z0-9][a-z0-9-]{1,40}$")
REQUESTED_BY = "vigil-sentinel"


class RunbookStart(NamedTuple):
    name: str
    input: str


def runbook_start(announcement: Announcement, *, service: str, dry_run: bool) -> RunbookStart:
    """The start for a ``down`` announcement; ``service`` when Health names none."""
    named = [s.lower() for s in announcement.services if _SERVICE.match(s.lower())]
    scope = named[0] if named else service
    since = announcement.down_since or announcement.at
    reason = (
        f"Vigil sentinel: {announcement.primary_stack} in {announcement.primary_region} stopped"
        f" evaluating (silent since {since:%Y-%m-%d %H:%M} UTC)"
    )
    document = {
        "service": scope,
        "region": announcement.primary_region,
        "severity": "critical",
        "reason": reason[:500],
        "dry_run": dry_run,
        "source": "vigil",
        "requested_by": REQUESTED_BY,
    }
    return RunbookStart(
        name=f"sentinel-{announcement.primary_region}-{since:%Y%m%dT%H%M}Z",
        input=json.dumps(document, separators=(",", ":")),
    )
