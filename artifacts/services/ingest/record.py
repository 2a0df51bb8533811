"""Writing down an attempt's result, each in one transaction (DESIGN §6.5, §6.7).

Success: the artifact, its file rows, its owner's storage counters, the job's link and the
``artifact_ready`` notification.
Failure: the error on the ingest record and either a retry time or, past the attempt budget,
``failed`` with an ``artifact_failed`` notification. Both only while the attempt's lease holds.
"""

from __future__ import annotations

import mimetypes
import random
import uuid
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from artifacts.health.quality import calculate_quality_metrics
from artifacts.health.verdict import OK, UNUSABLE, WARNINGS, health_of_job, model_verdict, ready_message
from artifacts.inspection.guarded import GuardedInspector
from artifacts.models import ArtifactFile, ArtifactIngest, ModelArtifact, StorageUsage
from artifacts.naming import default_model_name, model_folder
from artifacts.services import model_events, registry
from artifacts.services.ingest.outcome import IngestOutcome
from artifacts.services.ingest.transfer import LeaseLost, Progress, TransferredFile
from pipeline.lib.numbers import finite_number
from pipeline.models import Notification, TrainingJob

RETRY_CAP_SECONDS = 3600
FAILED_TITLE = "Model Delivery Failed"
# The ready notification says the verdict first (DESIGN §14): its title, and a priority that means
# something: what needs the owner's attention is high, a model ready as expected is normal.
READY_TITLES = {
    OK: ("Model Ready for Download", Notification.Priority.NORMAL),
    WARNINGS: ("Model Ready, with Warnings", Notification.Priority.NORMAL),
    UNUSABLE: ("Model Unusable as Delivered", Notification.Priority.HIGH),
}


def record_artifact(
    job: TrainingJob,
    artifact_id: uuid.UUID,
    stored: list[TransferredFile],
    progress: Progress,
    inspector: GuardedInspector | None = None,
) -> ModelArtifact:
    """Artifact (with its inspection), file rows, job link and notification; LeaseLost if another
    worker got there first. An unusable adapter is stored all the same: the owner is told why."""
    with transaction.atomic():
        locked = TrainingJob.objects.select_for_update().get(pk=job.pk)
        if locked.artifact_id is not None:
            raise LeaseLost(f"job {job.pk} already has artifact {locked.artifact_id}")
        if not progress.ingest.succeed(bytes_done=progress.bytes_done):
            raise LeaseLost(f"lease on job {job.pk} was taken over before recording")
        fields = _artifact_fields(job)
        inspection = _inspection(job, inspector, model_folder(fields["name"], artifact_id))
        repository = registry.repository_for_job(job)
        try:
            with transaction.atomic():
                artifact = ModelArtifact.objects.create(
                    id=artifact_id,
                    user_id=job.user_id,
                    job=job,
                    dataset_id=job.dataset_id,
                    repository=repository,
                    artifacts={f.name: f.key for f in stored},
                    inspection=inspection,
                    verdict=model_verdict(inspection, fields["training_health"]),
                    **fields,
                )
        except IntegrityError as exc:  # the one-artifact-per-job constraint: another worker won
            raise LeaseLost(f"job {job.pk} already has an artifact") from exc
        ArtifactFile.objects.bulk_create(
            ArtifactFile(
                artifact=artifact,
                filename=f.name,
                key=f.key,
                size=f.size,
                sha256=f.sha256,
                content_type=mimetypes.guess_type(f.name)[0] or "application/octet-stream",
            )
            for f in stored
        )
        StorageUsage.objects.add(
            job.user_id, model_count=1, file_count=len(stored), file_bytes=sum(f.size for f in stored)
        )
        TrainingJob.objects.filter(pk=job.pk).update(artifact=artifact)
        registry.follow_main(artifact.repository)
        title, priority = READY_TITLES[artifact.verdict]
        _notify_owner(
            job,
            "artifact_ready",
            title,
            ready_message(
                artifact.name,
                artifact.quality_score,
                artifact.training_health or {},
                artifact.quality_metrics,
                artifact.inspection,
            ),
            action_url=f"/models/{artifact.id}",
            metadata={"artifact_id": str(artifact.id), "job_id": str(job.pk), "verdict": artifact.verdict},
            priority=priority,
        )
        model_events.model_event(model_events.ARTIFACT_READY, artifact)
    return artifact


