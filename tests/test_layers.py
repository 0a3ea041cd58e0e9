"""The layers: no import cycle among the modules of comms_core and commslab, and each layer
imports only downward (science ← notebook helpers; science ← grading; nothing imports the CLI).

The graph is made from the source (ast), as the issue's measurement made it: every `import`
and `from ... import` anywhere in a module (inside functions too: a lazy import is still a
dependency), `from pkg import name` counted as an import of pkg.name when that is a module and
of pkg itself. Imports under `if TYPE_CHECKING:` are left out: they never run. Cycles are the
strongly connected components of more than one module (Tarjan's algorithm, iterative).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("comms_core", "commslab")
CLI = ("commslab.cli", "commslab.grading.cli")
# modules that make up the command line itself (each registers its commands in commslab.cli)
COMMAND_LINE = {"commslab.cli"}


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the import nodes inside `if TYPE_CHECKING:` blocks."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in (
            "TYPE_CHECKING",
            "typing.TYPE_CHECKING",
        ):
            for inner in node.body:
                skipped |= {id(n) for n in ast.walk(inner)}
    return skipped


def _imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_only(tree)
    targets: list[str] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".")
                parts = parts if path.name == "__init__.py" else parts[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, *([base] if base else [])])
            targets += [f"{base}.{a.name}" for a in node.names] + [base]
    found = set()
    for target in targets:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: _imports(name, path, known) for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def _upward(graph: dict[str, set[str]]) -> list[str]:
    wrong = []
    for module, imported in sorted(graph.items()):
        for target in sorted(imported):
            if module.startswith("comms_core") and target.startswith("commslab"):
                wrong.append(f"{module} -> {target} (the science imports no course code)")
            if module.startswith("commslab.notebook") and target.startswith("commslab.grading"):
                wrong.append(f"{module} -> {target} (the student's helpers import no grader)")
            if target in CLI and module not in COMMAND_LINE:
                wrong.append(f"{module} -> {target} (nothing imports the command line)")
    return wrong


@pytest.mark.parametrize(
    ("module", "target"),
    [
        ("comms_core.cost_models", "commslab.lab"),
        ("commslab.notebook.workbench", "commslab.grading.grade"),
        ("commslab.demo", "commslab.grading.cli"),
    ],
)
def test_an_upward_import_is_caught(module, target) -> None:
    assert _upward({module: {target}, target: set()})


def test_every_layer_imports_only_downward() -> None:
    assert _upward(import_graph()) == []


def test_the_grading_package_names_every_module() -> None:
    """commslab/grading/__init__.py lists every module of the package, one line each."""
    import re

    folder = ROOT / "commslab" / "grading"
    listed = set(re.findall(r"^    ([a-z_]+) {2,}", (folder / "__init__.py").read_text(), re.M))
    assert {p.stem for p in folder.glob("*.py")} - {"__init__"} <= listed
