"""The ingest record of one training job: its lease, attempts, progress and outcome."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


def lease_until(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.ARTIFACT_LEASE_SECONDS)


class ArtifactIngestQuerySet(models.QuerySet["ArtifactIngest"]):
    """Transitions that start from "any row of this job": each one conditional UPDATE."""

    def claim(self, job: Any, token: str) -> ArtifactIngest | None:
        """Take the job's lease; None when another worker holds it or the job is not due yet."""
        self.get_or_create(job=job)
        now = timezone.now()
        # One table only: an UPDATE joined to the job table compiles to "WHERE id IN (subquery)", which
        # PostgreSQL does not re-check after waiting on a concurrent claim, so both claims would win.
        updated = self.filter(ArtifactIngest.claimable(now), job=job).update(
            state=ArtifactIngest.State.RUNNING,
            lease_token=token,
            lease_expires_at=lease_until(now),
            attempts=models.F("attempts") + 1,
            started_at=now,
            finished_at=None,
            bytes_done=0,
            bytes_total=None,
            current_file="",
        )
        return self.get(job=job) if updated == 1 else None

    def mark_enqueued(self, job_id: Any) -> None:
        """A task for the job is on its way: the sweep leaves it alone for a lease's length."""
        row, _ = self.get_or_create(job_id=job_id)
        self.filter(pk=row.pk).update(enqueued_at=timezone.now())

    def reset_failed(self, job: Any) -> bool:
        """Staff or owner retry: only a ``failed`` ingest starts again, with a fresh attempt budget."""
        row, _ = self.get_or_create(job=job)
        updated = self.filter(pk=row.pk, state=ArtifactIngest.State.FAILED).update(
            state=ArtifactIngest.State.PENDING,
            attempts=0,
            next_attempt_at=timezone.now(),
            lease_token="",
            lease_expires_at=None,
            bytes_done=0,
            finished_at=None,
        )
        return updated == 1


class ArtifactIngest(models.Model):
    """The ingest record of one training job: attempts, lease, progress and last error.

    A worker holds the job while ``state`` is ``running`` with its ``lease_token``; every
    transition it makes (``renew``, ``succeed``, ``schedule_retry``, ``fail``) is one UPDATE
    conditional on that lease, returning False once another worker has taken the job over.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting"
        RUNNING = "running", "Ingesting"
        RETRYING = "retrying", "Retrying"
        SUCCEEDED = "succeeded", "Stored"
        FAILED = "failed", "Failed"

    job = models.OneToOneField("pipeline.TrainingJob", on_delete=models.CASCADE, related_name="ingest")
    # Every attempt for this job writes under {user_id}/{artifact_id}/, so an attempt can clear
    # whatever a killed predecessor left there before it starts.
    artifact_id = models.UUIDField(default=uuid.uuid4, editable=False)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    next_attempt_at = models.DateTimeField(default=timezone.now, db_index=True)
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="When a task was last queued for it")
    lease_token = models.CharField(max_length=64, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    bytes_done = models.PositiveBigIntegerField(default=0)
    bytes_total = models.PositiveBigIntegerField(null=True, blank=True)
    current_file = models.CharField(max_length=255, blank=True, default="")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ArtifactIngestQuerySet.as_manager()

    class Meta:
        db_table = "lora_artifact_ingests"
        ordering = ["-updated_at"]
        indexes = [
            # The admin overview's window of finished attempts (success rate, durations): read from
            # the index alone, not from a scan of every ingest ever run.
            models.Index(fields=["finished_at"], name="ingest_finished_idx", include=["state", "started_at"]),
        ]

    def __str__(self) -> str:
        return f"ingest of {self.job_id}: {self.state}"

    @staticmethod
    def claimable(now: datetime, prefix: str = "") -> models.Q:
        """Due for an attempt: waiting or retrying and due, or running on a lease that has lapsed
        (a worker killed mid-transfer). ``prefix`` reaches the fields through a relation."""
        return models.Q(
            **{f"{prefix}state__in": [ArtifactIngest.State.PENDING, ArtifactIngest.State.RETRYING]},
            **{f"{prefix}next_attempt_at__lte": now},
        ) | models.Q(**{f"{prefix}state": ArtifactIngest.State.RUNNING, f"{prefix}lease_expires_at__lt": now})

    # --- Transitions of the worker holding the lease ---------------------------------------------
    def _held(self) -> ArtifactIngestQuerySet:
        """This row, as a queryset that is empty once another worker holds the job."""
        return ArtifactIngest.objects.filter(pk=self.pk, lease_token=self.lease_token, state=self.State.RUNNING)

    def holds_lease(self) -> bool:
        return bool(self.lease_token) and self._held().exists()

    def renew(self, **progress: Any) -> bool:
        """Extend the lease and record progress (``bytes_done``, ``bytes_total``, ``current_file``)."""
        return self._held().update(lease_expires_at=lease_until(timezone.now()), **progress) == 1

    def succeed(self, *, bytes_done: int | None = None) -> bool:
        fields: dict[str, Any] = {"bytes_done": bytes_done} if bytes_done is not None else {}
        return (
            self._held().update(
                state=self.State.SUCCEEDED,
                finished_at=timezone.now(),
                lease_token="",
                lease_expires_at=None,
                last_error="",
                current_file="",
                **fields,
            )
            == 1
        )

    def schedule_retry(self, error: str, *, delay: float) -> bool:
        """Give the job back, due again in ``delay`` seconds."""
        return (
            self._held().update(
                state=self.State.RETRYING,
                next_attempt_at=timezone.now() + timedelta(seconds=delay),
                updated_at=timezone.now(),
                last_error=error[:2000],
                lease_token="",
                lease_expires_at=None,
                current_file="",
            )
            == 1
        )

    def fail(self, error: str) -> bool:
        """Give up: no automatic attempt follows (staff or the owner may retry)."""
        return (
            self._held().update(
                state=self.State.FAILED,
                finished_at=timezone.now(),
                updated_at=timezone.now(),
                last_error=error[:2000],
                lease_token="",
                lease_expires_at=None,
                current_file="",
            )
            == 1
        )

    @property
    def progress_percent(self) -> int | None:
        if not self.bytes_total:
            return None
        return min(100, int(self.bytes_done * 100 / self.bytes_total))


class IngestOverview(ArtifactIngest):
    """The admin's storage and ingest overview page (no table of its own)."""

    class Meta:
        proxy = True
        verbose_name = "storage and ingest overview"
        verbose_name_plural = "storage and ingest overview"
