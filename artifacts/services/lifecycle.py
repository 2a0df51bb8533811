"""A model's life after ingest: soft delete, restore within the retention, purge, storage use.

* :func:`soft_delete` hides a model from every list, page, API call and signed link at once
  (``visible_to`` and the local download endpoint both skip deleted models).
* :func:`restore` brings it back while it was deleted less than ``ARTIFACT_RETENTION_DAYS`` ago.
* :func:`purge_deleted` (beat) removes models deleted longer ago for good: the stored objects of
  each one first (its files and bundles, one ``clear_prefix``), then its rows. A run that stops
  half-way leaves rows whose objects are gone, and the next run finishes them (idempotent).
* :func:`storage_use` / :func:`storage_by_user`: bytes stored per user (files + ready bundles,
  deleted-but-not-purged models included: they still take the space), read from the counters
  (:class:`~artifacts.models.StorageUsage`), which every write keeps current.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from artifacts.models import ArtifactIngest, LiveArtifactCount, ModelArtifact, StorageUsage, retention_cutoff
from artifacts.services import model_events, registry
from artifacts.storage.keys import artifact_prefix
from artifacts.storage.seam import artifact_storage

logger = logging.getLogger(__name__)


class RetentionOver(Exception):
    """The model was deleted longer than ``ARTIFACT_RETENTION_DAYS`` ago: it cannot come back."""


@transaction.atomic  # the change and its webhook event commit together
def soft_delete(artifact: ModelArtifact) -> bool:
    """Hide the model; False when it was already deleted. An unpinned ``main`` moves off it, and the
    owner's webhooks hear of it (both in the same transaction as the change)."""
    with transaction.atomic():
        hidden = ModelArtifact.objects.filter(pk=artifact.pk, deleted_at__isnull=True).update(deleted_at=timezone.now())
        if hidden:
            registry.follow_main(artifact.repository)
            model_events.model_event(model_events.ARTIFACT_DELETED, artifact)
    return bool(hidden)


@transaction.atomic  # the change and its webhook event commit together
def restore(artifact: ModelArtifact) -> bool:
    """Show a deleted model again; False when it was not deleted. Raises :class:`RetentionOver`."""
    if artifact.deleted_at is None:
        return False
    with transaction.atomic():
        updated = ModelArtifact.objects.filter(
            pk=artifact.pk, deleted_at__isnull=False, deleted_at__gte=retention_cutoff()
        ).update(deleted_at=None)
        if not updated:
            raise RetentionOver(artifact.pk)
        registry.follow_main(artifact.repository)  # an unpinned ``main`` follows it back when it is the newest
        model_events.model_event(model_events.ARTIFACT_RESTORED, artifact)
    return True


def purge_deleted(now: datetime | None = None) -> int:
    """Remove models deleted before the retention cutoff: objects first, then rows."""
    storage = artifact_storage()
    purged = 0
    for artifact in ModelArtifact.objects.purgeable().filter(deleted_at__lt=retention_cutoff(now)).iterator():
        try:
            storage.clear_prefix(artifact_prefix(artifact.user_id, artifact.pk))  # files and bundles, every level
        except Exception:  # storage down: the rows stay, so the next run tries again
            logger.exception("purge of artifact %s: removing its stored objects failed", artifact.pk)
            continue
        with transaction.atomic():
            # The delete's cascade takes the model off its owner's storage counters (``artifacts.signals``).
            deleted = ModelArtifact.objects.filter(pk=artifact.pk, deleted_at__isnull=False).delete()[0]
            # Its job has no artifact any more: keep the sweep from ingesting it again.
            ArtifactIngest.objects.get_or_create(
                job_id=artifact.job_id,
                defaults={"state": ArtifactIngest.State.SUCCEEDED, "finished_at": timezone.now()},
            )
        if deleted:
            purged += 1
            logger.info(
                "purged artifact %s of user %s (deleted at %s)", artifact.pk, artifact.user_id, artifact.deleted_at
            )
    return purged


# --- Storage use ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class StorageUse:
    models: int  # live models
    bytes: int  # files and ready bundles, deleted-but-not-purged models included


def storage_by_user(users: QuerySet[Any] | None = None) -> QuerySet[Any]:
    """Users with anything stored, annotated from their counters: ``model_count`` (live models),
    ``file_bytes``, ``bundle_bytes`` and ``stored_bytes`` (their sum), largest first; one query, each
    row two primary-key lookups, in the order of the counter table's index."""
    rows = StorageUsage.objects.filter(stored_bytes__gt=0)
    if users is not None:
        rows = rows.filter(user__in=users)
    live = LiveArtifactCount.objects.filter(user_id=OuterRef("user_id")).values("live")
    return (
        rows.select_related("user")
        .annotate(live_models=Coalesce(Subquery(live), Value(0), output_field=IntegerField()))
        .order_by("-stored_bytes", "user_id")
    )


def storage_use(user: Any) -> StorageUse:
    """The user's live models and stored bytes, as counted: one query of two primary-key lookups."""
    live = LiveArtifactCount.objects.filter(user_id=OuterRef("pk")).values("live")
    stored = StorageUsage.objects.filter(user_id=OuterRef("pk")).values("stored_bytes")
    row = (
        get_user_model()
        .objects.filter(pk=user.pk)
        .annotate(live=Subquery(live), stored=Subquery(stored))
        .values("live", "stored")
        .first()
    )
    if row is None:
        return StorageUse(models=0, bytes=0)
    return StorageUse(models=row["live"] or 0, bytes=row["stored"] or 0)
