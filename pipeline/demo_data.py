"""Demo data: one user, three datasets, completed jobs of every quality, two running jobs.

Ids are derived from stable names (uuid5), so loading twice finds everything already there.
Each job's hyperparameters (rank, alpha, target modules, base model, dtype) are also what the
cluster simulator trains for it (``simulator_specs``), so the files it serves tell the truth about
the job; the jobs named after adapter faults get the broken files their names promise.
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
from pipeline.simulator.files import AdapterSpec

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
    targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    dtype: str = "BF16"
    alpha: int | None = None  # default: twice the rank
    dropout: float = 0.05

    @property
    def external_job_id(self) -> str:
        return self.external or f"sim-demo-{self.slug}"

    @property
    def hyperparameters(self) -> dict[str, object]:
        return {
            "learning_rate": 2e-4 if self.preset != "aggressive" else 3e-3,
            "batch_size": 8 if self.rank <= 16 else 4,
            "epochs": 3,
            "rank": self.rank,
            "lora_alpha": self.alpha if self.alpha is not None else self.rank * 2,
            "lora_dropout": self.dropout,
            "base_model": BASE_MODELS[self.dataset],
            "target_modules": list(self.targets),
            "dtype": self.dtype,
        }


DATASETS = {
    "support": ("Customer Support Conversations", 12_480, 4_310_000),
    "legal": ("Contract Clause Extraction", 5_200, 2_950_000),
    "code": ("Python Code Review Pairs", 18_900, 9_120_000),
}

BASE_MODELS = {
    "support": "mistralai/Mistral-7B-v0.1",
    "legal": "meta-llama/Llama-3.1-8B",
    "code": "Qwen/Qwen2.5-7B",
}
ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")
ALL_LINEAR = (*ATTENTION, "gate_proj", "up_proj", "down_proj")

JOBS = [
    DemoJob(
        "excellent",
        "support",
        2.45,
        0.32,
        0.08,
        3.2,
        "48.60",
        preset="quality",
        rank=32,
        days_ago=0.5,
        targets=ALL_LINEAR,
    ),
    DemoJob("good", "legal", 2.20, 0.78, 0.15, 2.1, "29.40", days_ago=1.5),
    DemoJob(
        "fair",
        "code",
        2.55,
        1.62,
        0.20,
        1.4,
        "18.75",
        preset="fast",
        rank=8,
        days_ago=2.5,
        targets=("q_proj", "v_proj"),
    ),
    DemoJob("overfitting", "support", 2.30, 0.28, 0.95, 4.0, "61.20", preset="quality", rank=64, days_ago=3.5),
    DemoJob("poor", "legal", 2.60, 2.31, 0.10, 0.9, "12.10", preset="fast", rank=8, days_ago=4.5),
    DemoJob("no-validation", "code", 2.10, 0.44, None, 2.6, "35.00", days_ago=5.5, dtype="F16"),
    DemoJob("diverged", "support", 2.40, 2.0, 0.3, 1.1, "15.90", preset="aggressive", days_ago=6.5, diverge=True),
    DemoJob("good-code", "code", 1.95, 0.62, 0.22, 2.8, "38.20", rank=32, days_ago=7.5, dtype="F32", alpha=32),
    # Adapter faults: the loss curves look fine, the files do not (inspection catches each one).
    DemoJob("untrained", "support", 2.30, 2.28, 0.05, 0.6, "8.40", days_ago=8.5, targets=("q_proj", "v_proj")),
    DemoJob(
        "nan-weights", "code", 2.20, 0.90, 0.15, 1.6, "21.10", preset="aggressive", days_ago=9.5, dtype="F16", rank=32
    ),
    DemoJob("rank-mismatch", "legal", 2.25, 0.81, 0.12, 2.0, "27.80", rank=8, days_ago=10.5, dropout=0.1),
    DemoJob("short-header", "support", 2.35, 0.70, 0.14, 2.2, "30.50", days_ago=11.5, dtype="F32", dropout=0.0),
    # modules_to_save keeps the base model's whole lm_head (vocab x hidden): 250 MiB in BF16 on Mistral's
    # 32,000-token vocabulary, against about 1 GiB on Llama 3.1's or Qwen 2.5's, so this job is on Mistral.
    DemoJob("lm-head", "support", 2.15, 0.58, 0.18, 3.1, "44.00", preset="quality", days_ago=12.5),
    DemoJob("dora", "legal", 2.28, 0.66, 0.16, 2.7, "37.30", rank=16, alpha=16, days_ago=13.5),
    DemoJob("pickle-only", "support", 2.40, 0.75, 0.20, 1.8, "24.90", rank=8, days_ago=14.5),
    DemoJob("no-weights", "code", 2.05, 0.69, 0.17, 1.5, "19.60", rank=4, days_ago=15.5, targets=ATTENTION[:2]),
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
        dropout=0.1,
    ),
    DemoJob(
        "running-a",
        "support",
        2.4,
        1.1,
        0.1,
        0,
        "0",
        status=TrainingJob.Status.RUNNING,
        days_ago=0.1,
        targets=ALL_LINEAR,
    ),
    DemoJob(
        "running-b", "code", 2.2, 1.4, 0.1, 0, "0", status=TrainingJob.Status.RUNNING, days_ago=0.05, rank=8, alpha=8
    ),
]


def simulator_specs(**overrides: object) -> dict[str, AdapterSpec]:
    """What the cluster trained for each demo job, keyed by its external job id.

    Each adapter covers every layer of the job's base model unless ``adapter_bytes`` asks for fewer
    (tests keep files small that way; adapter_config.json then lists ``layers_to_transform``). A
    budget that would run past the model's last layer is refused: demo files must load in PEFT.
    """
    specs = {job.external_job_id: AdapterSpec.from_hyperparameters(job.hyperparameters, **overrides) for job in JOBS}
    beyond = sorted(job_id for job_id, spec in specs.items() if spec.beyond_model)
    if beyond:
        raise ValueError(f"adapter_bytes would give {beyond} more layers than their base models have.")
    return specs


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
                "hyperparameters": spec.hyperparameters,
                "gpu_config": {
                    "type": "A100-80GB" if spec.rank >= 32 else "L40S",
                    "count": 2 if spec.rank >= 32 else 1,
                },
                "external_job_id": spec.external_job_id,
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
