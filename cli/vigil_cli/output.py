"""How the command prints what it lists: a table for people, JSON for scripts.

One place renders every listing (``silence list``, ``incidents list``, ``alerts list``); the
table comes from tabulate's ``plain`` format, the JSON is a list of objects whose keys are the
column names in snake case, every value a string as in the table.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

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


def render(result: str | Listing, fmt: Format = "table") -> str:
    """``result`` as the command prints it; plain text is printed as it is."""
    if isinstance(result, str):
        return result
    if fmt == "json":
        return json.dumps(result.records(), indent=2, ensure_ascii=False)
    if not result.rows:
        return result.empty
    table = tabulate(result.rows, headers=result.columns, tablefmt="plain", disable_numparse=True)
    return "\n".join(line.rstrip() for line in table.splitlines())
