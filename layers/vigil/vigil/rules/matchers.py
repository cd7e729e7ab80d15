"""Alertmanager's label matchers: ``team="payments"``, ``env!~"dev|test"``.

A matcher is a label name, an operator (``=``, ``!=``, ``=~``, ``!~``) and a value. Parsed as
Alertmanager's ``pkg/labels/parse.go`` parses them: whitespace around each part is dropped, the
value may be double-quoted, and inside it ``\\"``, ``\\\\`` and ``\\n`` are a quote, a backslash
and a line feed (any other backslash is literal). A regular expression must match the whole
value (it is anchored, as Alertmanager anchors it). A label an alert does not carry matches as
the empty string, so ``team!="payments"`` matches an alert without a ``team`` label and
``team=""`` matches only those.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated

from pydantic import Field, PlainSerializer, PlainValidator, WithJsonSchema

LABEL_NAME = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
"""A label Vigil gives an alert: the six fixed ones and the tag labels (``tags.labels``)."""

LabelKey = Annotated[str, Field(pattern=LABEL_NAME)]
"""A label name in a config (``match``, ``group_by``, ``equal``, ``tags.labels``)."""

# Go's \s is [\t\n\f\r ]; Python's would also take Unicode spaces.
_SPACE = r"[\t\n\f\r ]"
_MATCHER = re.compile(
    rf"^{_SPACE}*([a-zA-Z_:][a-zA-Z0-9_:]*){_SPACE}*(=~|=|!=|!~){_SPACE}*(.*?){_SPACE}*$",
    re.DOTALL,
)


class MatchType(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEXP = "=~"
    NOT_REGEXP = "!~"


@dataclass(frozen=True)
class Matcher:
    """One label matcher; a regular expression that does not compile raises ``ValueError``."""

    name: str
    type: MatchType
    value: str
    _pattern: re.Pattern[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        regexp = self.type in (MatchType.REGEXP, MatchType.NOT_REGEXP)
        try:
            # An equality matcher's pattern is never used: the empty one stands in.
            pattern = re.compile(self.value if regexp else "")
        except re.error as exc:
            raise ValueError(f"{self.value!r} is not a regular expression ({exc})") from exc
        object.__setattr__(self, "_pattern", pattern)

    def matches_value(self, value: str) -> bool:
        match self.type:
            case MatchType.EQUAL:
                return value == self.value
            case MatchType.NOT_EQUAL:
                return value != self.value
            case MatchType.REGEXP:
                return self._pattern.fullmatch(value) is not None
            case MatchType.NOT_REGEXP:
                return self._pattern.fullmatch(value) is None

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether the alert's ``labels`` satisfy it; an absent label is the empty string."""
        return self.matches_value(labels.get(self.name, ""))

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.type.value}"{escaped}"'


def parse_matcher(text: str) -> Matcher:
    """One matcher, ``name op value``; ``ValueError`` saying what is wrong with it."""
    found = _MATCHER.match(text)
    if found is None:
        raise ValueError(f"bad matcher format: {text}")
    raw = found[3]
    quoted = raw.startswith('"')
    if quoted:
        raw = raw[1:]
    value: list[str] = []
    escaped = False
    for index, char in enumerate(raw):
        if escaped:
            escaped = False
            value.append({"n": "\n", '"': '"', "\\": "\\"}.get(char, "\\" + char))
        elif char == "\\":
            if index < len(raw) - 1:
                escaped = True
            else:
                value.append(char)  # a backslash as the last character is literal
        elif char == '"':
            if not quoted or index < len(raw) - 1:
                raise ValueError(f"matcher value contains unescaped double quote: {found[3]}")
            quoted = False
        else:
            value.append(char)
    if quoted:
        raise ValueError(f"matcher value contains unescaped double quote: {found[3]}")
    return Matcher(found[1], MatchType(found[2]), "".join(value))


def parse_matchers(text: str) -> list[Matcher]:
    """A comma-separated list of matchers, optionally in braces (``{a="b", c!="d"}``), split on
    the commas outside double quotes; a trailing comma is allowed."""
    text = text.removeprefix("{").removesuffix("}")
    tokens: list[str] = []
    token: list[str] = []
    inside = escaped = False
    for char in text:
        if char == "," and not inside:
            tokens.append("".join(token))
            token = []
            continue
        if char == '"':
            if escaped:
                escaped = False
            else:
                inside = not inside
        elif char == "\\":
            escaped = not escaped
        else:
            escaped = False
        token.append(char)
    last = "".join(token).strip()
    if last:
        tokens.append(last)
    return [parse_matcher(token) for token in tokens]


def to_matchers(value: object) -> tuple[Matcher, ...]:
    """One entry of a config's ``matchers`` list: a string in Alertmanager's syntax, one
    matcher or several (``'{a="b", c!="d"}'``), as Alertmanager reads each entry."""
    if isinstance(value, tuple) and all(isinstance(item, Matcher) for item in value):
        return value
    if not isinstance(value, str):
        raise ValueError('a matcher is a string like team="payments"')
    return tuple(parse_matchers(value))


def _entry_text(matchers: tuple[Matcher, ...]) -> str:
    return ", ".join(str(matcher) for matcher in matchers)


ConfigMatchers = Annotated[
    tuple[Matcher, ...],
    PlainValidator(to_matchers),
    PlainSerializer(_entry_text, return_type=str),
    WithJsonSchema({"type": "string", "examples": ['team="payments"', 'env!~"dev|test"']}),
]
"""One entry of ``matchers`` as the rules config and a stored silence write it: a string."""


def flat(entries: Iterable[Iterable[Matcher]]) -> list[Matcher]:
    return [matcher for entry in entries for matcher in entry]


def all_match(entries: Iterable[Iterable[Matcher]], labels: Mapping[str, str]) -> bool:
    """Whether every matcher of every entry matches ``labels``."""
    return all(matcher.matches(labels) for matcher in flat(entries))
