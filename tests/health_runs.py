"""Artifacts whose metrics history is one of the demo's runs (overfitting, diverged, …), scored
by the seed's rule and with their training health stored, as ingest leaves them."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from django.utils import timezone

from artifacts.health.quality import calculate_quality_metrics
from artifacts.health.verdict import recompute
from artifacts.models import ModelArtifact
from pipeline.demo_data import JOBS, loss_history
from pipeline.models import MetricsPoint, TrainingJob
from tests.factories import make_artifact, make_dataset, make_job


def demo_job(user: Any, slug: str, external_job_id: str | None = None) -> TrainingJob:
    """A job with the demo run's exact metrics history (``slug`` as in ``pipeline.demo_data.JOBS``)."""
    spec = next(job for job in JOBS if job.slug == slug)
    extra = {"external_job_id": external_job_id} if external_job_id else {}
    job = make_job(
        user,
        make_dataset(user, name="Python Code Review Pairs"),
        preset_id=spec.preset,
        hyperparameters=spec.hyperparameters,
        **extra,
    )
    start = job.started_at or timezone.now()
    MetricsPoint.objects.bulk_create(
        MetricsPoint(
            job=job,
            timestamp=start + timedelta(minutes=i),
            step=step,
            epoch=round(3 * i / 40, 3),
            training_loss=train if math.isfinite(train) else None,
            validation_loss=val,
        )
        for i, (step, train, val) in enumerate(loss_history(spec))
    )
    return job


def scored_artifact(user: Any, job: TrainingJob, **extra: Any) -> ModelArtifact:
    """An artifact of ``job`` with the seed's quality metrics and its stored training health."""
    points = list(job.metrics_points.order_by("timestamp", "step").values("training_loss", "validation_loss"))
    quality = calculate_quality_metrics(points)
    artifact = make_artifact(
        user, job=job, score=quality["overall_score"], quality_metrics=quality, name=f"run {job.preset_id}", **extra
    )
    recompute(artifact)
    return artifact


def demo_artifact(user: Any, slug: str, **extra: Any) -> ModelArtifact:
    return scored_artifact(user, demo_job(user, slug), **extra)
