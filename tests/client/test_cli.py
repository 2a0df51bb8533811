"""``pipeline login``, the environment override, ``models list|show`` and the one-line errors."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.client.conftest import FILES, run
from tests.conftest import free_port
from tests.factories import make_artifact

pytestmark = pytest.mark.django_db(transaction=True)


def saved_login(config_home: Path) -> dict:
    return json.loads((config_home / "pipeline" / "config.json").read_text())


def test_login_checks_the_token_and_saves_it_for_the_owner_only(server, token, config_home):
    result = run("login", "--url", server + "/", "--token", token)

    assert result.exit_code == 0, result.output
    path = config_home / "pipeline" / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert saved_login(config_home) == {"url": server, "token": token}
    assert str(path) in result.stdout


def test_a_saved_login_readable_by_others_is_used_with_a_warning(server, token, config_home, alice):
    assert run("login", "--url", server, "--token", token).exit_code == 0
    path = config_home / "pipeline" / "config.json"
    path.chmod(0o644)

    result = run("models", "list")

    assert result.exit_code == 0, result.output
    assert f"warning: {path} is readable by others" in result.stderr


def test_login_prompts_for_the_token_without_echoing_it(server, token, config_home):
    result = run("login", "--url", server, input=token + "\n")

    assert result.exit_code == 0, result.output
    assert token not in result.output
    assert f"{server}/account/tokens" in result.stderr
    assert "create_api_token" in result.stderr
    assert saved_login(config_home)["token"] == token


def test_login_with_a_bad_token_saves_nothing(server, config_home):
    result = run("login", "--url", server, "--token", "plt_not-a-real-token-at-all")

    assert result.exit_code == 1
    assert result.stderr.startswith("error: the server rejected the token")
    assert "/account/tokens" in result.stderr
    assert not (config_home / "pipeline" / "config.json").exists()


def test_login_to_an_unreachable_server_is_one_line(config_home):
    result = run("login", "--url", f"http://127.0.0.1:{free_port()}", "--token", "plt_whatever-token")

    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "cannot reach http://127.0.0.1:" in result.stderr
    assert "Traceback" not in result.output


def test_environment_overrides_the_saved_login(server, token, monkeypatch, alice, config_home):
    make_artifact(alice, name="Env model")
    assert run("login", "--url", server, "--token", token).exit_code == 0

    monkeypatch.setenv("PIPELINE_TOKEN", "plt_revoked-or-wrong-token")
    overridden = run("models", "list")
    assert overridden.exit_code == 1
    assert "the server rejected the token" in overridden.stderr

    monkeypatch.setenv("PIPELINE_TOKEN", token)
    monkeypatch.setenv("PIPELINE_URL", f"http://127.0.0.1:{free_port()}")
    assert "cannot reach" in run("models", "list").stderr

    monkeypatch.delenv("PIPELINE_URL")
    monkeypatch.delenv("PIPELINE_TOKEN")
    assert "Env model" in run("models", "list").stdout


def test_without_a_login_the_command_says_how_to_log_in():
    result = run("models", "list")

    assert result.exit_code == 1
    assert (
        result.stderr
        == "error: not logged in: run `pipeline login --url URL` (or set PIPELINE_URL and PIPELINE_TOKEN)\n"
    )


def test_models_list_json_sorts_and_pages(env_login, server, alice, bob):
    low = make_artifact(alice, name="Low", score=2)
    high = make_artifact(alice, name="High", score=5)
    make_artifact(bob, name="Not mine", score=5)

    result = run("models", "list", "--sort", "quality", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [m["id"] for m in data["models"]] == [str(high.id), str(low.id)]
    assert data["pagination"] == {"page": 1, "limit": 12, "total": 2, "totalPages": 1}

    second = json.loads(run("models", "list", "--sort", "quality", "--limit", "1", "--page", "2", "--json").stdout)
    assert [m["id"] for m in second["models"]] == [str(low.id)]


def test_models_list_table_shows_names_and_stars(env_login, server, alice):
    make_artifact(alice, name="Support bot", score=4)

    result = run("models", "list")

    assert result.exit_code == 0, result.output
    assert "Support bot" in result.stdout
    assert "★★★★☆" in result.stdout
    assert "Page 1 of 1 (1 models)" in result.stdout


def test_models_show_lists_files_with_checksums(env_login, server, model):
    result = run("models", "show", str(model.id))
    as_json = json.loads(run("models", "show", str(model.id), "--json").stdout)

    assert result.exit_code == 0, result.output
    assert "Support bot v1/final" in result.stdout
    for item in as_json["files"]:
        assert item["filename"] in result.stdout
        assert item["sha256"] in result.stdout
    assert {item["filename"] for item in as_json["files"]} == set(FILES)


def test_someone_elses_model_is_a_one_line_404(env_login, server, bob, tmp_path):
    theirs = make_artifact(bob)

    for args in (["models", "show", str(theirs.id)], ["download", str(theirs.id), str(tmp_path / "x")]):
        result = run(*args)
        assert result.exit_code == 1
        assert result.stderr == f"error: model {theirs.id}: Model not found or access denied (HTTP 404)\n"
    assert not (tmp_path / "x").exists()


def test_the_installed_console_script_runs_against_the_server(env_login, server, model, tmp_path):
    """The real ``pipeline`` executable, in its own process, downloads and verifies."""
    script = Path(sys.executable).with_name("pipeline")
    if not script.exists():
        pytest.skip("the pipeline console script is not installed (pip install -e ./client)")
    env = {**os.environ, "PIPELINE_URL": server, "PIPELINE_TOKEN": env_login}
    target = tmp_path / "model"

    done = subprocess.run(
        [str(script), "download", str(model.id), str(target), "--workers", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for name, content in FILES.items():
        assert (target / name).read_bytes() == content

    checked = subprocess.run([str(script), "verify", str(target)], env=env, capture_output=True, text=True)
    assert checked.returncode == 0
    assert checked.stdout.count(": OK") == len(FILES)
