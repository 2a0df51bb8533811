"""Every production process starts through ``deploy/run``: docker-compose, the image and
``make prod-check`` cannot drift apart."""

import subprocess
from pathlib import Path

import yaml  # PyYAML: installed with drf-spectacular and responses

ROOT = Path(__file__).resolve().parents[2]
ROLES = {"web", "worker", "beat", "simulator", "migrate", "collectstatic", "check"}


def test_every_app_service_in_compose_starts_through_deploy_run():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    app_services = {name: s for name, s in services.items() if s.get("build") == "."}
    assert {"web", "worker", "beat", "simulator", "migrate"} <= set(app_services)
    for name, service in app_services.items():
        command = service.get("command")
        assert command and command[0] == "deploy/run" and command[1] in ROLES, (name, command)


def test_the_image_runs_the_web_role_by_default():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["deploy/run", "web"]' in dockerfile
    assert "deploy/run collectstatic" in dockerfile


def test_an_unknown_role_is_refused_with_the_usage():
    result = subprocess.run([str(ROOT / "deploy" / "run"), "webserver"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "usage: deploy/run web|worker|beat|simulator|migrate" in result.stderr
