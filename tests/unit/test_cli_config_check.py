"""``vigil config check FILE``: the rules config validated as the functions validate it, with
no AWS call; an invalid one exits 2 with the field, line and column."""

import json
from pathlib import Path

import pytest

from vigil_cli.main import main


def test_a_valid_config_is_summarized(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "rules.json"
    routes = [{"match": {"kind": "cost.*"}, "routes": [{"match_re": {"severity": "critical"}}]}]
    config.write_text(
        json.dumps(
            {
                "routing": {
                    "route": {"receivers": ["default"], "group_by": ["..."], "routes": routes}
                }
            }
        )
    )

    code = main(["config", "check", str(config), "-o", "json"])

    assert code == 0
    counts = {row["section"]: row["count"] for row in json.loads(capsys.readouterr().out)}
    assert counts == {
        "receivers": "1",
        "routes": "2",
        "inhibit_rules": "0",
        "time_intervals": "0",
        "overrides": "0",
    }


def test_an_invalid_config_names_the_field_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "rules.json"
    config.write_text(
        '{\n  "routing": {\n    "route": {"receivers": ["default"],'
        ' "group_by": ["...", "kind"]}\n  }\n}\n'
    )

    code = main(["config", "check", str(config)])

    err = capsys.readouterr().err
    assert code == 2
    assert f"{config}: invalid rules config: routing.route.group_by (line 3" in err
    assert "'...' groups by every label" in err


def test_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(tmp_path / "none.json")]) == 2
    assert "cannot be read" in capsys.readouterr().err
