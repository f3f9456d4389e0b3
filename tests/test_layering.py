"""The import graph of the three packages (docs/architecture.md): no cycles, not even through imports
inside functions; portrait_mobile imports neither of the other two, and export/ and benchmarks/ never
import each other."""
from __future__ import annotations

import ast
from pathlib import Path

from support import PACKAGE_DIRS as ROOTS


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg, root in ROOTS.items():
        for f in root.rglob("*.py"):
            rel = f.relative_to(root).with_suffix("")
            mods[".".join([pkg, *(p for p in rel.parts if p != "__init__")])] = f
    return mods


def _imports(name: str, path: Path, mods: dict[str, Path]) -> set[str]:
    """The package modules `name` imports anywhere in its file (top level or inside functions)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in mods}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            subs = {f"{prefix}.{a.name}" for a in node.names if f"{prefix}.{a.name}" in mods}
            out |= subs or ({prefix} if prefix in mods else set())
    out.discard(name)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    mods = _modules()
    graph = {m: _imports(m, f, mods) for m, f in mods.items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_one() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _imported_packages(package: str) -> dict[str, set[str]]:
    """{module of `package`: the other packages it imports}."""
    mods = _modules()
    return {m: {d.split(".")[0] for d in _imports(m, f, mods)} - {package}
            for m, f in mods.items() if m.split(".")[0] == package}


def test_roots_are_the_three_packages() -> None:
    assert set(ROOTS) == {"portrait_mobile", "portrait_export", "portrait_bench"}
    assert all(root.is_dir() for root in ROOTS.values())


def test_portrait_mobile_imports_neither_export_nor_bench() -> None:
    found = {m: deps for m, deps in _imported_packages("portrait_mobile").items() if deps}
    assert found == {}


def test_export_and_bench_never_import_each_other() -> None:
    mods = _modules()
    for m, f in mods.items():
        other = {"portrait_export": "portrait_bench", "portrait_bench": "portrait_export"}.get(m.split(".")[0])
        if other:
            assert not {d for d in _imports(m, f, mods) if d.startswith(other)}, m
