"""Stored model artifacts, their files, the ingest record per job and download grants."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.db import connections, models
from django.db.models import Q, Value
from django.db.models.functions import Upper
from django.utils import timezone


def retention_cutoff(now: datetime | None = None) -> datetime:
    """Models deleted before this moment can no longer be restored."""
    return (now or timezone.now()) - timedelta(days=settings.ARTIFACT_RETENTION_DAYS)


class ModelArtifactQuerySet(models.QuerySet["ModelArtifact"]):
    # How a models list can be sorted (the API's ``sort``, the page's sort menu): newest first,
    # or best score first. ``-id`` last keeps pages stable when timestamps tie.
    SORTS: ClassVar[dict[str, tuple[str, ...]]] = {
        "created_at": ("-created_at", "-id"),
        "quality": ("-quality_score", "-created_at", "-id"),
    }

    def alive(self) -> ModelArtifactQuerySet:
        return self.filter(deleted_at__isnull=True)

    def visible_to(self, user: Any) -> ModelArtifactQuerySet:
        """The one place that decides which artifacts a user may see: their own, not deleted."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.alive().filter(user=user)

    def deleted_for(self, user: Any) -> ModelArtifactQuerySet:
        """The owner's deleted models that can still be restored (deleted within the retention)."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(user=user, deleted_at__isnull=False, deleted_at__gte=retention_cutoff())

    def owned_by(self, user: Any) -> ModelArtifactQuerySet:
        """Every not yet purged model of the owner, deleted or not (for restore)."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(user=user)

    def purgeable(self) -> ModelArtifactQuerySet:
        """Deleted longer ago than ``ARTIFACT_RETENTION_DAYS``: due to be removed for good."""
        return self.filter(deleted_at__isnull=False, deleted_at__lt=retention_cutoff())

    def live_count(self, user: Any) -> int:
        """How many artifacts ``visible_to(user)`` holds, exactly, without counting them: the
        database keeps the number in :class:`LiveArtifactCount` (migration 0006's triggers)."""
        if not getattr(user, "is_authenticated", False):
            return 0
        return LiveArtifactCount.objects.filter(user_id=user.pk).values_list("live", flat=True).first() or 0

    def browse(
        self,
        *,
        sort: str = "created_at",
        dataset: Any = None,
        min_score: int | None = None,
        convergence: str | None = None,
        q: str | None = None,
    ) -> ModelArtifactQuerySet:
        """Filter and sort a models list; empty arguments filter nothing.

        The caller validates its inputs (the API answers 400, the page ignores bad values); an
        unknown ``sort`` is a programming error here (``KeyError``).
        """
        queryset = self
        if dataset:
            queryset = queryset.filter(dataset_id=dataset)
        if min_score:
            queryset = queryset.filter(quality_score__gte=min_score)
        if convergence:
            queryset = queryset.filter(quality_metrics__convergence_quality=convergence)
        if q:
            queryset = queryset.filter(self.name_contains(q))
        return queryset.order_by(*self.SORTS[sort])

    def name_contains(self, q: str) -> Q:
        """Names containing ``q``, case-insensitively: ``name__icontains``, in the form this
        database answers fastest.

        On PostgreSQL ``name__icontains`` is ``UPPER(name::text) LIKE UPPER('%q%')``; the same test
        against the stored ``search_name`` (``UPPER(name)``, kept by the database) gives the same rows
        without upper-casing every candidate name, and its column statistics let the planner see
        how many rows a search matches. On the expression it could not: the only statistics of
        UPPER(name) were the partial trigram index's, which the planner ignores ("we only consider
        stats for non-partial indexes", ``examine_variable`` in PostgreSQL's selfuncs.c), so it
        took one match in eight for a few dozen rows and sorted every match for a page.
        Elsewhere (SQLite) it stays ``name__icontains``.
        """
        if connections[self.db].vendor == "postgresql":
            # Upper-cased by the database, as the column is (PostgreSQL's UPPER and Python's differ,
            # e.g. for "ß"); Django escapes %, _ and \ in it before wrapping it in %...%.
            return Q(search_name__contains=Upper(Value(q)))
        return Q(name__icontains=q)


