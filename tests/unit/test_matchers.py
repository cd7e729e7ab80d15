"""Alertmanager's matchers, routes and inhibit rules with them, and the tag-label allowlist
(issue 16, item 2). The cases are ported from prometheus/alertmanager at commit 68fb2d57:
pkg/labels/parse_test.go (TestMatchers), pkg/labels/matcher_test.go (TestMatcher,
TestMatcherString), dispatch/route_test.go (TestRouteMatch, TestRouteMatchers) and
inhibit/inhibit_test.go (TestInhibitRuleHasEqual, TestInhibitRuleMatches,
TestInhibitRuleMatchers). Where Go and Python word an error differently, the case checks the
start Alertmanager and Vigil share ("bad matcher format", "unescaped double quote")."""

import json
import re
from datetime import timedelta
from typing import Any

import pytest

from vigil.core.errors import ConfigError
from vigil.rules.document import RulesConfig
from vigil.rules.matchers import Matcher, MatchType, parse_matchers
from vigil.rules.routing import RoutingConfig, destinations, inhibited

EQ, NE, RE, NRE = MatchType.EQUAL, MatchType.NOT_EQUAL, MatchType.REGEXP, MatchType.NOT_REGEXP

# pkg/labels/parse_test.go, TestMatchers: input, then the matchers or the error's start.
PARSE_CASES: list[tuple[str, list[tuple[str, MatchType, str]] | str]] = [
    ("{}", []),
    (",", "bad matcher format: "),
    ("{,}", "bad matcher format: "),
    ("{foo='}", [("foo", EQ, "'")]),
    ("{foo=`}", [("foo", EQ, "`")]),
    ('{foo=\\"}', [("foo", EQ, '"')]),
    ("{foo=bar}", [("foo", EQ, "bar")]),
    ('{foo="bar"}', [("foo", EQ, "bar")]),
    ("{foo=~bar.*}", [("foo", RE, "bar.*")]),
    ('{foo=~"bar.*"}', [("foo", RE, "bar.*")]),
    ("{foo!=bar}", [("foo", NE, "bar")]),
    ('{foo!="bar"}', [("foo", NE, "bar")]),
    ("{foo!~bar.*}", [("foo", NRE, "bar.*")]),
    ('{foo!~"bar.*"}', [("foo", NRE, "bar.*")]),
    ('{foo="bar", baz!="quux"}', [("foo", EQ, "bar"), ("baz", NE, "quux")]),
    ('{foo="bar", baz!~"quux.*"}', [("foo", EQ, "bar"), ("baz", NRE, "quux.*")]),
    (
        '{foo="bar",baz!~".*quux", derp="wat"}',
        [("foo", EQ, "bar"), ("baz", NRE, ".*quux"), ("derp", EQ, "wat")],
    ),
    (
        '{foo="bar", baz!="quux", derp="wat"}',
        [("foo", EQ, "bar"), ("baz", NE, "quux"), ("derp", EQ, "wat")],
    ),
    (
        '{foo="bar", baz!~".*quux.*", derp="wat"}',
        [("foo", EQ, "bar"), ("baz", NRE, ".*quux.*"), ("derp", EQ, "wat")],
    ),
    ('{foo="bar", instance=~"some-api.*"}', [("foo", EQ, "bar"), ("instance", RE, "some-api.*")]),
    ('{foo=""}', [("foo", EQ, "")]),
    ('{foo="bar,quux", job="job1"}', [("foo", EQ, "bar,quux"), ("job", EQ, "job1")]),
    ('{foo = "bar", dings != "bums", }', [("foo", EQ, "bar"), ("dings", NE, "bums")]),
    ("foo=bar,dings!=bums", [("foo", EQ, "bar"), ("dings", NE, "bums")]),
    (
        '{quote="She said: \\"Hi, ladies! That\'s gender-neutral…\\""}',
        [("quote", EQ, 'She said: "Hi, ladies! That\'s gender-neutral…"')],
    ),
    ('statuscode=~"5.."', [("statuscode", RE, "5..")]),
    ("tricky=~~~", [("tricky", RE, "~~")]),
    ('trickier==\\\\=\\=\\"', [("trickier", EQ, '=\\=\\="')]),
    (
        'contains_quote != "\\"" , contains_comma !~ "foo,bar" , ',
        [("contains_quote", NE, '"'), ("contains_comma", NRE, "foo,bar")],
    ),
    ("{foo=bar}}", [("foo", EQ, "bar}")]),
    ("{foo=bar}},}", [("foo", EQ, "bar}}")]),
    ("{foo=,bar=}}", [("foo", EQ, ""), ("bar", EQ, "}")]),
    ("{foo=bar\\t}", [("foo", EQ, "bar\\t")]),
    ("{foo=bar\\n}", [("foo", EQ, "bar\n")]),
    ("{foo=bar\\}", [("foo", EQ, "bar\\")]),
    ("{foo=bar\\\\}", [("foo", EQ, "bar\\")]),
    ('{foo=bar\\"}', [("foo", EQ, 'bar"')]),
    ("job=", [("job", EQ, "")]),
    ('job="value', 'matcher value contains unescaped double quote: "value'),
    ('job=value"', 'matcher value contains unescaped double quote: value"'),
    ('trickier==\\\\=\\=\\""', 'matcher value contains unescaped double quote: =\\\\=\\=\\""'),
    (
        'contains_unescaped_quote = foo"bar',
        'matcher value contains unescaped double quote: foo"bar',
    ),
    ('{invalid-name = "valid label"}', 'bad matcher format: invalid-name = "valid label"'),
    ('{foo=~"invalid[regexp"}', "'invalid[regexp' is not a regular expression"),
    ('"{foo=\\"bar"}', 'bad matcher format: "{foo=\\"bar"'),
    ('"foo=\\"bar"', 'bad matcher format: "foo=\\"bar"'),
    ('"foo=\\"bar\\""', 'bad matcher format: "foo=\\"bar\\""'),
    ('"foo=\\"bar\\"', 'bad matcher format: "foo=\\"bar\\"'),
    ('"{foo=\\"bar\\"}"', 'bad matcher format: "{foo=\\"bar\\"}"'),
    ('"foo="bar""', 'bad matcher format: "foo="bar""'),
    ("{{foo=", "bad matcher format: {foo="),
    ("{foo=", [("foo", EQ, "")]),
    ("{foo=}b", [("foo", EQ, "}b")]),
]


