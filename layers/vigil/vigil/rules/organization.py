"""Organization mode (docs/rules.md, ``organization``): which member accounts of an AWS
Organization Vigil watches, the role it assumes in each, and the judge of a member it cannot
reach or whose metrics do not reach it in a watched region (``vigil.member_not_connected``).

A member is chosen by its account ID, the organizational unit (OU) it sits in (any depth below
a listed OU) and its account tags: ``include`` empty means every account of the Organization;
``exclude`` wins over ``include``. Off by default.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Final

from pydantic import AfterValidator, Field, model_validator

from vigil.core.model import Severity, Signal
from vigil.rules.base import Breach, ConfigModel, SignalKind, breach

MEMBER_KIND: Final = "vigil.member_not_connected"
ACCOUNT_NAME_LABEL: Final = "account_name"
"""The tag label an alert of a known member carries: the account's name in Organizations."""
WATCH_ORGANIZATION_DOCS: Final = 'README, "Watch an Organization"'


def _shaped(pattern: str, expected: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{value!r} is not {expected}")
        return value

    return check


AccountId = Annotated[str, AfterValidator(_shaped(r"\d{12}", "an account id (12 digits)"))]
OuId = Annotated[
    str,
    AfterValidator(
        _shaped(r"ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}", "an OU id such as ou-ab12-cd34ef56")
    ),
]
"""An organizational unit id, as Organizations writes it: ``ou-ab12-cd34ef56``."""
RoleName = Annotated[
    str,
    AfterValidator(
        _shaped(
            r"[\w+=,.@-]{1,64}",
            "an IAM role name (1 to 64 of letters, digits and + = , . @ _ -)",
        )
    ),
]
"""As IAM ``CreateRole`` allows (``RoleName``); the member template's path is ``/``."""


class AccountTag(ConfigModel):
    """An account tag (Organizations ``ListTagsForResource``): ``key`` with any of ``values``
    (none listed: any value)."""

    key: Annotated[str, Field(min_length=1, max_length=128)]
    values: list[Annotated[str, Field(max_length=256)]] = Field(default_factory=list)

    def matches(self, tags: Mapping[str, str]) -> bool:
        return self.key in tags and (not self.values or tags[self.key] in self.values)


class AccountSelection(ConfigModel):
    """Accounts by ID, by organizational unit (the OU or any OU below it) and by tag: an
    account matches when any entry of any list matches it."""

    accounts: list[AccountId] = Field(default_factory=list)
    ous: list[OuId] = Field(default_factory=list)
    tags: list[AccountTag] = Field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.accounts or self.ous or self.tags)

    def matches(self, account: str, path: Sequence[str], tags: Mapping[str, str]) -> bool:
        """``path``: the OUs from the root down to the account's parent."""
        return (
            account in self.accounts
            or any(ou in path for ou in self.ous)
            or any(tag.matches(tags) for tag in self.tags)
        )


class OrganizationConfig(ConfigModel):
    """Organization mode: the member accounts watched and the role assumed in each."""

    enabled: bool = False
    role_name: RoleName = "vigil-member"
    """The role the member template creates in each member (``MemberRoleName``)."""
    include: AccountSelection = Field(default_factory=AccountSelection)
    exclude: AccountSelection = Field(default_factory=AccountSelection)

    @model_validator(mode="after")
    def _nothing_twice(self) -> "OrganizationConfig":
        both = sorted(set(self.include.accounts) & set(self.exclude.accounts))
        if both:
            raise ValueError(f"account {', '.join(both)} is both included and excluded")
        both = sorted(set(self.include.ous) & set(self.exclude.ous))
        if both:
            raise ValueError(f"OU {', '.join(both)} is both included and excluded")
        return self

    @property
    def reads_tags(self) -> bool:
        """Whether choosing accounts needs their tags (one ``ListTagsForResource`` each)."""
        return bool(self.include.tags or self.exclude.tags)

    def chooses(self, account: str, path: Sequence[str], tags: Mapping[str, str]) -> bool:
        """Whether the account is watched: included (or no ``include``) and not excluded."""
        if not self.include.empty and not self.include.matches(account, path, tags):
            return False
        return not self.exclude.matches(account, path, tags)


def account_label(tags: Mapping[str, str]) -> dict[str, str]:
    """The ``account_name`` label among a signal's tags: an alert keeps it whatever the tag
    allowlist (``tags.labels``) says, since Vigil put it there (ADR 50)."""
    return {ACCOUNT_NAME_LABEL: tags[ACCOUNT_NAME_LABEL]} if ACCOUNT_NAME_LABEL in tags else {}


def _judge_member(signal: Signal, _rule: None) -> Breach | None:
    if signal.value <= 0:
        return None
    name = signal.tags.get(ACCOUNT_NAME_LABEL) or signal.labels.resource
    if failed := signal.context.get("collection"):
        # A target of the collection fan-out (ADR 51) that failed after its retries.
        summary = (
            f"Account {name} ({signal.labels.resource}) was not collected in"
            f" {signal.labels.region}: {failed}. Its alerts there stay as they were until a"
            f" cycle collects it again (see {WATCH_ORGANIZATION_DOCS})."
        )
        return breach(signal, Severity.WARNING, signal.value, 0, "Count", summary=summary)
    if link := signal.context.get("link"):
        # A member reached by its role that shares no metrics in this region (ADR 54).
        region = signal.labels.region
        summary = (
            f"Member account {name} ({signal.labels.resource}) shares no metrics with Vigil in"
            f" {region}: it has {link} there. Deploy the member template in {region} with that"
            f" region's SinkArn (see {WATCH_ORGANIZATION_DOCS})."
        )
        return breach(signal, Severity.WARNING, signal.value, 0, "Count", summary=summary)
    role = signal.context.get("role", "the member role")
    problem = signal.context.get("problem", "the role cannot be assumed")
    summary = (
        f"Member account {name} ({signal.labels.resource}) is not connected: {role} cannot be"
        f" assumed ({problem}). Deploy the member StackSet to its OU or account (see"
        f" {WATCH_ORGANIZATION_DOCS})."
    )
    return breach(signal, Severity.WARNING, signal.value, 0, "Count", summary=summary)


KINDS: tuple[SignalKind[Any], ...] = (
    SignalKind(MEMBER_KIND, "Member account not connected", None, _judge_member),
)
