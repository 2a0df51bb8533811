"""One ingest attempt of one job, top to bottom (DESIGN §6).

1. Claim: a conditional UPDATE on the job's ``ArtifactIngest`` takes a lease; only one worker
   can hold it, and an expired lease (a worker killed mid-transfer) can be taken again.
2. Transfer: each listed file streams from the cluster into ``artifacts.storage.keys.storage_key``,
   verified on the way, renewing the lease (``transfer.py``), and inspected in the same pass
   (``artifacts.inspection``: one inspector per attempt sees every file).
3. Record: artifact with its inspection, file rows, job link and notification in one
   transaction, only while the lease is still ours (``record.py``).

A failure removes what the attempt stored and records a retry or, for errors no retry can fix
and past ``ARTIFACT_MAX_ATTEMPTS``, the failure. The result is an ``IngestOutcome``; the caller
decides what to do with it (``artifacts.tasks`` queues the retry).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from artifacts.cluster import ClusterClient, ClusterError, NeverRetry
from artifacts.inspection.guarded import GuardedInspector
from artifacts.models import ArtifactIngest
from artifacts.services.ingest.outcome import IngestOutcome
from artifacts.services.ingest.record import record_artifact, record_failure
from artifacts.services.ingest.selection import awaiting_jobs
from artifacts.services.ingest.transfer import LeaseLost, Progress, transfer_file
from artifacts.storage.keys import artifact_prefix, storage_key
from artifacts.storage.seam import StorageRefused, artifact_storage
from pipeline.models import TrainingJob

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TimeLimit:
    """How the caller's runner interrupts an attempt that ran out of time, and the reason to record.

    The same limit would stop every retry, so an interrupted attempt fails at once.
    """

    errors: tuple[type[BaseException], ...]
    reason: str


NO_TIME_LIMIT = TimeLimit(errors=(), reason="")


def ingest(
    job: TrainingJob, *, client: ClusterClient | None = None, time_limit: TimeLimit = NO_TIME_LIMIT
) -> IngestOutcome:
    """Ingest one job if it is due and nobody else is on it. Safe to call any number of times."""
    job_id = str(job.pk)
    if job.status != TrainingJob.Status.COMPLETED or job.artifact_id or not job.external_job_id:
        return IngestOutcome.skipped_done(job_id, "job is not awaiting an artifact")
    claimed = ArtifactIngest.objects.claim(job, uuid.uuid4().hex)
    if claimed is None:
        return IngestOutcome.skipped_busy(job_id, "already being ingested or not due yet")
    if TrainingJob.objects.filter(pk=job.pk, artifact__isnull=False).exists():
        claimed.succeed()
        return IngestOutcome.skipped_done(job_id, "job already has an artifact")

    log = f"job={job_id} external_job_id={job.external_job_id} attempt={claimed.attempts}"
    logger.info("ingest started %s", log)
    client = client or ClusterClient()
    progress = Progress(claimed)
    prefix = artifact_prefix(job.user_id, claimed.artifact_id)
    try:
        artifact_storage().clear_prefix(prefix)  # whatever a killed earlier attempt left behind
        listing = client.get_listing(job.external_job_id or "")
        progress.report(force=True, bytes_total=listing.total_bytes)
        stored = []
        inspector = GuardedInspector()
        for remote in listing.files:
            key = storage_key(job.user_id, claimed.artifact_id, remote.name)  # one rule for every backend
            stored.append(transfer_file(client, remote, key, progress, inspector))
            logger.info("ingest stored %s file=%s bytes=%d", log, remote.name, stored[-1].size)
        artifact = record_artifact(job, claimed.artifact_id, stored, progress, inspector)
    except LeaseLost as exc:
        # The prefix now belongs to the worker that took over: leave its files alone.
        logger.warning("ingest stood down %s: %s", log, exc)
        return IngestOutcome.skipped_busy(job_id, str(exc))
    except time_limit.errors:
        return _fail(job, claimed, prefix, log, time_limit.reason, permanent=True)
    except Exception as exc:  # every failure is recorded; nothing half-stored is left behind
        if not isinstance(exc, ClusterError | StorageRefused):
            logger.exception("ingest crashed %s", log)
        permanent = isinstance(exc, NeverRetry | StorageRefused)
        return _fail(job, claimed, prefix, log, str(exc) or type(exc).__name__, permanent=permanent)
    logger.info("ingest succeeded %s artifact=%s score=%s", log, artifact.id, artifact.quality_score)
    return IngestOutcome.stored(job_id, str(artifact.id))


def _fail(
    job: TrainingJob, claimed: ArtifactIngest, prefix: str, log: str, reason: str, *, permanent: bool
) -> IngestOutcome:
    """Remove what this attempt stored (only while the prefix is still ours), then record the failure."""
    if claimed.holds_lease():
        try:
            artifact_storage().clear_prefix(prefix)
        except Exception:  # best effort: the next attempt clears the prefix again before it starts
            logger.exception("ingest cleanup failed %s prefix=%s", log, prefix)
    outcome = record_failure(job, claimed, reason, permanent=permanent)
    logger.warning("ingest %s %s: %s", outcome.outcome, log, reason)
    return outcome


def ingest_due_jobs(*, time_limit: TimeLimit = NO_TIME_LIMIT) -> list[IngestOutcome]:
    """One sweep in this process (``create_model_artifacts``): ingest every due job now."""
    jobs = awaiting_jobs().select_related("dataset")
    return [ingest(job, time_limit=time_limit) for job in jobs]
