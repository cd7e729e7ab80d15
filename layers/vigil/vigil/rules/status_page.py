"""The status page's config: product components mapped to AWS services, regions, resources.

Besides the components customers know, it gives the page's title, time zone and public
address (docs/runbook.md, "Status page"; ADR 46)."""

from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import Annotated, Self
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator

from vigil.rules.base import ConfigModel
from vigil.rules.time_intervals import TimeZoneName

MAX_COMPONENTS = 30


class StatusComponent(ConfigModel):
    """A part of the product as customers name it ("Checkout"). An incident affects it when
    every list it gives matches the incident: ``services`` its AWS service (``lambda``),
    ``regions`` its region, ``resources`` (shell globs, ``orders-*``) one of the resources
    the assessment found affected. An empty list matches anything; at least one is given."""

    name: Annotated[str, Field(min_length=1, max_length=60)]
    services: list[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,40}$")]] = Field(
        default_factory=list
    )
    regions: list[Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")]] = Field(
        default_factory=list
    )
    resources: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        default_factory=list
    )

    @model_validator(mode="after")
    def _selects_something(self) -> Self:
        if not (self.services or self.regions or self.resources):
            raise ValueError(
                f"component {self.name!r} names no services, regions or resources: it would"
                " match every incident"
            )
        return self

    def affected_by(self, service: str, region: str, resources: Iterable[str]) -> bool:
        if self.services and service not in self.services:
            return False
        if self.regions and region not in self.regions:
            return False
        return not self.resources or any(
            fnmatchcase(resource, pattern) for resource in resources for pattern in self.resources
        )


class StatusPageConfig(ConfigModel):
    """The ``status_page`` section of the rules config."""

    title: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    """Replaces the ``StatusPageTitle`` stack parameter when given."""
    time_zone: TimeZoneName = "UTC"
    """The IANA time zone the pages show times in (``Europe/Berlin``)."""
    url: (
        Annotated[str, Field(pattern=r"^https://[^\s/?#]+(/[^\s?#]*)?/$", max_length=200)] | None
    ) = None
    """The public address of ``status/`` (``https://status.example.com/``, ending in ``/``):
    the Atom feeds' links and ids are absolute with it, relative without."""
    components: Annotated[list[StatusComponent], Field(max_length=MAX_COMPONENTS)] = Field(
        default_factory=list
    )

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        seen: set[str] = set()
        for component in self.components:
            if component.name.casefold() in seen:
                raise ValueError(f"component {component.name!r} is listed twice")
            seen.add(component.name.casefold())
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)
