"""Celery wrappers: take a primary key, re-read the row, call the service."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from artifacts.services import ingest as ingest_service
from pipeline.models import TrainingJob

logger = logging.getLogger(__name__)


@shared_task(name="artifacts.tasks.sweep_completed_jobs", ignore_result=True)
def sweep_completed_jobs() -> int:
    """Beat's safety net: queue every completed job that still has no artifact and is due."""
    queued = ingest_service.queue_due_jobs()
    logger.info("sweep queued %s job(s)", queued)
    return queued


@shared_task(
    name="artifacts.tasks.ingest_job",
    ignore_result=True,
    acks_late=True,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
)
def ingest_job(job_id: str) -> None:
    job = TrainingJob.objects.select_related("dataset").filter(pk=job_id).first()
    if job is None:
        logger.info("ingest of job %s skipped: the job no longer exists", job_id)
        return
    ingest_service.ingest(job)
