"""A job that becomes ``completed`` is queued for ingest once its transaction commits; a hard-deleted
artifact takes its stored files with it."""

import logging
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_init, post_save
from django.dispatch import receiver

from artifacts.models import ModelArtifact
from artifacts.storage.backends import artifact_storage
from artifacts.storage.keys import artifact_prefix
from artifacts.tasks import enqueue_ingest
from pipeline.models import TrainingJob

logger = logging.getLogger(__name__)


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


@receiver(post_delete, sender=ModelArtifact)
def remove_stored_files(sender: type[ModelArtifact], instance: ModelArtifact, **kwargs: Any) -> None:
    """A hard delete (admin, user deletion) removes the files too, once the deletion has committed.

    Soft deletion (``deleted_at``) keeps them, so a model can be restored.
    """
    prefix = artifact_prefix(instance.user_id, instance.id)

    def clear() -> None:
        try:
            artifact_storage().clear_prefix(prefix)
        except Exception:  # the rows are gone either way; say what is left behind
            logger.exception("could not remove stored files under %s", prefix)

    transaction.on_commit(clear)
