"""Ingest: turn a completed training job into a stored, verified, scored artifact (DESIGN §6).

The path of one job:

1. ``claim`` — a conditional UPDATE on the job's ``ArtifactIngest`` row takes a lease; only one
   worker can hold it, and an expired lease (a worker killed mid-transfer) can be taken again.
2. ``_transfer`` — each file streams from the cluster into storage in 1 MiB chunks; size and
   sha256 are computed on the way and checked against Content-Length and the listing's
   metadata; the lease is renewed and progress recorded as bytes arrive.
3. ``_record`` — in one transaction: the artifact, its file rows, the job's link and the
   ``artifact_ready`` notification, but only while the lease is still ours.

Any failure removes what the attempt stored and schedules a retry with backoff; after
``ARTIFACT_MAX_ATTEMPTS`` attempts (or at once, for input no retry can fix) the ingest is
``failed`` and the owner gets an ``artifact_failed`` notification with the reason.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from artifacts.cluster import ClusterClient, ClusterError, RemoteFile
from artifacts.models import ArtifactFile, ArtifactIngest, ModelArtifact
from artifacts.quality import calculate_quality_metrics
from artifacts.storage import CHUNK_SIZE, artifact_storage
from pipeline.lib.numbers import finite_number
from pipeline.models import Notification, TrainingJob

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.0
RETRY_CAP_SECONDS = 3600
READY_TITLE = "Model Ready for Download"
FAILED_TITLE = "Model Delivery Failed"


class LeaseLost(Exception):
    """Another worker took over the job (our lease expired); this attempt must stand down."""


@dataclass(frozen=True)
class IngestResult:
    job_id: str
    success: bool
    artifact_id: str | None = None
    error: str | None = None
    skipped: bool = False

    def as_seed_result(self) -> dict[str, Any]:
        if self.success:
            return {"job_id": self.job_id, "artifact_id": self.artifact_id, "success": True}
        return {"job_id": self.job_id, "success": False, "error": self.error}


# --- Which jobs need work ---------------------------------------------------------------------------
def awaiting_jobs(*, skip_recently_queued: bool = False) -> Any:
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
        .filter(
            Q(ingest__isnull=True)
            | Q(
                ingest__state__in=[ArtifactIngest.State.PENDING, ArtifactIngest.State.RETRYING],
                ingest__next_attempt_at__lte=now,
            )
            | Q(ingest__state=ArtifactIngest.State.RUNNING, ingest__lease_expires_at__lt=now)
        )
        .order_by("completed_at")
    )
    if skip_recently_queued:
        recently = now - timedelta(seconds=settings.ARTIFACT_LEASE_SECONDS)
        jobs = jobs.exclude(ingest__enqueued_at__gt=recently)
    return jobs


def enqueue_ingest(job_id: Any, *, countdown: float | None = None) -> None:
    """Queue the ingest of one job once the current transaction commits."""
    from artifacts.tasks import ingest_job

    def send() -> None:
        if countdown:
            ingest_job.apply_async(args=[str(job_id)], countdown=countdown)
        else:
            ingest_job.delay(str(job_id))
        ingest, _ = ArtifactIngest.objects.get_or_create(job_id=job_id)
        ArtifactIngest.objects.filter(pk=ingest.pk).update(enqueued_at=timezone.now())

    transaction.on_commit(send)


def retry_ingest(job: TrainingJob) -> bool:
    """Staff or owner retry of a failed ingest: reset its attempts and queue it now.

    Only a ``failed`` ingest can be retried, so nobody can skip the backoff or the attempt budget
    of one that is still being retried automatically.
    """
    if job.artifact_id or job.status != TrainingJob.Status.COMPLETED:
        return False
    with transaction.atomic():
        ingest, _ = ArtifactIngest.objects.get_or_create(job=job)
        updated = ArtifactIngest.objects.filter(pk=ingest.pk, state=ArtifactIngest.State.FAILED).update(
            state=ArtifactIngest.State.PENDING,
            attempts=0,
            next_attempt_at=timezone.now(),
            lease_token="",
            lease_expires_at=None,
            bytes_done=0,
            finished_at=None,
        )
        if updated:
            enqueue_ingest(job.pk)
    return bool(updated)


# --- Claiming -----------------------------------------------------------------------------------------
def claim(job: TrainingJob, token: str) -> ArtifactIngest | None:
    """Take the job's lease with one conditional UPDATE; None when someone else holds it or it is not due."""
    ArtifactIngest.objects.get_or_create(job=job)
    now = timezone.now()
    claimable = Q(state__in=[ArtifactIngest.State.PENDING, ArtifactIngest.State.RETRYING], next_attempt_at__lte=now)
    claimable |= Q(state=ArtifactIngest.State.RUNNING, lease_expires_at__lt=now)
    # One table only: an UPDATE joined to the job table compiles to "WHERE id IN (subquery)", which
    # PostgreSQL does not re-check after waiting on a concurrent claim, so both claims would win.
    updated = ArtifactIngest.objects.filter(claimable, job=job).update(
        state=ArtifactIngest.State.RUNNING,
        lease_token=token,
        lease_expires_at=now + timedelta(seconds=settings.ARTIFACT_LEASE_SECONDS),
        attempts=F("attempts") + 1,
        started_at=now,
        finished_at=None,
        bytes_done=0,
        bytes_total=None,
        current_file="",
    )
    if updated != 1:
        return None
    return ArtifactIngest.objects.get(job=job)


