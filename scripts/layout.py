"""The layer's layout, drawn from the code: a tree of its packages and modules, and a diagram of
which package imports which.

Each line of the tree is the first sentence of the package's or module's docstring, and the
diagram's arrows are the imports grimp finds between packages, in the order of the layers
contract in ``.importlinter``. docs/architecture.md holds the output between its ``layout``
markers; ``tests/unit/test_layout_doc.py`` fails when the two differ.

    python scripts/layout.py            # print the section
    python scripts/layout.py --write    # rewrite it in docs/architecture.md
"""

import argparse
import ast
import configparser
import re
import sys
import textwrap
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "layers" / "vigil" / "vigil"
DOC = ROOT / "docs" / "architecture.md"
BEGIN, END = "<!-- layout:begin (scripts/layout.py --write) -->", "<!-- layout:end -->"
WIDTH = 100
COLUMN = 30


def summary(path: Path) -> str:
    """The first sentence of a module's docstring, its Sphinx roles reduced to their text."""
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    text = " ".join(doc.split("\n\n")[0].split())
    text = re.sub(r":\w+:`~?([^`]+)`", r"``\1``", text).replace("``", "`")
    sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0].rstrip(".")
    limit = 2 * (WIDTH - COLUMN)
    if len(sentence) > limit:
        # Two lines at most: up to the last clause that fits.
        cut = max(sentence.rfind(mark, 0, limit) for mark in ("; ", ", ", ": ", " ("))
        sentence = sentence[:cut] if cut > 0 else sentence
    return sentence


def layers() -> list[list[str]]:
    """The packages of the layers contract, top first; siblings share a row."""
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    rows = config["importlinter:contract:layers"]["layers"].split("\n")
    return [[name.strip() for name in row.split("|")] for row in rows if row.strip()]


def _line(name: str, text: str, indent: int) -> list[str]:
    head = " " * indent + name
    wrapped = textwrap.wrap(text, WIDTH - COLUMN) or [""]
    if len(head) >= COLUMN:  # a name too long for the column: its text starts below it
        return [head, *(" " * COLUMN + line for line in wrapped)]
    first = (head.ljust(COLUMN) + wrapped[0]).rstrip()
    return [first, *(" " * COLUMN + line for line in wrapped[1:])]


def tree() -> list[str]:
    lines = ["layers/vigil/vigil/"]
    for row in layers():
        for package in row:
            folder = PACKAGE / package
            lines += _line(f"{package}/", summary(folder / "__init__.py"), 2)
            for module in sorted(folder.glob("*.py")):
                if module.name != "__init__.py":
                    lines += _line(module.name, summary(module), 4)
    return lines


def diagram() -> list[str]:
    graph = grimp.build_graph("vigil", cache_dir=None)
    rows = layers()
    packages = [package for row in rows for package in row]
    lines = ["flowchart TB"]
    for index, row in enumerate(rows):
        lines.append(f'  subgraph L{index} [" "]')
        lines.append("    direction LR")
        lines += [f"    {package}" for package in row]
        lines.append("  end")
    for importer in packages:
        if importer in ("compose", "core"):
            continue
        for imported in packages:
            if imported in (importer, "core"):
                continue
            if graph.direct_import_exists(
                importer=f"vigil.{importer}", imported=f"vigil.{imported}", as_packages=True
            ):
                lines.append(f"  {importer} --> {imported}")
    return lines


def section() -> str:
    return "\n".join(
        [
            BEGIN,
            "```",
            *tree(),
            "```",
            "",
            "```mermaid",
            *diagram(),
            "```",
            END,
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite docs/architecture.md")
    args = parser.parse_args()
    text = section()
    if not args.write:
        print(text)
        return 0
    doc = DOC.read_text()
    start, end = doc.index(BEGIN), doc.index(END) + len(END)
    DOC.write_text(doc[:start] + text + doc[end:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
