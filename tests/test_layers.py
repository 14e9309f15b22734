"""
The package's import graph, read from the source: no module imports
another that imports it back (directly or round a circle, counting imports
made inside functions and for type checking only), no import runs up a
floor, and a transformer imports nothing of the server, the spark, the
middleware or the client: only the interfaces, the errors and the shared
helpers.  And the modules around the server (the spark, the resource,
``create_server``, the library builder, the transformers) read none of its
private attributes: they get what they need through its contracts.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import primus_tx

# The package as imported (the checkout, or the installed wheel when the
# suite runs from a copy of the tests).
PACKAGE = Path(primus_tx.__file__).resolve().parent

#: The floors, lowest first: a module imports only modules of lower floors
#: and of its own part (a package on floors 1 and 2, the whole of floor 0).
FLOORS: tuple[tuple[str, ...], ...] = (
    (
        "primus_tx._address",
        "primus_tx._defaults",
        "primus_tx._errors",
        "primus_tx._events",
        "primus_tx._guard",
        "primus_tx._http",
        "primus_tx._ids",
        "primus_tx._json",
        "primus_tx._lane",
        "primus_tx._listen",
        "primus_tx._lookup",
        "primus_tx._options",
        "primus_tx._plugins",
        "primus_tx._producers",
        "primus_tx._query",
        "primus_tx._transforms",
        "primus_tx._version",
        "primus_tx.interfaces",
    ),
    ("primus_tx.middleware", "primus_tx.parsers", "primus_tx.transformers"),
    ("primus_tx.client", "primus_tx.library", "primus_tx.spark"),
    ("primus_tx._resource",),
    ("primus_tx.server",),
    (
        "primus_tx._create",
        "primus_tx.cluster",
        "primus_tx.demo",
        "primus_tx.plugins",
        "primus_tx.testing",
    ),
    ("primus_tx",),
    ("primus_tx.tap",),
)

#: What a transformer may import besides its own package and the shared
#: transformer helpers (``primus_tx.transformers._*``).
TRANSFORMER_MAY_IMPORT = frozenset(
    (
        "primus_tx._defaults",
        "primus_tx._errors",
        "primus_tx._http",
        "primus_tx._json",
        "primus_tx._lookup",
        "primus_tx._options",
        "primus_tx._query",
        "primus_tx.interfaces",
    )
)


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """
    Every primus_tx module ``name`` imports, wherever the import statement
    is (top level, a function, an ``if TYPE_CHECKING`` block).
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in MODULES else base)
    return {module for module in found if module in MODULES and module != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _floor(module: str) -> tuple[int, str]:
    """
    The floor of ``module`` and its part.
    """
    best: tuple[int, str] = (-1, "")
    for level, prefixes in enumerate(FLOORS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best[1]):
                best = (level, prefix)
    assert best[0] >= 0, f"{module} is on no floor: add it to FLOORS"
    level, prefix = best
    return level, "ground" if level == 0 else prefix


def test_the_graph_sees_the_package() -> None:
    assert "primus_tx.server" in GRAPH["primus_tx"]
    assert "primus_tx.spark" in GRAPH["primus_tx.server"]
    assert "primus_tx.interfaces" in GRAPH["primus_tx.transformers.websockets.server"]


def test_no_import_circles() -> None:
    # Tarjan's strongly connected components: any with two or more
    # modules is a circle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(GRAPH[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert circles == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_runs_up_a_floor(module: str) -> None:
    level, part = _floor(module)
    wrong = []
    for target in sorted(GRAPH[module]):
        target_level, target_part = _floor(target)
        if target_level > level or (target_level == level and target_part != part):
            wrong.append(target)
    assert wrong == [], f"{module} (floor {level}) imports {wrong}"


@pytest.mark.parametrize(
    "module", sorted(m for m in MODULES if m.startswith("primus_tx.transformers."))
)
def test_transformers_import_only_interfaces_errors_and_helpers(module: str) -> None:
    own_package = ".".join(module.split(".")[:3])
    wrong = [
        target
        for target in sorted(GRAPH[module])
        if target not in TRANSFORMER_MAY_IMPORT
        and not target.startswith(own_package)
        and not target.startswith("primus_tx.transformers._")
    ]
    assert wrong == [], f"{module} imports {wrong}"


def _private_reads_of_the_server(path: Path) -> list[str]:
    """
    ``primus._x`` / ``host._x`` (or ``....primus._x``) in ``path``: a private
    attribute of the server read from outside it.
    """
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if not (isinstance(node, ast.Attribute) and node.attr.startswith("_")):
            continue
        owner = node.value
        name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", None)
        if name in ("primus", "host") and not node.attr.startswith("__"):
            found.append(f"{path.name}:{node.lineno}: {name}.{node.attr}")
    return found


@pytest.mark.parametrize(
    "module",
    sorted(
        m
        for m in MODULES
        if m.startswith("primus_tx.transformers")
        or m in ("primus_tx.spark", "primus_tx._resource", "primus_tx._create", "primus_tx.library")
    ),
)
def test_the_server_is_reached_through_its_contracts(module: str) -> None:
    assert _private_reads_of_the_server(MODULES[module]) == []


def test_the_private_read_check_sees_one(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f(self):\n    return self.primus._decode, host._reactor\n")
    assert len(_private_reads_of_the_server(sample)) == 2
