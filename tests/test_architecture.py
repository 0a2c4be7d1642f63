"""House rules checked mechanically: each layer imports only the layers below it, and no import cycles."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
LAYERS = {"primitives": 1, "tokens": 2, "security": 3, "trust": 4, "policy": 5, "conversation": 6, "adapters": 7}


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in (SRC / "wssc").rglob("*.py"):
        module = ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "wssc":
                if node.module == "wssc":
                    deps.update("wssc." + alias.name for alias in node.names)
                else:
                    deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.split(".")[0] == "wssc")
        graph[module] = deps
    return graph


def _layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.get(parts[1], 0) if len(parts) > 2 else 0


def test_layers_import_only_below() -> None:
    graph = _graph()
    violations = [
        (module, dep)
        for module, deps in graph.items()
        if module not in ("wssc", "wssc.__main__")
        for dep in deps
        if _layer(dep) > _layer(module)
    ]
    assert violations == []


#: modules outside the layer packages: shared definitions every layer may use, and the package's entry points
TOP_LEVEL = {"wssc", "wssc.__main__", "wssc.errors", "wssc.limits", "wssc.namespaces", "wssc.versions"}


def test_every_module_is_in_a_known_layer() -> None:
    unplaced = sorted(m for m in _graph() if m not in TOP_LEVEL and m.split(".")[1] not in LAYERS)
    assert unplaced == []


def test_shared_top_level_modules_import_no_layer() -> None:
    graph = _graph()
    upward = {m: sorted(d for d in graph[m] if _layer(d) > 0) for m in TOP_LEVEL - {"wssc", "wssc.__main__"}}
    assert {m: d for m, d in upward.items() if d} == {}


def test_no_import_cycles() -> None:
    full = _graph()
    graph = {module: {d for d in deps if d in full} for module, deps in full.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for dep in graph[node]:
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep) :], dep])
            elif not state.get(dep):
                visit(dep, stack)
        stack.pop()
        state[node] = 2

    for node in graph:
        if node != "wssc" and not state.get(node):
            visit(node, [])
    assert [c for c in cycles if "wssc" not in c] == []


def test_sub_packages_take_their_parent_layer() -> None:
    """A sub-package sits in its parent's layer, so the rules above cover it: negotiation is trust (4) and may
    not import conversation or adapters; the command line is an adapter (6)."""
    graph = _graph()
    assert {"wssc.trust.negotiation", "wssc.trust.negotiation.mechanism", "wssc.adapters.cli.commands"} <= set(graph)
    assert _layer("wssc.trust.negotiation") == _layer("wssc.trust.negotiation.mechanism") == LAYERS["trust"]
    assert _layer("wssc.adapters.cli") == _layer("wssc.adapters.cli.conversation") == LAYERS["adapters"]
    negotiation = {d for m, deps in graph.items() if m.startswith("wssc.trust.negotiation") for d in deps}
    assert not {d for d in negotiation if _layer(d) > LAYERS["trust"]}
