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


# Only these wire the two apps together; pipeline's own code never imports artifacts.
# pipeline/api/ is listed while the notification API still borrows artifacts' envelope helpers.
MAY_IMPORT_ARTIFACTS = ("urls.py", "health.py", "management/commands/", "api/")


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