def record_failure(job: TrainingJob, ingest: ArtifactIngest, reason: str, *, permanent: bool) -> IngestOutcome:
    """Schedule a retry with backoff, or give up (at once when ``permanent``) and tell the owner."""
    job_id = str(job.pk)
    if not permanent and ingest.attempts < settings.ARTIFACT_MAX_ATTEMPTS:
        delay = backoff_seconds(ingest.attempts)
        if not ingest.schedule_retry(reason, delay=delay):
            return IngestOutcome.skipped_busy(job_id, f"another worker took the job over; {reason}")
        return IngestOutcome.retry(job_id, reason, seconds=delay)
    with transaction.atomic():
        if not ingest.fail(reason):
            return IngestOutcome.skipped_busy(job_id, f"another worker took the job over; {reason}")
        _notify_owner(
            job,
            "artifact_failed",
            FAILED_TITLE,
            f"The files of your training job {_job_label(job)} could not be stored: {reason}",
            action_url=f"/training/jobs/{job.pk}",
            metadata={"job_id": job_id, "attempts": ingest.attempts, "error": reason[:500]},
            priority=Notification.Priority.HIGH,
        )
        model_events.ingest_failed(job, reason, ingest.attempts)
    return IngestOutcome.failed(job_id, reason)


def _job_label(job: TrainingJob) -> str:
    """Which run failed, as its owner knows it: dataset, preset and rank."""
    hyper = job.hyperparameters if isinstance(job.hyperparameters, dict) else {}
    rank = hyper.get("rank")
    parts = [job.dataset.name if job.dataset else "", job.preset_id, f"r{rank}" if isinstance(rank, int) else ""]
    label = " · ".join(p for p in parts if p)
    return f'"{label}"' if label else str(job.external_job_id or job.pk)


def backoff_seconds(attempts: int) -> float:
    """Exponential from ``ARTIFACT_RETRY_BASE_SECONDS``, capped at an hour, with up to 25% jitter."""
    base = settings.ARTIFACT_RETRY_BASE_SECONDS
    return min(RETRY_CAP_SECONDS, base * 2 ** (attempts - 1)) * (1 + random.random() / 4)  # noqa: S311


def _notify_owner(
    job: TrainingJob, kind: str, title: str, message: str, *, action_url: str, metadata: dict, priority: str
) -> None:
    """The seed's notification row, pointing at where the owner should look."""
    Notification.objects.create(
        user_id=job.user_id,
        type=kind,
        title=title,
        message=message,
        priority=priority,
        action_url=action_url,
        metadata=metadata,
    )


def _inspection(job: TrainingJob, inspector: GuardedInspector | None, folder: str) -> dict[str, Any] | None:
    """DESIGN §10's ``inspection``; its commands expect the files in the model's folder (``./folder``)."""
    if inspector is None:
        return None
    hyperparameters = job.hyperparameters if isinstance(job.hyperparameters, dict) else None
    return inspector.report(hyperparameters, adapter_name=folder)


def _artifact_fields(job: TrainingJob) -> dict[str, Any]:
    points = list(job.metrics_points.order_by("timestamp", "step").values("training_loss", "validation_loss"))
    quality = calculate_quality_metrics(points)
    current = job.current_metrics if isinstance(job.current_metrics, dict) else {}
    final_loss = current.get("training_loss")
    hyperparameters = job.hyperparameters if isinstance(job.hyperparameters, dict) else {}
    taken = ModelArtifact.objects.filter(user_id=job.user_id).values_list("name", flat=True)
    name = default_model_name(
        job.dataset.name if job.dataset else None,
        job.preset_id,
        hyperparameters.get("rank"),
        timezone.localdate(job.completed_at) if job.completed_at else timezone.localdate(),
        taken=taken,
    )
    return {
        "name": name,
        "version": "1.0.0",
        "status": ModelArtifact.Status.STORED,
        "quality_metrics": quality,
        "quality_score": quality["overall_score"],
        "training_health": health_of_job(job.pk),
        "training_summary": {
            "epochs_completed": job.current_epoch,
            "total_steps": job.current_step,
            "final_loss": final_loss if isinstance(final_loss, int | float) else None,
            "training_duration_hours": job.duration_hours,
            "total_cost": finite_number(job.final_cost),
        },
        "configuration": {
            "preset_id": job.preset_id,
            "hyperparameters": job.hyperparameters,
            "gpu_config": job.gpu_config,
        },
    }
