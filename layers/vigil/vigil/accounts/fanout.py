"""The collection fan-out of Organization mode and several regions (ADR 51): the (account,
region) targets of one minute, and the one batch their batches make.

The scheduled collector collects its own account in its own region as always. When the rules
config lists other regions (``collection.regions``) or Organization mode knows members, it
hands the rest to the collect workflow: one Map iteration per target (a member account in a
watched region, or the stack's own account in another region), each a collector invocation
with its own retries, time-out and catch, so that one slow or refused target neither fails
nor holds up the others beyond its time-out. The workflow's last step merges every batch into
one (:func:`merged`), evaluated once: a regional outage across accounts is then one outage
record and one grouped message, as it would be in one account.

Each part *scopes* the kinds it covers to its account and region (``SignalBatch.scopes``), so
a target that was not collected this minute keeps its alerts instead of resolving them on no
news; it raises ``vigil.member_not_connected`` with what failed instead.
"""

import zlib
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field

from vigil.accounts.members import Connection, Member
from vigil.core.model import BatchRef, Labels, Scope, Signal, SignalBatch
from vigil.rules.organization import ACCOUNT_NAME_LABEL, MEMBER_KIND

MAX_TARGETS = 400
"""The targets one collect workflow takes: its input holds them inline (about 120 bytes each)
and its Map's output one part each (about 400 bytes: a target and a batch reference), 160 KB
of the 256 KB a state's output may hold. More would need a Distributed Map reading and
writing S3 (ADR 51)."""


BUDGET_SECONDS = 150
"""How long after the collect workflow starts an iteration may still begin collecting. An
iteration runs at most 120 s (its ``TimeoutSeconds``) and the merge a few seconds, so the Map
ends within the workflow's 290 s, the time-out no ``Catch`` takes; a target whose turn comes
later is not collected this cycle and says so."""


def too_late(started: datetime, entered: datetime) -> bool:
    """Whether an iteration that entered at ``entered`` of a workflow started at ``started``
    (both from Step Functions' context object) is past the budget."""
    return (entered - started).total_seconds() > BUDGET_SECONDS


class Target(BaseModel):
    """One account in one region, collected by one iteration of the collect workflow."""

    account: Annotated[str, Field(pattern=r"^\d{12}$")]
    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")]
    name: str = ""
    """The member's name in Organizations (the ``account_name`` label); empty for the stack's
    own account."""
    member: bool = False
    """Whether the iteration assumes the member role (another account) or uses its own."""

    def discovery_offset(self, period: int) -> int:
        """The minute of each ``period`` at which this target's inventory is discovered:
        stable, and spread over the targets, so that a cycle discovers about one target in
        ``period / window`` instead of every one at once (a 500-function member's discovery is
        about 1,000 control-plane calls)."""
        return zlib.crc32(f"{self.account}#{self.region}".encode()) % period


class Part(BaseModel):
    """What one iteration hands the merge: its batch, by reference, or why it has none."""

    target: Target
    ref: BatchRef | None = None
    error: str | None = None


class MergeRequest(BaseModel):
    """The collect workflow's last step: the home batch and every iteration's part."""

    now: AwareDatetime
    home: BatchRef
    parts: list[Part]


def watched_regions(home: str, regions: Sequence[str]) -> list[str]:
    """The stack's region first, then the others the config lists, each once."""
    return list(dict.fromkeys([home, *regions]))


def targets(
    *, account: str, region: str, regions: Sequence[str], members: Sequence[Member] | None
) -> list[Target]:
    """Every target but the stack's own account in its own region (the scheduled collector's
    part): its account in the other watched regions, then each member in every watched region.
    A member whose role was refused is left out: it has its own alert, and nothing to read."""
    watched = watched_regions(region, regions)
    found = [Target(account=account, region=other) for other in watched[1:]]
    for member in members or []:
        if member.id == account or member.connection is Connection.NOT_CONNECTED:
            continue
        found += [
            Target(account=member.id, region=other, name=member.name, member=True)
            for other in watched
        ]
    return found


def bounded(found: Sequence[Target]) -> tuple[list[Target], list[Part]]:
    """The first ``MAX_TARGETS`` targets, and a failed part for each of the others, so that a
    target beyond the bound raises its alert instead of going unread in silence."""
    over = [
        Part(
            target=target,
            error=f"not read: more than {MAX_TARGETS} accounts and regions to read in one cycle"
            " (the collect workflow's bound; narrow organization.include)",
        )
        for target in found[MAX_TARGETS:]
    ]
    return list(found[:MAX_TARGETS]), over


def scoped(batch: SignalBatch, *, account: str, region: str, kinds: Sequence[str]) -> SignalBatch:
    """``batch`` speaking for ``kinds`` in ``account`` and ``region`` only."""
    scope = Scope(account=account, region=region, kinds=sorted(kinds))
    return batch.model_copy(update={"scopes": [*batch.scopes, scope]})


def named(batch: SignalBatch, target: Target) -> SignalBatch:
    """A member target's batch with the member's name on every signal (``account_name``)."""
    if not target.name:
        return batch
    signals = [
        signal
        if ACCOUNT_NAME_LABEL in signal.tags
        else signal.model_copy(update={"tags": {**signal.tags, ACCOUNT_NAME_LABEL: target.name}})
        for signal in batch.signals
    ]
    return batch.model_copy(update={"signals": signals})


def merged(
    home: SignalBatch, parts: Sequence[SignalBatch], failed: Sequence[Part], *, now: datetime
) -> SignalBatch:
    """The home batch with every collected part's signals, covered kinds and scopes, and one
    ``vigil.member_not_connected`` signal per target that failed (the kind always covered, so
    that it resolves once the target is collected again). It keeps the home batch's id:
    one evaluation a minute, named as the single-account one is."""
    failures = [
        Signal(
            source="metrics",
            labels=Labels(
                kind=MEMBER_KIND,
                resource=part.target.account,
                account=part.target.account,
                region=part.target.region,
            ),
            value=1,
            unit="Count",
            window_seconds=60,
            observed_at=now,
            context={"collection": (part.error or "failed")[:500]},
            tags={ACCOUNT_NAME_LABEL: part.target.name} if part.target.name else {},
        )
        for part in failed
    ]
    # Always covered here, so that a target's failure resolves when it is collected again.
    covered = {
        *home.covered_kinds,
        *(kind for part in parts for kind in part.covered_kinds),
        MEMBER_KIND,
    }
    return home.model_copy(
        update={
            "signals": [*home.signals, *(s for part in parts for s in part.signals), *failures],
            "covered_kinds": sorted(covered),
            "scopes": [*home.scopes, *(scope for part in parts for scope in part.scopes)],
        }
    )
