"""A model's life after ingest: soft delete, restore within the retention, purge, storage use.

* :func:`soft_delete` hides a model from every list, page, API call and signed link at once
  (``visible_to`` and the local download endpoint both skip deleted models).
* :func:`restore` brings it back while it was deleted less than ``ARTIFACT_RETENTION_DAYS`` ago.
* :func:`purge_deleted` (beat) removes models deleted longer ago for good: the stored objects of
  each one first (its files and bundles, one ``clear_prefix``), then its rows. A run that stops
  half-way leaves rows whose objects are gone, and the next run finishes them (idempotent).
* :func:`storage_use` / :func:`storage_by_user`: bytes stored per user (files + ready bundles,
  deleted-but-not-purged models included: they still take the space), one query.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from artifacts.models import ArtifactFile, ArtifactIngest, Bundle, ModelArtifact, retention_cutoff
from artifacts.services import model_events
from artifacts.storage.keys import artifact_prefix
from artifacts.storage.seam import artifact_storage

logger = logging.getLogger(__name__)


class RetentionOver(Exception):
    """The model was deleted longer than ``ARTIFACT_RETENTION_DAYS`` ago: it cannot come back."""


@transaction.atomic  # the change and its webhook event commit together
def soft_delete(artifact: ModelArtifact) -> bool:
    """Hide the model; False when it was already deleted."""
    deleted = bool(
        ModelArtifact.objects.filter(pk=artifact.pk, deleted_at__isnull=True).update(deleted_at=timezone.now())
    )
    if deleted:
        model_events.model_event(model_events.ARTIFACT_DELETED, artifact)
    return deleted


@transaction.atomic  # the change and its webhook event commit together
def restore(artifact: ModelArtifact) -> bool:
    """Show a deleted model again; False when it was not deleted. Raises :class:`RetentionOver`."""
    if artifact.deleted_at is None:
        return False
    updated = ModelArtifact.objects.filter(
        pk=artifact.pk, deleted_at__isnull=False, deleted_at__gte=retention_cutoff()
    ).update(deleted_at=None)
    if not updated:
        raise RetentionOver(artifact.pk)
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


# --- Storage use ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class StorageUse:
    models: int
    bytes: int
    measured_at: datetime | None = None


def _bytes_per_user() -> tuple[Subquery, Subquery]:
    files = (
        ArtifactFile.objects.filter(artifact__user=OuterRef("pk"))
        .order_by()
        .values("artifact__user")
        .annotate(total=Sum("size"))
        .values("total")
    )
    bundles = (
        Bundle.objects.filter(artifact__user=OuterRef("pk"), state=Bundle.State.READY)
        .order_by()
        .values("artifact__user")
        .annotate(total=Sum("size"))
        .values("total")
    )
    return Subquery(files, output_field=IntegerField()), Subquery(bundles, output_field=IntegerField())


def storage_by_user(users: QuerySet[Any] | None = None) -> QuerySet[Any]:
    """Users annotated with ``model_count`` (live models), ``file_bytes``, ``bundle_bytes`` and
    ``stored_bytes`` (their sum); one query."""
    files, bundles = _bytes_per_user()
    zero = Value(0, output_field=IntegerField())
    queryset = users if users is not None else get_user_model().objects.all()
    return queryset.annotate(
        model_count=Count("model_artifacts", filter=Q(model_artifacts__deleted_at__isnull=True)),
        file_bytes=Coalesce(files, zero),
        bundle_bytes=Coalesce(bundles, zero),
    ).annotate(stored_bytes=Coalesce(files, zero) + Coalesce(bundles, zero))


# Summing a user's file sizes reads every file row they own (about 0.6 s at 100,000 models on
# PostgreSQL), so the list page shows a figure at most this old, with the time it was measured.
STORAGE_USE_MAX_AGE_SECONDS = 300


def recent_storage_use(user: Any) -> StorageUse:
    """:func:`storage_use` as measured at most ``STORAGE_USE_MAX_AGE_SECONDS`` ago."""
    key = f"artifacts:storage-use:{user.pk}"
    cached = cache.get(key)
    if cached is None:
        use = storage_use(user)
        cached = (use.models, use.bytes, timezone.now())
        cache.set(key, cached, STORAGE_USE_MAX_AGE_SECONDS)
    return StorageUse(models=cached[0], bytes=cached[1], measured_at=cached[2])


def storage_use(user: Any) -> StorageUse:
    row = storage_by_user(get_user_model().objects.filter(pk=user.pk)).values("model_count", "stored_bytes").first()
    if row is None:
        return StorageUse(models=0, bytes=0)
    return StorageUse(models=row["model_count"], bytes=row["stored_bytes"])
