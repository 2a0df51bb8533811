import os
import subprocess
import sys

from django.conf import settings

SCRIPT = """
import django, os
django.setup()
from django.core.management import call_command
from django.test.utils import override_settings
from django.template.loader import render_to_string
with override_settings(STATIC_ROOT=os.environ["CHECK_STATIC_ROOT"]):
    call_command("collectstatic", "--noinput", verbosity=0)
    print(render_to_string("404.html", {}))
"""


def test_production_static_files_build_and_pages_render_with_hashed_names(tmp_path):
    """What the Dockerfile does: collectstatic with the manifest storage, then render a page."""
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "static-check-" + "x" * 60,
        "DJANGO_SETTINGS_MODULE": "pipeline.settings",
        "CHECK_STATIC_ROOT": str(tmp_path / "static"),
        "SITE_URL": "https://models.example.com",
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "static" / "staticfiles.json").exists()
    assert "/static/css/app." in result.stdout and "/static/css/app.css" not in result.stdout
