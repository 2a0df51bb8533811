"""What each user stores, kept as counters: one row per user, read in one primary-key lookup.

Every write that changes what a user stores changes the counters in its own transaction, with an
atomic ``UPDATE ... SET x = x + n`` (:meth:`StorageUsageQuerySet.add`), so concurrent writers never
lose each other's changes:

* ingest recording an artifact and its files (``services.ingest.record``): +1 model, +files;
* a bundle becoming ready (``services.bundles.build_bundle``) or expiring (``expire_bundles``);
* a model removed for good, by the purge, the admin or an account deletion: every such delete goes
  through Django's cascade, whose ``pre_delete`` (``artifacts.signals``) subtracts what it stored.

Soft deletion and restore change nothing here: a deleted model keeps its files, and its bytes,
until it is purged. How many of a user's models are live comes from ``LiveArtifactCount``.
``manage.py recount_storage`` recomputes the counters from the rows (``services.usage``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.utils import timezone

COUNTERS = ("model_count", "file_count", "file_bytes", "bundle_bytes")


class StorageUsageQuerySet(models.QuerySet["StorageUsage"]):
    def add(self, user_id: Any, *, create: bool = True, **deltas: int) -> None:
        """Add ``deltas`` (``model_count=1, file_bytes=n``; negative to subtract) to the user's
        counters in one UPDATE, creating the row on first use unless ``create`` is False (a
        removal: the row of an account being deleted must not come back)."""
        unknown = set(deltas) - set(COUNTERS)
        if unknown:
            raise TypeError(f"not a storage counter: {', '.join(sorted(unknown))}")
        changes = {name: delta for name, delta in deltas.items() if delta}
        if not changes:
            return
        now = timezone.now()
        updates: dict[str, Any] = {name: F(name) + delta for name, delta in changes.items()}
        if self.filter(user_id=user_id).update(**updates, updated_at=now) or not create:
            return
        try:
            with transaction.atomic(using=self.db):
                self.create(user_id=user_id, updated_at=now, **changes)
            return
        except IntegrityError:  # another transaction created it first: add to theirs
            pass
        self.filter(user_id=user_id).update(**updates, updated_at=now)

    def locked(self, user_id: Any) -> StorageUsage:
        """The user's row, created if missing, locked until the end of the caller's transaction
        (``SELECT ... FOR UPDATE`` on PostgreSQL): what serialises one user's bundle requests."""
        try:
            with transaction.atomic(using=self.db):
                self.get_or_create(user_id=user_id)
        except IntegrityError:  # created concurrently: it exists now
            pass
        return self.select_for_update().get(user_id=user_id)


class StorageUsage(models.Model):
    """A user's stored models, files and ready zip bundles (deleted models included until purged).

    Signed integers on purpose: a counter that drifted shows as wrong (even negative) and
    ``recount_storage`` repairs it, instead of a purge failing on a constraint.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="storage_usage"
    )
    model_count = models.BigIntegerField("models", default=0, help_text="Models stored, deleted ones until purged")
    file_count = models.BigIntegerField("files", default=0)
    file_bytes = models.BigIntegerField(default=0)
    bundle_bytes = models.BigIntegerField(default=0, help_text="Ready zip bundles")
    # Computed and stored by the database, so the admin overview pages users through an index on it.
    stored_bytes = models.GeneratedField(
        expression=F("file_bytes") + F("bundle_bytes"), output_field=models.BigIntegerField(), db_persist=True
    )
    updated_at = models.DateTimeField(default=timezone.now)

    objects = StorageUsageQuerySet.as_manager()

    class Meta:
        db_table = "lora_storage_usage"
        indexes = [models.Index(fields=["-stored_bytes", "user"], name="storage_usage_bytes_idx")]

    def __str__(self) -> str:
        return f"{self.stored_bytes} bytes stored by {self.user_id}"