@pytest.mark.parametrize(("text", "expected"), PARSE_CASES)
def test_matchers_parse_as_alertmanager_parses_them(
    text: str, expected: list[tuple[str, MatchType, str]] | str
) -> None:
    if isinstance(expected, str):
        with pytest.raises(ValueError, match="^" + _escaped(expected)):
            parse_matchers(text)
        return
    parsed = parse_matchers(text)
    assert [(m.name, m.type, m.value) for m in parsed] == expected


def _escaped(text: str) -> str:
    return re.escape(text)


# pkg/labels/matcher_test.go, TestMatcher: the matcher, a value, whether it matches.
MATCH_CASES = [
    (EQ, "bar", "bar", True),
    (EQ, "bar", "foo-bar", False),
    (NE, "bar", "bar", False),
    (NE, "bar", "foo-bar", True),
    (RE, "bar", "bar", True),
    (RE, "bar", "foo-bar", False),
    (RE, ".*bar", "foo-bar", True),
    (NRE, "bar", "bar", False),
    (NRE, "bar", "foo-bar", True),
    (NRE, ".*bar", "foo-bar", False),
    (RE, "foo.bar", "foo-bar", True),
    (RE, "foo\\.bar", "foo-bar", False),
    (RE, "foo\\.bar", "foo.bar", True),
    (EQ, "foo\nbar", "foo\nbar", True),
    (RE, "foo.bar", "foo\nbar", False),
    (RE, "(?s)foo.bar", "foo\nbar", True),
    (EQ, '~!="', '~!="', True),
]


@pytest.mark.parametrize(("type_", "pattern", "value", "matches"), MATCH_CASES)
def test_a_matcher_matches_as_alertmanager_does(
    type_: MatchType, pattern: str, value: str, matches: bool
) -> None:
    assert Matcher("", type_, pattern).matches_value(value) is matches


