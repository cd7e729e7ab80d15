"""docs/architecture.md's layout (tree and diagram) is the code's: it is drawn by
scripts/layout.py from the modules' docstrings and the imports between packages, so a module
added, moved or re-described without `make layout` fails here."""

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _layout() -> ModuleType:
    spec = importlib.util.spec_from_file_location("layout", ROOT / "scripts" / "layout.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_architecture_doc_shows_the_layout_the_code_has() -> None:
    layout = _layout()
    doc = (ROOT / "docs" / "architecture.md").read_text()
    assert layout.section() in doc, "docs/architecture.md's layout is stale: run `make layout`"


def test_every_package_of_the_layer_is_in_the_layers_contract() -> None:
    layout = _layout()
    listed = {package for row in layout.layers() for package in row}
    packages = {p.parent.name for p in (ROOT / "layers/vigil/vigil").glob("*/__init__.py")}
    assert listed == packages


def test_every_module_says_what_it_is_for() -> None:
    layout = _layout()
    described = [layout.summary(p) for p in (ROOT / "layers/vigil/vigil").rglob("*.py")]
    assert all(len(text) >= 12 for text in described)
