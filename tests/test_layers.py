"""The layer rule (ARCHITECTURE.md): imports point one way, down; no cycles between packages.

Every `import` in src/jaju counts — at module level, inside functions and under TYPE_CHECKING —
because a lower layer that imports a higher one "only inside a function" still depends on it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parent.parent / "src" / "jaju"

LAYERS: list[set[str]] = [
    {"protocol", "errors", "caller", "jsonio"},  # the bottom: imports nothing of jaju's
    {"__init__", "config", "hookspecs", "korean"},
    {"store", "limits", "plugins"},
    {"guards"},
    {"knowledge"},
    {"backends"},
    {"tools"},
    {"packs"},
    {"assistants"},
    {"pipeline"},
    {"state"},
    {"api", "console"},
    {"app"},
    {"cli"},
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


def component(module: str) -> str:
    """`jaju.guards.pii` -> `guards`; `jaju` -> `__init__`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (SRC.parent / rel).with_suffix(".py").exists() or (SRC.parent / rel / "__init__.py").exists()


def imports(path: Path) -> set[str]:
    """The jaju modules `path` imports, anywhere in the file."""
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "jaju")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] == "jaju":
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if is_module(sub) else node.module)
    return found


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports(p) for p in sorted(SRC.rglob("*.py"))}


def test_every_component_has_a_layer():
    components = {component(m) for m in graph()}
    assert components <= set(LAYER), f"give these a layer: {sorted(components - set(LAYER))}"


def test_imports_point_down():
    upward = []
    for module, targets in graph().items():
        own = LAYER[component(module)]
        for target in targets:
            other = component(target)
            if other != component(module) and LAYER[other] >= own:
                upward.append(f"{module} -> {target}")
    assert not upward, "imports that point up or sideways:\n" + "\n".join(sorted(upward))


def test_no_cycles_between_packages():
    edges: dict[str, set[str]] = {}
    for module, targets in graph().items():
        for target in targets:
            if component(target) != component(module):
                edges.setdefault(component(module), set()).add(component(target))
    cycle = _find_cycle(edges)
    assert cycle is None, f"package cycle: {' -> '.join(cycle or [])}"


def test_no_module_cycles_within_a_package():
    edges = {m: {t for t in ts if t != m} for m, ts in graph().items()}
    cycle = _find_cycle(edges)
    assert cycle is None, f"module cycle: {' -> '.join(cycle or [])}"


def _find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if state.get(nxt) is None and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if state.get(node) is None and (found := visit(node)):
            return found
    return None


@pytest.mark.parametrize("bottom", ["protocol", "errors", "caller"])
def test_the_bottom_imports_nothing_of_jaju(bottom):
    assert imports(SRC / f"{bottom}.py") == set()


def test_the_checker_sees_upward_imports(tmp_path):
    """The test can fail: a function-level upward import is found."""
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from jaju.api.auth import authenticate\n")
    assert imports(sample) == {"jaju.api.auth"}
    assert _find_cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
