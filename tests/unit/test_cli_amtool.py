"""The ``vigil`` command as amtool users expect it (issue 16): global options anywhere, one
JSON shape per command, Alertmanager matchers as list filters, ``routes test`` from a file,
silence export and import in Alertmanager's field names, one-line errors.

Matcher cases follow Alertmanager's ``pkg/labels/parse_test.go`` and ``matcher_test.go``
(operators, quoting, anchored regular expressions, a missing label is empty); the silence
JSON follows ``amtool silence query -o json`` (Alertmanager's API v2 ``gettableSilence``).
"""

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vigil.alerting.silences import (
    Silence,
    SilenceEndedError,
    SilenceWindowError,
    UnknownSilenceError,
    new_silence,
)
from vigil.rules.matchers import Matcher, MatchType
from vigil_cli.filters import parse_filter
from vigil_cli.main import main, parse
from vigil_cli.output import Document, Listing, render
from vigil_cli.silences import describe, entries, extend, noted, silence_from

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


# ------------------------------------------------------------------ global options


@pytest.mark.parametrize(
    "argv",
    [
        ["--stack", "prod", "--region", "eu-west-1", "-o", "json", "silence", "list"],
        ["silence", "list", "--stack", "prod", "--region", "eu-west-1", "-o", "json"],
        ["--region", "eu-west-1", "silence", "list", "--output", "json", "--stack", "prod"],
    ],
)
def test_global_options_are_taken_before_or_after_the_command(argv: list[str]) -> None:
    args = parse(argv)

    assert (args.stack, args.table, args.region, args.output) == ("prod", None, "eu-west-1", "json")


def test_defaults_and_the_later_value_of_an_option_given_twice() -> None:
    plain = parse(["alerts", "list"])
    twice = parse(["--stack", "a", "alerts", "list", "--stack", "b"])

    assert (plain.stack, plain.output, plain.endpoint_url, plain.profile) == (
        "vigil",
        "table",
        None,
        None,
    )
    assert twice.stack == "b"


def test_every_command_takes_the_output_option_after_it() -> None:
    commands = [
        ["silence", "add", "--match", "kind=a.b", "--for", "1h"],
        ["silence", "list"],
        ["silence", "extend", "abcd1234", "--for", "1h"],
        ["silence", "expire", "abcd1234"],
        ["silence", "export"],
        ["silence", "import", "f.json"],
        ["alerts", "list"],
        ["alerts", "show", "abcd"],
        ["routes", "test", "--label", "kind=a.b"],
        ["runbook", "start", "--service", "s3", "--affected-region", "us-east-1", "--reason", "x"],
        ["runbook", "approve", "i-1"],
        ["runbook", "decline", "i-1"],
        ["incidents", "list"],
        ["incidents", "show", "i-1"],
        ["notify", "test"],
        ["config", "check", "rules.json"],
        ["rules", "backtest", "--rules", "rules.json"],
    ]

    assert [parse([*argv, "-o", "json"]).output for argv in commands] == ["json"] * len(commands)


# ------------------------------------------------------------------ output


def test_a_listing_is_a_json_array_and_a_document_its_object() -> None:
    listing = Listing(("ID", "SILENCED BY"), [("a", "-")])
    document = Document("text for people", {"id": "a", "labels": {"kind": "x.y"}})

    assert json.loads(render(listing, "json")) == [{"id": "a", "silenced_by": "-"}]
    assert json.loads(render(Listing(("ID",)), "json")) == []
    assert json.loads(render(document, "json")) == {"id": "a", "labels": {"kind": "x.y"}}
    assert render(document) == "text for people"


