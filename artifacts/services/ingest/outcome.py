"""What one ingest attempt came to: the service decides, the caller (a task, a command) acts on it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    STORED = "stored"  # the artifact, its files and the owner's notification exist
    SKIPPED_DONE = "skipped_done"  # nothing to do: the job has its artifact or is not awaiting one
    SKIPPED_BUSY = "skipped_busy"  # another worker holds the job, or it is not due yet
    RETRY = "retry"  # this attempt failed; the job is due again in ``retry_in`` seconds
    FAILED = "failed"  # given up; the owner was told why


@dataclass(frozen=True)
class IngestOutcome:
    job_id: str
    outcome: Outcome
    artifact_id: str | None = None
    error: str | None = None
    retry_in: float | None = None

    @classmethod
    def stored(cls, job_id: str, artifact_id: str) -> IngestOutcome:
        return cls(job_id, Outcome.STORED, artifact_id=artifact_id)

    @classmethod
    def skipped_done(cls, job_id: str, reason: str) -> IngestOutcome:
        return cls(job_id, Outcome.SKIPPED_DONE, error=reason)

    @classmethod
    def skipped_busy(cls, job_id: str, reason: str) -> IngestOutcome:
        return cls(job_id, Outcome.SKIPPED_BUSY, error=reason)

    @classmethod
    def retry(cls, job_id: str, error: str, *, seconds: float) -> IngestOutcome:
        return cls(job_id, Outcome.RETRY, error=error, retry_in=seconds)

    @classmethod
    def failed(cls, job_id: str, error: str) -> IngestOutcome:
        return cls(job_id, Outcome.FAILED, error=error)

    @property
    def success(self) -> bool:
        return self.outcome is Outcome.STORED

    @property
    def skipped(self) -> bool:
        """No attempt was made (or it stood down for another worker): not part of a sweep's report."""
        return self.outcome in (Outcome.SKIPPED_DONE, Outcome.SKIPPED_BUSY)

    def as_seed_result(self) -> dict[str, Any]:
        """One entry of ``create_model_artifacts``' ``results``, in the seed's shape."""
        if self.success:
            return {"job_id": self.job_id, "artifact_id": self.artifact_id, "success": True}
        return {"job_id": self.job_id, "success": False, "error": self.error}
