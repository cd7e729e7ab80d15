"""``vigil silence``: add, list, extend, expire, export and import silences.

Every new or longer silence is bounded as the Slack button's is (ADR 32): at most
:data:`vigil.alerting.silences.MAX_SILENCE` (7 days) from now or its start, whichever is later,
and never a silence that matches everything. ``export`` and ``import`` use Alertmanager's field
names (``amtool silence query -o json``): ``id``, ``matchers`` (``name``, ``value``,
``isRegex``, ``isEqual``), ``startsAt``, ``endsAt``, ``createdBy``, ``comment``, ``status``.
Vigil's globs are exported as exact values when they have no wildcard, as anchored regular
expressions otherwise; imported matchers become Alertmanager matchers of the same meaning
(``isEqual: false`` included), so a silence copied from Alertmanager mutes what it muted there.
``import`` reads a JSON array or JSON lines, is idempotent by id (an Alertmanager UUID loses
its dashes), imports every valid silence and reports each invalid one with its line number.
"""

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from vigil.adapters.routing_store import SilenceStore
from vigil.alerting.silences import (
    MAX_SILENCE,
    Silence,
    SilenceEndedError,
    SilenceWindowError,
    UnknownSilenceError,
    new_silence,
)
from vigil.core.clock import iso, parse_time
from vigil.core.errors import VigilError, describe_validation
from vigil.rules.matchers import Matcher, MatchType, flat
from vigil_cli.output import Document, Listing

MAX_COMMENT = 500
_WILDCARDS = re.compile(r"[*?\[]")


def describe(silence: Silence, now: datetime) -> dict[str, Any]:
    """A silence as ``export``, ``list -o json`` (amtool's field names) print it."""
    return {
        "id": silence.silence_id,
        "matchers": [
            {
                "name": label,
                "value": _glob_value(glob),
                "isRegex": bool(_WILDCARDS.search(glob)),
                "isEqual": True,
            }
            for label, glob in silence.matchers.match.items()
        ]
        + [
            {"name": label, "value": pattern, "isRegex": True, "isEqual": True}
            for label, pattern in silence.matchers.match_re.items()
        ]
        + [
            {
                "name": m.name,
                "value": m.value,
                "isRegex": m.type in (MatchType.REGEXP, MatchType.NOT_REGEXP),
                "isEqual": m.type in (MatchType.EQUAL, MatchType.REGEXP),
            }
            for m in flat(silence.matchers.matchers)
        ],
        "startsAt": iso(silence.starts_at),
        "endsAt": iso(silence.ends_at),
        "createdBy": silence.created_by,
        "comment": silence.comment,
        "status": {"state": silence.state(now).value},
    }


def _glob_value(glob: str) -> str:
    """The glob as Alertmanager's value: itself without wildcards, else a regular expression."""
    if not _WILDCARDS.search(glob):
        return glob
    out, i = [], 0
    while i < len(glob):
        char = glob[i]
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[" and (end := glob.find("]", i + 2)) != -1:
            inner = glob[i + 1 : end]
            out.append("[" + ("^" + inner[1:] if inner.startswith("!") else inner) + "]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def matchers_text(silence: Silence) -> str:
    globs = [f"{label}={pattern}" for label, pattern in silence.matchers.match.items()]
    regexes = [f"{label}=~{pattern}" for label, pattern in silence.matchers.match_re.items()]
    exact = [str(m) for m in flat(silence.matchers.matchers)]
    return " ".join(globs + regexes + exact)


def listing(silences: list[Silence], *, now: datetime, states: set[str]) -> Listing:
    shown = [s for s in silences if not states or s.state(now).value in states]
    return Listing(
        ("ID", "STATE", "STARTS", "ENDS", "MATCHERS", "BY", "COMMENT"),
        [
            (
                s.silence_id,
                s.state(now).value,
                iso(s.starts_at),
                iso(s.ends_at),
                matchers_text(s),
                s.created_by or "-",
                s.comment,
            )
            for s in shown
        ],
        empty="No silences.",
    )


def added(silence: Silence, now: datetime) -> Document:
    return Document(silence.silence_id, describe(silence, now))


def expired(silence: Silence, now: datetime) -> Document:
    return Document(
        f"expired {silence.silence_id} at {iso(silence.ends_at)}", describe(silence, now)
    )


def extend(
    store: SilenceStore,
    silence_id: str,
    by: timedelta,
    *,
    now: datetime,
    actor: str,
    max_duration: timedelta = MAX_SILENCE,
) -> Document:
    """Move a silence's end ``by`` later; it must not have ended, and it may then last at most
    ``max_duration`` from now (or its start, if later). The comment records who and when."""
    before = store.get(silence_id)
    if before is None:
        raise UnknownSilenceError(f"no silence has the id {silence_id!r} (vigil silence list)")
    if before.ends_at <= now:
        raise SilenceEndedError(
            f"silence {silence_id} ended at {iso(before.ends_at)}: add a new one instead"
        )
    ends_at = before.ends_at + by
    longest = max(before.starts_at, now) + max_duration
    if ends_at > longest:
        raise SilenceWindowError(
            f"a silence may last at most {max_duration.total_seconds() / 3600:g}h from now:"
            f" it could end at {iso(longest)} at the latest, not {iso(ends_at)}"
        )
    comment = noted(before.comment, f"extended to {iso(ends_at)} by {actor} at {iso(now)}")
    after = before.model_copy(update={"ends_at": ends_at, "comment": comment})
    stored = store.replace(before, Silence.model_validate(after.model_dump()))
    return Document(f"extended {silence_id} to {iso(stored.ends_at)}", describe(stored, now))


def noted(comment: str, note: str) -> str:
    """``comment`` with ``[note]`` after it, the comment cut to keep both within 500."""
    tail = f" [{note}]"[-MAX_COMMENT:]
    return (comment[: MAX_COMMENT - len(tail)] + tail).lstrip()


# ------------------------------------------------------------------ import


@dataclass
class ImportReport:
    imported: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)

    def document(self, source: str) -> Document:
        data = {
            "file": source,
            "imported": self.imported,
            "already_present": self.present,
            "skipped_ended": self.ended,
            "errors": [{"line": line, "error": text} for line, text in self.errors],
        }
        text = (
            f"{source}: {len(self.imported)} imported, {len(self.present)} already present,"
            f" {len(self.ended)} already ended (skipped), {len(self.errors)} refused"
        )
        return Document(text, data)