class ModelArtifact(models.Model):
    class Status(models.TextChoices):
        STORED = "stored", "Stored"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="model_artifacts")
    # One artifact per job, enforced by the unique constraint OneToOneField creates.
    job = models.OneToOneField("pipeline.TrainingJob", on_delete=models.CASCADE, related_name="model_artifact")
    dataset = models.ForeignKey(
        "pipeline.Dataset", on_delete=models.SET_NULL, null=True, blank=True, related_name="model_artifacts"
    )
    name = models.CharField(max_length=255)
    # UPPER(name), computed and stored by the database on every write (bulk_create, update() and
    # SQL included): what a name search on PostgreSQL compares (``ModelArtifactQuerySet.name_contains``).
    # Text, not varchar(255): an upper-cased name can be longer than the name.
    search_name = models.GeneratedField(expression=Upper("name"), output_field=models.TextField(), db_persist=True)
    description = models.TextField(blank=True, default="")
    version = models.CharField(max_length=32, default="1.0.0")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.STORED)
    quality_metrics = models.JSONField(default=dict, blank=True)
    quality_score = models.PositiveSmallIntegerField(default=0, db_index=True)
    training_summary = models.JSONField(default=dict, blank=True)
    configuration = models.JSONField(default=dict, blank=True)
    artifacts = models.JSONField(default=dict, blank=True, help_text="filename → storage key")
    # What the files are (DESIGN §10) and how the run went (DESIGN §11); null until computed.
    inspection = models.JSONField(null=True, blank=True)
    training_health = models.JSONField(null=True, blank=True)
    # How many times download links were handed out (each grant of signed URLs counts once). Not
    # how many downloads happened: a link can be used many times, or never.
    links_handed_out = models.PositiveIntegerField(
        "download links handed out", default=0, help_text="Times signed download links were issued for this model"
    )
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ModelArtifactQuerySet.as_manager()

    class Meta:
        db_table = "lora_model_artifacts"
        ordering = ["-created_at"]
        # One per models-list ordering (``ModelArtifactQuerySet.SORTS``, ``-id`` included), only over
        # live rows: a page, its count and a deep page's keys come from the index alone. Name search
        # has a trigram index on ``search_name`` on PostgreSQL (migration 0008).
        indexes = [
            models.Index(
                fields=["user", "-created_at", "-id"],
                name="artifact_live_recent_idx",
                condition=models.Q(deleted_at__isnull=True),
                include=["search_name"],  # a broad name search walks the index alone (PostgreSQL)
            ),
            models.Index(
                fields=["user", "-quality_score", "-created_at", "-id"],
                name="artifact_live_quality_idx",
                condition=models.Q(deleted_at__isnull=True),
                include=["search_name"],
            ),
            # "Which of my datasets have models": one index probe per dataset.
            models.Index(
                fields=["user", "dataset"],
                name="artifact_live_dataset_idx",
                condition=models.Q(deleted_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files.all())


class LiveArtifactCount(models.Model):
    """How many live (not deleted) artifacts a user has, for the models list's total.

    Kept exact by database triggers on ``lora_model_artifacts`` (migration 0006): every insert,
    delete and change of ``user_id`` or ``deleted_at`` updates the row in the same transaction,
    whatever wrote it (the ORM, ``bulk_create``, ``update()``, SQL). Never written by the code.
    """

    # No foreign key constraint: the triggers must be able to write the row of a user being deleted.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        primary_key=True,
        db_constraint=False,
        related_name="+",
    )
    live = models.BigIntegerField(default=0)

    class Meta:
        db_table = "lora_artifact_counts"

    def __str__(self) -> str:
        return f"{self.live} live artifacts of {self.user_id}"


class ArtifactFile(models.Model):
    artifact = models.ForeignKey(ModelArtifact, on_delete=models.CASCADE, related_name="files")
    filename = models.CharField(max_length=255)
    key = models.CharField(max_length=1024, unique=True)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    content_type = models.CharField(max_length=128, default="application/octet-stream")

    class Meta:
        db_table = "lora_model_artifact_files"
        ordering = ["filename"]
        constraints = [
            models.UniqueConstraint(fields=["artifact", "filename"], name="artifact_file_unique_name"),
        ]

    def __str__(self) -> str:
        return self.filename


def _lease_until(now: datetime) -> datetime:
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
            lease_expires_at=_lease_until(now),
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
        return self._held().update(lease_expires_at=_lease_until(timezone.now()), **progress) == 1

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
            lease_expires_at=_lease_until(now),
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
        return self._held().update(lease_expires_at=_lease_until(now), updated_at=now, **progress) == 1

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


class IngestOverview(ArtifactIngest):
    """The admin's storage and ingest overview page (no table of its own)."""

    class Meta:
        proxy = True
        verbose_name = "storage and ingest overview"
        verbose_name_plural = "storage and ingest overview"
