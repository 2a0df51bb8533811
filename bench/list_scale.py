"""Models list at scale: 100,000 artifacts for one user (plus 20,000 for another) on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/list_bench python bench/list_scale.py [--repeats 30]

Seeds the database once with ``bulk_create`` (skipped when the rows are already there), then times
the API's first page for both sorts, a middle and the last page, a ``q`` search and the ``/models``
page through Django's test client, in process. Prints p50/p95 in milliseconds and the number of
queries each request made. ``--explain`` also prints ``EXPLAIN ANALYZE`` of every query of one request
per case. Targets (DESIGN §13): first page p95 <= 30 ms, any page <= 60 ms, ``q`` <= 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pipeline.settings")
os.environ.setdefault("LOG_LEVEL", "warning")

MAIN_USER_MODELS = 100_000
OTHER_USER_MODELS = 20_000
BATCH = 5_000
WORDS = ["support", "legal", "sql", "medical", "chat", "code", "finance", "poetry", "recipes", "travel"]
LABELS = ["excellent", "good", "fair", "poor"]


def seed(username: str, count: int, rng: random.Random) -> None:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from artifacts.models import ModelArtifact, Repository
    from pipeline.models import Dataset, TrainingJob

    user, _ = get_user_model().objects.get_or_create(username=username, defaults={"email": f"{username}@example.com"})
    have = ModelArtifact.objects.filter(user=user).count()
    if have >= count:
        return
    datasets = [Dataset(user=user, name=f"{word.title()} set", total_training_pairs=1000) for word in WORDS]
    Dataset.objects.bulk_create(datasets)
    repositories = [Repository.objects.default_for(user.pk, dataset.name, None) for dataset in datasets]
    start = timezone.now() - timedelta(days=400)
    hyper = {"learning_rate": 0.0002, "batch_size": 8, "epochs": 3, "rank": 16}
    gpu = {"type": "A100-80GB", "count": 2}
    inspection = {"verdict": "ok", "findings": [{"code": "ok", "text": "x" * 80}] * 20, "tensors": list(range(300))}
    health = {"rating": "good", "sentences": ["The loss fell steadily over the run." * 3] * 12}
    for offset in range(have, count, BATCH):
        jobs, artifacts = [], []
        for i in range(offset, min(count, offset + BATCH)):
            created = start + timedelta(seconds=i * 300 + rng.randint(0, 120))
            dataset = datasets[i % len(datasets)]
            job = TrainingJob(
                user=user,
                dataset=dataset,
                status=TrainingJob.Status.COMPLETED,
                preset_id="balanced",
                hyperparameters=hyper,
                gpu_config=gpu,
                external_job_id=f"{username}-{i}",
                completed_at=created,
                created_at=created,
            )
            jobs.append(job)
            score = rng.randint(1, 5)
            label = LABELS[5 - score] if score > 1 else "poor"
            word = WORDS[rng.randrange(len(WORDS))]
            artifacts.append(
                ModelArtifact(
                    user=user,
                    job=job,
                    dataset=dataset,
                    repository=repositories[i % len(datasets)],
                    name=f"{word.title()} adapter {i:06d} r{rng.randint(4, 64)}",
                    quality_metrics={
                        "overall_score": score,
                        "convergence_quality": label,
                        "final_training_loss": round(rng.random(), 4),
                        "final_validation_loss": round(rng.random(), 4),
                        "perplexity": 1.8,
                        "loss_improvement": 70.0,
                    },
                    quality_score=score,
                    training_summary={"epochs_completed": 3, "total_steps": 300, "final_loss": 0.5},
                    configuration={"preset_id": "balanced", "hyperparameters": hyper, "gpu_config": gpu},
                    artifacts={
                        name: f"{user.pk}/{i}/{name}"
                        for name in ("adapter_config.json", "adapter_model.safetensors", "tokenizer_config.json")
                    },
                    inspection=inspection,
                    training_health=health,
                    created_at=created,
                )
            )
        TrainingJob.objects.bulk_create(jobs)
        ModelArtifact.objects.bulk_create(artifacts)
        print(f"  {username}: {offset + len(artifacts):,} / {count:,}", flush=True)


def timed(client, url: str, repeats: int) -> tuple[list[float], int, list[str]]:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    samples = []
    reset_queries()  # each request resets the log: count from an empty one
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.content[:300])
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return samples, len(captured), [q["sql"] for q in captured.captured_queries]


def explain(sqls: list[str]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for sql in sqls:
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            print("    " + sql[:300])
            for (line,) in cursor.fetchall():
                print("      " + line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--seed-only", action="store_true")
    parser.add_argument("--json", action="store_true", help="Print one JSON line of results.")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    if connection.vendor != "postgresql":
        raise SystemExit("Set DATABASE_URL to a PostgreSQL database: the targets are for PostgreSQL.")
    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    rng = random.Random(13)
    seed("scale-main", MAIN_USER_MODELS, rng)
    seed("scale-other", OTHER_USER_MODELS, rng)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE lora_model_artifacts")
        cursor.execute("VACUUM ANALYZE lora_training_jobs")
    if args.seed_only:
        return

    client = Client()
    client.force_login(get_user_model().objects.get(username="scale-main"))
    last = -(-MAIN_USER_MODELS // 12)
    cases = [
        ("api first page (created_at)", "/api/models"),
        ("api first page (quality)", "/api/models?sort=quality"),
        ("api page 50 (created_at)", "/api/models?page=50"),
        ("api page 5000 (created_at)", "/api/models?page=5000"),
        (f"api last page {last} (created_at)", f"/api/models?page={last}"),
        (f"api last page {last} (quality)", f"/api/models?page={last}&sort=quality"),
        ("api first page limit 100", "/api/models?limit=100"),
        ("api q=legal adapter 0042", "/api/models?q=adapter%200042"),
        ("api q=legal (10% match)", "/api/models?q=legal"),
        ("api filter min_score=5", "/api/models?min_score=5&sort=quality"),
        ("/models page 1", "/models"),
        (f"/models page {last}", f"/models?page={last}"),
    ]
    results = {}
    for label, url in cases:
        samples, queries, sqls = timed(client, url, args.repeats)
        p50 = statistics.median(samples)
        p95 = statistics.quantiles(samples, n=20)[-1] if len(samples) >= 2 else samples[0]
        results[label] = {"p50_ms": round(p50, 1), "p95_ms": round(p95, 1), "queries": queries}
        print(f"{label:38s} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  queries {queries}", flush=True)
        if args.explain:
            explain(sqls)
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