# ------------------------------------------------------------------ matchers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("foo=bar", Matcher("foo", MatchType("="), "bar")),
        ('foo="bar"', Matcher("foo", MatchType("="), "bar")),
        ("foo!=bar", Matcher("foo", MatchType("!="), "bar")),
        ("foo=~bar.*", Matcher("foo", MatchType("=~"), "bar.*")),
        ('foo!~"bar|baz"', Matcher("foo", MatchType("!~"), "bar|baz")),
        (' foo = "bar" ', Matcher("foo", MatchType("="), "bar")),
        ('foo="bar\\"baz"', Matcher("foo", MatchType("="), 'bar"baz')),
        ('foo="a,b"', Matcher("foo", MatchType("="), "a,b")),
        ("foo=", Matcher("foo", MatchType("="), "")),
        ('foo=""', Matcher("foo", MatchType("="), "")),
    ],
)
def test_alertmanager_matchers_parse(text: str, expected: Matcher) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize("text", ["foo", "=bar", "1foo=bar", "foo=~(", 'foo="unterminated\\"'])
def test_a_malformed_matcher_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_filter(text)


@pytest.mark.parametrize(
    ("matcher", "values", "matches"),
    [
        ("kind=lambda.errors", {"kind": "lambda.errors"}, True),
        ("kind=lambda.*", {"kind": "lambda.errors"}, False),  # = is equality, not a glob
        ("resource=~orders", {"resource": "orders-api"}, False),  # anchored
        ("resource=~orders.*", {"resource": "orders-api"}, True),
        ("resource!~orders.*", {"resource": "orders-api"}, False),
        ("team!=ops", {"kind": "x.y"}, True),  # a missing label is empty
        ('team=""', {"kind": "x.y"}, True),
        ("team=~.+", {"kind": "x.y"}, False),
    ],
)
def test_matchers_match_as_alertmanager_does(
    matcher: str, values: dict[str, str], matches: bool
) -> None:
    assert parse_filter(matcher).matches(values) is matches


# ------------------------------------------------------------------ routes test, errors


def test_routes_test_with_a_config_file_makes_no_aws_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = {
        "routing": {
            "receivers": [{"name": "ops"}, {"name": "payments"}, {"name": "audit"}],
            "route": {
                "receivers": ["ops"],
                "group_by": ["kind"],
                "routes": [
                    {"match": {"resource": "pay-*"}, "receivers": ["payments"], "continue": True},
                    {"match": {"severity": "critical"}, "receivers": ["audit"]},
                ],
            },
        }
    }
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(config))
    labels = ["--label", "kind=lambda.errors", "--label", "resource=pay-api"]

    # Unit tests have no sockets: an AWS call would exit with 1.
    code = main(["routes", "test", *labels, "--label", "severity=critical", "--config", str(path)])
    text = capsys.readouterr().out
    code_json = main(["routes", "test", *labels, "--config", str(path), "-o", "json"])
    data = json.loads(capsys.readouterr().out)

    assert (code, code_json) == (0, 0)
    assert text.splitlines()[0] == "payments,audit"
    assert data["receivers"] == ["payments"]
    assert data["labels"]["service"] == "lambda"
    assert [(r["route"], r["group_key"]) for r in data["routes"]] == [
        ("route.routes.0", "route.routes.0|kind=lambda.errors")
    ]


def test_routes_test_without_a_route_match_goes_to_the_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "rules.json"
    path.write_text("{}")

    assert main(["routes", "test", "--label", "kind=cost.spike", "--config", str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "default"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--table", "t", "silence", "add", "--for", "1h"],
            "vigil: error: silence add needs at least one --match",
        ),
        (["routes", "test", "--label", "kind"], "is not LABEL=VALUE"),
        (["routes", "test"], "--label"),
        (["alerts", "list", "--match", "kind"], "bad matcher format"),
        (["alerts", "list", "--state", "resolved"], "invalid choice"),
        (["routes", "test", "--label", "kind=a.b", "--config", "/nonexistent.json"], "cannot be"),
    ],
)
def test_bad_input_is_one_line_and_exits_with_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv, clock=lambda: NOW) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Value error" not in err
    assert "{'" not in err  # no model dump


