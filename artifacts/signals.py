"""A job that becomes ``completed`` is queued for ingest as soon as its transaction commits."""

from typing import Any

from django.db.models.signals import post_init, post_save
from django.dispatch import receiver

from artifacts.services.ingest import enqueue_ingest
from pipeline.models import TrainingJob


@receiver(post_init, sender=TrainingJob)
def remember_status(sender: type[TrainingJob], instance: TrainingJob, **kwargs: Any) -> None:
    # Read without triggering a query when the field is deferred (e.g. during cascade deletes).
    instance._loaded_status = instance.__dict__.get("status")  # type: ignore[attr-defined]


@receiver(post_save, sender=TrainingJob)
def queue_completed_job(sender: type[TrainingJob], instance: TrainingJob, created: bool, **kwargs: Any) -> None:
    became_completed = instance.status == TrainingJob.Status.COMPLETED and (
        created or getattr(instance, "_loaded_status", None) != TrainingJob.Status.COMPLETED
    )
    instance._loaded_status = instance.status  # type: ignore[attr-defined]
    if became_completed and instance.artifact_id is None and instance.external_job_id and not kwargs.get("raw"):
        enqueue_ingest(instance.pk)
