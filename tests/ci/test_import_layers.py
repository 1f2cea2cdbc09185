"""The imports run one way: a wing imports only from the wings below it, and no module imports itself back.

Read with ast, so an import inside a function counts as much as one at the top (a lazy import is still a
dependency). The layers, bottom first, are the ones docs/layout.md describes.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "envcapture"

# Bottom first. A module may import its own wing and any wing listed before it.
LAYERS = ["envcapture", "envcapture.errors", "envcapture.text", "envcapture.manifest", "envcapture.probes",
          "envcapture.data", "envcapture.capture", "envcapture.run", "envcapture.render", "envcapture.compare", "envcapture.build",
          "envcapture.show", "envcapture.report", "envcapture.export", "envcapture.restore", "envcapture.gather",
          "envcapture.cli", "envcapture.__main__"]


def module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        names[name] = path
    return names


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in known and t != name)
    return found


def graph() -> dict[str, set[str]]:
    known = module_names()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def layer(module: str) -> int:
    matches = [i for i, wing in enumerate(LAYERS) if module == wing or module.startswith(wing + ".")]
    assert matches, f"{module} is in no layer: add its wing to LAYERS"
    return max(matches)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_runs_up_a_layer():
    upward = [f"{source} -> {target}" for source, targets in graph().items() for target in sorted(targets)
              if layer(target) > layer(source)]
    assert upward == []


def test_no_import_circle():
    assert cycles(graph()) == []


def test_the_checks_see_an_upward_import_and_a_circle():
    edges = {"envcapture.manifest.file": {"envcapture.capture.freeze"}, "envcapture.capture.freeze": set()}
    assert layer("envcapture.capture.freeze") > layer("envcapture.manifest.file")
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles(edges) == []


def test_every_module_sits_in_a_layer():
    for name in module_names():
        layer(name)
