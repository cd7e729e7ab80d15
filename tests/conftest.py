"""Test-wide safety: fake credentials, so nothing can sign a request for a real account; and
what parallel workers share."""

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

_FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "Vigil",
    "POWERTOOLS_SERVICE_NAME": "vigil",
}
# Set at import as well as per test: a client built while collecting tests must be fake too.
os.environ.update(_FAKE_ENV)
for _name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
    os.environ.pop(_name, None)


@pytest.fixture(autouse=True)
def fake_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in _FAKE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")


# ------------------------------------------------------------------ parallel workers (xdist)
# `make pytest` runs the suite in parallel workers (`-n auto`, `--dist loadscope` from
# pyproject.toml: a module, and so its module-scoped deployment, stays in one worker).
# Each worker is its own process; what the workers must share (the e2e IAM call recordings)
# goes through one folder per session, made by the controller and handed to every worker.
_SHARED_DIR_KEY = "vigil_shared_dir"
_SHARED_DIR = pytest.StashKey[Path]()

# The slowest modules start first, so that parallel workers finish together (a long module
# started last would run alone at the end); measured on 2 cores, seconds. Every other module
# keeps its place after these. tests/e2e/conftest.py then puts the IAM grant checks last.
SLOWEST_FIRST = {
    "e2e/test_region_storm.py": 840,
    "e2e/test_runbook_branches.py": 250,
    "e2e/test_organization_outage.py": 130,
    "e2e/test_emulator_logs.py": 70,
    "e2e/test_pagerduty.py": 65,
    "e2e/test_runbook_started_by_vigil.py": 57,
    "e2e/test_organization_accounts.py": 50,
    "e2e/test_runbook_gate_people.py": 40,
    "e2e/test_outage_demo.py": 30,
    "e2e/test_webhook_dead_letter.py": 25,
    "e2e/test_edge_dials.py": 20,
    "e2e/test_account_concurrency.py": 20,
}


def shared_dir(config: pytest.Config) -> Path:
    """The folder this test session shares between its workers (one for a serial run)."""
    return config.stash[_SHARED_DIR]


class _HandShareToWorkers:
    def __init__(self, path: Path) -> None:
        self.path = path

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[_SHARED_DIR_KEY] = str(self.path)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and _SHARED_DIR_KEY in workerinput:
        config.stash[_SHARED_DIR] = Path(workerinput[_SHARED_DIR_KEY])
        return
    path = Path(tempfile.mkdtemp(prefix="vigil-pytest-"))
    config.add_cleanup(lambda: shutil.rmtree(path, ignore_errors=True))
    config.stash[_SHARED_DIR] = path
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_HandShareToWorkers(path), "vigil-shared-dir")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slowest modules first (a stable sort: the order within a module is kept)."""
    items.sort(key=lambda item: -SLOWEST_FIRST.get(f"{item.path.parent.name}/{item.path.name}", 0))
