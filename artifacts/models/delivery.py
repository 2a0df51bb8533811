"""What delivery records: download grants handed out and the one zip bundle per artifact."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from artifacts.models.artifact import ModelArtifact
from artifacts.models.ingest import lease_until


class DownloadGrant(models.Model):
    """A record of signed download URLs handed out: who, which files, until when."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    artifact = models.ForeignKey(ModelArtifact, on_delete=models.CASCADE, related_name="download_grants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="download_grants")
    files = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        db_table = "lora_download_grants"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{len(self.files)} file(s) of {self.artifact_id}"


class BundleQuerySet(models.QuerySet["Bundle"]):
    def claim_build(self, artifact: Any, token: str) -> Bundle | None:
        """Start a build of the artifact's bundle; None when one is already under way or ready.

        One conditional UPDATE: a new or failed bundle, or a build whose lease lapsed (its worker
        died), is taken by exactly one caller however many ask at once.
        """
        bundle, _ = self.get_or_create(artifact=artifact)
        now = timezone.now()
        claimable = models.Q(state__in=[Bundle.State.NEW, Bundle.State.FAILED]) | models.Q(
            state=Bundle.State.PREPARING, lease_expires_at__lt=now
        )
        updated = self.filter(claimable, pk=bundle.pk).update(
            state=Bundle.State.PREPARING,
            lease_token=token,
            lease_expires_at=lease_until(now),
            bytes_done=0,
            bytes_total=None,
            last_error="",
            started_at=now,
            finished_at=None,
            updated_at=now,
        )
        return self.get(pk=bundle.pk) if updated == 1 else None

    def unused_since(self, cutoff: datetime) -> BundleQuerySet:
        """Ready bundles nobody asked for since ``cutoff`` (failed ones count from their failure)."""
        return self.filter(
            models.Q(state=Bundle.State.READY, last_used_at__lt=cutoff)
            | models.Q(state=Bundle.State.FAILED, updated_at__lt=cutoff)
        )


class Bundle(models.Model):
    """The zip of one artifact (every file, SHA256SUMS, the card, inspection.json) in storage.

    One row per artifact, so one build at a time: the worker holding ``lease_token`` writes the
    zip and records progress; a ready bundle is an ordinary stored object under ``key``.
    """

    class State(models.TextChoices):
        NEW = "new", "Not built"
        PREPARING = "preparing", "Preparing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    artifact = models.OneToOneField(ModelArtifact, on_delete=models.CASCADE, related_name="bundle")
    state = models.CharField(max_length=16, choices=State.choices, default=State.NEW, db_index=True)
    key = models.CharField(max_length=1024, blank=True, default="", db_index=True)
    filename = models.CharField(max_length=255, blank=True, default="")
    size = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    bytes_done = models.PositiveBigIntegerField(default=0)
    bytes_total = models.PositiveBigIntegerField(null=True, blank=True)
    lease_token = models.CharField(max_length=64, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = BundleQuerySet.as_manager()

    class Meta:
        db_table = "lora_model_bundles"

    def __str__(self) -> str:
        return f"bundle of {self.artifact_id}: {self.state}"

    @property
    def progress(self) -> float:
        if self.state == self.State.READY:
            return 1.0
        if not self.bytes_total:
            return 0.0
        return round(min(1.0, self.bytes_done / self.bytes_total), 4)

    def _held(self) -> BundleQuerySet:
        return Bundle.objects.filter(pk=self.pk, lease_token=self.lease_token, state=self.State.PREPARING)

    def renew(self, **progress: Any) -> bool:
        now = timezone.now()
        return self._held().update(lease_expires_at=lease_until(now), updated_at=now, **progress) == 1

    def succeed(self, *, key: str, filename: str, size: int, sha256: str) -> bool:
        now = timezone.now()
        return (
            self._held().update(
                state=self.State.READY,
                key=key,
                filename=filename,
                size=size,
                sha256=sha256,
                bytes_done=size,
                bytes_total=size,
                lease_token="",
                lease_expires_at=None,
                finished_at=now,
                last_used_at=now,
                updated_at=now,
            )
            == 1
        )

    def fail(self, error: str) -> bool:
        now = timezone.now()
        return (
            self._held().update(
                state=self.State.FAILED,
                last_error=error[:2000],
                lease_token="",
                lease_expires_at=None,
                finished_at=now,
                updated_at=now,
            )
            == 1
        )
