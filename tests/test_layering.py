"""The package's layers, read from its source: imports go one way (no circle), and the report
and the tools beside it, which read run records from disk, import neither Hydra nor the sweep
machinery."""

import ast
from pathlib import Path

import pytest

from conftest import REPO

PACKAGE = REPO / "src" / "alexnet"


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(name: str) -> set[str]:
    """Every module `name` imports, at the top or inside a function; `from pkg import submodule`
    counts as the submodule."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            subs = {f"{node.module}.{a.name}" for a in node.names} & set(MODULES)
            found |= subs if len(subs) == len(node.names) else {node.module, *subs}
    return found


def test_no_import_circle():
    graph = {name: imports(name) & set(MODULES) - {name} for name in MODULES}

    def reachable(start):
        seen, todo = set(), list(graph[start])
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo += graph[n]
        return seen

    assert sorted(name for name in graph if name in reachable(name)) == []  # modules in a circle


READERS = ("alexnet.report", "alexnet.tools")  # packages that read run records from disk


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith(READERS)))
def test_the_report_imports_no_hydra(name):
    """Only Hydra's override parser, so that a sweep's overrides are read as Hydra reads them."""
    roots = {i.split(".")[0] for i in imports(name) - {"hydra.core.override_parser.overrides_parser"}}
    assert "hydra" not in roots and not imports(name) & {"alexnet.hydra_setup", "alexnet.sweep_callbacks", "alexnet.ddp_rerun", "alexnet.training"}
