"""A bad rules config names its line and field; the last good one keeps running and an
alert about the bad one fires until it is fixed."""

import json

import pytest

from tests.factories import T0, batch, error_signal, minutes
from tests.fakes import MemoryAlertStore
from vigil.core.errors import ConfigError
from vigil.core.json_lines import json_positions, line_and_column
from vigil.evaluation.pipeline import evaluate
from vigil.rules.document import RulesConfig
from vigil.rules.loading import LoadedRules, load_rules, with_config_signal
from vigil.rules.self_watch import CONFIG_KIND

GOOD = json.dumps({"routing": {"receivers": [{"name": "default", "email": True}]}})
BAD = """{
  "routing": {
    "route": {
      "receivers": ["default"],
      "routes": [
        {"match": {"severity": "critical"}, "group_wait": "soon"}
      ]
    }
  }
}"""


class MemoryLastGood:
    def __init__(self) -> None:
        self.stored: tuple[str, str] | None = None
        self.puts = 0

    def get(self) -> tuple[str, str] | None:
        return self.stored

    def put(self, document: str, digest: str) -> None:
        self.puts += 1
        self.stored = (document, digest)


def test_positions_of_keys_and_items_are_found_in_any_layout() -> None:
    text = '{"a": [1, {"b": "x,]}"}], "c": {"d": null}}'
    positions = json_positions(text)

    assert text[positions[("a",)] :].startswith('"a"')
    assert text[positions[("a", 1, "b")] :].startswith('"b"')
    assert text[positions[("c", "d")] :].startswith('"d"')
    assert line_and_column(BAD, ("routing", "route", "routes", 0, "group_wait")) == (6, 45)
    assert line_and_column(BAD, ("routing", "inhibit_rules")) == (2, 3)  # nearest parent


def test_a_config_error_names_the_line_column_and_field() -> None:
    with pytest.raises(ConfigError) as caught:
        RulesConfig.from_json(BAD)

    assert str(caught.value) == (
        "VIGIL_RULES: invalid rules config: routing.route.routes.0.group_wait"
        " (line 6, column 45): Value error, 'soon' is not a duration like 30s, 5m, 4h or 1d"
    )


def test_a_valid_config_is_remembered_once_and_a_bad_one_falls_back_to_it() -> None:
    last_good = MemoryLastGood()

    first = load_rules(GOOD, last_good=last_good)
    again = load_rules(GOOD, last_good=last_good)
    broken = load_rules(BAD, last_good=last_good)

    assert (first.problem, again.problem, last_good.puts) == (None, None, 1)
    assert broken.rules == first.rules  # the last good one runs
    assert broken.problem is not None
    assert "routing.route.routes.0.group_wait (line 6, column 45)" in broken.problem
    assert last_good.puts == 1  # a bad document is never remembered


def test_without_a_last_good_config_the_defaults_run() -> None:
    loaded = load_rules("[1, 2]", last_good=MemoryLastGood())

    assert loaded.rules == RulesConfig()
    assert loaded.problem == "VIGIL_RULES: expected a JSON object, got list"


def test_a_bad_config_raises_an_alert_that_routes_and_resolves_once_fixed() -> None:
    store = MemoryAlertStore()
    last_good = MemoryLastGood()
    good = load_rules(GOOD, last_good=last_good)
    bad = load_rules(BAD, last_good=last_good)

    def cycle(loaded: LoadedRules, at_minutes: int) -> list[str]:
        at = T0 + minutes(at_minutes)
        plain = batch(at, error_signal("orders-api", invocations=3, errors=0, at=at))
        result = evaluate(
            with_config_signal(plain, loaded, account="123456789012", region="us-east-1"),
            rules=loaded.rules,
            store=store,
            routing=store.routing,
            stack="vigil",
        )
        return [f"{n.subject} -> {n.receiver} {n.channels}" for n in result.notifications]

    assert cycle(good, 0) == []
    assert cycle(bad, 5) == [
        '[WARNING] Vigil rules config invalid firing: RulesConfig -> default ["email"]'
    ]
    assert cycle(bad, 10) == []
    assert cycle(good, 15) == [
        '[RESOLVED] Vigil rules config invalid resolved: RulesConfig -> default ["email"]'
    ]
    (alert,) = store.items.values()
    assert alert.labels.kind == CONFIG_KIND
    assert "line 6, column 45" in alert.evidence.summary
