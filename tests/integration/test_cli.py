"""``vigil silence`` against a moto state table and a moto CloudFormation stack."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from vigil.adapters.routing_store import SilenceStore
from vigil_cli.main import main

from .conftest import TABLE

T0 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)


def _at(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def _vigil(argv: list[str], *, now: datetime = T0) -> int:
    return main(["--table", TABLE, *argv], clock=_at(now))


def _item(silence_id: str) -> dict[str, Any]:
    return boto3.client("dynamodb").get_item(
        TableName=TABLE, Key={"pk": {"S": f"SILENCE#{silence_id}"}, "sk": {"S": "META"}}
    )["Item"]


def _add(capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    code = _vigil(["silence", "add", "--match", "resource=orders-*", "--for", "2h", *extra])
    assert code == 0
    return capsys.readouterr().out.strip()


def test_add_stores_the_silence_item_and_prints_its_id(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _vigil(
        [
            "silence",
            "add",
            "--match",
            "kind=lambda.errors",
            "--match",
            "resource=orders-*",
            "--for",
            "2h",
            "--comment",
            "deploy",
            "--author",
            "ana",
        ]
    )
    silence_id = capsys.readouterr().out.strip()

    assert code == 0
    item = _item(silence_id)
    body = json.loads(item["body"]["S"])
    assert body["matchers"]["match"] == {"kind": "lambda.errors", "resource": "orders-*"}
    assert (body["starts_at"], body["ends_at"]) == ("2025-03-14T09:00:00Z", "2025-03-14T11:00:00Z")
    assert (body["comment"], body["created_by"]) == ("deploy", "ana")
    assert item["gsi1pk"] == {"S": "SILENCES"}
    assert item["ttl"] == {"N": str(int((T0 + timedelta(hours=2, days=7)).timestamp()))}
    silences = SilenceStore(boto3.client("dynamodb"), table).current(T0)
    assert [s.silence_id for s in silences] == [silence_id]
    assert silences[0].mutes(
        {"kind": "lambda.errors", "resource": "orders-api", "severity": "critical"}, T0
    )


def test_list_shows_current_silences_and_all_shows_ended_ones(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    short = _add(capsys, "--comment", "short")
    later = _add(capsys, "--starts", "2025-03-14T12:00Z", "--comment", "later")

    assert _vigil(["silence", "list"], now=T0 + timedelta(hours=3)) == 0
    listed = capsys.readouterr().out
    assert _vigil(["silence", "list", "--all"], now=T0 + timedelta(hours=3)) == 0
    everything = capsys.readouterr().out

    assert listed.splitlines()[0].split() == [
        "ID",
        "STATE",
        "STARTS",
        "ENDS",
        "MATCHERS",
        "BY",
        "COMMENT",
    ]
    assert later in listed
    assert short not in listed
    assert "2025-03-14T12:00:00Z  2025-03-14T14:00:00Z  resource=orders-*" in listed
    assert [line.split()[:2] for line in everything.splitlines()[1:]] == [
        [short, "expired"],
        [later, "active"],
    ]


def test_list_without_silences_says_so(table: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _vigil(["silence", "list"]) == 0
    assert capsys.readouterr().out == "No silences.\n"


def test_list_as_json_names_every_column(table: str, capsys: pytest.CaptureFixture[str]) -> None:
    silence_id = _add(capsys, "--comment", "deploy", "--author", "ana")

    assert _vigil(["silence", "list", "-o", "json"]) == 0

    assert json.loads(capsys.readouterr().out) == [
        {
            "id": silence_id,
            "state": "active",
            "starts": "2025-03-14T09:00:00Z",
            "ends": "2025-03-14T11:00:00Z",
            "matchers": "resource=orders-*",
            "by": "ana",
            "comment": "deploy",
        }
    ]


def test_expire_ends_the_silence_now_and_keeps_the_record(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    silence_id = _add(capsys)

    code = _vigil(["silence", "expire", silence_id], now=T0 + timedelta(minutes=30))

    assert code == 0
    assert capsys.readouterr().out == f"expired {silence_id} at 2025-03-14T09:30:00Z\n"
    body = json.loads(_item(silence_id)["body"]["S"])
    assert body["ends_at"] == "2025-03-14T09:30:00Z"
    assert body["revision"] == 2
    assert not SilenceStore(boto3.client("dynamodb"), table).current(T0 + timedelta(minutes=30))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["silence", "expire", "doesnotexist"], "no silence has the id 'doesnotexist'"),
        (
            ["silence", "add", "--match", "team-x=payments", "--for", "1h"],
            "matchers.match.team-x.[key]: String should match pattern",
        ),
        (["silence", "add", "--match-re", "resource=orders-(", "--for", "1h"], "not a regular"),
        (["silence", "add", "--for", "1h"], "needs at least one --match"),
        # issue 12: a button made a ten-year silence; 7 days is the most (ADR 32)
        (["silence", "add", "--match", "kind=x.y", "--for", "3650d"], "at most 168h"),
        (["silence", "add", "--match", "kind=x.y", "--for", "169h"], "at most 168h"),
        # issue 12: matchers that also match "" mute everything (Alertmanager refuses them)
        (["silence", "add", "--match", "resource=*", "--for", "1h"], "mute everything"),
        (["silence", "add", "--match-re", "resource=.*", "--for", "1h"], "mute everything"),
        (
            [
                "silence",
                "add",
                "--match",
                "kind=*",
                "--match-re",
                "resource=(orders)?",
                "--for",
                "1h",
            ],
            "mute everything",
        ),
        (
            ["silence", "add", "--match", "kind=a.b", "--match", "kind=c.d", "--for", "1h"],
            "--match names kind more than once",
        ),
        (
            ["silence", "add", "--match", "kind=a.b", "--for", "1h", "--starts", "2025-03-14T07Z"],
            "would already have ended",
        ),
    ],
)
def test_bad_input_exits_with_2_and_writes_nothing(
    table: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert _vigil(argv) == 2
    assert message in capsys.readouterr().err
    assert boto3.client("dynamodb").scan(TableName=TABLE)["Items"] == []


def test_expiring_an_ended_silence_exits_with_2(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    silence_id = _add(capsys)

    assert _vigil(["silence", "expire", silence_id], now=T0 + timedelta(hours=2)) == 2
    assert "already ended" in capsys.readouterr().err


def test_the_table_comes_from_the_stack_output(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"StateTableName": {"Value": table}},
    }
    boto3.client("cloudformation").create_stack(
        StackName="vigil-prod", TemplateBody=json.dumps(template)
    )

    code = main(
        ["--stack", "vigil-prod", "--region", "us-east-1", "silence", "list"], clock=_at(T0)
    )

    assert code == 0
    assert capsys.readouterr().out == "No silences.\n"


def test_an_unknown_stack_exits_with_2(table: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stack", "nope", "silence", "list"], clock=_at(T0)) == 2
    assert "stack 'nope' does not exist" in capsys.readouterr().err


def test_a_stack_without_the_output_is_not_vigil(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    boto3.client("cloudformation").create_stack(
        StackName="other", TemplateBody=json.dumps(template)
    )

    assert main(["--stack", "other", "silence", "list"], clock=_at(T0)) == 2
    assert "has no StateTableName output" in capsys.readouterr().err


def test_an_aws_failure_exits_with_1(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--table", "missing", "silence", "list"], clock=_at(T0)) == 1
    assert "vigil: AWS error" in capsys.readouterr().err