class Lease:
    """Renews the lease and records progress while bytes arrive; raises LeaseLost if taken over."""

    def __init__(self, ingest: ArtifactIngest, token: str):
        self.pk = ingest.pk
        self.token = token
        self.bytes_done = 0
        self._last = 0.0

    def row(self) -> Any:
        """The ingest row, as a queryset that is empty once another worker holds the job."""
        return ArtifactIngest.objects.filter(pk=self.pk, lease_token=self.token, state=ArtifactIngest.State.RUNNING)

    def update(self, *, force: bool = False, **fields: Any) -> None:
        now = time.monotonic()
        if not force and now - self._last < HEARTBEAT_SECONDS:
            return
        self._last = now
        fields.setdefault("bytes_done", self.bytes_done)
        fields["lease_expires_at"] = timezone.now() + timedelta(seconds=settings.ARTIFACT_LEASE_SECONDS)
        if self.row().update(**fields) != 1:
            raise LeaseLost(f"lease on ingest {self.pk} was taken over")

    def advance(self, count: int) -> None:
        self.bytes_done += count
        self.update()


# --- Transfer -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StoredFile:
    name: str
    key: str
    size: int
    sha256: str


def _verified_chunks(
    remote: RemoteFile, response: Any, lease: Lease, digest: Any, counter: list[int]
) -> Iterator[bytes]:
    """Yield the body in chunks, hashing and counting; raise before the last chunk is stored if wrong."""
    header = response.headers.get("Content-Length")
    declared: int | None = None
    if header is not None:
        try:
            declared = int(header)
        except ValueError:
            raise ClusterError(f"{remote.name}: invalid Content-Length {header!r}") from None
    if declared is not None and remote.size is not None and declared != remote.size:
        raise ClusterError(f"{remote.name}: Content-Length {declared} differs from the advertised size {remote.size}")
    limit = remote.size if remote.size is not None else declared
    try:
        for chunk in response.iter_content(chunk_size=CHUNK_SIZE):
            if not chunk:
                continue
            counter[0] += len(chunk)
            if limit is not None and counter[0] > limit:
                raise ClusterError(f"{remote.name}: body is longer than the expected {limit} bytes")
            digest.update(chunk)
            lease.advance(len(chunk))
            yield chunk
    except requests.RequestException as exc:  # the connection broke or the body was cut short
        expected = f" of {limit}" if limit is not None else ""
        raise ClusterError(
            f"{remote.name}: truncated body: the connection closed after {counter[0]}{expected} bytes "
            f"({type(exc).__name__})",
            transient=True,
        ) from exc
    if limit is not None and counter[0] != limit:
        raise ClusterError(f"{remote.name}: truncated body: received {counter[0]} of {limit} bytes", transient=True)
    if remote.sha256 is not None and digest.hexdigest() != remote.sha256:
        raise ClusterError(
            f"{remote.name}: checksum mismatch (sha256 {digest.hexdigest()[:12]}…, expected {remote.sha256[:12]}…)"
        )


def _transfer(client: ClusterClient, remote: RemoteFile, key: str, lease: Lease) -> StoredFile:
    storage = artifact_storage()
    start_bytes = lease.bytes_done

    def attempt() -> StoredFile:
        lease.bytes_done = start_bytes  # a retried file starts its count again
        digest = hashlib.sha256()
        counter = [0]
        with client.open_file(remote) as response:
            storage.save_stream(key, _verified_chunks(remote, response, lease, digest, counter))
        return StoredFile(name=remote.name, key=key, size=counter[0], sha256=digest.hexdigest())

    lease.update(force=True, current_file=remote.name)
    return client.with_retries(f"download of {remote.name}", attempt)


# --- Recording ----------------------------------------------------------------------------------------
def _metrics_points(job: TrainingJob) -> list[Any]:
    return list(job.metrics_points.order_by("timestamp", "step").values("training_loss", "validation_loss"))


