"""Celery wrappers: take a primary key, re-read the row, call the service, act on its outcome.

Every Celery call of the artifacts app is here. Services decide and return what they decided (an
``IngestOutcome``, the due jobs, a bundle build claim); the code that asked (the webhook view, the
retry button, the sweep, the bundle request) calls the ``enqueue_*`` / ``request_*`` functions below,
which send the messages once the current transaction commits.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction

from artifacts.models import ArtifactIngest, ModelArtifact
from artifacts.services import bundles, lifecycle
from artifacts.services import ingest as ingest_service
from pipeline.models import TrainingJob

logger = logging.getLogger(__name__)


def enqueue_ingest(job_id: Any, *, countdown: float | None = None) -> None:
    """Queue the ingest of one job once the current transaction commits."""

    def send() -> None:
        if countdown:
            ingest_job.apply_async(args=[str(job_id)], countdown=countdown)
        else:
            ingest_job.delay(str(job_id))
        ArtifactIngest.objects.mark_enqueued(job_id)

    transaction.on_commit(send)


def queue_due_jobs() -> int:
    """Beat's sweep: queue one task per due job; how many were queued."""
    job_ids = ingest_service.due_job_ids()
    for job_id in job_ids:
        enqueue_ingest(job_id)
    return len(job_ids)


def retry_failed_ingest(job: TrainingJob) -> bool:
    """The retry button and the admin action: reset a failed ingest and queue it now."""
    with transaction.atomic():
        reset = ingest_service.reset_failed_ingest(job)
        if reset:
            enqueue_ingest(job.pk)
    return reset


def follow_up(outcome: ingest_service.IngestOutcome) -> None:
    """Queue the retry an outcome asks for.

    A message held back longer than the broker's visibility timeout would be delivered twice, so
    the countdown stays under the task time limit; past it the sweep picks the job up when due.
    """
    if outcome.outcome is ingest_service.Outcome.RETRY and outcome.retry_in is not None:
        enqueue_ingest(outcome.job_id, countdown=min(outcome.retry_in, settings.CELERY_TASK_TIME_LIMIT))


def time_limit() -> ingest_service.TimeLimit:
    return ingest_service.TimeLimit(
        errors=(SoftTimeLimitExceeded,),
        reason=(
            f"the transfer took longer than the {settings.CELERY_TASK_SOFT_TIME_LIMIT} s task time limit; "
            "raise CELERY_TASK_SOFT_TIME_LIMIT and CELERY_TASK_TIME_LIMIT for adapters this large"
        ),
    )


@shared_task(name="artifacts.tasks.sweep_completed_jobs", ignore_result=True)
def sweep_completed_jobs() -> int:
    """Beat's safety net: queue every completed job that still has no artifact and is due."""
    queued = queue_due_jobs()
    logger.info("sweep queued %s job(s)", queued)
    return queued


@shared_task(
    name="artifacts.tasks.ingest_job",
    ignore_result=True,
    acks_late=True,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
)
def ingest_job(job_id: str) -> ingest_service.IngestOutcome | None:
    """Run one attempt and queue its retry; the outcome is returned for in-process callers."""
    job = TrainingJob.objects.select_related("dataset").filter(pk=job_id).first()
    if job is None:
        logger.info("ingest of job %s skipped: the job no longer exists", job_id)
        return None
    try:
        outcome = ingest_service.ingest(job, time_limit=time_limit())
    except SoftTimeLimitExceeded:  # outside the transfer (claiming, recording a failure): the lease lapses
        logger.warning("ingest of job %s hit the time limit; the sweep takes it up again", job_id)
        return None
    follow_up(outcome)
    return outcome


# --- Bundles and lifecycle ------------------------------------------------------------------------
def request_bundle(artifact: ModelArtifact) -> bundles.BundleStatus:
    """The API's and the page's bundle request: the service claims a build, this queues it."""
    request = bundles.request_bundle(artifact)
    claim = request.claim
    if claim is not None:
        transaction.on_commit(lambda: build_bundle.delay(str(claim.bundle_id), claim.token))
    return request.status


@shared_task(
    name="artifacts.tasks.build_bundle",
    ignore_result=True,
    acks_late=True,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
)
def build_bundle(bundle_id: str, token: str) -> bool:
    """Write the zip of one artifact into storage (the claim's ``token`` proves it is ours)."""
    return bundles.build_bundle(bundle_id, token)


@shared_task(name="artifacts.tasks.expire_bundles", ignore_result=True)
def expire_bundles() -> int:
    removed = bundles.expire_bundles()
    logger.info("bundle expiry removed %s bundle(s)", removed)
    return removed


@shared_task(name="artifacts.tasks.purge_deleted_models", ignore_result=True)
def purge_deleted_models() -> int:
    purged = lifecycle.purge_deleted()
    logger.info("purge removed %s deleted model(s)", purged)
    return purged
