"""The site runs with only the runtime dependencies: numpy belongs to the "demo" extra."""

import subprocess
import sys

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
