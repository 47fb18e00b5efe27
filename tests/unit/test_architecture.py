"""The shape the README promises, checked: who may import what."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP_PACKAGES = ["garage", "metier", "api", "intake", "messaging", "atelier"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _modules():
    for package in APP_PACKAGES:
        yield from (ROOT / package).rglob("*.py")


@pytest.mark.parametrize("path", list(_modules()), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_messaging_imports_pika_and_nothing_calls_http(path):
    imported = _imports(path)
    if path.relative_to(ROOT).parts[0] != "messaging":
        assert "pika" not in imported, "only the messaging module may import pika"
    # The seed's intake called its own HTTP API and deadlocked under gunicorn.
    assert not imported & {"requests", "httpx", "urllib3", "http"}, "no HTTP client in the app"
