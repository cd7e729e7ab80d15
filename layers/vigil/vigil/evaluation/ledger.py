"""The outages one evaluation read or touched, from the Health intake to their settlement."""

from dataclasses import dataclass, field

from vigil.core.model import Alert
from vigil.health.outages import Outage, OutageStep, OutageStorePort, service_of
from vigil.rules.document import RulesConfig


@dataclass
class OutageLedger:
    """The outages one evaluation read or touched, keyed by (service, region).

    The Health intake and the suspicion record their steps here; the settlement adds the
    alerts each outage muted and stores what changed.
    """

    store: OutageStorePort
    open: dict[tuple[str, str], Outage | None] = field(default_factory=dict)
    steps: dict[tuple[str, str], OutageStep] = field(default_factory=dict)
    muting: dict[tuple[str, str], dict[str, None]] = field(default_factory=dict)

    def read_open(self) -> None:
        """Read every open outage (one index query)."""
        for outage in self.store.open_outages():
            self.open[(outage.service, outage.region)] = outage

    def record(self, step: OutageStep) -> None:
        key = (step.after.service, step.after.region)
        first = self.steps.get(key)
        before = first.before if first else step.before
        change = step.change or (first.change if first else None)
        self.steps[key] = OutageStep(before, step.after, change)
        self.open[key] = step.after

    def current(self, service: str, region: str) -> Outage | None:
        """The latest outage of a service and region, open or not (read once)."""
        key = (service, region)
        if key not in self.open:
            self.open[key] = self.store.get(service, region)
        return self.open[key]

    def explaining(self, alert: Alert, rules: RulesConfig) -> Outage | None:
        labels = alert.labels
        outage = self.open.get((service_of(labels.kind), labels.region))
        return outage if outage is not None and outage.explains(alert, rules.outage) else None

    def mute(self, outage: Outage, fingerprint: str) -> None:
        """Remember that ``outage`` muted an alert; :meth:`settled` records them all at once
        (one copy per outage, not one per alert: a storm mutes thousands)."""
        key = (outage.service, outage.region)
        self.muting.setdefault(key, {})[fingerprint] = None
        if key not in self.steps:
            self.steps[key] = OutageStep(outage, outage, None)

    def settled(self) -> list[OutageStep]:
        """The steps of this evaluation, with the alerts each outage muted recorded."""
        steps = []
        for key, touched in self.steps.items():
            muting = self.muting.get(key)
            after = touched.after.with_muted(list(muting)) if muting else touched.after
            steps.append(OutageStep(touched.before, after, touched.change))
        return steps
