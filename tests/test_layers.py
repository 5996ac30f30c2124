"""The house's layers, read from the source (ast, nothing imported): no import cycles; connectors
and schemas import only themselves and the base layer; recon's library never imports the flows
(only the command line, the top, starts them); no module over 400 lines.

Layers, bottom up: the base (recon.errors, recon.money, schemas.bytecount: leaves that import
nothing of the project), schemas and connectors, recon (the library, sql its queries), flows
(Prefect and Dask over recon.runday), the command line (recon.cli*), which may start the flows.
An import under ``if TYPE_CHECKING:`` is for annotations only and never runs: it is not an edge.
"""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("connectors", "schemas", "recon", "flows", "sql")
BASE = {"recon.errors", "recon.money", "schemas.bytecount"}
COMMAND_LINE = "recon.cli"  # recon.cli and recon.cli_*: the top, above flows
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """The names one import statement asks for, made absolute."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:
        parts = module.split(".") if is_package else module.split(".")[:-1]
        parts = parts[:len(parts) - (node.level - 1)]
        base = ".".join(parts + ([base] if base else []))
    return [f"{base}.{a.name}" for a in node.names] + [base]


def _runtime_imports(tree: ast.AST):
    """Every import statement, except those under ``if TYPE_CHECKING:``."""
    def walk(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for orelse in child.orelse:
                    yield from walk(orelse)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child
            yield from walk(child)
    yield from walk(tree)


def import_graph() -> dict[str, set[str]]:
    """module -> the project's modules it imports (a name imported from a package counts as the
    package, or as its submodule where it is one)."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        edges = set()
        for node in _runtime_imports(ast.parse(path.read_text("utf-8"))):
            for target in _imported(node, name, path.name == "__init__.py"):
                if isinstance(node, ast.ImportFrom) and target == (node.module or "") and any(
                        f"{target}.{a.name}" in modules for a in node.names):
                    continue  # `from recon import pipeline`: the submodule, not the package
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges.add(target)
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_import_graph_is_read_whole():
    graph = import_graph()
    assert {"recon.runday", "flows.nightly", "flows.fanout", "connectors.sftp", "schemas.registry"} <= set(graph)
    assert "recon.runday" in graph["flows.nightly"] and "flows.tasks" in graph["flows.fanout"]
    assert "connectors.endpoints" in graph["connectors.sftp"]


def test_no_import_cycles():
    assert _cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_connectors_and_schemas_import_only_themselves_and_the_base_layer():
    wrong = {f"{m} imports {t}" for m, targets in import_graph().items() if m.split(".")[0] in ("connectors", "schemas")
             for t in targets if t.split(".")[0] != m.split(".")[0] and t not in BASE}
    assert wrong == set()


def test_the_base_layer_imports_nothing_above_it():
    graph = import_graph()
    assert {m: graph[m] - BASE for m in BASE if graph[m] - BASE} == {}


def test_recon_never_imports_the_flows_except_the_command_line():
    wrong = {f"{m} imports {t}" for m, targets in import_graph().items()
             if m.startswith("recon.") and not m.startswith(COMMAND_LINE)
             for t in targets if t.split(".")[0] == "flows"}
    assert wrong == set()


def test_no_module_is_over_400_lines():
    skip = {".venv", ".git", "var", "node_modules"}
    sizes = {str(p.relative_to(REPO)): len(p.read_text("utf-8").splitlines())
             for p in REPO.rglob("*.py") if not skip & set(p.relative_to(REPO).parts)}
    assert len(sizes) > 200
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
