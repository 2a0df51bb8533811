"""Training records written upstream (datasets, training jobs, metrics) and the owner's notifications.

``pipeline`` is the Django project: its settings, URLs and Celery app, and these tables, which
the training side of the product owns and the artifacts app reads.

They map one-to-one onto the seed's ``lora_*`` tables so the schema can sit on the same database.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


class Dataset(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=200)
    total_training_pairs = models.PositiveIntegerField(null=True, blank=True)
    total_tokens = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "lora_datasets"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class TrainingJobQuerySet(models.QuerySet["TrainingJob"]):
    def visible_to(self, user: Any) -> TrainingJobQuerySet:
        """The one place that decides which training jobs a user may see: their own."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(user=user)


class TrainingJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="training_jobs")
    dataset = models.ForeignKey(Dataset, on_delete=models.SET_NULL, null=True, blank=True, related_name="training_jobs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    preset_id = models.CharField(max_length=64, blank=True, default="")
    hyperparameters = models.JSONField(default=dict, blank=True)
    gpu_config = models.JSONField(default=dict, blank=True)
    external_job_id = models.CharField(max_length=200, null=True, blank=True, unique=True)
    current_epoch = models.PositiveIntegerField(default=0)
    current_step = models.PositiveIntegerField(default=0)
    current_metrics = models.JSONField(default=dict, blank=True)
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    estimated_total_cost = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    final_cost = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    artifact = models.ForeignKey(
        "artifacts.ModelArtifact",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_column="artifact_id",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TrainingJobQuerySet.as_manager()

    class Meta:
        db_table = "lora_training_jobs"
        ordering = ["-created_at"]
        indexes = [
            # The sweep's query: completed jobs that have no artifact yet.
            models.Index(
                fields=["status", "completed_at"],
                name="job_awaiting_artifact_idx",
                condition=models.Q(artifact__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.external_job_id or self.id} ({self.status})"

    @property
    def duration_hours(self) -> float | None:
        if self.started_at and self.completed_at:
            return (self.completed_at - self.started_at).total_seconds() / 3600
        return None


class MetricsPoint(models.Model):
    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="metrics_points")
    timestamp = models.DateTimeField(default=timezone.now)
    step = models.PositiveIntegerField()
    epoch = models.FloatField(default=0)
    # NULL when the trainer logged a non-finite loss: SQLite cannot store NaN, so a diverged run
    # is recorded as NULL there (PostgreSQL keeps the NaN itself). Scoring treats both alike.
    training_loss = models.FloatField(null=True, blank=True)
    validation_loss = models.FloatField(null=True, blank=True)
    learning_rate = models.FloatField(null=True, blank=True)

    class Meta:
        db_table = "lora_metrics_points"
        ordering = ["timestamp", "step"]
        indexes = [models.Index(fields=["job", "timestamp", "step"], name="metrics_job_order_idx")]

    def __str__(self) -> str:
        return f"step {self.step}: {self.training_loss}"


class NotificationQuerySet(models.QuerySet["Notification"]):
    def for_user(self, user: Any) -> NotificationQuerySet:
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(user=user)

    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)

    def inbox(self) -> NotificationQuerySet:
        """Unread first, then newest."""
        unread_first = models.Case(models.When(read_at__isnull=True, then=models.Value(0)), default=models.Value(1))
        return self.order_by(unread_first, "-created_at", "-id")

    def mark_read(self) -> int:
        """Mark the unread ones read (already read ones keep their first read time); how many changed."""
        return self.unread().update(read_at=timezone.now())


class Notification(models.Model):
    class Priority(models.TextChoices):
        LOW = "low", "Low"
        NORMAL = "normal", "Normal"
        HIGH = "high", "High"
        URGENT = "urgent", "Urgent"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    type = models.CharField(max_length=64, db_index=True)
    title = models.CharField(max_length=200)
    message = models.TextField()
    priority = models.CharField(max_length=16, choices=Priority.choices, default=Priority.NORMAL)
    action_url = models.CharField(max_length=500, blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        db_table = "lora_notifications"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "read_at", "-created_at"], name="notification_inbox_idx")]

    def __str__(self) -> str:
        return self.title
