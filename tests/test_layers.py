"""The library's layers run one way: no import cycle, no upward import, nothing imports the CLI.

The import graph is read with :mod:`ast` from the files of the packages Python would import
(``interp`` and ``models``, found with :func:`importlib.util.find_spec`, so an installed copy is
checked where it is installed). Every import counts, also those inside functions.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Mapping
from pathlib import Path

import pytest

LAYERS: tuple[str, ...] = (
    "core",
    "data",
    "models",
    "backends",
    "evaluation",
    "explain",
    "plots",
    "study",
    "report",
    "cli",
)
"""Layer order, lowest first: a module may import its own layer and the layers below it.
``models`` is the top-level package; every other layer is ``interp.<layer>``; the root
package ``interp`` (re-exports of core names) counts as ``core``."""

PACKAGES: tuple[str, ...] = ("interp", "models")


def package_root(name: str) -> Path:
    """Folder of an importable package (installed or in the checkout)."""
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.submodule_search_locations, f"package {name} not found"
    return Path(next(iter(spec.submodule_search_locations)))


def library_modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of :data:`PACKAGES`."""
    mods: dict[str, Path] = {}
    for pkg in PACKAGES:
        root = package_root(pkg)
        for path in sorted(root.rglob("*.py")):
            parts = (pkg, *path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = path
    return mods


def imported_modules(path: Path, module: str, known: Mapping[str, Path] | set[str]) -> set[str]:
    """The library modules (``known``) a file imports, top level or inside functions.

    ``import a.b`` -> ``a.b``; ``from a import b`` -> ``a.b`` when that is a module, else ``a``
    (relative imports resolved against ``module``'s package).
    """
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.add(sub if sub in known else target)
    return {m for m in out if m in known and m != module}


def import_graph(mods: Mapping[str, Path]) -> dict[str, set[str]]:
    """Module -> the library modules it imports."""
    return {name: imported_modules(path, name, mods) for name, path in mods.items()}


def layer_of(module: str) -> str:
    """Layer of a library module, from its package path."""
    parts = module.split(".")
    if parts[0] == "models":
        return "models"
    if len(parts) == 1:
        return "core"
    if parts[1] not in LAYERS:
        raise AssertionError(f"{module}: interp/{parts[1]} is not a layer; layers: {LAYERS}")
    return parts[1]


def cycles(graph: Mapping[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.add(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(frozenset(comp))
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(library_modules())


def test_every_module_is_in_a_layer(graph: dict[str, set[str]]) -> None:
    assert {layer_of(m) for m in graph} <= set(LAYERS)
    assert len(graph) > 50  # the walk found the library


def test_no_import_cycle(graph: dict[str, set[str]]) -> None:
    found = cycles(graph)
    new = [sorted(c) for c in found]
    assert not new, f"import cycles: {new}"


def test_no_upward_import(graph: dict[str, set[str]]) -> None:
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    upward = {
        (m, d) for m, deps in graph.items() for d in deps if rank[layer_of(d)] > rank[layer_of(m)]
    }
    new = sorted(upward)
    assert not new, "upward imports (importer -> imported): " + ", ".join(
        f"{m} ({layer_of(m)}) -> {d} ({layer_of(d)})" for m, d in new
    )


def test_library_never_imports_the_cli(graph: dict[str, set[str]]) -> None:
    bad = sorted(
        f"{m} -> {d}"
        for m, deps in graph.items()
        if layer_of(m) != "cli"
        for d in deps
        if layer_of(d) == "cli"
    )
    assert not bad, f"library modules importing interp.cli: {bad}"


def test_graph_sees_imports_inside_functions(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text(
        "def f():\n    from interp.cli import app\n    from ..core import errors\n"
        "    import models.registry\n"
    )
    known = {"interp.cli", "interp.cli.app", "interp.core", "interp.core.errors", "models.registry"}
    got = imported_modules(src, "interp.data.m", known)
    assert got == {"interp.cli.app", "interp.core.errors", "models.registry"}
