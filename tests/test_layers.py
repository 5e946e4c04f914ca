"""The package's layers flow one way: a module imports only from its own layer or below.

    _io -> text -> data -> classical | nn -> train -> decode | evaluate -> transfer | bias
        -> recipes -> reproduce -> commands -> cli

Read from the source (every ``import`` statement, including those inside functions), so a
lazy import cannot hide an upward dependency."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import textkit

PACKAGE = Path(textkit.__file__).parent
# rank of each top-level part; equal ranks are siblings and must not import each other
LAYERS: dict[str, float] = {
    "_io": 0,
    "_folders": 0.5,  # the model-folder protocol: above _io, below text
    "_device": 0,
    "_progress": 0,  # progress bars and stage lines on stderr
    "text": 1,
    "data": 2,
    "classical": 3,
    "nn": 3,
    "train": 4,
    "decode": 5,
    "evaluate": 5,
    "transfer": 6,
    "bias": 6,
    "recipes": 7,
    "reproduce": 8,
    "commands": 9,
    "cli": 10,
    "__init__": 10,
    "_corpora": 0,
    "_models": 0,
}


def _part(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "textkit":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    relative_base = ".".join(("textkit", *path.relative_to(PACKAGE).with_suffix("").parts))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):  # a bare `import textkit` (the version) is not a layer
            found += [(node.lineno, alias.name) for alias in node.names if alias.name != "textkit"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = relative_base.split(".")[: -node.level]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            if module == "textkit":  # `from textkit import data` imports the subpackage
                found += [(node.lineno, f"textkit.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, module))
    return found


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_layers_every_part_has_a_rank():
    parts = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in _modules()}
    assert parts <= set(LAYERS), f"give these a layer in tests/test_layers.py: {sorted(parts - set(LAYERS))}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_layers_imports_flow_downward(path):
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    bad = []
    for line, module in _imports(path):
        target = _part(module)
        if target is None or target == own or target not in LAYERS:
            continue
        if LAYERS[target] >= LAYERS[own]:
            bad.append(
                f"line {line}: {module} (layer {target!r}, rank {LAYERS[target]}) from {own!r} (rank {LAYERS[own]})"
            )
    assert not bad, f"{path.relative_to(PACKAGE)} imports upward or sideways:\n" + "\n".join(bad)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(("textkit", *parts[:-1])) if parts[-1] == "__init__" else ".".join(("textkit", *parts))


PACKAGES = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file())


@pytest.mark.parametrize("package", PACKAGES)
def test_layers_no_import_cycle_inside_a_package(package):
    """Within one package, modules import each other without a cycle (lazy imports count too);
    the package's own ``__init__`` re-exports are left out, since they only gather names."""
    prefix = f"textkit.{package}."
    modules = [p for p in (PACKAGE / package).rglob("*.py") if p.name != "__init__.py"]
    graph = {}
    for path in modules:
        name = _module_name(path)
        graph[name] = {
            m
            for _, m in _imports(path)
            if m.startswith(prefix) and m != name and m in {_module_name(q) for q in modules}
        }
    seen: set[str] = set()
    stack: list[str] = []

    def visit(node: str) -> None:
        if node in stack:
            raise AssertionError(
                f"import cycle in textkit.{package}: " + " -> ".join([*stack[stack.index(node) :], node])
            )
        if node in seen:
            return
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            visit(nxt)
        stack.pop()
        seen.add(node)

    for node in sorted(graph):
        visit(node)