# pkg/labels/matcher_test.go, TestMatcherString (the cases with names Vigil's labels allow).
STRING_CASES = [
    ("foo", EQ, "bar", 'foo="bar"'),
    ("foo", NE, "bar", 'foo!="bar"'),
    ("foo", RE, "bar", 'foo=~"bar"'),
    ("foo", NRE, "bar", 'foo!~"bar"'),
    ("foo", EQ, "back\\slash", 'foo="back\\\\slash"'),
    ("foo", EQ, 'double"quote', 'foo="double\\"quote"'),
    ("foo", EQ, "new\nline", 'foo="new\\nline"'),
    ("foo", EQ, "tab\tstop", 'foo="tab\tstop"'),
    ("foo", EQ, "🙂", 'foo="🙂"'),
]


@pytest.mark.parametrize(("name", "type_", "value", "text"), STRING_CASES)
def test_a_matcher_is_written_as_alertmanager_writes_it_and_reads_back(
    name: str, type_: MatchType, value: str, text: str
) -> None:
    matcher = Matcher(name, type_, value)
    assert str(matcher) == text
    assert parse_matchers(text) == [matcher]


def test_an_absent_label_matches_as_the_empty_string() -> None:
    """Alertmanager's semantics: ``team=""`` matches an alert without ``team``, and so does
    ``team!="payments"``; several matchers may name one label."""
    [empty, other, both_a, both_b] = parse_matchers(
        'team="", team!="payments", env=~"d.*", env!~"dev|test"'
    )
    assert empty.matches({"kind": "lambda.errors"})
    assert other.matches({})
    assert not other.matches({"team": "payments"})
    assert both_a.matches({"env": "demo"})
    assert both_b.matches({"env": "demo"})
    assert not both_b.matches({"env": "dev"})


# dispatch/route_test.go, TestRouteMatch and TestRouteMatchers: one tree, written with
# match/match_re (Vigil's match takes globs, which match these exact values the same) and with
# Alertmanager's matchers; an alert's labels, and the receivers, group_by and group_wait of the
# routes it takes. Alertmanager's defaults are set on the root: no grouping, 30s.
def _route_tree(with_matchers: bool) -> RoutingConfig:
    def m(exact: dict[str, str], regex: dict[str, str] | None = None, **am: Any) -> dict[str, Any]:
        if with_matchers:
            return {"matchers": am["matchers"]}
        return {"match": exact} | ({"match_re": regex} if regex else {})

    names = ["notify-def", "notify-A", "notify-testing", "notify-productionA"]
    names += ["notify-productionB", "notify-BC"]
    tree = {
        "receivers": [{"name": n, "email": True} for n in names],
        "route": {
            "receivers": ["notify-def"],
            "group_by": [],
            "group_wait": "30s",
            "routes": [
                m({"owner": "team-A"}, matchers=['{owner="team-A"}', '{level!="critical"}'])
                | {
                    "receivers": ["notify-A"],
                    "routes": [
                        m({"env": "testing"}, matchers=['{env="testing"}', '{baz!~".*quux"}'])
                        | {"receivers": ["notify-testing"], "group_by": ["..."]},
                        m({"env": "production"}, matchers=['{env="production"}'])
                        | {
                            "receivers": ["notify-productionA"],
                            "group_wait": "1m",
                            "continue": True,
                        },
                        m(
                            {},
                            {"env": "produ.*", "job": ".*"},
                            matchers=['env=~"produ.*"', 'job=~".*"'],
                        )
                        | {
                            "receivers": ["notify-productionB"],
                            "group_wait": "30s",
                            "group_interval": "5m",
                            "repeat_interval": "1h",
                            "group_by": ["job"],
                        },
                    ],
                },
                m({}, {"owner": "team-(B|C)"}, matchers=['owner=~"team-(B|C)"'])
                | {"group_by": ["foo", "bar"], "group_wait": "2m", "receivers": ["notify-BC"]},
                m({"group_by": "role"}, matchers=['group_by="role"'])
                | {
                    "group_by": ["role"],
                    "routes": [
                        m({"env": "testing"}, matchers=['{env="testing"}'])
                        | {
                            "receivers": ["notify-testing"],
                            "routes": [
                                m({"wait": "long"}, matchers=['wait="long"']) | {"group_wait": "2m"}
                            ],
                        }
                    ],
                },
            ],
        },
    }
    return RoutingConfig.model_validate(tree)