def entries(text: str) -> Iterator[tuple[int, Any]]:
    """``(line, value)`` for each silence of a JSON array or of JSON lines; a line that is not
    JSON gives ``(line, JSONDecodeError)``."""
    decoder = json.JSONDecoder()
    stripped = text.lstrip()
    if not stripped.startswith("["):
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as exc:
                    yield number, exc
        return
    position = text.index("[") + 1
    while True:
        position = _skip(text, position, ",")
        if position >= len(text) or text[position] == "]":
            return
        number = text.count("\n", 0, position) + 1
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            yield number, exc
            return  # the rest of an array cannot be read past a syntax error
        yield number, value


def _skip(text: str, position: int, separator: str) -> int:
    while position < len(text) and (text[position].isspace() or text[position] == separator):
        position += 1
    return position


def silence_from(entry: Any, *, now: datetime, importer: str) -> Silence:
    """One Alertmanager-style silence as a new Vigil silence, bounded like ``silence add``;
    its comment notes who imported it and when (ADR 32: what people change is recorded)."""
    if not isinstance(entry, dict):
        raise VigilError("a silence is a JSON object")
    matchers = entry.get("matchers")
    if not isinstance(matchers, list) or not matchers:
        raise VigilError("matchers: a silence needs at least one matcher")
    strings: list[str] = []
    for index, item in enumerate(matchers):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise VigilError(f"matchers[{index}]: an object with name and value")
        name, value = item["name"], item.get("value")
        if not isinstance(value, str):
            raise VigilError(f"matchers[{index}] ({name}): value must be a string")
        regex, equal = item.get("isRegex", False) is True, item.get("isEqual", True) is not False
        kind = {(False, True): "=", (False, False): "!=", (True, True): "=~", (True, False): "!~"}
        try:
            strings.append(str(Matcher(name, MatchType(kind[regex, equal]), value)))
        except ValueError as exc:
            raise VigilError(f"matchers[{index}] ({name}): {exc}") from exc
    starts_at, ends_at = _time(entry, "startsAt"), _time(entry, "endsAt")
    if ends_at <= now:
        raise SilenceEndedError(f"ended at {iso(ends_at)}")
    start = max(starts_at, now)
    created_by = entry.get("createdBy")
    comment = entry.get("comment", "")
    comment = noted(
        comment if isinstance(comment, str) else "", f"imported by {importer} at {iso(now)}"
    )
    return new_silence(
        _imported_id(entry, strings, ends_at),
        matchers=strings,
        starts_at=start,
        duration=ends_at - start,
        now=now,
        created_by=created_by if isinstance(created_by, str) and created_by else importer,
        comment=comment,
    )


def _time(entry: dict[str, Any], key: str) -> datetime:
    return parse_time(entry.get(key), field=key)


def _imported_id(entry: dict[str, Any], matchers: list[str], ends_at: datetime) -> str:
    given = entry.get("id")
    if isinstance(given, str) and given:
        plain = given.replace("-", "").lower()
        if not re.fullmatch(r"[a-z0-9]{8,32}", plain):
            raise VigilError(f"id: {given!r} is not 8 to 32 letters and digits (dashes dropped)")
        return plain
    canonical = json.dumps([matchers, iso(ends_at), entry.get("comment", "")])
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def import_silences(
    text: str,
    store: SilenceStore,
    *,
    now: datetime,
    importer: str,
    describe_error: Callable[[ValidationError], str] = describe_validation,
) -> ImportReport:
    report = ImportReport()
    for line, entry in entries(text):
        if isinstance(entry, json.JSONDecodeError):
            report.errors.append((line, f"not JSON ({entry.msg})"))
            continue
        try:
            silence = silence_from(entry, now=now, importer=importer)
        except SilenceEndedError as exc:
            report.ended.append(f"line {line}: {exc}")
            continue
        except ValidationError as exc:
            report.errors.append((line, describe_error(exc)))
            continue
        except VigilError as exc:
            report.errors.append((line, str(exc)))
            continue
        if store.get(silence.silence_id) is not None:
            report.present.append(silence.silence_id)
            continue
        store.create(silence)
        report.imported.append(silence.silence_id)
    return report
