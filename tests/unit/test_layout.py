"""The package's shape: no module over 300 lines, and no import cycle between its modules.

An import counts wherever it is written (top level, inside a function or under
``TYPE_CHECKING``): a cycle hidden in a function is still two modules that need each other.
"""

import ast
from pathlib import Path

import pytest
from conftest import REPO

PACKAGE = REPO / "scripts" / "fmeval"
MAX_LINES = 300
# known exceptions (none today): a module allowed over MAX_LINES, an import cycle allowed
TOO_LONG: set[str] = set()
CYCLES: set[frozenset[str]] = set()


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str, path: Path) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its text."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert not node.level, f"{path}: the package's imports are absolute"
            targets = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name and "." in target:
                found.add(target)
    return found


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_module_is_over_300_lines():
    lengths = {
        str(path.relative_to(PACKAGE)): len(path.read_text().splitlines())
        for path in MODULES.values()
    }
    long = {name: n for name, n in lengths.items() if n > MAX_LINES and name not in TOO_LONG}
    assert not long, f"modules over {MAX_LINES} lines (split them by idea): {long}"
    assert all(lengths[name] > MAX_LINES for name in TOO_LONG), "remove the fixed exception"


def test_the_package_has_no_import_cycle():
    graph = {name: imported(name, path) for name, path in MODULES.items()}
    found = [component for component in cycles(graph) if frozenset(component) not in CYCLES]
    assert not found, f"modules that import each other (directly or in a ring): {found}"
    for known in CYCLES:  # an exception that no longer holds is removed
        assert any(known == frozenset(c) for c in cycles(graph)), sorted(known)


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [{"a", "b", "c"}]),
        ({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}, [{"a", "b"}, {"c", "d"}]),
    ],
)
def test_the_cycle_finder_finds_rings(graph, expected):
    assert sorted(cycles(graph), key=sorted) == expected


def test_imports_inside_functions_and_type_checking_count():
    graph = {name: imported(name, path) for name, path in MODULES.items()}
    # ct.tuning imports ct.reconstruction inside run_tuning
    assert "fmeval.ct.reconstruction" in graph["fmeval.ct.tuning"]
