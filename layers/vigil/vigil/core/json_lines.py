"""Where a key of a JSON document is, so a config error can name its line and column."""

import json
import re

_SCALAR = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?|true|false|null")
_WS = re.compile(r"[ \t\n\r]*")

Path = tuple[str | int, ...]


def json_positions(text: str) -> dict[Path, int]:
    """The offset of every key (and array item) of a valid JSON document, by its path."""
    positions: dict[Path, int] = {}
    decoder = json.JSONDecoder()

    def skip(at: int) -> int:
        match = _WS.match(text, at)
        return match.end() if match else at

    def value(at: int, path: Path) -> int:
        at = skip(at)
        positions.setdefault(path, at)
        opener = text[at]
        if opener in "{[":
            closer, index = ("}" if opener == "{" else "]"), 0
            at = skip(at + 1)
            while text[at] != closer:
                if opener == "{":
                    key, end = decoder.raw_decode(text, at)
                    positions[(*path, key)] = at
                    at = value(skip(end) + 1, (*path, key))
                else:
                    at = value(at, (*path, index))
                    index += 1
                at = skip(at)
                if text[at] == ",":
                    at = skip(at + 1)
            return at + 1
        if opener == '"':
            return int(decoder.raw_decode(text, at)[1])
        scalar = _SCALAR.match(text, at)
        return scalar.end() if scalar else at + 1

    value(0, ())
    return positions


def line_and_column(text: str, path: Path) -> tuple[int, int] | None:
    """Where ``path`` (or its nearest parent present in the text) is, 1-based."""
    try:
        positions = json_positions(text)
    except (IndexError, ValueError):  # not valid JSON: the parser's own message names it
        return None
    for length in range(len(path), 0, -1):
        offset = positions.get(path[:length])
        if offset is not None:
            line = text.count("\n", 0, offset) + 1
            return line, offset - (text.rfind("\n", 0, offset) + 1) + 1
    return None
