"""Dependencies: the site runs without the "demo" extra (numpy), and pipeline does not import artifacts."""

import ast
import subprocess
import sys
from pathlib import Path

from django.conf import settings

SCRIPT = """
import sys
sys.modules["numpy"] = None  # as if the "demo" extra were not installed: importing it fails
import django
django.setup()
from django.urls import resolve
import pipeline.urls, pipeline.simulator.server  # noqa: F401
import pipeline.management.commands.run_cluster_simulator  # noqa: F401
print(resolve("/models").view_name)
"""


def test_the_site_and_the_simulator_import_without_numpy():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=settings.BASE_DIR,
        env={"DJANGO_SETTINGS_MODULE": "pipeline.settings", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "models:list"


# Only these wire the two apps together; pipeline's own code (its API and lib/ included) never
# imports artifacts.
MAY_IMPORT_ARTIFACTS = ("urls.py", "health.py", "management/commands/")


def test_pipeline_code_does_not_import_artifacts():
    root = Path(settings.BASE_DIR) / "pipeline"
    offenders = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith(MAY_IMPORT_ARTIFACTS):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{relative}: {n}" for n in names if n == "artifacts" or n.startswith("artifacts.")]
    assert offenders == []


def _project_imports() -> dict[str, set[str]]:
    """Module → the project modules it imports (function-level imports included)."""
    base = Path(settings.BASE_DIR)
    modules = {}
    for app in ("pipeline", "artifacts", "accounts"):
        for path in (base / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(base).with_suffix("").parts).removesuffix(".__init__")
            modules[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
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
