"""The registry of signal kinds (issue 13): each kind is declared once, with its title, the
rules-config field that sets it and its judge; these tests hold the registry, the config model
and docs/rules.md to one another."""

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.factories import labels
from vigil.core.model import Signal
from vigil.rules.document import RulesConfig
from vigil.rules.kinds import COST_KINDS, KINDS, judge, kind_title

RULES_DOC = Path(__file__).parents[2] / "docs" / "rules.md"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _headings() -> str:
    return "\n".join(
        line for line in RULES_DOC.read_text().splitlines() if re.match(r"^#{2,3} ", line)
    )


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_kind_names_its_config_field_and_is_documented(name: str) -> None:
    kind = KINDS[name]

    assert kind.name == name
    assert kind.title
    assert kind.title != name
    assert f"`{name}`" in RULES_DOC.read_text(), f"{name} is not in docs/rules.md"
    if kind.config is not None:
        assert kind.config in RulesConfig.model_fields
        assert f"`{kind.config}`" in _headings(), f"no docs/rules.md section for {kind.config}"


def test_every_rule_of_the_config_judges_some_kind() -> None:
    """A rule section that no kind reads would be a setting that does nothing."""
    not_rules = {
        "version",
        "collection",
        "tags",
        "repeat_interval_minutes",
        "send_resolved",
        "resolved_retention_days",
        "outage",
        "routing",
        "approvers",
        "overrides",
        "status_page",
        "organization",
    }
    judged = {kind.config for kind in KINDS.values()}

    assert set(RulesConfig.model_fields) - not_rules - judged == set()


def test_judge_and_title_are_lookups_and_an_unknown_kind_is_neither() -> None:
    unknown = Signal(
        source="metrics",
        labels=labels("orders", kind="ecs.cpu"),
        value=1.0,
        unit="Percent",
        window_seconds=300,
        observed_at=NOW,
    )

    assert judge(unknown, RulesConfig()) is None
    assert kind_title("ecs.cpu") == "ecs.cpu"
    assert kind_title("lambda.errors") == "Lambda errors"
    assert sorted(COST_KINDS) == [
        "cost.budget_actual",
        "cost.budget_forecast",
        "cost.daily_drop",
        "cost.daily_spike",
        "cost.new_service",
    ]
