"""Which jobs need an ingest, and asking for one to be queued.

The service never talks to the task queue itself: ``request_ingest`` sends ``ingest_requested``
and ``artifacts.tasks`` (connected when the app loads) queues the task once the current
transaction commits.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.dispatch import Signal
from django.utils import timezone

from artifacts.models import ArtifactIngest
from pipeline.models import TrainingJob

logger = logging.getLogger(__name__)

# Sent with ``job_id``: queue an ingest of that job (after the current transaction commits).
ingest_requested = Signal()


def awaiting_jobs(*, skip_recently_queued: bool = False) -> QuerySet[TrainingJob]:
    """Completed jobs with an external id and no artifact whose ingest is due (or never started).

    With ``skip_recently_queued`` (the periodic sweep), jobs queued less than a lease ago are left
    to the message already on its way, so a backlog is not multiplied every two minutes.
    """
    now = timezone.now()
    jobs = (
        TrainingJob.objects.filter(
            status=TrainingJob.Status.COMPLETED, artifact__isnull=True, external_job_id__isnull=False
        )
        .exclude(external_job_id="")
        .filter(Q(ingest__isnull=True) | ArtifactIngest.claimable(now, prefix="ingest__"))
        .order_by("completed_at")
    )
    if skip_recently_queued:
        recently = now - timedelta(seconds=settings.ARTIFACT_LEASE_SECONDS)
        jobs = jobs.exclude(ingest__enqueued_at__gt=recently)
    return jobs


def request_ingest(job_id: Any) -> None:
    """Ask for the job to be queued; the task layer sends the message once the transaction commits."""
    if not ingest_requested.send(sender=ArtifactIngest, job_id=job_id):
        logger.warning("no task queue is connected: job %s waits for the next sweep", job_id)


def queue_due_jobs() -> int:
    """Beat's sweep: queue one task per due job (those queued a moment ago are left to their message)."""
    job_ids = list(awaiting_jobs(skip_recently_queued=True).values_list("pk", flat=True))
    for job_id in job_ids:
        request_ingest(job_id)
    return len(job_ids)


def retry_ingest(job: TrainingJob) -> bool:
    """Staff or owner retry of a failed ingest: reset its attempts and queue it now.

    Only a ``failed`` ingest can be retried, so nobody can skip the backoff or the attempt budget
    of one that is still being retried automatically.
    """
    if job.artifact_id or job.status != TrainingJob.Status.COMPLETED:
        return False
    with transaction.atomic():
        reset = ArtifactIngest.objects.reset_failed(job)
        if reset:
            request_ingest(job.pk)
    return reset
