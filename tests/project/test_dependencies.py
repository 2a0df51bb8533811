"""Dependencies: the code imports only pinned libraries, and pipeline does not import artifacts."""

import ast
import importlib.metadata
import re
import sys
import tomllib
from functools import cache
from pathlib import Path

from django.conf import settings

APPS = ("pipeline", "artifacts", "accounts", "events")
# Imported only by code that never runs on a server: the demo's webhook receiver (the dev extra).
DEV_ONLY = {"standardwebhooks"}


@cache
def _app_sources() -> dict[Path, ast.Module]:
    """Every Python file of the apps, parsed once for all the tests here."""
    base = Path(settings.BASE_DIR)
    return {path: ast.parse(path.read_text()) for app in APPS for path in sorted((base / app).rglob("*.py"))}


def _third_party_imports() -> set[str]:
    """Top-level names of the modules the apps' code imports from outside the project."""
    names = set()
    for tree in _app_sources().values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - set(APPS) - DEV_ONLY


def test_every_library_the_code_imports_is_a_pinned_dependency():
    """A server installs ``pip install .`` only: a library the code needs but the project does not
    pin would be missing there while the dev extra hides it here."""
    project = tomllib.loads((Path(settings.BASE_DIR) / "pyproject.toml").read_text())["project"]
    pinned = {
        re.split(r"[\[=<>!~ ]", line, maxsplit=1)[0].lower().replace("_", "-") for line in project["dependencies"]
    }
    providers = importlib.metadata.packages_distributions()
    missing = {
        name: providers.get(name)
        for name in _third_party_imports()
        if not {dist.lower().replace("_", "-") for dist in providers.get(name, [])} & pinned
    }
    assert missing == {}


def test_pipeline_code_does_not_import_artifacts():
    root = Path(settings.BASE_DIR) / "pipeline"
    offenders = []
    for path, tree in _app_sources().items():
        if not path.is_relative_to(root):
            continue
        relative = path.relative_to(root).as_posix()
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{relative}: {n}" for n in names if n == "artifacts" or n.startswith("artifacts.")]
    assert offenders == []


def _project_imports() -> dict[str, set[str]]:
    """Module → the project modules it imports (function-level imports included)."""
    base = Path(settings.BASE_DIR)
    sources = _app_sources()
    modules = {}
    for path in sources:
        if "migrations" in path.parts:
            continue
        name = ".".join(path.relative_to(base).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(sources[path]):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from artifacts import signing` names a module; `from artifacts.models import X` does not
                targets |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules}
                targets.add(node.module)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def test_the_import_graph_has_no_loop():
    graph = _project_imports()
    loops = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            # A package's own __init__ re-exporting its submodules is not a loop between rooms.
            if node.startswith(target + "."):
                continue
            if state.get(target) == 1:
                loops.append(" → ".join(path[path.index(target) :] + [node, target]))
            elif target not in state:
                visit(target, path + [node])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    assert loops == []
