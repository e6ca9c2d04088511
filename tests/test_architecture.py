"""The import rules of the architecture, checked on the source so they stay true.

* ``beacon.model``, ``beacon.errors``, ``beacon.frozen`` and ``beacon.normalize`` are leaves:
  standard library only (and each other).
* asyncpg is imported only inside ``beacon/storage``; cyvcf2 only inside ``beacon/ingest``.
* The aggregator never imports the beacon's machinery (storage, ingest, web, serve).
* No module reads the environment at import time.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("beacon", "aggregator")
STDLIB = set(sys.stdlib_module_names)
LEAVES = {"beacon.model", "beacon.errors", "beacon.frozen", "beacon.normalize"}


def _modules() -> list[tuple[str, Path]]:
    found = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found.append((".".join(parts), path))
    return found


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


MODULES = _modules()


def test_there_are_modules_to_check() -> None:
    names = {name for name, _ in MODULES}
    assert names >= LEAVES


@pytest.mark.parametrize("module", sorted(LEAVES))
def test_leaves_use_only_the_standard_library(module: str) -> None:
    path = dict(MODULES)[module]
    for name in _imports(path):
        top = name.split(".")[0]
        if top == "__future__" or top in STDLIB:
            continue
        assert name in LEAVES or any(name.startswith(leaf + ".") for leaf in LEAVES), (
            f"{module} imports {name}; leaves may import only the standard library and each other"
        )


@pytest.mark.parametrize(
    ("library", "home"), [("asyncpg", "beacon.storage"), ("cyvcf2", "beacon.ingest")]
)
def test_library_confined_to_its_package(library: str, home: str) -> None:
    offenders = [
        module
        for module, path in MODULES
        if not (module == home or module.startswith(home + "."))
        and any(name.split(".")[0] == library for name in _imports(path))
    ]
    assert offenders == [], f"{library} may be imported only inside {home}"


def test_aggregator_does_not_use_beacon_machinery() -> None:
    forbidden = ("beacon.storage", "beacon.ingest", "beacon.web", "beacon.serve", "beacon.cli")
    offenders = [
        (module, name)
        for module, path in MODULES
        if module.startswith("aggregator")
        for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]
    assert offenders == []


def _reads_environment_at_import(tree: ast.Module) -> list[int]:
    """Line numbers of module-level statements that touch os.environ / os.getenv."""
    lines = []
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for node in ast.walk(stmt):
            if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv"}:
                lines.append(node.lineno)
    return lines


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[m for m, _ in MODULES])
def test_no_environment_reads_at_import(module: str, path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    assert _reads_environment_at_import(tree) == [], f"{module} reads the environment at import"
