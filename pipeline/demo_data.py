"""Demo data: one user, three datasets, completed jobs of every quality, two running jobs.

Ids are derived from stable names (uuid5), so loading twice finds everything already there.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from pipeline.models import Dataset, MetricsPoint, TrainingJob

NAMESPACE = uuid.UUID("7c0d7a36-5a4b-4f55-9a0e-3c1f1d0f5e21")
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "pipeline-demo"  # noqa: S105 (the documented demo login)


def stable_id(name: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, name)


@dataclass(frozen=True)
class DemoJob:
    slug: str
    dataset: str
    start_loss: float
    end_loss: float
    val_gap: float | None  # validation minus training at the end; None: no validation logged
    hours: float
    cost: str
    preset: str = "balanced"
    rank: int = 16
    days_ago: float = 1
    diverge: bool = False
    status: str = TrainingJob.Status.COMPLETED
    external: str | None = None


DATASETS = {
    "support": ("Customer Support Conversations", 12_480, 4_310_000),
    "legal": ("Contract Clause Extraction", 5_200, 2_950_000),
    "code": ("Python Code Review Pairs", 18_900, 9_120_000),
}

JOBS = [
    DemoJob("excellent", "support", 2.45, 0.32, 0.08, 3.2, "48.60", preset="quality", rank=32, days_ago=0.5),
    DemoJob("good", "legal", 2.20, 0.78, 0.15, 2.1, "29.40", days_ago=1.5),
    DemoJob("fair", "code", 2.55, 1.62, 0.20, 1.4, "18.75", preset="fast", rank=8, days_ago=2.5),
    DemoJob("overfitting", "support", 2.30, 0.28, 0.95, 4.0, "61.20", preset="quality", rank=64, days_ago=3.5),
    DemoJob("poor", "legal", 2.60, 2.31, 0.10, 0.9, "12.10", preset="fast", rank=8, days_ago=4.5),
    DemoJob("no-validation", "code", 2.10, 0.44, None, 2.6, "35.00", days_ago=5.5),
    DemoJob("diverged", "support", 2.40, 2.0, 0.3, 1.1, "15.90", preset="aggressive", days_ago=6.5, diverge=True),
    DemoJob("good-code", "code", 1.95, 0.62, 0.22, 2.8, "38.20", rank=32, days_ago=7.5),
    DemoJob(
        "broken-files",
        "legal",
        2.35,
        0.55,
        0.2,
        1.9,
        "26.30",
        days_ago=0.2,
        external="sim-demo-broken-missing-file",
    ),
    DemoJob("running-a", "support", 2.4, 1.1, 0.1, 0, "0", status=TrainingJob.Status.RUNNING, days_ago=0.1),
    DemoJob("running-b", "code", 2.2, 1.4, 0.1, 0, "0", status=TrainingJob.Status.RUNNING, days_ago=0.05),
]


def loss_history(job: DemoJob, steps: int = 40) -> list[tuple[int, float, float | None]]:
    rng = random.Random(job.slug)
    points: list[tuple[int, float, float | None]] = []
    for i in range(steps):
        progress = i / (steps - 1)
        train = job.end_loss + (job.start_loss - job.end_loss) * math.exp(-4 * progress) * (1 - progress * 0.02)
        if i == steps - 1:
            train = job.end_loss
        else:
            train *= 1 + rng.uniform(-0.02, 0.02)
        if job.diverge and progress > 0.6:
            blow_up = (progress - 0.6) * 40
            train = float("nan") if i >= steps - 3 else job.end_loss * math.exp(blow_up)
        val: float | None = None
        if job.val_gap is not None and (i % 5 == 4 or i == steps - 1):
            val = train + job.val_gap * progress if math.isfinite(train) else float("nan")
        points.append((i * 25, train, val))
    return points


@transaction.atomic
def load_demo_data() -> dict[str, int]:
    """Create what is missing; return how many rows of each kind were created."""
    created = {"users": 0, "datasets": 0, "jobs": 0, "metrics_points": 0}
    User = get_user_model()
    user = User.objects.filter(username=DEMO_USERNAME).first()
    if user is None:
        user = User.objects.create_user(DEMO_USERNAME, "demo@example.com", DEMO_PASSWORD)
        created["users"] += 1

    now = timezone.now()
    datasets: dict[str, Dataset] = {}
    for key, (name, pairs, tokens) in DATASETS.items():
        dataset, was_created = Dataset.objects.get_or_create(
            id=stable_id(f"dataset:{key}"),
            defaults={
                "user": user,
                "name": name,
                "total_training_pairs": pairs,
                "total_tokens": tokens,
                "created_at": now - timedelta(days=14),
            },
        )
        datasets[key] = dataset
        created["datasets"] += was_created

    for spec in JOBS:
        completed_at = now - timedelta(days=spec.days_ago)
        history = loss_history(spec)
        running = spec.status == TrainingJob.Status.RUNNING
        shown = history[: len(history) // 2] if running else history
        last_step, last_loss, last_val = shown[-1]
        job, was_created = TrainingJob.objects.get_or_create(
            id=stable_id(f"job:{spec.slug}"),
            defaults={
                "user": user,
                "dataset": datasets[spec.dataset],
                "status": spec.status,
                "preset_id": spec.preset,
                "hyperparameters": {
                    "learning_rate": 2e-4 if spec.preset != "aggressive" else 3e-3,
                    "batch_size": 8 if spec.rank <= 16 else 4,
                    "epochs": 3,
                    "rank": spec.rank,
                    "lora_alpha": spec.rank * 2,
                    "lora_dropout": 0.05,
                },
                "gpu_config": {
                    "type": "A100-80GB" if spec.rank >= 32 else "L40S",
                    "count": 2 if spec.rank >= 32 else 1,
                },
                "external_job_id": spec.external or f"sim-demo-{spec.slug}",
                "current_epoch": 1 if running else 3,
                "current_step": last_step,
                "current_metrics": {
                    "training_loss": last_loss if math.isfinite(last_loss) else None,
                    "validation_loss": last_val if last_val is not None and math.isfinite(last_val) else None,
                },
                "queued_at": completed_at - timedelta(hours=spec.hours + 0.2),
                "started_at": completed_at - timedelta(hours=spec.hours) if not running else now - timedelta(hours=1),
                "completed_at": None if running else completed_at,
                "estimated_total_cost": Decimal(spec.cost) if not running else Decimal("22.00"),
                "final_cost": None if running else Decimal(spec.cost),
                "created_at": completed_at - timedelta(hours=spec.hours + 0.2),
            },
        )
        if not was_created:
            continue
        created["jobs"] += 1
        started = job.started_at or now
        step_time = timedelta(hours=max(spec.hours, 1)) / len(history)
        MetricsPoint.objects.bulk_create(
            MetricsPoint(
                job=job,
                timestamp=started + step_time * index,
                step=step,
                epoch=round(3 * index / len(history), 3),
                training_loss=train if math.isfinite(train) else None,
                validation_loss=val,
                learning_rate=2e-4 * (1 - index / len(history)),
            )
            for index, (step, train, val) in enumerate(shown)
        )
        created["metrics_points"] += len(shown)
    return created