ROUTE_CASES: list[tuple[dict[str, str], list[tuple[str, tuple[str, ...], int]]]] = [
    ({"owner": "team-A"}, [("notify-A", (), 30)]),
    ({"owner": "team-A", "env": "unset"}, [("notify-A", (), 30)]),
    ({"owner": "team-C"}, [("notify-BC", ("foo", "bar"), 120)]),
    ({"owner": "team-A", "env": "testing"}, [("notify-testing", ("...",), 30)]),
    (
        {"owner": "team-A", "env": "production"},
        [("notify-productionA", (), 60), ("notify-productionB", ("job",), 30)],
    ),
    ({"group_by": "role"}, [("notify-def", ("role",), 30)]),
    ({"env": "testing", "group_by": "role"}, [("notify-testing", ("role",), 30)]),
    ({"env": "testing", "group_by": "role", "wait": "long"}, [("notify-testing", ("role",), 120)]),
]


@pytest.mark.parametrize("with_matchers", [False, True], ids=["match", "matchers"])
@pytest.mark.parametrize(("labels", "expected"), ROUTE_CASES)
def test_routes_match_as_alertmanager_routes(
    with_matchers: bool,
    labels: dict[str, str],
    expected: list[tuple[str, tuple[str, ...], int]],
) -> None:
    found = destinations(_route_tree(with_matchers), labels, repeat_interval=timedelta(hours=4))
    assert [
        (d.receivers[0], d.group_by, int(d.group_wait.total_seconds())) for d in found
    ] == expected


# inhibit/inhibit_test.go, TestInhibitRuleHasEqual: the firing sources (resolved ones are not
# firing), the equal labels, a target, whether it is inhibited. The Go test asks hasEqual with
# the two-sided exclusion off; here every source carries src="1", which the rule's source side
# needs and no target has, so that the exclusion does not apply either.
HAS_EQUAL_CASES: list[tuple[str, list[dict[str, str]], list[str], dict[str, str], bool]] = [
    ("no source alerts", [], [], {"a": "b"}, False),
    ("no equal labels, any source alert satisfies it", [{}], [], {"a": "b"}, True),
    ("matching but already resolved", [], ["a", "b"], {"a": "b", "b": "c"}, False),
    ("matching and unresolved", [{"a": "b", "c": "f"}], ["a"], {"a": "b"}, True),
    (
        "equal label does not match",
        [{"a": "c", "c": "d"}, {"a": "c", "c": "f"}],
        ["a"],
        {"a": "b"},
        False,
    ),
]


@pytest.mark.parametrize(
    ("sources", "equal", "target", "expected"),
    [case[1:] for case in HAS_EQUAL_CASES],
    ids=[case[0] for case in HAS_EQUAL_CASES],
)
def test_inhibition_needs_the_equal_labels_equal(
    sources: list[dict[str, str]], equal: list[str], target: dict[str, str], expected: bool
) -> None:
    config = RoutingConfig.model_validate(
        {"inhibit_rules": [{"source_matchers": ['src="1"'], "equal": equal}]}
    )
    firing = [source | {"src": "1"} for source in sources]
    assert inhibited(config, target, firing) is expected