def _artifact_fields(job: TrainingJob) -> dict[str, Any]:
    quality = calculate_quality_metrics(_metrics_points(job))
    current = job.current_metrics if isinstance(job.current_metrics, dict) else {}
    final_loss = current.get("training_loss")
    return {
        "name": f"{job.dataset.name if job.dataset else 'Model'} - {timezone.localdate():%-m/%-d/%Y}",
        "version": "1.0.0",
        "status": ModelArtifact.Status.STORED,
        "quality_metrics": quality,
        "quality_score": quality["overall_score"],
        "training_summary": {
            "epochs_completed": job.current_epoch,
            "total_steps": job.current_step,
            "final_loss": final_loss if isinstance(final_loss, int | float) else None,
            "training_duration_hours": job.duration_hours,
            "total_cost": finite_number(job.final_cost),
        },
        "configuration": {
            "preset_id": job.preset_id,
            "hyperparameters": job.hyperparameters,
            "gpu_config": job.gpu_config,
        },
    }


def _record(job: TrainingJob, artifact_id: uuid.UUID, stored: list[StoredFile], lease: Lease) -> ModelArtifact:
    with transaction.atomic():
        locked = TrainingJob.objects.select_for_update().get(pk=job.pk)
        if locked.artifact_id is not None:
            raise LeaseLost(f"job {job.pk} already has artifact {locked.artifact_id}")
        finished = lease.row().update(
            state=ArtifactIngest.State.SUCCEEDED,
            finished_at=timezone.now(),
            lease_expires_at=None,
            last_error="",
            current_file="",
            bytes_done=lease.bytes_done,
        )
        if finished != 1:
            raise LeaseLost(f"lease on job {job.pk} was taken over before recording")
        try:
            with transaction.atomic():
                artifact = ModelArtifact.objects.create(
                    id=artifact_id,
                    user_id=job.user_id,
                    job=job,
                    dataset_id=job.dataset_id,
                    artifacts={f.name: f.key for f in stored},
                    **_artifact_fields(job),
                )
        except IntegrityError as exc:  # the one-artifact-per-job constraint: another worker won
            raise LeaseLost(f"job {job.pk} already has an artifact") from exc
        ArtifactFile.objects.bulk_create(
            ArtifactFile(
                artifact=artifact,
                filename=f.name,
                key=f.key,
                size=f.size,
                sha256=f.sha256,
                content_type=mimetypes.guess_type(f.name)[0] or "application/octet-stream",
            )
            for f in stored
        )
        TrainingJob.objects.filter(pk=job.pk).update(artifact=artifact)
        _notify_owner(
            job,
            "artifact_ready",
            READY_TITLE,
            f"Your trained model is ready. Quality score: {artifact.quality_score}/5 stars",
            action_url=f"/models/{artifact.id}",
            metadata={"artifact_id": str(artifact.id), "job_id": str(job.pk)},
        )
    return artifact


def _notify_owner(job: TrainingJob, kind: str, title: str, message: str, *, action_url: str, metadata: dict) -> None:
    """The seed's notification row: high priority, pointing at where the owner should look."""
    Notification.objects.create(
        user_id=job.user_id,
        type=kind,
        title=title,
        message=message,
        priority=Notification.Priority.HIGH,
        action_url=action_url,
        metadata=metadata,
    )


def _record_failure(job: TrainingJob, lease: Lease, reason: str, *, permanent: bool) -> bool:
    """Store the error; schedule a retry or give up. Returns True when the ingest is now failed."""
    with transaction.atomic():
        ingest = ArtifactIngest.objects.select_for_update().get(pk=lease.pk)
        if ingest.lease_token != lease.token or ingest.state != ArtifactIngest.State.RUNNING:
            return False  # someone else owns the job now; their outcome stands
        give_up = permanent or ingest.attempts >= settings.ARTIFACT_MAX_ATTEMPTS
        now = timezone.now()
        ingest.last_error = reason[:2000]
        ingest.lease_token = ""
        ingest.lease_expires_at = None
        ingest.current_file = ""
        if give_up:
            ingest.state = ArtifactIngest.State.FAILED
            ingest.finished_at = now
            ingest.save()
            _notify_owner(
                job,
                "artifact_failed",
                FAILED_TITLE,
                f"The files of your training job could not be stored: {reason}",
                action_url=f"/training/jobs/{job.pk}",
                metadata={"job_id": str(job.pk), "attempts": ingest.attempts, "error": reason[:500]},
            )
            return True
        base = settings.ARTIFACT_RETRY_BASE_SECONDS
        delay = min(RETRY_CAP_SECONDS, base * 2 ** (ingest.attempts - 1)) * (1 + random.random() / 4)  # noqa: S311
        ingest.state = ArtifactIngest.State.RETRYING
        ingest.next_attempt_at = now + timedelta(seconds=delay)
        ingest.save()
        # A message held back longer than the broker's visibility timeout would be delivered twice;
        # past the cap the sweep picks the job up when it is due.
        enqueue_ingest(job.pk, countdown=min(delay, settings.CELERY_TASK_TIME_LIMIT))
        return False


