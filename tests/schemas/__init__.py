"""JSON Schemas of the formats Vigil sends, and a validator that names what is wrong."""

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

_HERE = Path(__file__).parent
_ROOT = _HERE.parents[1]

SCHEMAS = {
    "chatbot": _HERE / "chatbot-custom-notification.schema.json",
    "teams": _HERE / "teams-adaptive-card-1.4.schema.json",
    "pagerduty": _HERE / "pagerduty-events-v2.schema.json",
    "webhook": _ROOT / "docs" / "schemas" / "webhook-v1.schema.json",
}


def problems(kind: str, document: Any) -> list[str]:
    """Every way ``document`` breaks the ``kind`` schema, as ``path: message``."""
    schema = json.loads(SCHEMAS[kind].read_text())
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in validator.iter_errors(document)
    ]
