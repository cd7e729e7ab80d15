"""Replay a rules config over past signals through the Evaluate function's judge and lifecycle.

What would have fired, when, and how many notifications a day that makes (``vigil rules
backtest``, docs/rules.md "Backtest").

A :class:`Replay` holds the alerts in memory and steps them batch by batch exactly as the
Evaluate function steps the stored ones: :func:`vigil.evaluation.alerts.judge_batch` judges the
batch (``vigil.rules.kinds.judge``) and picks the alerts to step, and
:func:`vigil.alerting.lifecycle.step` decides each transition and its notification. The signals
come from a file of samples (:func:`file_batches`) or from CloudWatch history through the
collector's own dial family (``vigil.evaluation.metric_history``).

What is counted is the lifecycle's notifications (firing, escalated, repeat, resolved), one per
alert: before silences, inhibit rules, outage muting and notification grouping, none of which a
backtest replays.
"""

import csv
import io
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from vigil.alerting.lifecycle import step
from vigil.core.errors import VigilError
from vigil.core.model import Alert, AlertState, Labels, NotifyReason, Severity, Signal, SignalBatch
from vigil.evaluation.alerts import judge_batch
from vigil.rules.document import RulesConfig
from vigil.rules.kinds import COST_KINDS, KINDS

_DAY = timedelta(days=1)
VALUE_SAMPLE = "value"
"""The sample name that sets a file signal's ``value`` rather than one of its samples."""
FILE_COLUMNS = ("timestamp", "kind", "resource", "sample", "value")


class SeriesError(VigilError):
    """A file of samples that cannot be replayed; the message names the row and the field."""


@dataclass(frozen=True)
class Sent:
    """One notification the lifecycle decided, at the evaluation time of its batch."""

    at: datetime
    labels: Labels
    reason: NotifyReason
    severity: Severity


class Replay:
    """The alerts of one backtest, in memory, stepped one batch at a time."""

    def __init__(self, rules: RulesConfig) -> None:
        self.rules = rules
        self._alerts: dict[str, Alert] = {}
        self.sent: list[Sent] = []
        self.batches = 0
        self.signals = 0

    def active(self, kind: str) -> list[Alert]:
        """The pending and firing alerts of ``kind``, as the alert store's index lists them."""
        return [
            alert
            for alert in self._alerts.values()
            if alert.labels.kind == kind and alert.state is not AlertState.RESOLVED
        ]

    def apply(self, batch: SignalBatch) -> list[Sent]:
        """Judge ``batch`` and step every alert it concerns; the notifications it decided."""
        judged = judge_batch(
            batch,
            self.rules,
            lambda kind, within: [
                alert.fingerprint
                for alert in self.active(kind)
                if within is None or (alert.labels.account, alert.labels.region) in within
            ],
        )
        sent: list[Sent] = []
        for fingerprint in judged.candidates:
            transition = step(
                self._alerts.get(fingerprint),
                judged.breaches.get(fingerprint),
                now=batch.collected_at,
                batch_id=batch.batch_id,
                rules=self.rules,
                calm=judged.calm.get(fingerprint),
            )
            if transition.after is None:
                self._alerts.pop(fingerprint, None)
            else:
                self._alerts[fingerprint] = transition.after
            if transition.notify is not None and transition.after is not None:
                sent.append(
                    Sent(
                        batch.collected_at,
                        transition.labels,
                        transition.notify,
                        transition.after.severity,
                    )
                )
        self.sent += sent
        self.batches += 1
        self.signals += len(batch.signals)
        return sent


@dataclass(frozen=True)
class ResourceReport:
    """What one resource's alerts of one kind would have done over the span."""

    kind: str
    resource: str
    episodes: int
    """Times the alert fired (a ``firing`` notification each)."""
    first_fired: datetime | None
    highest: Severity
    notifications: int
    per_day: float


@dataclass(frozen=True)
class Report:
    since: datetime
    until: datetime
    kinds: tuple[str, ...]
    """The kinds the replayed signals speak for."""
    batches: int
    signals: int
    rows: list[ResourceReport]
    sent: list[Sent] = field(repr=False)

    @property
    def days(self) -> float:
        return (self.until - self.since) / _DAY

    @property
    def episodes(self) -> int:
        return sum(row.episodes for row in self.rows)

    @property
    def notifications(self) -> int:
        return len(self.sent)

    @property
    def per_day(self) -> float:
        return self.notifications / self.days if self.days else 0.0


