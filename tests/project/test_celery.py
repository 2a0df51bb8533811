"""A task really crosses process boundaries through the broker: filesystem by default, Redis in CI."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings

from tests.conftest import needs_service, redis_url

BASE_DIR = Path(settings.BASE_DIR)


def _round_trip(env: dict[str, str], client: Celery) -> None:
    queue = f"roundtrip-{uuid.uuid4().hex[:8]}"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "pipeline",
            "worker",
            "--pool",
            "solo",
            "-Q",
            queue,
            "--loglevel",
            "WARNING",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=BASE_DIR,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        result = client.send_task("pipeline.ping", queue=queue)
        assert result.get(timeout=60) == "pong"
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0].decode(errors="replace")
    assert "Traceback" not in output, output


def test_task_round_trips_through_the_filesystem_broker(tmp_path, monkeypatch):
    # Celery lets these variables override any app configuration: clear them for the client.
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.delenv("CELERY_RESULT_BACKEND", raising=False)
    var = tmp_path / "var"
    client = Celery("roundtrip-client", set_as_current=False)
    client.conf.update(
        broker_url="filesystem://",
        broker_transport_options={
            "data_folder_in": str(var / "broker" / "queue"),
            "data_folder_out": str(var / "broker" / "queue"),
            "control_folder": str(var / "broker" / "control"),
        },
        result_backend=f"file://{var / 'celery-results'}",
    )
    for folder in ("broker/queue", "broker/control", "celery-results"):
        (var / folder).mkdir(parents=True, exist_ok=True)
    _round_trip({"VAR_DIR": str(var), "CELERY_BROKER_URL": "filesystem://", "CELERY_RESULT_BACKEND": ""}, client)


@pytest.mark.integration
def test_task_round_trips_through_redis():
    url = redis_url()
    if url is None:
        needs_service("CELERY_BROKER_URL does not point at Redis")
    client = Celery("roundtrip-client", broker=url, backend=url, set_as_current=False)
    _round_trip({"CELERY_BROKER_URL": url, "CELERY_RESULT_BACKEND": url}, client)
