"""``pipeline login``, the environment override, ``models list|show`` and the one-line errors."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


class RouterPage(BaseHTTPRequestHandler):
    """Some other web server: every path answers 200 with a login page."""

    def do_GET(self) -> None:
        body = b"<!DOCTYPE html>\n<html><head><title>Router login</title></head><body>Password:</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def other_web_server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), RouterPage)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_url_that_is_another_web_site_says_an_html_page_answered(other_web_server, config_home):
    result = run("login", "--url", other_web_server, "--token", "plt_whatever-token")

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {other_web_server}/api/models answered with an HTML page, not the PIPELINE API; "
        f"is {other_web_server} the server's address?\n"
    )
    assert not (config_home / "pipeline" / "config.json").exists()


def test_a_url_with_a_page_path_says_an_html_page_answered(server, token, monkeypatch):
    """The address of a page of the site (copied from the browser) instead of the site's root."""
    monkeypatch.setenv("PIPELINE_URL", f"{server}/models")
    monkeypatch.setenv("PIPELINE_TOKEN", token)

    result = run("models", "list")

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {server}/models/api/models answered with an HTML page (HTTP 404), not the PIPELINE API; "
        f"is {server}/models the server's address?\n"
    )


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


def test_models_list_filters_as_the_models_page_does(env_login, server, alice, bob):
    from django.utils import timezone

    legal = make_artifact(alice, name="Legal clauses r16", score=5)
    make_artifact(alice, name="Legal clauses r8", score=2, verdict="warnings")
    make_artifact(alice, name="SQL helper", score=4, quality_metrics={"convergence_quality": "overfitting detected"})
    make_artifact(alice, name="Gone legal run", score=5, deleted_at=timezone.now())
    make_artifact(bob, name="Bob's legal run", score=5)

    def listed(*args: str) -> tuple[list[str], int]:
        result = run("models", "list", "--json", *args)
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        return sorted(model["name"] for model in data["models"]), data["pagination"]["total"]

    assert listed("--search", "LEGAL") == (["Legal clauses r16", "Legal clauses r8"], 2)
    assert listed("-s", "legal", "--min-score", "4") == (["Legal clauses r16"], 1)
    assert listed("--verdict", "warnings", "--verdict", "ok", "--search", "legal")[1] == 2
    assert listed("--verdict", "warnings") == (["Legal clauses r8"], 1)
    assert listed("--convergence", "overfitting detected") == (["SQL helper"], 1)
    assert listed("--repository", legal.repository.name, "--search", "r16") == (["Legal clauses r16"], 1)
    assert listed("--deleted") == (["Gone legal run"], 1)

    table = run("models", "list", "--search", "no such model")
    assert table.exit_code == 0, table.output
    assert "No models match these filters." in table.stdout

    refused = run("models", "list", "--convergence", "superb")
    assert refused.exit_code == 1
    assert "convergence" in refused.stderr
    assert "Traceback" not in refused.output
    for extra in (("--search", "legal"), ("--sort", "quality")):
        combined = run("models", "list", "--deleted", *extra)
        assert combined.exit_code == 2  # the server would ignore them: refused, not dropped
        assert "--deleted lists every recently deleted model" in combined.stderr
    bad_score = run("models", "list", "--min-score", "9")
    assert bad_score.exit_code == 2  # refused before asking the server
    assert "--min-score" in bad_score.stderr


def test_models_list_table_shows_names_and_stars(env_login, server, alice):
    make_artifact(alice, name="Support bot", score=4)

    result = run("models", "list")

    assert result.exit_code == 0, result.output
    assert "Support bot" in result.stdout
    assert "★★★★☆" in result.stdout
    assert "Page 1 of 1 (1 models)" in result.stdout


def test_models_list_puts_the_verdict_first_and_sizes_in_binary_units(env_login, server, alice, settings, monkeypatch):
    """A server that sends ``verdict``, ``health_summary`` (and a size) on every list item."""
    settings.ROOT_URLCONF = "tests.client.rewriting_urls"
    monkeypatch.setenv("COLUMNS", "160")  # a wide terminal: each model on one line
    broken = make_artifact(alice, name="Diverged run", score=5)
    fine = make_artifact(alice, name="Good run", score=4)
    settings.CLIENT_MODEL_FIELDS = {
        str(broken.id): {"verdict": "unusable", "health_summary": "Loss diverged at step 120", "total_size": 3 << 20},
        str(fine.id): {"verdict": "ok", "health_summary": "Converged", "total_size": 1536},
    }

    result = run("models", "list")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    broken_line = next(line for line in lines if str(broken.id) in line)
    fine_line = next(line for line in lines if str(fine.id) in line)
    assert broken_line.startswith("UNUSABLE ")
    assert fine_line.startswith("ok ")
    assert "3.0 MiB" in broken_line and "1.5 KiB" in fine_line
    assert "Loss diverged at step 120" in result.stdout


def test_models_list_without_verdicts_has_no_verdict_column(capsys):
    from pipeline_client.views import print_models

    print_models({"models": [{"id": "m1", "name": "Old server", "quality_score": 3}], "pagination": {}})

    out = capsys.readouterr().out
    assert "Verdict" not in out and "UNUSABLE" not in out
    assert "Old server" in out and "★★★☆☆" in out


def test_models_show_lists_files_with_checksums_and_binary_sizes(env_login, server, model):
    result = run("models", "show", str(model.id))
    as_json = json.loads(run("models", "show", str(model.id), "--json").stdout)

    assert result.exit_code == 0, result.output
    assert "Support bot v1/final" in result.stdout
    for item in as_json["files"]:
        assert item["filename"] in result.stdout
        assert item["sha256"] in result.stdout
    assert {item["filename"] for item in as_json["files"]} == set(FILES)
    assert "3.0 MiB" in result.stdout  # the weights, 3 MiB and 123 bytes
    assert " MB" not in result.stdout and " KB" not in result.stdout


def test_models_show_says_unusable_before_anything_else(env_login, server, model, settings):
    model.verdict = "unusable"  # as the server stores it for an unusable adapter or a diverged run
    model.save(update_fields=["verdict"])

    result = run("models", "show", str(model.id))

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("UNUSABLE")


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
