"""docs/rules.md's "The document with every default" is the rules model's own defaults: a
default changed in code without the docs (or the other way round) fails here."""

import json
import re
from pathlib import Path

from vigil.rules.document import RulesConfig

DOC = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


def _documented_defaults() -> object:
    text = DOC.read_text()
    section = text[text.index("## The document with every default") :]
    block = re.search(r"```json\n(.*?)\n```", section, re.DOTALL)
    assert block is not None, "no JSON block under 'The document with every default'"
    return json.loads(block.group(1))


def test_the_documented_defaults_are_the_models_defaults() -> None:
    assert _documented_defaults() == RulesConfig().model_dump(mode="json", by_alias=True)


def test_the_documented_defaults_are_a_valid_config_that_changes_nothing() -> None:
    documented = json.dumps(_documented_defaults())
    assert RulesConfig.from_json(documented, source="docs/rules.md") == RulesConfig()