def report(replay: Replay, *, since: datetime, until: datetime, kinds: tuple[str, ...]) -> Report:
    """Per kind and resource: episodes, first firing, notifications and notifications a day;
    the busiest first."""
    days = (until - since) / _DAY
    by_alert: dict[tuple[str, str], list[Sent]] = {}
    for sent in replay.sent:
        by_alert.setdefault((sent.labels.kind, sent.labels.resource), []).append(sent)
    rows = [
        ResourceReport(
            kind=kind,
            resource=resource,
            episodes=sum(1 for s in sent if s.reason is NotifyReason.FIRING),
            first_fired=min((s.at for s in sent if s.reason is NotifyReason.FIRING), default=None),
            highest=max((s.severity for s in sent), key=lambda severity: severity.rank),
            notifications=len(sent),
            per_day=len(sent) / days if days else 0.0,
        )
        for (kind, resource), sent in by_alert.items()
    ]
    rows.sort(key=lambda row: (-row.notifications, row.kind, row.resource))
    return Report(since, until, kinds, replay.batches, replay.signals, rows, list(replay.sent))


# ---------------------------------------------------------------------------------- files


@dataclass(frozen=True)
class SampleRow:
    """One sample of one signal: ``at`` is the end of the window it was counted over."""

    at: datetime
    kind: str
    resource: str
    sample: str
    value: float
    window_seconds: int | None = None


def rows_from_text(text: str, *, fmt: str) -> list[SampleRow]:
    """The rows of a CSV (``fmt="csv"``, with a header) or JSON (a list of objects) file."""
    if fmt == "json":
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SeriesError(f"not valid JSON ({exc})") from exc
        if not isinstance(document, list):
            raise SeriesError("expected a JSON list of objects")
        records: list[Any] = document
        first = 1
    else:
        reader = csv.DictReader(io.StringIO(text))
        missing = sorted(set(FILE_COLUMNS) - set(reader.fieldnames or []))
        if missing:
            raise SeriesError(f"the CSV header lacks {', '.join(missing)}")
        records = list(reader)
        first = 2  # the header is line 1
    return [_row(record, where=f"row {index}") for index, record in enumerate(records, first)]


def _row(record: Any, *, where: str) -> SampleRow:
    if not isinstance(record, dict):
        raise SeriesError(f"{where}: expected an object with {', '.join(FILE_COLUMNS)}")
    missing = [name for name in FILE_COLUMNS if record.get(name) in (None, "")]
    if missing:
        raise SeriesError(f"{where}: {', '.join(missing)} missing")
    kind = str(record["kind"])
    if kind not in KINDS:
        raise SeriesError(f"{where}: kind {kind!r} is not a kind Vigil judges")
    try:
        at = datetime.fromisoformat(str(record["timestamp"]).replace("Z", "+00:00"))
    except ValueError as exc:
        raise SeriesError(f"{where}: timestamp {record['timestamp']!r} is not ISO 8601") from exc
    try:
        value = float(record["value"])
    except (TypeError, ValueError) as exc:
        raise SeriesError(f"{where}: value {record['value']!r} is not a number") from exc
    if not math.isfinite(value):
        raise SeriesError(f"{where}: value {record['value']!r} is not a finite number")
    window = record.get("window_seconds")
    try:
        window_seconds = int(window) if window not in (None, "") else None
    except (TypeError, ValueError) as exc:
        raise SeriesError(f"{where}: window_seconds {window!r} is not a whole number") from exc
    if window_seconds is not None and (window_seconds < 60 or window_seconds % 60):
        raise SeriesError(f"{where}: window_seconds must be a positive number of minutes")
    return SampleRow(
        at=at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC),
        kind=kind,
        resource=str(record["resource"]),
        sample=str(record["sample"]),
        value=value,
        window_seconds=window_seconds,
    )


def _ceil_to(moment: datetime, seconds: int) -> datetime:
    stamp = math.ceil(moment.timestamp() / seconds) * seconds
    return datetime.fromtimestamp(stamp, UTC)


