"""A realistic account at scale, filled once and reused: what ``bench/list_scale.py`` measures.

Each artifact is stored as ingest stores it (``artifacts/services/ingest/record.py``): its job
(with the run's hyperparameters and final metrics), the quality metrics and training health scored
from a demo run's loss history (``pipeline.demo_data``), the inspection of the adapter the cluster
simulator generates for that run (``pipeline/simulator``), the stored verdict, three file rows
(``adapter_config.json``, ``adapter_model.safetensors``, ``README.md``), an ingest record, and
for some a bundle (most ready, a few failed). About 5 % are soft-deleted, at a moment between
their creation and now (so a few of them are still within the retention period). Users: one with
``BENCH_LIST_ARTIFACTS`` (default 100,000) models, one with 20,000 and five with 200 each.

The rows go in with ``bulk_create`` in batches (about 1-3 minutes for 100,000 artifacts and
300,000 file rows on 2 cores). A marker table, ``bench_scale_fill``, records what was filled:
a later run with the same shape reuses the database; ``BENCH_REFILL=1`` empties it and fills again.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

MARKER_TABLE = "bench_scale_fill"
SHAPE_VERSION = 3  # bump when the filled rows change shape: an older fill is then refilled
BATCH = 2_000
SMALL_USERS = 5
SMALL_USER_MODELS = 200
OTHER_USER_MODELS = 20_000
DELETED_SHARE = 0.05
# Runs whose adapter cannot be used (the demo's fault cases) are the exception in a real account:
# each of them is picked this many times less often than a usable run (about 5 % unusable).
UNUSABLE_RARITY = 15
BUNDLE_SHARE = 0.10
FILES_PER_ARTIFACT = 3
DATASETS = ["Support chats", "Legal clauses", "SQL pairs", "Medical notes", "Python Code Review Pairs", "Recipes"]
PRESETS = ["balanced", "fast", "quality"]


@dataclass(frozen=True)
class RunShape:
    """One demo run as ingest scored it: what every artifact cloned from it stores."""

    slug: str
    hyperparameters: dict[str, Any]
    quality: dict[str, Any]
    health: dict[str, Any]
    inspection: dict[str, Any]
    verdict: str
    adapter_bytes: int
    config_text: str


def run_shapes() -> list[RunShape]:
    """Score every completed demo run and inspect the adapter the simulator makes for it (a small
    one: the same tensors for a few layers, so the inspection JSON has the real shape)."""
    from artifacts.health.quality import calculate_quality_metrics
    from artifacts.health.training_health import training_health
    from artifacts.health.verdict import model_verdict
    from artifacts.inspection.inspector import inspect_files
    from pipeline.demo_data import JOBS, loss_history
    from pipeline.lib.numbers import json_safe
    from pipeline.models import TrainingJob
    from pipeline.simulator.files import AdapterSpec, generate, spec_for_job

    shapes = []
    with tempfile.TemporaryDirectory(prefix="bench-shapes-") as cache:
        for job in JOBS:
            if job.status != TrainingJob.Status.COMPLETED:
                continue
            points = [{"training_loss": t, "validation_loss": v} for _, t, v in loss_history(job)]
            spec = spec_for_job(
                job.external_job_id, AdapterSpec.from_hyperparameters(job.hyperparameters, adapter_bytes=256 * 1024)
            )
            manifest = generate(Path(cache), job.external_job_id, spec)
            handles = [(name, entry.path.open("rb")) for name, entry in manifest.files.items()]
            try:
                inspection = inspect_files(handles, job.hyperparameters, adapter_name=f"{job.slug}-adapter")
            finally:
                for _, handle in handles:
                    handle.close()
            health = json_safe(dict(training_health(points)))
            quality = json_safe(calculate_quality_metrics(points))
            config = manifest.files.get("adapter_config.json")
            full = AdapterSpec.from_hyperparameters(job.hyperparameters)
            shapes.append(
                RunShape(
                    slug=job.slug,
                    hyperparameters=dict(job.hyperparameters),
                    quality=quality,
                    health=health,
                    inspection=inspection,
                    verdict=model_verdict(inspection, health),
                    # The full adapter's size (every layer), as the file row of a real ingest says.
                    adapter_bytes=full.layer_bytes * full.num_layers,
                    config_text=config.path.read_text() if config else "{}",
                )
            )
    return shapes


def marker(cursor: Any) -> dict[str, Any] | None:
    cursor.execute("SELECT to_regclass(%s)", [MARKER_TABLE])
    if cursor.fetchone()[0] is None:
        return None
    cursor.execute(f"SELECT shape FROM {MARKER_TABLE} LIMIT 1")  # noqa: S608 (constant)
    row = cursor.fetchone()
    return json.loads(row[0]) if row else None


def wanted_shape(count: int) -> dict[str, Any]:
    return {
        "version": SHAPE_VERSION,
        "main": count,
        "other": OTHER_USER_MODELS,
        "small": [SMALL_USERS, SMALL_USER_MODELS],
        "files": FILES_PER_ARTIFACT,
    }


def ensure_filled(count: int, *, refill: bool = False) -> tuple[str, float]:
    """Fill the database unless the marker says it holds this shape already.
    Returns ``("reused" | "filled", seconds)``."""
    from django.core.management import call_command
    from django.db import connection

    started = time.perf_counter()
    if os.environ.get("BENCH_MIGRATE", "1") != "0":  # 0: keep the schema as it is (to compare migrations)
        call_command("migrate", verbosity=0)
    shape = wanted_shape(count)
    with connection.cursor() as cursor:
        if not refill and marker(cursor) == shape:
            return "reused", time.perf_counter() - started
        empty_tables(cursor)
    fill(count)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (shape text NOT NULL, filled_at timestamptz)")
        cursor.execute(f"DELETE FROM {MARKER_TABLE}")  # noqa: S608 (constant)
        cursor.execute(f"INSERT INTO {MARKER_TABLE} VALUES (%s, now())", [json.dumps(shape)])  # noqa: S608
    return "filled", time.perf_counter() - started


def empty_tables(cursor: Any) -> None:
    """Every table the fill writes, and what hangs off its users (a refill starts from nothing)."""
    cursor.execute(f"DROP TABLE IF EXISTS {MARKER_TABLE}")
    cursor.execute(
        "SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables WHERE schemaname = 'public' "
        "AND tablename NOT IN ('django_migrations', 'django_content_type', 'auth_permission', 'django_site')"
    )
    tables = cursor.fetchone()[0]
    if tables:
        cursor.execute(f"TRUNCATE {tables} CASCADE")


def fill(count: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")
    shapes = run_shapes()
    rng = random.Random(22)
    users = get_user_model()
    owners = [("scale-main", count), ("scale-other", OTHER_USER_MODELS)]
    owners += [(f"scale-small-{n}", SMALL_USER_MODELS) for n in range(SMALL_USERS)]
    users.objects.create_superuser("scale-staff", "staff@example.com", "bench-staff-password")
    for username, models in owners:
        user = users.objects.create_user(username, f"{username}@example.com", "bench-password")
        fill_user(user, models, shapes, rng)


def fill_user(user: Any, count: int, shapes: list[RunShape], rng: random.Random, first: int = 0) -> None:
    """``count`` artifacts for ``user``, numbered from ``first`` (a second call adds more)."""
    from django.db import transaction
    from django.db.models import OuterRef, Subquery
    from django.utils import timezone

    from artifacts.models import ArtifactFile, ArtifactIngest, Bundle, ModelArtifact, Repository
    from artifacts.services import registry
    from artifacts.services.usage import recount_storage
    from pipeline.models import Dataset, TrainingJob

    now = timezone.now()
    datasets = Dataset.objects.bulk_create(
        Dataset(
            user=user, name=name, total_training_pairs=rng.randint(500, 50_000), total_tokens=rng.randint(10**5, 10**8)
        )
        for name in DATASETS
    )
    # Each model joins its dataset's repository, as ingest's registry puts it (DESIGN §15).
    repositories = {dataset.pk: Repository.objects.default_for(user.pk, dataset.name, None) for dataset in datasets}
    # Spread over a year and a bit, oldest first, a few minutes apart: ingest order.
    span = timedelta(days=400)
    step = span / max(count, 1)
    names_per_day: dict[str, int] = {}
    weights = list(itertools.accumulate(1 if shape.verdict == "unusable" else UNUSABLE_RARITY for shape in shapes))
    began = time.perf_counter()
    for offset in range(0, count, BATCH):
        numbers = range(offset, min(count, offset + BATCH))
        jobs, artifacts, files, ingests, bundles = [], [], [], [], []
        for n in numbers:
            shape = rng.choices(shapes, cum_weights=weights)[0]
            dataset = datasets[rng.randrange(len(datasets))]
            preset = PRESETS[rng.randrange(len(PRESETS))]
            created = now - span + step * n + timedelta(seconds=rng.randint(0, 30))
            started = created - timedelta(hours=rng.uniform(0.5, 6))
            hyper = {**shape.hyperparameters, "learning_rate": rng.choice([1e-4, 2e-4, 3e-4])}
            rank = hyper.get("rank", 16)
            job = TrainingJob(
                id=uuid.uuid4(),
                user=user,
                dataset=dataset,
                status=TrainingJob.Status.COMPLETED,
                preset_id=preset,
                hyperparameters=hyper,
                gpu_config={"type": "A100-80GB", "count": rng.choice([1, 2, 4])},
                external_job_id=f"{user.username}-{first + n}",
                current_epoch=3,
                current_step=975,
                current_metrics={"training_loss": shape.quality.get("final_training_loss"), "epoch": 3},
                queued_at=started - timedelta(minutes=3),
                started_at=started,
                completed_at=created - timedelta(minutes=2),
                estimated_total_cost=round(rng.uniform(2, 80), 2),
                final_cost=round(rng.uniform(2, 80), 2),
                created_at=started - timedelta(minutes=3),
            )
            day = created.date().isoformat()
            base = f"{dataset.name} · {preset} · r{rank} · {day}"
            seen = names_per_day[base] = names_per_day.get(base, 0) + 1
            name = base if seen == 1 else f"{base} ({seen})"
            artifact_id = uuid.uuid4()
            keys = {
                "adapter_config.json": f"{user.pk}/{artifact_id}/adapter_config.json",
                "adapter_model.safetensors": f"{user.pk}/{artifact_id}/adapter_model.safetensors",
                "README.md": f"{user.pk}/{artifact_id}/README.md",
            }
            deleted = rng.random() < DELETED_SHARE
            artifact = ModelArtifact(
                id=artifact_id,
                user=user,
                job=job,
                dataset=dataset,
                repository=repositories[dataset.pk],
                name=name,
                quality_metrics=shape.quality,
                quality_score=shape.quality.get("overall_score") or 0,
                training_summary={
                    "epochs_completed": 3,
                    "total_steps": 975,
                    "final_loss": shape.quality.get("final_training_loss"),
                    "training_duration_hours": round((created - started).total_seconds() / 3600, 2),
                    "total_cost": float(job.final_cost),
                },
                configuration={"preset_id": preset, "hyperparameters": hyper, "gpu_config": job.gpu_config},
                artifacts=keys,
                inspection=shape.inspection,
                training_health=shape.health,
                verdict=shape.verdict,
                links_handed_out=rng.choice([0, 0, 0, 1, 2, 5]),
                deleted_at=created + (now - created) * rng.random() if deleted else None,
                created_at=created,
            )
            sizes = {
                "adapter_config.json": len(shape.config_text),
                "adapter_model.safetensors": shape.adapter_bytes,
                "README.md": rng.randint(2_000, 6_000),
            }
            for filename, key in keys.items():
                files.append(
                    ArtifactFile(
                        artifact=artifact,
                        filename=filename,
                        key=key,
                        size=sizes[filename],
                        sha256=hashlib.sha256(key.encode()).hexdigest(),
                        content_type="application/json" if filename.endswith(".json") else "application/octet-stream",
                    )
                )
            ingests.append(
                ArtifactIngest(
                    job=job,
                    artifact_id=artifact_id,
                    state=ArtifactIngest.State.SUCCEEDED,
                    attempts=1,
                    bytes_done=sum(sizes.values()),
                    bytes_total=sum(sizes.values()),
                    started_at=created - timedelta(seconds=rng.uniform(5, 90)),
                    finished_at=created,
                    created_at=job.completed_at,
                )
            )
            if rng.random() < BUNDLE_SHARE:
                ready = rng.random() < 0.9
                bundles.append(
                    Bundle(
                        artifact=artifact,
                        state=Bundle.State.READY if ready else Bundle.State.FAILED,
                        key=f"{user.pk}/{artifact_id}/bundle/{name[:40]}.zip" if ready else "",
                        filename="model.zip" if ready else "",
                        size=sum(sizes.values()) + 40_000 if ready else None,
                        last_error="" if ready else "Storage refused the upload (503).",
                        last_used_at=created + timedelta(days=rng.randint(0, 20)),
                        finished_at=created + timedelta(minutes=1),
                        created_at=created,
                        updated_at=created + timedelta(minutes=1),
                    )
                )
            jobs.append(job)
            artifacts.append(artifact)
        with transaction.atomic():
            TrainingJob.objects.bulk_create(jobs)
            ModelArtifact.objects.bulk_create(artifacts)
            ArtifactFile.objects.bulk_create(files)
            ArtifactIngest.objects.bulk_create(ingests)
            Bundle.objects.bulk_create(bundles)
        done = numbers.stop
        if done % 20_000 == 0 or done == count:
            rate = done / max(time.perf_counter() - began, 1e-6)
            print(f"  {user.username}: {done:,} / {count:,} artifacts ({rate:,.0f}/s)", flush=True)
    linked = ModelArtifact.objects.filter(job_id=OuterRef("pk")).values("pk")[:1]
    TrainingJob.objects.filter(user=user).update(artifact_id=Subquery(linked))  # as ingest links them
    for repository in repositories.values():  # ``main`` at the newest usable revision, as ingest leaves it
        registry.follow_main(repository)
    recount_storage(user)  # the storage counters ingest keeps, from the rows just written
