import os
import subprocess
import sys

import pytest
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from pipeline.env import env_bool, env_choice, env_float, env_int, env_list, env_str
from pipeline.schedule import parse_cron, shortest_interval_seconds


def test_env_helpers_parse_values(monkeypatch):
    monkeypatch.setenv("X_BOOL", "yes")
    monkeypatch.setenv("X_INT", "42")
    monkeypatch.setenv("X_FLOAT", "2.5")
    monkeypatch.setenv("X_LIST", "a.example, b.example ,,")
    monkeypatch.setenv("X_CHOICE", "S3")
    assert env_bool("X_BOOL", False) is True
    assert env_int("X_INT", 1) == 42
    assert env_float("X_FLOAT", 1.0) == 2.5
    assert env_list("X_LIST", []) == ["a.example", "b.example"]
    assert env_choice("X_CHOICE", "local", ("local", "s3")) == "s3"


def test_env_helpers_use_defaults_when_unset_or_blank(monkeypatch):
    monkeypatch.delenv("X_MISSING", raising=False)
    monkeypatch.setenv("X_BLANK", "  ")
    assert env_int("X_MISSING", 7) == 7
    assert env_str("X_BLANK", "fallback") == "fallback"
    assert env_bool("X_BLANK", True) is True


@pytest.mark.parametrize(
    ("helper", "value", "message"),
    [
        (lambda: env_bool("X_BAD", False), "maybe", "X_BAD must be a boolean"),
        (lambda: env_int("X_BAD", 1), "ten", "X_BAD must be an integer"),
        (lambda: env_int("X_BAD", 1, minimum=1), "0", "X_BAD must be at least 1"),
        (lambda: env_float("X_BAD", 1.0), "fast", "X_BAD must be a number"),
        (lambda: env_float("X_BAD", 1.0), "nan", "X_BAD must be a finite number"),
        (lambda: env_choice("X_BAD", "local", ("local", "s3")), "ftp", "X_BAD must be one of local, s3"),
    ],
)
def test_env_helpers_reject_bad_values_naming_the_variable(monkeypatch, helper, value, message):
    monkeypatch.setenv("X_BAD", value)
    with pytest.raises(ImproperlyConfigured, match=message):
        helper()


def test_file_variant_reads_secret_from_file(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("X_SECRET_FILE", str(secret))
    assert env_str("X_SECRET", "") == "from-a-file"


def test_cron_parsing_and_expiry_interval():
    schedule = parse_cron("ARTIFACT_SWEEP_CRON", "*/2 * * * *")
    assert isinstance(schedule, crontab)
    assert shortest_interval_seconds(schedule) == 120
    assert shortest_interval_seconds(parse_cron("X", "0 */6 * * *")) == 6 * 3600
    with pytest.raises(ImproperlyConfigured, match="five-field"):
        parse_cron("ARTIFACT_SWEEP_CRON", "every two minutes")
    with pytest.raises(ImproperlyConfigured, match="not a valid cron"):
        parse_cron("ARTIFACT_SWEEP_CRON", "*/2 99 * * *")


def test_beat_schedule_is_built_from_settings(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["artifact-sweep"]
    assert entry["task"] == "artifacts.tasks.sweep_completed_jobs"
    assert entry["options"]["expires"] == 110  # just under the two-minute interval


def _settings_in_subprocess(env: dict[str, str], code: str = "print('ok')") -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "SECRET_KEY", "DEBUG"))}
    clean.update(env)
    script = f"import django, os; os.environ['DJANGO_SETTINGS_MODULE']='pipeline.settings'; django.setup(); {code}"
    return subprocess.run([sys.executable, "-c", script], env=clean, capture_output=True, text=True, timeout=60)


def test_production_refuses_default_secret_key():
    result = _settings_in_subprocess({"DEBUG": "false"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_bad_value_stops_start_up_with_clear_message():
    result = _settings_in_subprocess({"ARTIFACT_MAX_ATTEMPTS": "lots"})
    assert result.returncode != 0
    assert "ARTIFACT_MAX_ATTEMPTS must be an integer, got 'lots'" in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CACHE_URL", "memcached://127.0.0.1:11211", "CACHE_URL must be a redis:// or rediss:// URL"),
        ("DOWNLOAD_GRANT_RATE", "sixty per minute", "DOWNLOAD_GRANT_RATE must look like 60/min"),
        ("DOWNLOAD_GRANT_RATE", "0/min", "DOWNLOAD_GRANT_RATE must look like 60/min"),
    ],
)
def test_a_bad_cache_url_or_download_rate_stops_start_up_too(name, value, message):
    result = _settings_in_subprocess({name: value})
    assert result.returncode != 0
    assert message in result.stderr


def test_check_deploy_is_clean_for_production_environment():
    env = {
        "DEBUG": "false",
        "SECRET_KEY": "k" * 20 + "-production-secret-" + "z" * 30,
        "ALLOWED_HOSTS": "models.example.com",
        "SITE_URL": "https://models.example.com",
    }
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "SECRET_KEY", "DEBUG"))}
    clean.update(env)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_with_local_storage_requires_site_url():
    result = _settings_in_subprocess({"DEBUG": "false", "SECRET_KEY": "s" * 60})
    assert result.returncode != 0
    assert "SITE_URL must be set" in result.stderr