def file_span(rows: list[SampleRow], rules: RulesConfig) -> tuple[datetime, datetime]:
    """The span the rows cover: from the first window's start to the last window's end."""
    if not rows:
        raise SeriesError("the file has no rows")
    cadence = _cadences(rows, rules)
    ends = [_ceil_to(row.at, cadence[row.kind]) for row in rows]
    starts = [
        end - timedelta(seconds=cadence[row.kind]) for end, row in zip(ends, rows, strict=True)
    ]
    return min(starts), max(ends)


def _cadences(rows: list[SampleRow], rules: RulesConfig) -> dict[str, int]:
    """Each kind's window in seconds: its rows' ``window_seconds``, else the collection window."""
    default = rules.collection.window_minutes * 60
    cadence: dict[str, int] = {}
    for row in rows:
        window = row.window_seconds or default
        if cadence.setdefault(row.kind, window) != window:
            raise SeriesError(
                f"{row.kind}: rows give different windows ({cadence[row.kind]} s, {window} s)"
            )
    return cadence


def file_batches(
    rows: list[SampleRow],
    rules: RulesConfig,
    *,
    since: datetime,
    until: datetime,
    account: str,
    region: str,
) -> list[SignalBatch]:
    """The batches a collector would have sent, one per window, from the rows.

    Each kind is collected every window (its rows' ``window_seconds``, else the rules'
    ``collection.window_minutes``), windows ending on multiples of it since the epoch; a row
    belongs to the window its timestamp ends (or falls in). The samples of one signal in one
    window add up; the sample ``value`` is the signal's value (0 without one). Every batch
    speaks for the kinds collected at its time, so an alert whose resource has no row in a
    window clears, as a collector sends only the signals worth judging. A batch is evaluated
    ``collection.lag_minutes`` after its window ends, as the collector runs.
    """
    cadence = _cadences(rows, rules)
    signals: dict[datetime, dict[tuple[str, str], dict[str, float]]] = {}
    for row in rows:
        end = _ceil_to(row.at, cadence[row.kind])
        if not since < end <= until:
            continue
        samples = signals.setdefault(end, {}).setdefault((row.kind, row.resource), {})
        samples[row.sample] = samples.get(row.sample, 0.0) + row.value
    ends: dict[datetime, list[str]] = {}
    for kind, seconds in sorted(cadence.items()):
        end = _ceil_to(since + timedelta(seconds=1), seconds)
        while end <= until:
            ends.setdefault(end, []).append(kind)
            end += timedelta(seconds=seconds)
    lag = timedelta(minutes=rules.collection.lag_minutes)
    batches: list[SignalBatch] = []
    for end, kinds in sorted(ends.items()):
        found = sorted(signals.get(end, {}).items())
        batches.append(
            SignalBatch(
                batch_id=f"backtest-{end:%Y%m%dT%H%M}Z",
                source="metrics",
                collected_at=end + lag,
                covered_kinds=kinds,
                signals=[
                    _signal(
                        kind,
                        resource,
                        samples,
                        end=end,
                        window_seconds=cadence[kind],
                        account=account,
                        region=region,
                    )
                    for (kind, resource), samples in found
                ],
            )
        )
    return batches


def _signal(
    kind: str,
    resource: str,
    samples: dict[str, float],
    *,
    end: datetime,
    window_seconds: int,
    account: str,
    region: str,
) -> Signal:
    others = {name: value for name, value in samples.items() if name != VALUE_SAMPLE}
    return Signal(
        source="cost" if kind in COST_KINDS else "metrics",
        labels=Labels(kind=kind, resource=resource, account=account, region=region),
        value=samples.get(VALUE_SAMPLE, 0.0),
        unit="Count",
        window_seconds=window_seconds,
        observed_at=end,
        samples=others,
    )


def replay_batches(
    batches: list[SignalBatch], rules: RulesConfig, *, since: datetime, until: datetime
) -> Report:
    """Replay ``batches`` in time order from no alert; the report over [since, until)."""
    replay = Replay(rules)
    kinds: set[str] = set()
    for batch in sorted(batches, key=lambda b: b.collected_at):
        kinds.update(batch.covered_kinds)
        replay.apply(batch)
    return report(replay, since=since, until=until, kinds=tuple(sorted(kinds)))