# ------------------------------------------------------------------ export and import


def _silence(match: dict[str, str], match_re: dict[str, str] | None = None) -> Silence:
    return new_silence(
        "abcd1234abcd1234",
        match=match,
        match_re=match_re,
        starts_at=NOW,
        duration=timedelta(hours=2),
        now=NOW,
        created_by="ana",
        comment="deploy",
    )


def test_export_uses_alertmanagers_fields_and_turns_globs_into_regular_expressions() -> None:
    silence = _silence({"kind": "lambda.errors", "resource": "orders-*"}, {"region": "eu-.*"})

    assert describe(silence, NOW) == {
        "id": "abcd1234abcd1234",
        "matchers": [
            {"name": "kind", "value": "lambda.errors", "isRegex": False, "isEqual": True},
            {"name": "resource", "value": "orders\\-.*", "isRegex": True, "isEqual": True},
            {"name": "region", "value": "eu-.*", "isRegex": True, "isEqual": True},
        ],
        "startsAt": "2026-12-01T09:00:00Z",
        "endsAt": "2026-12-01T11:00:00Z",
        "createdBy": "ana",
        "comment": "deploy",
        "status": {"state": "active"},
    }


def test_an_exported_silence_imports_as_the_same_silence() -> None:
    silence = _silence({"kind": "lambda.errors", "resource": "orders-?[0-9]"}, {"region": "eu-.*"})
    exported = describe(silence, NOW)

    again = silence_from(exported, now=NOW, importer="bob")

    values = {"kind": "lambda.errors", "resource": "orders-a7", "region": "eu-west-1"}
    assert again.silence_id == silence.silence_id
    assert (again.starts_at, again.ends_at, again.created_by) == (NOW, silence.ends_at, "ana")
    assert again.matchers.matches(values)
    assert not again.matchers.matches({**values, "resource": "orders-7"})
    assert not again.matchers.matches({**values, "resource": "orders-a77"})


def test_an_alertmanager_silence_imports_with_its_uuid_as_id_and_exact_values() -> None:
    amtool = {
        "id": "8c5f1a34-7d6b-4e0a-9b1f-0c2d3e4f5a6b",
        "matchers": [{"name": "resource", "value": "orders-*", "isRegex": False, "isEqual": True}],
        "startsAt": "2026-12-01T08:00:00.123456789Z",
        "endsAt": "2026-12-01T12:00:00Z",
        "createdBy": "",
        "comment": "maintenance",
        "status": {"state": "active"},
    }

    silence = silence_from(amtool, now=NOW, importer="bob")

    assert silence.silence_id == "8c5f1a347d6b4e0a9b1f0c2d3e4f5a6b"
    assert silence.starts_at == NOW  # mutes from the import on
    assert silence.created_by == "bob"
    assert silence.comment == "maintenance [imported by bob at 2026-12-01T09:00:00Z]"
    assert silence.matchers.matches({"resource": "orders-*"})
    assert not silence.matchers.matches({"resource": "orders-api"})  # = is exact


