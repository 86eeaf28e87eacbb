"""The package's structure: no import cycles, and every import goes down the layers pyproject.toml
declares ([tool.importlinter]), counting imports inside functions (not those under TYPE_CHECKING).

The same contract is checked by `lint-imports` in CI; this test also covers the command line
(cli/, installed as searchengine.cli: import-linter does not find it where it lies), which sits
above every layer, and says which modules form a cycle if one appears.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import REPO

tomllib = pytest.importorskip("tomllib")

PACKAGES = {
    "searchengine": REPO / "searchengine",
    "searchengine.cli": REPO / "cli",
    "searchengine_train": REPO / "searchengine_train",
}
UNLAYERED = {"searchengine", "searchengine.__main__"}  # the package's own entry points


def _modules() -> dict[str, Path]:
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = [*package.split("."), *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of ours `name` imports anywhere in its file (TYPE_CHECKING blocks aside)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    named: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for other in child.orelse:
                    visit_one(other)
                continue
            visit_one(child)

    def visit_one(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            named.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names)
        visit(node)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    out = set()
    for module in named:
        while module and module not in modules:
            module = module.rpartition(".")[0]
        if module and module != name:
            out.add(module)
    return out


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


@pytest.fixture(scope="module")
def layers() -> list[list[str]]:
    """Top first, as pyproject.toml declares them; the command line above them all."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c["type"] == "layers")
    container = contract["containers"][0]
    return [["searchengine.cli"]] + [
        [f"{container}.{m.strip()}" for m in layer.split("|")] for layer in contract["layers"]
    ]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return groups


def _place(module: str, layers: list[list[str]]) -> tuple[int, str] | None:
    """(layer number, top first; the sibling it belongs to) of a module, or None outside the layers."""
    for number, layer in enumerate(layers):
        for sibling in layer:
            if module == sibling or module.startswith(sibling + "."):
                return number, sibling
    return None


def test_no_import_cycles(graph):
    assert _cycles(graph) == []


def test_every_runtime_module_has_a_layer(graph, layers):
    outside = [m for m in graph if m.startswith("searchengine.") or m == "searchengine"]
    outside = [m for m in outside if m not in UNLAYERED and _place(m, layers) is None]
    assert outside == []


def test_imports_only_go_down(graph, layers):
    wrong = []
    for module, imported in graph.items():
        here = _place(module, layers)
        if here is None:
            continue
        for other in imported:
            there = _place(other, layers)
            if there is None:
                continue
            if there[0] < here[0] or (there[0] == here[0] and there[1] != here[1]):
                wrong.append(f"{module} -> {other}")
    assert sorted(wrong) == []


def test_training_stays_apart(graph):
    assert [
        m
        for m, imported in graph.items()
        if m.startswith("searchengine.")
        for other in imported
        if other.startswith("searchengine_train")
    ] == []


def test_the_checker_sees_imports_inside_functions(tmp_path):
    """A cycle made by imports inside functions is still a cycle."""
    modules = {"pkg.a": tmp_path / "a.py", "pkg.b": tmp_path / "b.py"}
    modules["pkg.a"].write_text("def f():\n    from pkg import b\n")
    modules["pkg.b"].write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.c import x\ndef g():\n    import pkg.a\n"
    )
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert graph == {"pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}} and _cycles(graph) == [["pkg.a", "pkg.b"]]
