"""The package's import graph: no cycles among module-level imports, and only the command line imports
``efficientvit.cli``."""

from __future__ import annotations

import ast
from pathlib import Path

import efficientvit

PACKAGE = Path(efficientvit.__file__).parent
CLI_ENTRY_POINTS = {"efficientvit.cli", "efficientvit.__main__"}  # `python -m efficientvit` runs the CLI


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


MODULES = _modules()


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> set[str]:
    """The package's modules that one import statement loads (by their dotted names)."""
    if isinstance(node, ast.Import):
        names = {alias.name for alias in node.names}
    else:
        base = node.module or ""
        if node.level:  # relative: from the module's package, up level - 1 packages
            package = module.split(".") if is_package else module.split(".")[:-1]
            base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
        names = {base, *(f"{base}.{alias.name}" for alias in node.names)}
    found = set()
    for name in names:
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name.startswith("efficientvit") and name != module:
            found.add(name)
    return found


def _module_level_imports(module: str) -> set[str]:
    """What ``module`` imports when it is imported: top-level statements (and those in top-level ``try``),
    not those under ``if TYPE_CHECKING`` nor those inside functions."""
    path = MODULES[module]
    statements = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Try):
            statements.extend(node.body)
        elif not (isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)):
            statements.append(node)
    imports = [node for node in statements if isinstance(node, ast.Import | ast.ImportFrom)]
    return set().union(*(_imported(node, module, path.name == "__init__.py") for node in imports))


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of modules, or None (depth-first search, three colours)."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        state[node] = "done"
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_module_level_import_graph_has_no_cycle() -> None:
    graph = {module: _module_level_imports(module) for module in MODULES}
    assert len(graph) > 100 and graph["efficientvit.cli"]  # the walk found the package
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_only_the_command_line_imports_efficientvit_cli() -> None:
    """Anywhere in a module, functions included: the library never depends on its command line."""
    offenders = []
    for module, path in MODULES.items():
        if module.startswith("efficientvit.cli") or module in CLI_ENTRY_POINTS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom) and any(
                name.startswith("efficientvit.cli")
                for name in _imported(node, module, path.name == "__init__.py")
            ):
                offenders.append(module)
    assert offenders == []
