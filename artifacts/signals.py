"""The signals of the artifacts app: a hard-deleted artifact, or user, takes its stored objects,
and their place in its owner's storage counters, with it.

Deletes the app makes itself clear storage with explicit calls (``lifecycle.purge_deleted``); these
receivers are for deletes Django makes without asking us: the cascade when the admin deletes a user
or an artifact, where no code of ours runs between the click and the rows going away. The counters
are subtracted here for every hard delete, the purge's included, so that no delete counts twice.
"""

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, pre_delete
from django.dispatch import receiver

from artifacts.models import ModelArtifact
from artifacts.services.usage import artifact_removed
from artifacts.storage.keys import artifact_prefix, user_prefix
from artifacts.storage.seam import artifact_storage

logger = logging.getLogger(__name__)


def clear_after_commit(prefix: str) -> None:
    """Remove every object under ``prefix`` once the deletion has committed (a rollback keeps them)."""

    def clear() -> None:
        try:
            artifact_storage().clear_prefix(prefix)
        except Exception:  # the rows are gone either way; say what is left behind (storage_audit finds it)
            logger.exception("could not remove stored objects under %s", prefix)

    transaction.on_commit(clear)


@receiver(pre_delete, sender=ModelArtifact)
def subtract_storage_use(sender: type[ModelArtifact], instance: ModelArtifact, **kwargs: Any) -> None:
    """Before the cascade removes its file and bundle rows (Django sends every ``pre_delete`` of a
    delete first, inside the delete's transaction), take what they stored off the counters."""
    artifact_removed(instance)


@receiver(post_delete, sender=ModelArtifact)
def remove_stored_files(sender: type[ModelArtifact], instance: ModelArtifact, **kwargs: Any) -> None:
    """Remove the files (and bundles) of a deleted artifact row.

    Soft deletion (``deleted_at``) keeps them, so a model can be restored.
    """
    clear_after_commit(artifact_prefix(instance.user_id, instance.id))


@receiver(post_delete, sender=settings.AUTH_USER_MODEL)
def remove_users_objects(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A deleted account leaves nothing under ``{user_id}/``: beside its models' folders (cleared
    above, one by one), what an interrupted ingest left for an artifact that never got its row."""
    clear_after_commit(user_prefix(instance.pk))
