"""Per-resource rules (docs/rules.md, "Per-resource overrides"): the config's ``overrides``
and a resource's own ``vigil:`` tags, merged over the rule of a signal's kind.

An entry of ``overrides`` selects resources by ``resources`` (shell globs on the resource as
the signal names it) and/or ``tags`` (tag key -> value glob), optionally only for some
``kinds`` (globs), and either opts them out (``ignore``) or merges partial rule sections over
the config's (``rules``). Entries apply in order, later ones winning; a resource's
``vigil:<rule>.<field>=<value>`` and ``vigil:ignore=true`` tags apply last, being its owner's
explicit word. Every entry is validated at load, merged over the config's rule; a merge is
validated once per distinct combination (:class:`Resolver` caches it), not per signal. A tag
that does not validate is reported (:attr:`Resolution.problems`) and its resource keeps the
config's rule.
"""

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Annotated, Any, Self

from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from vigil.rules.base import ConfigModel

TAG_PREFIX = "vigil:"
IGNORE_TAG = f"{TAG_PREFIX}ignore"

NOT_RULE_SECTIONS = frozenset(
    {
        "collection",
        "tags",
        "routing",
        "approvers",
        "outage",
        "overrides",
        "status_page",
        "organization",
    }
)
"""The config's sections that no signal kind judges with: nothing to override per resource."""

Glob = Annotated[str, Field(min_length=1, max_length=512)]
KindGlob = Annotated[str, Field(pattern=r"^[a-z0-9_.*?\[\]!-]+$", max_length=128)]
TagKey = Annotated[str, Field(min_length=1, max_length=128)]
RunbookUrl = Annotated[str, Field(pattern=r"^https?://[^\s<>|]+$", max_length=1000)]
"""A web page, shown as a link in every channel: no spaces, and none of Slack's link markup."""
RUNBOOK_TAG = f"{TAG_PREFIX}runbook"


class Override(ConfigModel):
    """One entry of ``overrides``: which resources (and kinds) it selects, and what it does."""

    resources: list[Glob] = Field(default_factory=list)
    """Shell globs on the signal's resource (``payments-*``); any one matching selects."""
    tags: dict[TagKey, Glob] = Field(default_factory=dict)
    """Tag key -> value glob; every one must match (with ``resources``: both must select)."""
    kinds: list[KindGlob] = Field(default_factory=list)
    """Globs on signal kinds (``lambda.*``); none: every kind."""
    ignore: bool | None = None
    """``true``: the selected resources are not judged; ``false``: an earlier entry's opt-out
    is lifted."""
    rules: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Partial rule sections (``{"lambda_errors": {"warning_rate": 0.0005}}``) merged over the
    config's."""
    runbook_url: RunbookUrl | None = None
    """What to do: every alert of the selected resources and kinds links it as ``Runbook``."""

    @model_validator(mode="after")
    def _selects_and_acts(self) -> Self:
        if not self.resources and not self.tags:
            raise ValueError('select resources by resources or tags (["*"] selects every one)')
        if self.ignore is None and not self.rules and self.runbook_url is None:
            raise ValueError("give ignore or rules, or a runbook_url: the entry changes nothing")
        if self.ignore and self.rules:
            raise ValueError("ignore: true judges nothing, so it takes no rules")
        return self

    def selects(self, kind: str, resource: str, tags: Mapping[str, str]) -> bool:
        return (
            (not self.kinds or any(fnmatchcase(kind, glob) for glob in self.kinds))
            and (not self.resources or any(fnmatchcase(resource, glob) for glob in self.resources))
            and all(key in tags and fnmatchcase(tags[key], glob) for key, glob in self.tags.items())
        )


def runbook_url(
    entries: Iterable[Override], kind: str, resource: str, tags: Mapping[str, str]
) -> str | None:
    """The runbook of a resource's alerts of ``kind``: its ``vigil:runbook`` tag (its owner's
    word), else the last entry that selects it and names one."""
    tagged = tags.get(RUNBOOK_TAG)
    if tagged is not None and _RUNBOOK.match(tagged) and len(tagged) <= 1000:
        return tagged
    found = None
    for entry in entries:
        if entry.runbook_url is not None and entry.selects(kind, resource, tags):
            found = entry.runbook_url
    return found


_RUNBOOK = re.compile(r"^https?://[^\s<>|]+$")


