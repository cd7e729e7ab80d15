"""How the command prints what it returns: a table or text for people, JSON for scripts.

Every command returns a :class:`Listing` (rows under columns: ``silence list``, ``alerts list``,
...) or a :class:`Document` (text for people and a JSON object for scripts: ``alerts show``,
``silence add``, ``runbook approve``, ...), and ``-o json`` prints the JSON of either. A
listing's table is tabulate's ``plain`` format and its JSON a list of objects whose keys are the
column names in snake case, every value a string as in the table; a document's JSON is the
object it carries (README, "The vigil command", lists the fields of each).
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tabulate import tabulate

Format = Literal["table", "json"]
FORMATS: tuple[Format, ...] = ("table", "json")


@dataclass(frozen=True)
class Listing:
    """Rows under named columns, and what to say when there are none."""

    columns: tuple[str, ...]
    rows: Sequence[tuple[str, ...]] = field(default_factory=list)
    empty: str = "Nothing to list."

    def records(self) -> list[dict[str, str]]:
        keys = [column.lower().replace(" ", "_") for column in self.columns]
        return [dict(zip(keys, row, strict=True)) for row in self.rows]


@dataclass(frozen=True)
class Document:
    """One result: ``text`` for the terminal, ``data`` (JSON-serializable) for ``-o json``."""

    text: str
    data: Mapping[str, Any] | Sequence[Any]


def table(listing: Listing) -> str:
    if not listing.rows:
        return listing.empty
    text = tabulate(listing.rows, headers=listing.columns, tablefmt="plain", disable_numparse=True)
    return "\n".join(line.rstrip() for line in text.splitlines())


def render(result: Listing | Document, fmt: Format = "table") -> str:
    """``result`` as the command prints it."""
    if fmt == "json":
        data = result.records() if isinstance(result, Listing) else result.data
        return json.dumps(data, indent=2, ensure_ascii=False)
    return table(result) if isinstance(result, Listing) else result.text
