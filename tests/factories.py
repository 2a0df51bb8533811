"""Small factories for datasets, jobs, metrics and artifacts."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from artifacts.models import ArtifactFile, Bundle, ModelArtifact, StorageUsage
from pipeline.models import Dataset, MetricsPoint, TrainingJob


def make_dataset(user: Any, name: str = "Support chats", **extra: Any) -> Dataset:
    return Dataset.objects.create(user=user, name=name, total_training_pairs=1000, total_tokens=250_000, **extra)


def make_job(user: Any, dataset: Dataset | None = None, **extra: Any) -> TrainingJob:
    now = timezone.now()
    values: dict[str, Any] = {
        "user": user,
        "dataset": dataset,
        "status": TrainingJob.Status.COMPLETED,
        "preset_id": "balanced",
        "hyperparameters": {"learning_rate": 0.0002, "batch_size": 8, "epochs": 3, "rank": 16},
        "gpu_config": {"type": "A100-80GB", "count": 2},
        "external_job_id": f"sim-test-{TrainingJob.objects.count()}-{now.timestamp()}",
        "current_epoch": 3,
        "current_step": 300,
        "current_metrics": {"training_loss": 0.4},
        "started_at": now - timedelta(hours=2),
        "completed_at": now,
        "final_cost": Decimal("12.50"),
    }
    values.update(extra)
    return TrainingJob.objects.create(**values)


def add_history(job: TrainingJob, losses: list[tuple[float | None, float | None]]) -> None:
    start = job.started_at or timezone.now()
    MetricsPoint.objects.bulk_create(
        MetricsPoint(
            job=job,
            timestamp=start + timedelta(minutes=i),
            step=i * 10,
            epoch=i / 10,
            training_loss=train,
            validation_loss=val,
        )
        for i, (train, val) in enumerate(losses)
    )


def make_artifact(user: Any, job: TrainingJob | None = None, score: int = 4, **extra: Any) -> ModelArtifact:
    job = job or make_job(user)
    values: dict[str, Any] = {
        "user": user,
        "job": job,
        "dataset": job.dataset,
        "name": f"{job.dataset.name if job.dataset else 'Model'} - 1/1/2026",
        "quality_metrics": {
            "overall_score": score,
            "convergence_quality": "good",
            "final_training_loss": 0.5,
            "final_validation_loss": 0.6,
            "perplexity": 1.82,
            "loss_improvement": 70.0,
        },
        "quality_score": score,
        "training_summary": {
            "epochs_completed": 3,
            "total_steps": 300,
            "final_loss": 0.5,
            "training_duration_hours": 2.0,
            "total_cost": 12.5,
        },
        "configuration": {
            "preset_id": job.preset_id,
            "hyperparameters": job.hyperparameters,
            "gpu_config": job.gpu_config,
        },
    }
    values.update(extra)
    artifact = ModelArtifact.objects.create(**values)
    TrainingJob.objects.filter(pk=job.pk).update(artifact=artifact)
    StorageUsage.objects.add(artifact.user_id, model_count=1)  # as ingest counts it
    return artifact


def add_file(artifact: ModelArtifact, filename: str, content: bytes) -> ArtifactFile:
    import hashlib

    from django.core.files.base import ContentFile

    from artifacts.storage.seam import artifact_storage

    key = f"{artifact.user_id}/{artifact.id}/{filename}"
    artifact_storage().save(key, ContentFile(content))
    artifact.artifacts = {**artifact.artifacts, filename: key}
    artifact.save(update_fields=["artifacts"])
    StorageUsage.objects.add(artifact.user_id, file_count=1, file_bytes=len(content))  # as ingest counts it
    return ArtifactFile.objects.create(
        artifact=artifact,
        filename=filename,
        key=key,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content_type="application/octet-stream",
    )


def make_ready_bundle(artifact: ModelArtifact, size: int) -> Bundle:
    """A ready bundle row (no zip in storage), counted as a finished build counts it."""
    StorageUsage.objects.add(artifact.user_id, bundle_bytes=size)
    return Bundle.objects.create(artifact=artifact, state=Bundle.State.READY, size=size, key=f"bundle-{artifact.pk}")


def make_notification(user: Any, title: str = "Model ready", read: bool = False, **extra: Any) -> Any:
    from pipeline.models import Notification

    values: dict[str, Any] = {
        "user": user,
        "type": "artifact_ready",
        "title": title,
        "message": f"{title}: details",
        "priority": Notification.Priority.NORMAL,
        "read_at": timezone.now() if read else None,
    }
    values.update(extra)
    return Notification.objects.create(**values)