def merge(base: dict[str, Any], partial: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``partial`` merged over it: nested objects merge, anything else replaces."""
    merged = dict(base)
    for key, value in partial.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            merged[key] = merge(current, value)
        else:
            merged[key] = value
    return merged


def rule_sections(config: Mapping[str, object]) -> dict[str, BaseModel]:
    """The rule sections of a rules config's fields: the ones a resource's rule can override."""
    return {
        name: value
        for name, value in config.items()
        if name not in NOT_RULE_SECTIONS and isinstance(value, BaseModel)
    }


def merged_rule[M: BaseModel](base: M, partials: Iterable[Mapping[str, Any]]) -> M:
    """``base`` with ``partials`` merged over it in order, validated as ``base``'s model."""
    document = base.model_dump(mode="json", by_alias=True)
    for partial in partials:
        document = merge(document, partial)
    return type(base).model_validate(document)


def checked(entries: list[Override], config: Mapping[str, object]) -> list[Override]:
    """``entries``, once each of their rule sections names a rule of ``config`` and merges
    over it into a valid rule; otherwise a ``ValidationError`` located at the entry's field
    (``0.rules.lambda_errors.warning_rate``)."""
    rules = rule_sections(config)
    errors: list[InitErrorDetails] = []
    for index, entry in enumerate(entries):
        for section, partial in entry.rules.items():
            where = (index, "rules", section)
            base = rules.get(section)
            if base is None:
                errors.append(
                    InitErrorDetails(
                        type=PydanticCustomError(
                            "unknown_rule",
                            "no rule section of that name (one of: {known})",
                            {"known": ", ".join(sorted(rules))},
                        ),
                        loc=where,
                        input=section,
                    )
                )
                continue
            try:
                merged_rule(base, [partial])
            except ValidationError as exc:
                errors += [_located(error, where) for error in exc.errors()]
    if errors:
        raise ValidationError.from_exception_data("overrides", errors)
    return entries


def _located(error: Any, where: tuple[str | int, ...]) -> InitErrorDetails:
    details = InitErrorDetails(
        type=error["type"], loc=(*where, *error["loc"]), input=error["input"]
    )
    if "ctx" in error:
        details["ctx"] = error["ctx"]
    return details


@dataclass(frozen=True)
class TagRules:
    """What a resource's ``vigil:`` tags say: an opt-out, partial sections, problems."""

    ignore: bool | None = None
    sections: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    """Each section's tagged fields: (dotted field, value), sorted."""
    problems: tuple[str, ...] = ()


def read_tags(tags: Mapping[str, str], rules: Mapping[str, BaseModel]) -> TagRules:
    """The ``vigil:`` tags of a resource as partial sections; a tag naming no rule section or
    no field, or an ``ignore`` other than true or false, is a problem."""
    ignore: bool | None = None
    fields: dict[str, list[tuple[str, str]]] = {}
    problems: list[str] = []
    for key, value in sorted(tags.items()):
        if not key.startswith(TAG_PREFIX):
            continue
        if key == RUNBOOK_TAG:
            if not _RUNBOOK.match(value):
                problems.append(f"tag {key}={value}: expected an http(s) URL")
            continue
        if key == IGNORE_TAG:
            if value.strip().lower() in {"true", "false"}:
                ignore = value.strip().lower() == "true"
            else:
                problems.append(f"tag {key}={value}: expected true or false")
            continue
        section, _, path = key.removeprefix(TAG_PREFIX).partition(".")
        if section not in rules:
            problems.append(f"tag {key}={value}: no rule section {section!r}")
        elif not path or "" in path.split("."):
            problems.append(f"tag {key}={value}: expected vigil:<rule>.<field>=<value>")
        else:
            fields.setdefault(section, []).append((path, value))
    tagged: dict[str, tuple[tuple[str, str], ...]] = {}
    for section, items in fields.items():
        paths = [path for path, _ in items]
        clashing = {path for path in paths if any(p.startswith(f"{path}.") for p in paths)}
        problems += [
            f"tag {TAG_PREFIX}{section}.{path}={value}: other tags set fields inside it"
            for path, value in items
            if path in clashing
        ]
        tagged[section] = tuple(sorted(item for item in items if item[0] not in clashing))
    return TagRules(ignore, tagged, tuple(problems))


@dataclass(frozen=True)
class Resolution:
    """The rule a signal is judged by (``None``: its resource opted out), and what was wrong
    with the overrides or tags that would have changed it."""

    rule: BaseModel | None
    problems: tuple[str, ...] = ()


def relevant_tags(tags: Mapping[str, str], entries: Iterable[Override]) -> dict[str, str]:
    """The tags overrides read: ``vigil:`` ones and the keys the entries select by."""
    selecting = {key for entry in entries for key in entry.tags}
    return {
        key: value for key, value in tags.items() if key.startswith(TAG_PREFIX) or key in selecting
    }


type _MergeKey = tuple[str, tuple[int, ...], tuple[tuple[str, str], ...]]


class Resolver:
    """The rule of each (kind, resource, tags), merged and validated once and then cached.

    Two caches: the resolution of a (kind, resource, tags), and the rule a (section, entries,
    tagged fields) merges into, which many resources share; :attr:`validations` counts the
    merges validated. Both live as long as the rules config they were made for.
    """

    def __init__(self, entries: list[Override], rules: Mapping[str, BaseModel]) -> None:
        self._entries = entries
        self.rules = rules
        """The config's rule sections (:func:`rule_sections`)."""
        self._resolved: dict[tuple[str, str, str, tuple[tuple[str, str], ...]], Resolution] = {}
        self._merged: dict[_MergeKey, Resolution] = {}
        self.validations = 0

    def resolve(
        self, kind: str, section: str, resource: str, tags: Mapping[str, str]
    ) -> Resolution:
        # Nothing can change the config's rule: no entries, and no vigil: tag (a resource's
        # other tags, such as its tag labels, select nothing then).
        if not self._entries and not any(key.startswith(TAG_PREFIX) for key in tags):
            return Resolution(self.rules[section])
        key = (kind, section, resource, tuple(sorted(tags.items())))
        found = self._resolved.get(key)
        if found is None:
            found = self._resolved[key] = self._resolve(kind, section, resource, tags)
        return found

    def variants(self, section: str) -> list[BaseModel]:
        """The config's rule of ``section`` and each entry's merged over it: the rules some
        resource may be judged by, tags aside (an account aggregate asks whether any might
        breach)."""
        base = self.rules[section]
        merged = (
            self._merge(base, section, (index,), ()).rule
            for index, entry in enumerate(self._entries)
            if section in entry.rules
        )
        return [base, *(rule for rule in merged if rule is not None)]

    def _resolve(
        self, kind: str, section: str, resource: str, tags: Mapping[str, str]
    ) -> Resolution:
        base = self.rules[section]
        chosen = [
            index
            for index, entry in enumerate(self._entries)
            if entry.selects(kind, resource, tags)
        ]
        ignore = next(
            (
                self._entries[i].ignore
                for i in reversed(chosen)
                if self._entries[i].ignore is not None
            ),
            None,
        )
        told = read_tags(tags, self.rules)
        if told.ignore is not None:
            ignore = told.ignore
        if ignore:
            return Resolution(None, told.problems)
        with_section = tuple(i for i in chosen if section in self._entries[i].rules)
        configured = self._merge(base, section, with_section, ())
        rule = configured.rule or base
        problems = told.problems + configured.problems
        own = told.sections.get(section)
        if own:
            tagged = self._merge(base, section, with_section, own)
            rule = tagged.rule or rule
            problems += tagged.problems
        return Resolution(rule, problems)

    def _merge(
        self,
        base: BaseModel,
        section: str,
        chosen: tuple[int, ...],
        tagged: tuple[tuple[str, str], ...],
    ) -> Resolution:
        """The config's ``section`` with entries ``chosen`` and then ``tagged`` (dotted field,
        value) merged over it, validated once; ``rule`` is ``None`` when it does not validate,
        and ``problems`` say why."""
        if not chosen and not tagged:
            return Resolution(base)
        key = (section, chosen, tagged)
        found = self._merged.get(key)
        if found is None:
            partials = [self._entries[i].rules[section] for i in chosen]
            if tagged:
                partials.append(_nested(tagged))
            self.validations += 1
            try:
                found = Resolution(merged_rule(base, partials))
            except ValidationError as exc:
                found = Resolution(
                    None,
                    _tag_problems(section, dict(tagged), exc)
                    if tagged
                    else (
                        f"overrides {', '.join(map(str, chosen))} merge into an invalid"
                        f" {section} ({_errors(exc)}): the config's rule applies",
                    ),
                )
            self._merged[key] = found
        return found


class ResolverSlot:
    """Where a rules config keeps its :class:`Resolver`: made on first use for that very config
    (a copy, which shares the slot, makes its own) and no part of the config's equality."""

    def __init__(self) -> None:
        self._owner: object | None = None
        self._resolver: Resolver | None = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ResolverSlot)

    def __hash__(self) -> int:
        return hash(ResolverSlot)

    def resolver(self, owner: object, make: Callable[[], Resolver]) -> Resolver:
        if self._resolver is None or self._owner is not owner:
            self._owner, self._resolver = owner, make()
        return self._resolver


def _nested(items: Iterable[tuple[str, str]]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for path, value in items:
        *parents, leaf = path.split(".")
        node = nested
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return nested


def _errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, error['loc'])) or '(rule)'}: {error['msg']}" for error in exc.errors()
    )


def _tag_problems(section: str, values: dict[str, str], exc: ValidationError) -> tuple[str, ...]:
    """Each error of a tagged merge as ``vigil:<section>.<field>=<value>: what is wrong``; an
    error of the whole rule names every tag of the section."""
    problems = []
    for error in exc.errors():
        path = ".".join(map(str, error["loc"]))
        if path in values:
            problems.append(f"tag {TAG_PREFIX}{section}.{path}={values[path]}: {error['msg']}")
        else:
            tags = ", ".join(f"{TAG_PREFIX}{section}.{k}={v}" for k, v in sorted(values.items()))
            problems.append(f"tags {tags}: {error['msg']}")
    return tuple(problems)
