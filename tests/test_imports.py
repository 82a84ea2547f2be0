"""The import graph of ``personarec`` is one-way: no cycle between packages, none between modules.

Built statically with :mod:`ast` from every ``.py`` under ``personarec/`` and ``loaders/`` (which
ships as ``personarec.loaders``). Only imports that run when the module is imported count: those in
the module body, including ``if``/``try`` blocks and ``TYPE_CHECKING`` guards (a type-only import is
still a dependency of the design), but not those inside functions, which are deliberate lazy imports.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: source folder -> the package name it ships as (pyproject's package-dir)
SOURCES = {ROOT / "personarec": "personarec", ROOT / "loaders": "personarec.loaders"}

Edges = dict[str, set[str]]  # module -> modules it imports


def module_files() -> dict[str, Path]:
    """Module name -> file, for every module of the shipped ``personarec`` namespace."""
    out: dict[str, Path] = {}
    for folder, package in SOURCES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


def _imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements that run at import time: everywhere in ``node`` except inside function bodies."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        else:
            yield from _imports(child)


def module_graph(modules: dict[str, Path]) -> Edges:
    """Module -> the ``personarec`` modules it imports at module level (``from p import m`` -> ``p.m``)."""
    graph: Edges = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in _imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:  # relative: resolve against the importing package
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[:len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            edges.update(t for t in targets if t in modules and t != name)
        graph[name] = edges
    return graph


def package_of(module: str) -> str:
    """The unit a module belongs to: its subpackage (``personarec.eval``, with everything below it, e.g.
    ``personarec.loaders.dbpedia.sparql``), or itself for a top module (``personarec.config``)."""
    return ".".join(module.split(".")[:2])


def package_graph(graph: Edges) -> Edges:
    """The module graph with every module replaced by its :func:`package_of`, without self-edges."""
    out: Edges = {}
    for src, dsts in graph.items():
        a = package_of(src)
        out.setdefault(a, set()).update(package_of(d) for d in dsts if package_of(d) != a)
    return out


def find_cycle(graph: Edges) -> list[str] | None:
    """One cycle as ``[a, b, ..., a]`` (depth-first search, nodes in sorted order), or ``None``."""
    state: dict[str, int] = {}  # 1 on the stack, 2 finished
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_find_cycle_names_the_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_only_import_time_statements_count() -> None:
    source = """
import a
if TYPE_CHECKING:
    from b import c
class K:
    import d
def f():
    import e
"""
    found = [n.names[0].name if isinstance(n, ast.Import) else n.module for n in _imports(ast.parse(source))]
    assert found == ["a", "b", "d"]


def test_graph_sees_the_shipped_modules() -> None:
    modules = module_files()
    graph = module_graph(modules)
    # guards against a walker that silently finds nothing: known one-way edges must be there
    assert "personarec.loaders.common" in modules and "personarec.protocol" in modules
    assert "personarec.protocol" in graph["personarec.load.splits"]
    assert "personarec.session.data" in graph["personarec.eval.runner"]


def test_no_cycle_between_packages() -> None:
    cycle = find_cycle(package_graph(module_graph(module_files())))
    assert cycle is None, "package import cycle: " + " -> ".join(cycle or [])


def test_no_cycle_between_modules() -> None:
    cycle = find_cycle(module_graph(module_files()))
    assert cycle is None, "module import cycle: " + " -> ".join(cycle or [])
