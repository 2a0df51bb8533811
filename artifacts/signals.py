"""The signals of the artifacts app: a hard-deleted artifact takes its stored files, and their
place in its owner's storage counters, with it.

Deletes the app makes itself clear storage with explicit calls (``lifecycle.purge_deleted``); these
receivers are for deletes Django makes without asking us: the cascade when the admin deletes a user
or an artifact, where no code of ours runs between the click and the rows going away. The counters
are subtracted here for every hard delete, the purge's included, so that no delete counts twice.
"""

import logging
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, pre_delete
from django.dispatch import receiver

from artifacts.models import ModelArtifact
from artifacts.services.usage import artifact_removed
from artifacts.storage.keys import artifact_prefix
from artifacts.storage.seam import artifact_storage

logger = logging.getLogger(__name__)


@receiver(pre_delete, sender=ModelArtifact)
def subtract_storage_use(sender: type[ModelArtifact], instance: ModelArtifact, **kwargs: Any) -> None:
    """Before the cascade removes its file and bundle rows (Django sends every ``pre_delete`` of a
    delete first, inside the delete's transaction), take what they stored off the counters."""
    artifact_removed(instance)


@receiver(post_delete, sender=ModelArtifact)
def remove_stored_files(sender: type[ModelArtifact], instance: ModelArtifact, **kwargs: Any) -> None:
    """Remove the files (and bundles) once the deletion has committed.

    Soft deletion (``deleted_at``) keeps them, so a model can be restored.
    """
    prefix = artifact_prefix(instance.user_id, instance.id)

    def clear() -> None:
        try:
            artifact_storage().clear_prefix(prefix)
        except Exception:  # the rows are gone either way; say what is left behind
            logger.exception("could not remove stored files under %s", prefix)

    transaction.on_commit(clear)