# inhibit/inhibit_test.go, TestInhibitRuleMatches (source_match/target_match, here Vigil's
# source/target match) and TestInhibitRuleMatchers (source_matchers/target_matchers, rule 1's
# target side t1!="1"): the firing sources are s1=1,t1=2,e=1 and s2=1,t2=1,e=1.
INHIBIT_CASES = [
    ({"t1": "1", "e": "1"}, True, False),
    ({"t2": "1", "e": "1"}, True, True),
    ({"t1": "1", "t3": "1", "e": "1"}, True, False),
    ({"t1": "1", "t2": "1", "e": "1"}, True, True),
    ({"t1": "0", "e": "1"}, False, True),
    ({"s1": "1", "t1": "1", "e": "1"}, True, False),
    ({"s2": "1", "t2": "1", "e": "1"}, False, True),
    ({"t1": "1", "e": "0"}, False, False),
]
INHIBIT_SOURCES = [{"s1": "1", "t1": "2", "e": "1"}, {"s2": "1", "t2": "1", "e": "1"}]
BY_MATCH = RoutingConfig.model_validate(
    {
        "inhibit_rules": [
            {"source": {"match": {"s1": "1"}}, "target": {"match": {"t1": "1"}}, "equal": ["e"]},
            {"source": {"match": {"s2": "1"}}, "target": {"match": {"t2": "1"}}, "equal": ["e"]},
        ]
    }
)
BY_MATCHERS = RoutingConfig.model_validate(
    {
        "inhibit_rules": [
            {"source_matchers": ['s1="1"'], "target_matchers": ['t1!="1"'], "equal": ["e"]},
            {"source_matchers": ['s2="1"'], "target_matchers": ['t2="1"'], "equal": ["e"]},
        ]
    }
)


@pytest.mark.parametrize(("target", "by_match", "by_matchers"), INHIBIT_CASES)
def test_inhibit_rules_match_as_alertmanager_matches_them(
    target: dict[str, str], by_match: bool, by_matchers: bool
) -> None:
    assert inhibited(BY_MATCH, target, INHIBIT_SOURCES) is by_match
    assert inhibited(BY_MATCHERS, target, INHIBIT_SOURCES) is by_matchers


@pytest.mark.parametrize(
    ("routing", "field"),
    [
        (
            {"route": {"routes": [{"matchers": ['team="a"', "team=~("]}]}},
            "route.routes.0.matchers.1",
        ),
        ({"route": {"routes": [{"matchers": ["team"]}]}}, "route.routes.0.matchers.0"),
        ({"route": {"routes": [{"matchers": [7]}]}}, "route.routes.0.matchers.0"),
        ({"route": {"matchers": ['team="a"']}}, "the root route matches every alert"),
        (
            {"inhibit_rules": [{"source_matchers": ['a="1'], "equal": []}]},
            "inhibit_rules.0.source_matchers.0",
        ),
        ({"inhibit_rules": [{"target_matchers": ["a!~["]}]}, "inhibit_rules.0.target_matchers.0"),
        ({"inhibit_rules": [{"equal": ["team-x"]}]}, "inhibit_rules.0.equal.0"),
        ({"route": {"group_by": ["team-x"]}}, "route.group_by"),
    ],
)
def test_a_bad_matcher_names_its_field(routing: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=_escaped(field)):
        RulesConfig.from_json(json.dumps({"routing": routing}))


def test_matchers_round_trip_through_the_config() -> None:
    """A stored or shown config writes each entry back as Alertmanager reads it."""
    routing = RoutingConfig.model_validate(
        {
            "route": {
                "receivers": ["default"],
                "group_by": ["..."],
                "routes": [{"matchers": ['{team="payments", env!~"dev|test"}', 'owner=~"a\\"b"']}],
            }
        }
    )
    dumped = routing.model_dump(mode="json")["route"]["routes"][0]["matchers"]
    assert dumped == ['team="payments", env!~"dev|test"', 'owner=~"a\\"b"']
    assert RoutingConfig.model_validate(routing.model_dump(mode="json")) == routing


@pytest.mark.parametrize(
    ("labels", "says"),
    [
        (["team", "kind"], "kind is one of the alert's own labels"),
        (["team", "team"], "team is listed more than once"),
        (["cost-center"], "tags.labels.0"),
        (["9lives"], "tags.labels.0"),
    ],
)
def test_a_tag_label_must_be_a_new_valid_label_name(labels: list[str], says: str) -> None:
    with pytest.raises(ConfigError, match=_escaped(says)):
        RulesConfig.from_json(json.dumps({"tags": {"labels": labels}}))


def test_tag_labels_accepts_label_names() -> None:
    rules = RulesConfig.model_validate({"tags": {"labels": ["team", "env", "owner", "_x1"]}})
    assert rules.tags.label_tags({"team": "payments", "Name": "charge"}) == {"team": "payments"}
    assert not rules.tags.active  # labels read tags, they filter nothing
