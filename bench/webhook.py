"""Webhook → stored: from the cluster's signed POST to the artifact row, through gunicorn and a
Celery worker started with ``deploy/run``, for a 10 MiB adapter, ``BENCH_WEBHOOK_RUNS`` (default 10)
times per broker: the filesystem broker (the embedded default) and Redis (``BENCH_REDIS_URL``,
default ``redis://127.0.0.1:6379/12``, flushed; skipped when unreachable). Target (DESIGN §13 /
the scale issue): p50 < 250 ms on Redis; the filesystem broker's figure is reported as information
(it polls its folder, so it is slower by design).

"Stored" is the moment the job's ``artifact_id`` is seen in the database, which is polled every
20 ms: each figure includes up to 20 ms (10 on average) of that polling."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.common import (
    RUN,
    SECRET,
    Row,
    app_env,
    listing,
    p50,
    port,
    processes,
    run_script,
    start_simulator,
    wait_http,
)

SETUP_SCRIPT = r"""
import sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth import get_user_model
from pipeline.models import TrainingJob
user = get_user_model().objects.create_user("bench", "b@example.com", "x")
TrainingJob.objects.bulk_create(
    TrainingJob(user=user, status="running", external_job_id=f"bench-hook-{i}") for i in range(int(sys.argv[1]))
)
"""


REDIS_TARGET_SECONDS = 0.25


def redis_url() -> str | None:
    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.flushdb()
        client.close()
    except Exception as exc:
        print(f"  Redis at {url} unreachable ({type(exc).__name__}): Redis row skipped")
        return None
    return url


def post_webhook(web: str, job: str) -> None:
    body = json.dumps({"external_job_id": job, "status": "completed"}).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        f"{web}/api/webhooks/training-complete",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "X-Signature-256": signature},
    )
    urllib.request.urlopen(request, timeout=30).read()  # noqa: S310 (loopback)


def latencies(broker: str, runs: int) -> list[float]:
    var = Path(tempfile.mkdtemp(prefix="bench-webhook-"))
    try:
        with processes() as group:
            sim = start_simulator(group, var, 10)
            web_port = port()
            env = app_env(var, GPU_CLUSTER_API_URL=sim, CELERY_BROKER_URL=broker)
            if broker.startswith("redis"):
                env["CACHE_URL"] = broker
            run_script(SETUP_SCRIPT, env, str(runs))
            for i in range(runs):
                listing(sim, f"bench-hook-{i}")  # generate the files up front: we time our side only
            group.start([RUN, "web"], {**env, "WEB_BIND": f"127.0.0.1:{web_port}", "WEB_CONCURRENCY": "1"})
            worker_log = var / "worker.log"
            group.start([RUN, "worker"], {**env, "WORKER_CONCURRENCY": "2", "WORKER_NAME": "bench"}, worker_log)
            web = f"http://127.0.0.1:{web_port}"
            wait_http(f"{web}/status")
            deadline = time.monotonic() + 90
            while " ready." not in worker_log.read_text() and time.monotonic() < deadline:
                time.sleep(0.2)
            database = sqlite3.connect(var / "bench.sqlite3", timeout=30)
            results = []
            for i in range(runs):
                started = time.perf_counter()
                post_webhook(web, f"bench-hook-{i}")
                while time.perf_counter() < started + 60:
                    row = database.execute(
                        "SELECT artifact_id FROM lora_training_jobs WHERE external_job_id = ?", (f"bench-hook-{i}",)
                    ).fetchone()
                    if row and row[0]:
                        break
                    time.sleep(0.02)
                else:
                    raise SystemExit(f"job bench-hook-{i} was not stored within 60 s ({broker})")
                results.append(time.perf_counter() - started)
            database.close()
            return results
    finally:
        shutil.rmtree(var, ignore_errors=True)


def bench_webhook() -> list[Row]:
    runs = int(os.environ.get("BENCH_WEBHOOK_RUNS", "10"))
    rows = []
    brokers = [("filesystem broker", "filesystem://")]
    redis = redis_url()
    if redis:
        brokers.append(("Redis", redis))
    for label, broker in brokers:
        values = latencies(broker, runs)
        middle = p50(values)
        figure = f"{middle:.2f} s (min {min(values):.2f}, max {max(values):.2f})"
        measure = f"webhook -> stored p50 of {runs}, 10 MiB ({label})"
        if broker == "filesystem://":
            rows.append(Row(measure, figure, "information"))
        else:
            rows.append(Row(measure, figure, "< 0.25 s", middle / REDIS_TARGET_SECONDS, middle < REDIS_TARGET_SECONDS))
    return rows
