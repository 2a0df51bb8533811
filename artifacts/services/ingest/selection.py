"""Which jobs need an ingest, and resetting a failed one for a retry.

Nothing here talks to the task queue: the code that decides (the webhook view, the sweep task,
the retry button) calls ``artifacts.tasks.enqueue_ingest`` with what these functions return.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from artifacts.models import ArtifactIngest
from pipeline.models import TrainingJob


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


def due_job_ids() -> list[Any]:
    """What beat's sweep queues: one id per due job (those queued a moment ago are left to their message)."""
    return list(awaiting_jobs(skip_recently_queued=True).values_list("pk", flat=True))


def reset_failed_ingest(job: TrainingJob) -> bool:
    """Staff or owner retry of a failed ingest: reset its attempts; True when the caller should queue it.

    Only a ``failed`` ingest can be retried, so nobody can skip the backoff or the attempt budget
    of one that is still being retried automatically.
    """
    if job.artifact_id or job.status != TrainingJob.Status.COMPLETED:
        return False
    return bool(ArtifactIngest.objects.reset_failed(job))
