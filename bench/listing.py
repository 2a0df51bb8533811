"""The models list at scale (DESIGN §13), on PostgreSQL only: when ``BENCH_DATABASE_URL`` or
``DATABASE_URL`` names a PostgreSQL database, a scratch database ``<name>_bench`` is created on the
same server (and dropped after), 100,000 artifacts are seeded for one user and 20,000 for another
(``BENCH_LIST_ARTIFACTS`` scales the first), and requests are timed in-process through Django's test
client (middleware, DRF, serialization and SQL; no HTTP), ``BENCH_LIST_RUNS`` (default 30) each.

Targets: first page p95 ≤ 30 ms (both sorts), any page ≤ 60 ms, ``q`` search ≤ 50 ms, the same
number of queries whatever the page size and depth."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from bench.common import Row, app_env, run_script

LIST_SCRIPT = r"""
import json, math, os, statistics, time
from datetime import timedelta
import django
django.setup()
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
call_command("collectstatic", interactive=False, verbosity=0)  # DEBUG=false pages need the manifest
from django.contrib.auth import get_user_model
from pipeline.models import Dataset, TrainingJob
from artifacts.models import ModelArtifact, Repository

call_command("migrate", verbosity=0)
WORDS = ["support", "legal", "medical", "code", "chat", "summary", "sql", "poetry"]
CONVERGENCE = ["excellent", "good", "fair", "poor"]

def seed(username, count):
    user = get_user_model().objects.create_user(username, f"{username}@example.com", "x")
    datasets = Dataset.objects.bulk_create(Dataset(user=user, name=f"{username} dataset {i}") for i in range(5))
    repositories = [Repository.objects.default_for(user.pk, dataset.name, None) for dataset in datasets]
    now = timezone.now()
    for start in range(0, count, 5000):
        numbers = range(start, min(count, start + 5000))
        jobs = TrainingJob.objects.bulk_create(
            TrainingJob(user=user, dataset=datasets[n % 5], status="completed", external_job_id=f"{username}-{n}",
                        hyperparameters={"rank": 16, "learning_rate": 0.0002, "epochs": 3},
                        completed_at=now - timedelta(minutes=n)) for n in numbers)
        ModelArtifact.objects.bulk_create(
            ModelArtifact(user=user, job=job, dataset=job.dataset, repository=repositories[n % 5],
                          name=f"{WORDS[n % 8]}-adapter-{n}",
                          quality_score=n % 5 + 1, created_at=now - timedelta(minutes=n),
                          quality_metrics={"quality_score": n % 5 + 1, "convergence_quality": CONVERGENCE[n % 4]},
                          artifacts={"adapter_model.safetensors": f"{user.pk}/{job.pk}/adapter_model.safetensors"})
            for n, job in zip(numbers, jobs))
    return user

started = time.perf_counter()
big = seed("bench-big", int(os.environ["BENCH_LIST_ARTIFACTS"]))
small = seed("bench-small", 20000)
with connection.cursor() as cursor:
    cursor.execute("VACUUM ANALYZE")
seeded = time.perf_counter() - started

def timed(client, url, runs):
    for _ in range(3):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
    values = []
    for _ in range(runs):
        began = time.perf_counter()
        response = client.get(url)
        values.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, url
    values.sort()
    return {"p50": statistics.median(values), "p95": values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]}

def queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)

runs = int(os.environ.get("BENCH_LIST_RUNS", "30"))
client = Client()
client.force_login(big)
last = math.ceil(int(os.environ["BENCH_LIST_ARTIFACTS"]) / 12)
results = {
    "seconds_to_seed": seeded,
    "first_recent": timed(client, "/api/models", runs),
    "first_quality": timed(client, "/api/models?sort=quality", runs),
    "deep": timed(client, f"/api/models?page={last}", runs),
    "deep_quality": timed(client, f"/api/models?sort=quality&page={last // 2}", runs),
    "search": timed(client, "/api/models?q=poetry", runs),
    "page": timed(client, "/models", runs),
    "queries": [queries(client, "/api/models"), queries(client, f"/api/models?page={last}"),
                queries(client, "/api/models?limit=100")],
    "last_page": last,
}
other = Client()
other.force_login(small)
results["small_first"] = timed(other, "/api/models", runs)
print(json.dumps(results))
"""


def database_url() -> str | None:
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


def bench_listing() -> list[Row]:
    url = database_url()
    if url is None:
        print("  DATABASE_URL is not PostgreSQL: list-at-scale skipped")
        return [Row("models list at 100,000 artifacts", "skipped (needs DATABASE_URL=postgres://...)", "")]
    import psycopg

    from deploy.prod_check import drop_database, reset_database

    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    scratch = psycopg.conninfo.make_conninfo(url, dbname=f"{name}_bench")
    scratch_url = urlsplit(url)._replace(path=f"/{name}_bench").geturl()
    count = int(os.environ.get("BENCH_LIST_ARTIFACTS", "100000"))
    reset_database(scratch)
    var = Path(tempfile.mkdtemp(prefix="bench-list-"))
    try:
        env = app_env(var, DATABASE_URL=scratch_url, BENCH_LIST_ARTIFACTS=str(count), DEBUG="false")
        env.update({"SECRET_KEY": "bench-" + "k" * 60, "SITE_URL": "http://testserver", "SECURE_SSL_REDIRECT": "false"})
        print(f"  seeding {count:,} + 20,000 artifacts into {name}_bench…", flush=True)
        result = json.loads(run_script(LIST_SCRIPT, env))
    finally:
        drop_database(scratch)
        shutil.rmtree(var, ignore_errors=True)
    print(f"  seeded in {result['seconds_to_seed']:.0f} s")

    def row(label: str, key: str, target: float) -> Row:
        figures = result[key]
        return Row(
            label,
            f"p50 {figures['p50']:.1f} ms, p95 {figures['p95']:.1f} ms",
            f"p95 <= {target:.0f} ms",
            figures["p95"] / target,
            figures["p95"] <= target,
        )

    counts = result["queries"]
    return [
        row(f"GET /api/models newest, page 1 of {count:,}", "first_recent", 30),
        row(f"GET /api/models?sort=quality, page 1 of {count:,}", "first_quality", 30),
        row(f"GET /api/models page {result['last_page']:,} (last)", "deep", 60),
        row(f"GET /api/models?sort=quality page {result['last_page'] // 2:,}", "deep_quality", 60),
        row("GET /api/models?q=poetry (1 in 8 match)", "search", 50),
        row("GET /models page (HTML), page 1", "page", 60),
        row("GET /api/models page 1, user with 20,000", "small_first", 30),
        Row(
            "queries: page 1 / last page / limit=100",
            " / ".join(str(c) for c in counts),
            "constant",
            None,
            len(set(counts)) == 1,
        ),
    ]
