"""The package's modules import each other without loops.

A loop between two modules (a imports b, b imports a) usually hides behind an import inside a
function; it means one of them holds something both need, in the wrong place. Imports under
``if TYPE_CHECKING:`` only name types and are left out; every other import counts, wherever it
stands. docs/architecture.md says where shared pieces go.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


def _modules(src: Path) -> dict[str, Path]:
    found = {}
    for path in sorted(src.rglob("*.py")):
        name = ".".join(path.relative_to(src).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def _imports(tree: ast.AST, known: dict[str, Path]) -> set[str]:
    """The modules of ``known`` a module imports at run time (a package's __init__ excluded:
    importing ``pkg.mod`` runs it, but it is a face that hands names on)."""
    out: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                for alias in child.names:
                    full = f"{child.module}.{alias.name}"
                    out.add(full if full in known else child.module)
            elif isinstance(child, ast.Import):
                out.update(alias.name for alias in child.names)
            visit(child)

    visit(tree)
    return {m for m in out if m in known and known[m].name != "__init__.py"}


def import_loops(src: Path) -> list[list[str]]:
    """Groups of modules that import each other, directly or around a loop (Tarjan's SCCs)."""
    known = _modules(src)
    graph = {m: _imports(ast.parse(p.read_text()), known) - {m} for m, p in known.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    loops: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                loops.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return loops


def test_no_module_of_opsbook_imports_itself_around_a_loop() -> None:
    assert import_loops(SRC) == []


def test_a_loop_is_found_where_one_hides_behind_a_function(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.b import B\n")
    (pkg / "b.py").write_text("B = 1\n\ndef f():\n    from pkg.a import A\n")
    (pkg / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.d import D\n"
    )
    (pkg / "d.py").write_text("import pkg.c\n")
    assert import_loops(tmp_path) == [["pkg.a", "pkg.b"]]  # c <-> d is types only
