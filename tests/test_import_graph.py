"""The import graph follows docs/design.md's rules, read from the source with `ast` (nothing is imported):

1. imports point down the levels (lazy ones inside functions too): base (errors.py and the private top-level
   modules, cnnlab/_*.py) → layers → models · data · metrics · scratch · diagnostics → engine → studies → cli;
2. no cycle between packages of one level;
3. the base, metrics, the NumPy reference (scratch, but for its torch bridge) and the torch-free commands (cli_core)
   import neither torch nor a package that imports torch when they are imported (a function may, to compare with or
   convert to PyTorch).
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1] / "cnnlab"
# "" is the package itself (`from .. import __version__`); every private top-level module is shared infrastructure
BASE = ("", "errors", *sorted(path.stem for path in ROOT.glob("_*.py") if not path.stem.startswith("__")))
LEVELS = {**dict.fromkeys(BASE, 0), "layers": 1, "models": 2, "data": 2, "metrics": 2, "scratch": 2,
          "diagnostics": 2, "engine": 3, "studies": 4, "cli": 5, "cli_core": 5,
          "__main__": 6}  # fmt: skip
TORCH_FREE = (*BASE, "metrics", "scratch", "cli_core")  # cli_core: the commands that run without torch
BRIDGES = ("scratch/torch_bridge.py",)  # torch-free packages' modules that convert to PyTorch, by name
TORCH_PACKAGES = {name for name, level in LEVELS.items() if level >= 1} - set(TORCH_FREE)


def _package(path: Path) -> str:
    """'engine' for cnnlab/engine/trainer.py, 'errors' for cnnlab/errors.py, '' for cnnlab/__init__.py."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return "" if parts == ("__init__",) else parts[0]


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported cnnlab package or 'torch', line, at import time?) for each import statement in `path`.

    Imports under `if TYPE_CHECKING:` are left out (they never run); imports inside a function run when it is called.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = path.relative_to(ROOT.parent).with_suffix("").parts  # ('cnnlab', 'engine', 'trainer')
    package = here if here[-1] == "__init__" else here[:-1]
    package = package[:-1] if package[-1] == "__init__" else package
    found: list[tuple[str, int, bool]] = []

    def target(dotted: str) -> str | None:
        parts = dotted.split(".")
        if parts[0] == "torch":
            return "torch"
        if parts[0] != "cnnlab":
            return None
        return parts[1] if len(parts) > 1 and parts[1] in LEVELS else ""

    def visit(node: ast.AST, eager: bool) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                dotted = f"{base}.{node.module}" if node.module else base
                names = [dotted] if node.module else [f"{dotted}.{alias.name}" for alias in node.names]
            else:
                names = [node.module]
        else:
            names = []
        for name in names:
            if (pkg := target(name)) is not None:
                found.append((pkg, node.lineno, eager))
        inner = eager and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, True)
    return found


MODULES = sorted(ROOT.rglob("*.py"))
EDGES = [(path, _package(path), *imported) for path in MODULES for imported in _imports(path)]


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT.parent)}:{line}"


def test_every_package_has_a_level():
    assert {_package(path) for path in MODULES} <= set(LEVELS), "give a new package its level here and in design.md"


def test_the_parser_sees_the_imports_it_must():
    trainer = {pkg for pkg, _, eager in _imports(ROOT / "engine" / "trainer.py") if eager}
    assert {"torch", "data", "errors", "engine"} <= trainer
    lazy = [(pkg, eager) for pkg, _, eager in _imports(ROOT / "scratch" / "explain.py") if pkg == "torch"]
    assert lazy == [("torch", False)]  # imported inside explain_backprop, not with the module


def test_imports_point_down():
    upward = [
        f"{_where(path, line)}: {here or 'cnnlab'} imports {there or 'cnnlab'}"
        for path, here, there, line, _ in EDGES
        if there != "torch" and LEVELS[there] > LEVELS[here] and path != ROOT / "__init__.py"  # lazy create()
    ]
    assert upward == []


def test_no_cycle_between_packages():
    graph = {(here, there) for _, here, there, _, _ in EDGES if there not in ("torch", here)}
    reach = {edge for edge in graph if LEVELS[edge[0]] > 0}
    for _ in LEVELS:  # transitive closure: at most one more step per package
        reach |= {(a, d) for (a, b), (c, d) in itertools.product(reach, graph) if b == c}
    assert sorted(a for a, b in reach if a == b) == []


@pytest.mark.parametrize("package", [name or "cnnlab" for name in TORCH_FREE])
def test_torch_free_packages_import_no_torch_at_import_time(package):
    offending = [
        f"{_where(path, line)}: imports {there or 'cnnlab'}"
        for path, here, there, line, eager in EDGES
        if (here or "cnnlab") == package and eager and str(path.relative_to(ROOT)) not in BRIDGES
        and (there == "torch" or there in TORCH_PACKAGES)
    ]  # fmt: skip
    assert offending == []