# --- The one entry point -------------------------------------------------------------------------------
def ingest(job: TrainingJob, *, client: ClusterClient | None = None) -> IngestResult:
    """Ingest one job if it is due and nobody else is on it. Safe to call any number of times."""
    job_id = str(job.pk)
    if job.status != TrainingJob.Status.COMPLETED or job.artifact_id or not job.external_job_id:
        return IngestResult(job_id, success=False, error="job is not awaiting an artifact", skipped=True)
    token = uuid.uuid4().hex
    ingest_row = claim(job, token)
    if ingest_row is None:
        return IngestResult(job_id, success=False, error="already being ingested or not due yet", skipped=True)
    lease = Lease(ingest_row, token)
    if TrainingJob.objects.filter(pk=job.pk, artifact__isnull=False).exists():
        lease.row().update(state=ArtifactIngest.State.SUCCEEDED, lease_token="", lease_expires_at=None)
        return IngestResult(job_id, success=False, error="job already has an artifact", skipped=True)

    log = f"job={job_id} external_job_id={job.external_job_id} attempt={ingest_row.attempts}"
    logger.info("ingest started %s", log)
    client = client or ClusterClient()
    artifact_id = ingest_row.artifact_id
    prefix = f"{job.user_id}/{artifact_id}/"
    try:
        artifact_storage().clear_prefix(prefix)  # whatever a killed earlier attempt left behind
        listing = client.get_listing(job.external_job_id)
        lease.update(force=True, bytes_total=listing.total_bytes)
        stored = []
        for remote in listing.files:
            stored.append(_transfer(client, remote, prefix + remote.name, lease))
            logger.info("ingest stored %s file=%s bytes=%d", log, remote.name, stored[-1].size)
        artifact = _record(job, artifact_id, stored, lease)
    except LeaseLost as exc:
        # The prefix now belongs to the worker that took over: leave its files alone.
        logger.warning("ingest stood down %s: %s", log, exc)
        return IngestResult(job_id, success=False, error=str(exc), skipped=True)
    except SoftTimeLimitExceeded:
        reason = (
            f"the transfer took longer than the {settings.CELERY_TASK_SOFT_TIME_LIMIT} s task time limit; "
            "raise CELERY_TASK_SOFT_TIME_LIMIT and CELERY_TASK_TIME_LIMIT for adapters this large"
        )
        return _fail(job, lease, prefix, log, reason, permanent=True)
    except Exception as exc:  # every failure is recorded; nothing half-stored is left behind
        if not isinstance(exc, ClusterError):
            logger.exception("ingest crashed %s", log)
        permanent = isinstance(exc, ClusterError) and exc.permanent
        return _fail(job, lease, prefix, log, str(exc) or type(exc).__name__, permanent=permanent)
    logger.info("ingest succeeded %s artifact=%s score=%s", log, artifact.id, artifact.quality_score)
    return IngestResult(job_id, success=True, artifact_id=str(artifact.id))


def _fail(job: TrainingJob, lease: Lease, prefix: str, log: str, reason: str, *, permanent: bool) -> IngestResult:
    """Remove what this attempt stored (only while the prefix is still ours), then record the failure."""
    if lease.row().exists():
        try:
            artifact_storage().clear_prefix(prefix)
        except Exception:  # best effort: the next attempt clears the prefix again before it starts
            logger.exception("ingest cleanup failed %s prefix=%s", log, prefix)
    failed = _record_failure(job, lease, reason, permanent=permanent)
    logger.warning("ingest %s %s: %s", "failed" if failed else "will retry", log, reason)
    return IngestResult(str(job.pk), success=False, error=reason)


def queue_due_jobs() -> int:
    """Beat's sweep: queue one task per due job (those queued a moment ago are left to their message)."""
    job_ids = list(awaiting_jobs(skip_recently_queued=True).values_list("pk", flat=True))
    for job_id in job_ids:
        enqueue_ingest(job_id)
    return len(job_ids)


def ingest_due_jobs() -> list[IngestResult]:
    """One sweep in this process (``create_model_artifacts``): ingest every due job now."""
    jobs = awaiting_jobs().select_related("dataset")
    return [ingest(job) for job in jobs]
