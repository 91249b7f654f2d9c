"""The lab's modules import each other without a cycle, counting imports inside functions too
(a lazy import only hides a cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

import kruise_cri.lab

LAB = Path(kruise_cri.lab.__file__).parent
PACKAGE = "kruise_cri.lab"


def lab_imports(path: Path) -> set[str]:
    """The lab modules ``path`` imports, anywhere in it."""
    modules = {p.stem for p in LAB.glob("*.py")}
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level <= 1:
            # ``from . import x`` and ``from .x import y`` are the lab's own, written relatively.
            base = (
                PACKAGE + (f".{node.module}" if node.module else "") if node.level else node.module
            )
            if not base:
                continue
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            if name.startswith(PACKAGE + "."):
                module = name[len(PACKAGE) + 1 :].split(".")[0]
                if module in modules and module != path.stem:
                    found.add(module)
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "visiting"
        stack.append(module)
        for imported in sorted(graph[module]):
            if state.get(imported) == "visiting":
                return [*stack[stack.index(imported) :], imported]
            if imported not in state and (cycle := visit(imported)):
                return cycle
        stack.pop()
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def test_lab_modules_import_without_a_cycle():
    graph = {path.stem: lab_imports(path) for path in sorted(LAB.glob("*.py"))}
    assert graph["lab_cluster"] >= {"nodes", "helm"}  # the scan sees the imports at all
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_a_cycle_is_found():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_node_definitions_import_no_other_lab_module():
    assert lab_imports(LAB / "nodes.py") == set()