@pytest.mark.parametrize(
    ("entry", "error", "message"),
    [
        ([], Exception, "a JSON object"),
        ({"matchers": []}, Exception, "at least one matcher"),
        (  # team!="ops" alone also matches every alert without a team label
            {
                "matchers": [{"name": "team", "value": "ops", "isEqual": False}],
                "startsAt": "2026-12-01T09:00:00Z",
                "endsAt": "2026-12-01T10:00:00Z",
            },
            SilenceWindowError,
            "mute everything",
        ),
        ({"matchers": [{"name": "kind", "value": "a.b"}], "endsAt": "x"}, Exception, "startsAt"),
        (
            {
                "matchers": [{"name": "kind", "value": "a.b"}],
                "startsAt": "2026-12-01T08:00:00Z",
                "endsAt": "2026-12-01T08:30:00Z",
            },
            SilenceEndedError,
            "ended at",
        ),
        (
            {
                "matchers": [{"name": "kind", "value": "a.b"}],
                "startsAt": "2026-12-01T09:00:00Z",
                "endsAt": "2026-12-30T09:00:00Z",
            },
            SilenceWindowError,
            "at most 168h",
        ),
        (
            {
                "id": "not/an/id",
                "matchers": [{"name": "kind", "value": "a.b"}],
                "startsAt": "2026-12-01T09:00:00Z",
                "endsAt": "2026-12-01T10:00:00Z",
            },
            Exception,
            "is not 8 to 32",
        ),
    ],
)
def test_an_import_entry_is_refused_with_the_reason(
    entry: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        silence_from(entry, now=NOW, importer="bob")


def test_entries_give_the_line_of_each_silence_in_an_array_and_in_json_lines() -> None:
    array = '[\n  {"id": "a"},\n\n  {"id": "b",\n   "x": 1}, {"id": "c"}\n]\n'
    lines = '{"id": "a"}\n\nnot json\n{"id": "b"}\n'

    assert [(n, v) for n, v in entries(array)] == [
        (2, {"id": "a"}),
        (4, {"id": "b", "x": 1}),
        (5, {"id": "c"}),
    ]
    read = list(entries(lines))
    assert [(n, v) for n, v in read if isinstance(v, dict)] == [(1, {"id": "a"}), (4, {"id": "b"})]
    assert [n for n, v in read if isinstance(v, json.JSONDecodeError)] == [3]


# ------------------------------------------------------------------ extend


class _Store:
    """The two calls ``extend`` makes of a SilenceStore."""

    def __init__(self, silence: Silence) -> None:
        self.silence = silence

    def get(self, silence_id: str) -> Silence | None:
        return self.silence if silence_id == self.silence.silence_id else None

    def replace(self, before: Silence, after: Silence) -> Silence:
        assert before == self.silence
        self.silence = after
        return after


def test_a_note_keeps_the_comment_within_its_500_characters() -> None:
    assert noted("", "extended by bob") == "[extended by bob]"
    assert noted("x" * 500, "by bob") == "x" * 491 + " [by bob]"


def test_extend_moves_the_end_and_records_who_in_the_comment() -> None:
    store = _Store(_silence({"kind": "lambda.errors"}))

    done = extend(store, "abcd1234abcd1234", timedelta(hours=3), now=NOW, actor="bob")  # type: ignore[arg-type]

    assert store.silence.ends_at == NOW + timedelta(hours=5)
    assert store.silence.comment == (
        "deploy [extended to 2026-12-01T14:00:00Z by bob at 2026-12-01T09:00:00Z]"
    )
    assert done.text == "extended abcd1234abcd1234 to 2026-12-01T14:00:00Z"


@pytest.mark.parametrize(
    ("by", "now", "error"),
    [
        (timedelta(days=7), NOW, SilenceWindowError),  # 2h + 7d from now is beyond 7 days
        (timedelta(hours=1), NOW + timedelta(hours=2), SilenceEndedError),
    ],
)
def test_extend_is_bounded_like_a_new_silence_and_refuses_an_ended_one(
    by: timedelta, now: datetime, error: type[Exception]
) -> None:
    store = _Store(_silence({"kind": "lambda.errors"}))

    with pytest.raises(error):
        extend(store, "abcd1234abcd1234", by, now=now, actor="bob")  # type: ignore[arg-type]
    assert store.silence.ends_at == NOW + timedelta(hours=2)


def test_extend_an_unknown_silence_names_it() -> None:
    store = _Store(_silence({"kind": "lambda.errors"}))

    with pytest.raises(UnknownSilenceError, match="ffff0000"):
        extend(store, "ffff0000", timedelta(hours=1), now=NOW, actor="bob")  # type: ignore[arg-type]
