"""The lists' filters: Alertmanager matcher strings on an alert's labels.

``--match`` takes one matcher as Alertmanager writes it (``amtool alert query`` and the
``matchers`` of its config): ``LABEL=VALUE`` (equal), ``LABEL!=VALUE``, ``LABEL=~REGEX`` and
``LABEL!~REGEX`` (the regular expression is anchored: it matches the whole value), the value
bare or in double quotes (``team="payments"``, JSON escapes). A label the alert does not have
has the empty value, as in Alertmanager. Filters only choose what a list prints; what mutes an
alert is a silence, whose ``--match`` takes Vigil's globs (``vigil silence add``).
"""

import argparse
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, cast

Operator = Literal["=", "!=", "=~", "!~"]

_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$", re.DOTALL)


@dataclass(frozen=True)
class Filter:
    label: str
    operator: Operator
    value: str

    def matches(self, values: Mapping[str, str]) -> bool:
        actual = values.get(self.label, "")
        if self.operator == "=":
            return actual == self.value
        if self.operator == "!=":
            return actual != self.value
        found = re.fullmatch(self.value, actual) is not None
        return found if self.operator == "=~" else not found

    def __str__(self) -> str:
        return f"{self.label}{self.operator}{json.dumps(self.value)}"


def parse_filter(text: str) -> Filter:
    """An argparse type: ``team="payments"`` as a :class:`Filter`."""
    found = _MATCHER.fullmatch(text)
    if found is None:
        raise argparse.ArgumentTypeError(
            f'{text!r} is not a matcher like kind=lambda.errors, team!="ops"'
            ' or resource=~"orders-.*"'
        )
    label, operator, value = found.groups()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise argparse.ArgumentTypeError(
                f"{text!r}: the quoted value is not valid ({exc.msg})"
            ) from exc
    if operator in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise argparse.ArgumentTypeError(f"{text!r}: not a regular expression ({exc})") from exc
    return Filter(label, cast(Operator, operator), value)


def all_match(filters: list[Filter], values: Mapping[str, str]) -> bool:
    return all(f.matches(values) for f in filters)
